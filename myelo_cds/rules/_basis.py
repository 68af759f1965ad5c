"""The basis of a decision: each rule that fired with the inputs it matched and its source,
and the flags and differentials the screens raise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from myelo_cds.rules._evaluation import Evaluation
from myelo_cds.rules.result import Differential, FiredRule, Flag
from myelo_cds.rules.ruleset import RuleSet, ScreenRule
from myelo_cds.rules.table import screen

__all__ = ["Basis"]


def _show(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _triggers(row: ScreenRule, facts: Mapping[str, Any]) -> tuple[str, ...]:
    """The findings that made the row fire: those of its ``any`` list (which predictor, which
    sign) when it has one, else its ``all`` list."""
    return tuple(name for name in (row.any or row.all) if facts[name] is True)


class Basis:
    """Explains evaluations of one rule set by its rows and sources."""

    def __init__(self, rule_set: RuleSet) -> None:
        self.rule_set = rule_set
        self._citations = {key: source.citation for key, source in rule_set.sources.items()}

    def _fired_screen(self, row: ScreenRule, facts: Mapping[str, Any]) -> FiredRule:
        return FiredRule(
            id=row.id,
            version=row.version,
            kind="red_flag",
            title=row.title,
            action=row.action,
            inputs={name: _show(facts[name]) for name in row.facts},
            citation=self._citations[row.source],
            recommendation="",
            strength=row.strength,
            quality=row.quality,
            evidence=row.evidence,
        )

    def fired(self, evaluation: Evaluation) -> list[FiredRule]:
        """The red flags, the deciding pathway rows and the deciding urgency row, in that order."""
        fired = [
            self._fired_screen(row, evaluation.facts)
            for row in self.rule_set.red_flags
            if row.id in evaluation.red_flags
        ]
        named = evaluation.named_features
        decision = evaluation.decision
        for rule_id in decision.deciding:
            row = self.rule_set.pathway_rule(rule_id)
            fired.append(
                FiredRule(
                    id=row.id,
                    version=row.version,
                    kind="pathway",
                    title=row.title,
                    action=row.action,
                    inputs={name: named[name] for name in row.when},
                    citation=self._citations[row.source],
                    recommendation=row.recommendation,
                    strength=row.strength,
                    quality=row.quality,
                    evidence=row.evidence,
                )
            )
        with_pathway = {**named, "pathway": decision.pathway}
        for rule_id in decision.urgency_rules[:1]:
            urgency = self.rule_set.urgency_rule(rule_id)
            fired.append(
                FiredRule(
                    id=urgency.id,
                    version=urgency.version,
                    kind="urgency",
                    title=urgency.title,
                    action=f"Urgency: {urgency.urgency}",
                    inputs={name: with_pathway[name] for name in urgency.when},
                    citation=self._citations[urgency.source],
                    recommendation="",
                    strength="none",
                    quality="none",
                    evidence=urgency.evidence,
                )
            )
        return fired

    def screens(self, facts: Mapping[str, Any]) -> tuple[list[Flag], list[Differential]]:
        """The prognosis flags and the differentials to exclude, each with its triggers."""
        fired_flags = screen(self.rule_set.flags, facts)
        fired_differentials = screen(self.rule_set.differentials, facts)
        flags = [
            Flag(
                id=row.id,
                text=row.text,
                triggers=_triggers(row, facts),
                citation=self._citations[row.source],
                evidence=row.evidence,
            )
            for row in self.rule_set.flags
            if row.id in fired_flags
        ]
        differentials = [
            Differential(
                id=row.id,
                condition=row.condition,
                workup=row.workup,
                triggers=_triggers(row, facts),
                citation=self._citations[row.source],
                evidence=row.evidence,
            )
            for row in self.rule_set.differentials
            if row.id in fired_differentials
        ]
        return flags, differentials
