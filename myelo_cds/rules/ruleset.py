"""Loading the rule set from ``data/rules``: typed, cross-checked, versioned and hashed."""

from __future__ import annotations

import hashlib
import tomllib
from functools import cache
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from myelo_cds._paths import data_dir
from myelo_cds.errors import RuleSetError
from myelo_cds.rules.facts import FEATURES

__all__ = [
    "PATHWAYS",
    "URGENCIES",
    "Evidence",
    "NotExcluded",
    "Parameter",
    "Pathway",
    "PathwayRule",
    "RuleSet",
    "RuleSetError",
    "ScreenRule",
    "Source",
    "Urgency",
    "UrgencyRule",
    "default_rule_set",
    "load_rule_set",
]

Evidence = Literal["confirmed", "unconfirmed", "design"]
Strength = Literal["strong", "weak", "none"]
Pathway = Literal[
    "emergency_referral",
    "surgical_referral",
    "surgery_or_structured_rehab",
    "surveillance",
    "further_workup",
    "postoperative_follow_up",
]
#: Most urgent first, the urgency table's output order (DMN PRIORITY hit policy): emergency
#: (now), urgent (seen within days), expedited (within weeks), routine. Every ordering of
#: urgency in the code reads this order.
Urgency = Literal["emergency", "urgent", "expedited", "routine"]

PATHWAYS: tuple[str, ...] = get_args(Pathway)
URGENCIES: tuple[str, ...] = get_args(Urgency)


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Row):
    citation: str


class Parameter(_Row):
    value: Any
    evidence: Evidence
    source: str
    note: str


class NotExcluded(_Row):
    """When a red flag that is not excluded is plausible enough to act on before it is known.

    Every fact in ``when`` true (with the row neither fired nor excluded) -> the headline
    urgency is at least ``urgency``, and the answer is provisional.
    """

    urgency: Urgency
    when: tuple[str, ...]
    source: str


class ScreenRule(_Row):
    """A COLLECT-table row over facts: fires when all of ``all`` and one of ``any`` are true."""

    id: str
    version: str
    all: tuple[str, ...] = ()
    any: tuple[str, ...] = ()
    source: str
    evidence: Evidence
    title: str = ""
    action: str = ""
    text: str = ""
    condition: str = ""
    workup: str = ""
    strength: Strength = "none"
    quality: str = "none"
    if_not_excluded: NotExcluded | None = None
    """Red flags only: the escalation while the row is neither fired nor excluded."""

    @model_validator(mode="after")
    def _has_a_condition(self) -> ScreenRule:
        if not self.all and not self.any:
            raise RuleSetError(f"screen rule {self.id} has no condition")
        return self

    @property
    def facts(self) -> tuple[str, ...]:
        return self.all + self.any


class PathwayRule(_Row):
    id: str
    version: str
    priority: int
    title: str
    when: dict[str, str | tuple[str, ...]]
    pathway: Pathway
    action: str
    source: str
    recommendation: str = ""
    strength: Strength
    quality: str
    evidence: Evidence

    def allowed(self, feature: str) -> tuple[str, ...] | None:
        """Values this row accepts for ``feature``; ``None`` means any value."""
        value = self.when.get(feature)
        if value is None:
            return None
        return (value,) if isinstance(value, str) else value


class UrgencyRule(_Row):
    id: str
    version: str
    when: dict[str, str | tuple[str, ...]]
    urgency: Urgency
    title: str
    source: str
    evidence: Evidence

    def allowed(self, feature: str) -> tuple[str, ...] | None:
        value = self.when.get(feature)
        if value is None:
            return None
        return (value,) if isinstance(value, str) else value


class RuleSet(_Row):
    id: str
    version: str
    title: str
    intended_use: str
    limitations: tuple[str, ...]
    sha256: str = Field(description="SHA-256 of the rule-set file bytes.")
    path: str
    hit_policy: Literal["PRIORITY"]
    sources: dict[str, Source]
    parameters: dict[str, Parameter]
    red_flags: tuple[ScreenRule, ...]
    pathway: tuple[PathwayRule, ...]
    urgency: tuple[UrgencyRule, ...]
    differentials: tuple[ScreenRule, ...]
    flags: tuple[ScreenRule, ...]

    @property
    def params(self) -> dict[str, Any]:
        return {name: p.value for name, p in self.parameters.items()}

    def pathway_rule(self, rule_id: str) -> PathwayRule:
        return next(row for row in self.pathway if row.id == rule_id)

    def urgency_rule(self, rule_id: str) -> UrgencyRule:
        return next(row for row in self.urgency if row.id == rule_id)

    def all_rows(self) -> tuple[ScreenRule | PathwayRule | UrgencyRule, ...]:
        return (*self.red_flags, *self.pathway, *self.urgency, *self.differentials, *self.flags)

    def check_references(self, known_facts: set[str]) -> None:
        """Every fact, feature, value and source named in a row must exist.

        Raises:
            RuleSetError: naming the row and the unknown name.
        """
        problems: list[str] = []
        ids: set[str] = set()
        for row in self.all_rows():
            if row.id in ids:
                problems.append(f"duplicate rule id {row.id}")
            ids.add(row.id)
            if row.source not in self.sources:
                problems.append(f"{row.id}: unknown source {row.source!r}")
        for param_name, param in self.parameters.items():
            if param.source not in self.sources:
                problems.append(f"parameter {param_name}: unknown source {param.source!r}")
        for screen in (*self.red_flags, *self.differentials, *self.flags):
            for fact in screen.facts:
                if fact not in known_facts:
                    problems.append(f"{screen.id}: unknown fact {fact!r}")
        for flag in self.red_flags:
            escalation = flag.if_not_excluded
            if escalation is None:
                continue
            if escalation.source not in self.sources:
                problems.append(f"{flag.id}: if_not_excluded: unknown source {escalation.source!r}")
            problems += [
                f"{flag.id}: if_not_excluded: unknown fact {fact!r}"
                for fact in escalation.when
                if fact not in known_facts
            ]
        problems += [
            f"{screen.id}: if_not_excluded is for red flags only"
            for screen in (*self.differentials, *self.flags)
            if screen.if_not_excluded is not None
        ]
        columns: dict[str, tuple[str, ...]] = dict(FEATURES)
        for row in self.pathway:
            problems += _check_when(row.id, row.when, columns)
        columns["pathway"] = PATHWAYS
        for urgency in self.urgency:
            problems += _check_when(urgency.id, urgency.when, columns)
        if problems:
            raise RuleSetError("rule set " + self.path + ": " + "; ".join(problems))


def _check_when(
    row_id: str, when: dict[str, str | tuple[str, ...]], columns: dict[str, tuple[str, ...]]
) -> list[str]:
    problems = []
    for feature, value in when.items():
        if feature not in columns:
            problems.append(f"{row_id}: unknown feature {feature!r} (known: {sorted(columns)})")
            continue
        for item in (value,) if isinstance(value, str) else value:
            if item not in columns[feature]:
                problems.append(f"{row_id}: {feature} has no value {item!r} (allowed: {columns[feature]})")
    return problems


def load_rule_set(path: Path) -> RuleSet:
    """Parse and check a rule-set TOML file.

    Raises:
        RuleSetError: if the file is malformed or names something that does not exist.
    """
    from myelo_cds.rules.facts import known_fact_names

    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
        header = data["rule_set"]
        rule_set = RuleSet(
            id=header["id"],
            version=header["version"],
            title=header["title"],
            intended_use=header["intended_use"],
            limitations=tuple(header["limitations"]),
            sha256=hashlib.sha256(raw).hexdigest(),
            path=path.name,
            hit_policy=data["decision"]["hit_policy"],
            sources=data["sources"],
            parameters=data["parameters"],
            red_flags=tuple(data["red_flags"]),
            pathway=tuple(data["pathway"]),
            urgency=tuple(data["urgency"]),
            differentials=tuple(data["differentials"]),
            flags=tuple(data["flags"]),
        )
    except (KeyError, ValueError, tomllib.TOMLDecodeError) as error:
        raise RuleSetError(f"rule set {path.name} is malformed: {error}") from error
    rule_set.check_references(known_fact_names(rule_set.params))
    return rule_set


@cache
def default_rule_set() -> RuleSet:
    """The rule set shipped in ``data/rules/dcm_rules.toml`` (loaded once per process)."""
    return load_rule_set(data_dir() / "rules" / "dcm_rules.toml")
