"""Loading the rule set from ``data/rules``: typed, cross-checked, versioned and hashed."""

from __future__ import annotations

import difflib
import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from myelo_cds._paths import data_dir
from myelo_cds.errors import RuleSetError, RuleSetProblem, RuleSetProblemKind
from myelo_cds.rules._fact_types import FactKind, fact_kinds
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
    "RuleSetProblem",
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


class _NoCondition(ValueError):
    """A screen row with neither ``all`` nor ``any``: it would fire for every patient."""


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
    urgency is at least ``urgency``, and the answer is provisional. With ``refer`` (only for an
    emergency) the pathway becomes the emergency referral too: the known findings already
    describe the emergency (e.g. a deficit after a known trauma, only its newness is blank).
    Without it the pathway stays the table's, acted on now while the question is asked.
    """

    urgency: Urgency
    when: tuple[str, ...]
    source: str
    refer: bool = False


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
            raise _NoCondition("no condition: give the facts in `all` or `any`")
        return self

    @property
    def facts(self) -> tuple[str, ...]:
        return self.all + self.any


class _TableRow(_Row):
    """A decision-table row: the feature values it accepts in ``when``."""

    when: dict[str, str | tuple[str, ...]]

    def allowed(self, feature: str) -> tuple[str, ...] | None:
        """Values this row accepts for ``feature``; ``None`` means any value."""
        value = self.when.get(feature)
        if value is None:
            return None
        return (value,) if isinstance(value, str) else value


class PathwayRule(_TableRow):
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


class UrgencyRule(_TableRow):
    id: str
    version: str
    when: dict[str, str | tuple[str, ...]]
    urgency: Urgency
    title: str
    source: str
    evidence: Evidence


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

    def check_references(self, facts: Mapping[str, FactKind]) -> None:
        """Every fact, feature, value and source named in a row must exist, and every fact a
        screen reads must be a yes/no fact (a row over a number or a text could never fire).

        Args:
            facts: every fact name with what it holds (:func:`._fact_types.fact_kinds`).

        Raises:
            RuleSetError: with one problem per unknown or ill-typed name.
        """
        problems = _Problems(self.path)
        ids: set[str] = set()
        for row in self.all_rows():
            if row.id in ids:
                problems.add("duplicate_id", row.id, f"duplicate rule id {row.id}", row.id)
            ids.add(row.id)
            problems.source(row.id, "", row.source, self.sources)
        for param_name, param in self.parameters.items():
            problems.source(f"parameter {param_name}", "", param.source, self.sources)
        for screen in (*self.red_flags, *self.differentials, *self.flags):
            problems.facts(screen.id, "", screen.facts, facts)
        for flag in self.red_flags:
            escalation = flag.if_not_excluded
            if escalation is not None:
                problems.source(flag.id, "if_not_excluded: ", escalation.source, self.sources)
                problems.facts(flag.id, "if_not_excluded: ", escalation.when, facts)
        for screen in (*self.differentials, *self.flags):
            if screen.if_not_excluded is not None:
                problems.add(
                    "escalation_outside_red_flags", screen.id, "if_not_excluded is for red flags only"
                )
        columns: dict[str, tuple[str, ...]] = dict(FEATURES)
        for row in self.pathway:
            problems.when(row.id, row.when, columns)
        columns["pathway"] = PATHWAYS
        for urgency in self.urgency:
            problems.when(urgency.id, urgency.when, columns)
        problems.raise_any()


def _nearest(name: str, names: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    return close[0] if close else None


_KIND_WORDS: dict[FactKind, str] = {
    "number": "a number",
    "choice": "a choice from a list",
    "text": "a text",
    "date": "a date",
}


class _Problems:
    """The problems found in one rule-set file, each with its row and a suggestion."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.found: list[RuleSetProblem] = []

    def add(
        self,
        kind: RuleSetProblemKind,
        row: str,
        message: str,
        name: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        self.found.append(RuleSetProblem(kind, self.file, row, message, name, suggestion))

    def source(self, row: str, where: str, source: str, sources: Mapping[str, Source]) -> None:
        if source not in sources:
            message = f"{where}unknown source {source!r}"
            self.add("unknown_source", row, message, source, _nearest(source, sources))

    def facts(self, row: str, where: str, names: Iterable[str], kinds: Mapping[str, FactKind]) -> None:
        # Only yes/no facts are offered: a condition can read nothing else.
        yes_no = [name for name, kind in kinds.items() if kind in ("yes_no", "none")]
        for name in names:
            kind = kinds.get(name)
            if kind is None:
                self.add("unknown_fact", row, f"{where}unknown fact {name!r}", name, _nearest(name, yes_no))
            elif kind in _KIND_WORDS:
                # The yes/no facts read from it are named after it (tempo -> tempo_subacute).
                related = [fact for fact in yes_no if fact.startswith(f"{name}_")]
                message = (
                    f"{where}fact {name!r} holds {_KIND_WORDS[kind]}, not yes/no/unknown: "
                    "a condition on it can never be true"
                    + (f" (yes/no facts from it: {', '.join(related)})" if related else "")
                )
                nearest = related[0] if related else _nearest(name, yes_no)
                self.add("fact_not_yes_no", row, message, name, nearest)

    def when(
        self, row: str, when: Mapping[str, str | tuple[str, ...]], columns: Mapping[str, tuple[str, ...]]
    ) -> None:
        for feature, value in when.items():
            if feature not in columns:
                message = f"unknown feature {feature!r} (known: {sorted(columns)})"
                self.add("unknown_feature", row, message, feature, _nearest(feature, columns))
                continue
            for item in (value,) if isinstance(value, str) else value:
                if item not in columns[feature]:
                    message = f"{feature} has no value {item!r} (allowed: {columns[feature]})"
                    self.add("unknown_value", row, message, item, _nearest(item, columns[feature]))

    def error(self) -> RuleSetError:
        return RuleSetError(self.found)

    def raise_any(self) -> None:
        if self.found:
            raise self.error()


#: The tables of rows, each row with an ``id``; and the keyed sections.
_TABLES: dict[str, type[_Row]] = {
    "red_flags": ScreenRule,
    "pathway": PathwayRule,
    "urgency": UrgencyRule,
    "differentials": ScreenRule,
    "flags": ScreenRule,
}
_KEYED = {"sources": "source", "parameters": "parameter"}
_HEADER = ("id", "version", "title", "intended_use", "limitations")


def _missing(data: Mapping[str, Any], problems: _Problems) -> None:
    """Sections and header keys the file must have."""
    for section in ("rule_set", "decision", *_KEYED, *_TABLES):
        if section not in data:
            problems.add("malformed_file", "", f"missing section [{section}]", section)
    header = data.get("rule_set", {})
    for key in _HEADER if isinstance(header, dict) else ():
        if key not in header:
            problems.add("malformed_file", "", f"missing key rule_set.{key}", key)
    if "hit_policy" not in data.get("decision", {"hit_policy": None}):
        problems.add("malformed_file", "", "missing key decision.hit_policy", "hit_policy")


def _row_of(
    data: Mapping[str, Any], loc: tuple[int | str, ...]
) -> tuple[str, tuple[int | str, ...], type[_Row] | None]:
    """The row a validation error is in (its id), the rest of the location and the row's model."""
    section = str(loc[0]) if loc else ""
    if section in _TABLES and len(loc) > 1 and isinstance(loc[1], int):
        entry = data[section][loc[1]]
        row_id = entry.get("id") if isinstance(entry, dict) else None
        return str(row_id or f"{section}[{loc[1]}]"), loc[2:], _TABLES[section]
    if section in _KEYED and len(loc) > 1:
        model: type[_Row] = Source if section == "sources" else Parameter
        return f"{_KEYED[section]} {loc[1]}", loc[2:], model
    return "", loc, None


def _validation_problems(error: ValidationError, data: Mapping[str, Any], problems: _Problems) -> None:
    for item in error.errors(include_url=False):
        row, rest, model = _row_of(data, tuple(item["loc"]))
        field = ".".join(str(part) for part in rest)
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, _NoCondition):
            problems.add("no_condition", row, str(cause))
            continue
        message = f"{field}: {item['msg']}" if field else str(item["msg"])
        if item["type"] == "extra_forbidden" and model is not None:
            name = str(rest[-1])
            problems.add(
                "invalid_row", row, f"{field}: unknown key", name, _nearest(name, model.model_fields)
            )
        else:
            problems.add("invalid_row", row, message, field or None)


def _parsed(raw: bytes, problems: _Problems) -> dict[str, Any]:
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        problems.add("malformed_file", "", f"not readable as TOML: {error}")
        raise problems.error() from error


def _kinds(params: Mapping[str, Any], problems: _Problems) -> dict[str, FactKind]:
    """What each fact holds, computed with the file's parameters."""
    try:
        return fact_kinds(params)
    except (KeyError, TypeError, ValueError) as error:
        message = f"the facts cannot be computed with these parameters: {type(error).__name__} {error}"
        problems.add("unusable_parameters", "", message)
        raise problems.error() from error


def load_rule_set(path: Path) -> RuleSet:
    """Parse and check a rule-set TOML file.

    Every row is checked when the file loads: its keys and values, the facts it reads (each
    must exist and be a yes/no fact), the features and values, the sources and ids.

    Raises:
        RuleSetError: with one structured problem (file, row id, message, suggestion) per
            problem found.
    """
    raw = path.read_bytes()
    problems = _Problems(path.name)
    data = _parsed(raw, problems)
    _missing(data, problems)
    problems.raise_any()
    header = data["rule_set"]
    try:
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
    except ValidationError as error:
        _validation_problems(error, data, problems)
        raise problems.error() from error
    rule_set.check_references(_kinds(rule_set.params, problems))
    return rule_set


@cache
def default_rule_set() -> RuleSet:
    """The rule set shipped in ``data/rules/dcm_rules.toml`` (loaded once per process)."""
    return load_rule_set(data_dir() / "rules" / "dcm_rules.toml")
