"""Evaluating the decision tables over a feature vector (DMN PRIORITY hit policy)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress, repeat
from operator import is_

from myelo_cds.rules.facts import FEATURES
from myelo_cds.rules.ruleset import URGENCIES, PathwayRule, RuleSet, ScreenRule, UrgencyRule

__all__ = ["Decision", "DecisionTable", "screen", "true_facts"]

FEATURE_NAMES: tuple[str, ...] = tuple(FEATURES)


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of the pathway and urgency tables for one feature vector."""

    pathway: str
    urgency: str
    deciding: tuple[str, ...]
    """Pathway rows that matched at the winning priority (all agree)."""
    superseded: tuple[str, ...]
    """Pathway rows that also matched at a lower priority."""
    urgency_rules: tuple[str, ...]
    """Urgency rows that matched, most urgent first."""
    conflict: bool = False
    """True if rows of the winning priority disagree (verification proves this never happens)."""


def _compile(
    when: Mapping[str, str | tuple[str, ...]], columns: tuple[str, ...]
) -> tuple[tuple[int, frozenset[str]], ...]:
    compiled = []
    for feature, value in when.items():
        allowed = (value,) if isinstance(value, str) else value
        compiled.append((columns.index(feature), frozenset(allowed)))
    return tuple(compiled)


class DecisionTable:
    """The pathway and urgency tables of a rule set, compiled for fast repeated evaluation.

    Evaluation is memoised per feature vector: the table is a pure function of it.
    """

    def __init__(self, rule_set: RuleSet) -> None:
        self.rule_set = rule_set
        rows = sorted(rule_set.pathway, key=lambda row: row.priority)
        self._pathway: tuple[tuple[PathwayRule, tuple[tuple[int, frozenset[str]], ...]], ...] = tuple(
            (row, _compile(row.when, FEATURE_NAMES)) for row in rows
        )
        urgency_columns = (*FEATURE_NAMES, "pathway")
        ordered = sorted(rule_set.urgency, key=lambda row: URGENCIES.index(row.urgency))
        self._urgency: tuple[tuple[UrgencyRule, tuple[tuple[int, frozenset[str]], ...]], ...] = tuple(
            (row, _compile(row.when, urgency_columns)) for row in ordered
        )
        self.decide = lru_cache(maxsize=None)(self.decide_uncached)

    @staticmethod
    def _matches(conditions: tuple[tuple[int, frozenset[str]], ...], values: tuple[str, ...]) -> bool:
        return all(values[index] in allowed for index, allowed in conditions)

    def matching_pathway_rows(self, features: tuple[str, ...]) -> list[PathwayRule]:
        """Every pathway row whose conditions hold, by priority."""
        return [row for row, cond in self._pathway if self._matches(cond, features)]

    def decide_uncached(self, features: tuple[str, ...]) -> Decision:
        """Evaluate both tables for one feature vector (``decide`` is the memoised form)."""
        matched = self.matching_pathway_rows(features)
        if not matched:
            # Unreachable for a verified rule set (totality is proven by `verify`); kept so
            # that evaluation is total even for an edited, unverified table.
            return Decision("further_workup", "expedited", (), (), (), conflict=True)
        top = matched[0].priority
        winners = [row for row in matched if row.priority == top]
        pathways = {row.pathway for row in winners}
        pathway = winners[0].pathway
        conflict = len(pathways) > 1
        if conflict:
            # Fail safe for an unverified table: the most urgent disagreeing pathway.
            pathway = "emergency_referral" if "emergency_referral" in pathways else "further_workup"
        values = (*features, pathway)
        urgency_rows = [row for row, cond in self._urgency if self._matches(cond, values)]
        urgency = urgency_rows[0].urgency if urgency_rows else "expedited"
        return Decision(
            pathway=pathway,
            urgency=urgency,
            deciding=tuple(row.id for row in winners),
            superseded=tuple(row.id for row in matched if row.priority != top),
            urgency_rules=tuple(row.id for row in urgency_rows),
            conflict=conflict or not urgency_rows,
        )


_Compiled = tuple[tuple[str, frozenset[str], frozenset[str]], ...]
# Compiled screen tables by identity; the rows are kept so that an id is never reused.
_COMPILED: dict[int, tuple[tuple[ScreenRule, ...], _Compiled]] = {}


def _compiled(rows: tuple[ScreenRule, ...]) -> _Compiled:
    entry = _COMPILED.get(id(rows))
    if entry is None or entry[0] is not rows:
        entry = (rows, tuple((row.id, frozenset(row.all), frozenset(row.any)) for row in rows))
        _COMPILED[id(rows)] = entry
    return entry[1]


def true_facts(facts: Mapping[str, object]) -> frozenset[str]:
    """The names of the facts known to be true (what :func:`screen` reads)."""
    # ``value is True`` for each fact, run in C (this is on the batch path of every row).
    return frozenset(compress(facts.keys(), map(is_, facts.values(), repeat(True))))


def screen(
    rows: tuple[ScreenRule, ...], facts: Mapping[str, object], true: frozenset[str] | None = None
) -> tuple[str, ...]:
    """Ids of the COLLECT rows that fire: every fact in ``all`` and one in ``any`` is true.

    An unknown fact never fires a row (three-valued AND/OR is only true when its parts are
    known to be true), so checking ``is True`` is exact. ``true`` (from :func:`true_facts`)
    may be passed when several tables screen the same facts.
    """
    if true is None:
        true = true_facts(facts)
    return tuple(
        row_id
        for row_id, every, some in _compiled(rows)
        if every <= true and (not some or not some.isdisjoint(true))
    )
