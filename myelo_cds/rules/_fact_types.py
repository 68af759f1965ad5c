"""What each fact holds: yes/no/unknown, a number, a choice, a text or a date.

The facts are plain functions of the findings (:mod:`myelo_cds.rules.facts`), so their kinds
are learnt by computing them for two probe findings built from the findings model: one with
nothing examined and one with every field filled in. A fact that is never anything but
unknown on both has no kind (the tests check that no fact of the shipped rule set is left so).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import Enum
from typing import Any, Literal

from pydantic import ValidationError

from myelo_cds.findings import (
    CervicalLevel,
    FieldSpec,
    Findings,
    LevelFinding,
    Patient,
    field_spec,
    findings_from_values,
    leaf_paths,
)
from myelo_cds.rules.facts import combine, observe

__all__ = ["FactKind", "fact_kinds"]

FactKind = Literal["yes_no", "number", "choice", "text", "date", "none"]
"""``none``: unknown on every probe, so its kind could not be learnt."""

_PROBE_DAY = dt.date(2000, 1, 1)
#: Fields refused by a cross-field check are dropped from the filled probe, one round each.
_MAX_ROUNDS = 8


def _kind(value: Any) -> FactKind | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes_no"
    if isinstance(value, Enum):
        return "choice"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dt.date):
        return "date"
    return "text"


def _sample(spec: FieldSpec) -> Any:
    """A valid value of one field: known, and in the middle of its range."""
    if spec.kind == "tri":
        return False
    if spec.kind == "bool":
        return True
    if spec.kind == "enum":
        return spec.options[0]
    if spec.kind in ("int", "float"):
        low = spec.minimum if spec.minimum is not None else 0.0
        middle = (low + spec.maximum) / 2 if spec.maximum is not None else low + 1
        return int(middle) if spec.kind == "int" else middle
    if spec.kind == "date":
        return _PROBE_DAY.isoformat()
    if spec.kind == "set":
        return []
    return "probe"


def _filled() -> Findings:
    """Findings with every field filled in (each MRI level too), as far as the model allows."""
    values = {path: _sample(field_spec(path)) for path in leaf_paths()}
    values["assessment_date"] = _PROBE_DAY.isoformat()
    # In supervised rehabilitation, so that the facts read only then (its baseline) are known.
    values["patient.management"] = "supervised_rehabilitation"
    values["patient.management_since"] = _PROBE_DAY.isoformat()
    data = findings_from_values(values)
    level = {name: _sample(field_spec(f"mri.levels.C5-C6.{name}")) for name in leaf_paths(LevelFinding)}
    data.setdefault("mri", {})["levels"] = {name.value: dict(level) for name in CervicalLevel}
    for _ in range(_MAX_ROUNDS):
        try:
            return Findings.model_validate(data)
        except ValidationError as error:
            for problem in error.errors(include_url=False):
                path = [str(part) for part in problem["loc"]]
                _drop(data, path[:-1] if problem["type"] == "missing" else path)
    return Findings.model_validate(data)


def _drop(data: dict[str, Any], path: list[str]) -> None:
    """Remove the field at ``path`` (a cross-field check names its section: remove that)."""
    target: Any = data
    for part in path[:-1]:
        if not isinstance(target, dict) or part not in target:
            return
        target = target[part]
    if isinstance(target, dict):
        target.pop(path[-1], None)


def fact_kinds(params: Mapping[str, Any]) -> dict[str, FactKind]:
    """Every fact :func:`~myelo_cds.rules.facts.combine` produces, with what it holds."""
    kinds: dict[str, set[FactKind]] = {}
    for findings in (Findings(patient=Patient(age_years=50)), _filled()):
        facts = combine(observe(findings, params, _PROBE_DAY), params)
        for name, value in facts.items():
            if name == "features":
                continue
            seen = kinds.setdefault(name, set())
            kind = _kind(value)
            if kind is not None:
                seen.add(kind)
    return {name: _one(seen) for name, seen in kinds.items()}


def _one(seen: set[FactKind]) -> FactKind:
    """The kind of a fact from the kinds of its values (a fact that is sometimes a number and
    sometimes yes/no is not a yes/no fact)."""
    if not seen:
        return "none"
    others = sorted(seen - {"yes_no"})
    return others[0] if others else "yes_no"
