"""Findings from whatever was entered: each invalid value is left out and reported, never the rest.

A half-typed consult is the normal state of a clinic. One value out of range, or a choice that
still waits for its date, must not hide the red-flag screen that the other findings already
settle. :func:`salvage` validates what was entered, drops each value the model refuses (a value
out of range, an unknown field, a choice whose required companion is missing, an mJOA scored on
only some items) and returns the findings built from everything else, with one
:class:`FieldProblem` per value it left out, so the engine always runs on what is valid and the
page shows the problems beside the answer instead of in place of it. A blank left by a dropped
value is read as *not examined*, exactly like a field never filled in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from myelo_cds.errors import InputError
from myelo_cds.findings._fields import field_spec
from myelo_cds.findings._messages import SUGGESTED_PER_INPUT, _nearest, field_description
from myelo_cds.findings._model import CROSS_FIELD_CHECKS, Findings
from myelo_cds.findings._paths import put_at

__all__ = ["FieldProblem", "salvage"]

Path = tuple[str, ...]

# Every round drops at least one value, so the rounds are bounded by the values entered; this
# cap only guards against a model check this module does not know how to satisfy.
_MAX_ROUNDS = 500
_SHOWN = 60  # characters of a refused value repeated back (a pasted note is not echoed whole)


class FieldProblem(BaseModel):
    """One value left out of the findings, in words a clinician can act on."""

    model_config = ConfigDict(frozen=True)

    field: str
    """Dotted input path, e.g. ``patient.age_years`` (``input`` for the whole entry)."""
    label: str
    """The field as the form names it."""
    value: str
    """The refused value, shortened (``''`` when the problem is a missing companion value)."""
    problem: str
    """What is wrong with it."""
    allowed: str
    """What the field accepts (range, choices or the rule it breaks), ``''`` if nothing to add."""

    @property
    def message(self) -> str:
        """One line: label, input path, value, problem and allowed range."""
        given = f" {self.value}" if self.value else ""
        allowed = f" (allowed: {self.allowed})" if self.allowed else ""
        where = f" [{self.field}]" if self.field != self.label else ""
        return f"{self.label}{where}:{given} - {self.problem}{allowed}."


def salvage(values: Mapping[str, Any]) -> tuple[Findings, tuple[FieldProblem, ...]]:
    """The findings built from every valid value entered, and a problem for each value left out.

    Args:
        values: findings data as the model reads it (nested sections, as in a case file or the
            consult form's draft).

    Returns:
        The findings without the invalid values, and the problems in the order found. No problem
        means the findings are exactly what was entered.

    Raises:
        InputError: only if no findings can be built at all from what is valid (a required
            field the model has no default for is missing); the message lists the problems.
    """
    problems: list[FieldProblem] = []
    if not isinstance(values, Mapping):
        problems.append(
            FieldProblem(
                field="input",
                label="Findings",
                value=_shown(values),
                problem="not a set of findings (expected fields and their values)",
                allowed="an object of findings sections",
            )
        )
        values = {}
    data = _copy(values)
    for _ in range(_MAX_ROUNDS):
        try:
            return Findings.model_validate(data), tuple(problems)
        except ValidationError as error:
            dropped = _drop_invalid(data, error, problems)
        if not dropped:
            break
    lines = "; ".join(problem.message for problem in problems) or "no finding could be kept"
    raise InputError(f"no findings could be built from what was entered: {lines}")


def _drop_invalid(data: dict[str, Any], error: ValidationError, problems: list[FieldProblem]) -> bool:
    """Drop the values behind each error of one validation; False if nothing could be dropped."""
    dropped = False
    unknown = _unknown(problems)
    for issue in error.errors(include_url=False):
        loc = tuple(str(part) for part in issue["loc"])
        kind = issue["type"]
        if kind == "missing":
            dropped |= _fill_missing(data, loc, problems)
        elif kind == "value_error" and _is_section(data, loc):
            dropped |= _break_check(data, loc, _message(issue["msg"]), problems)
        else:
            path = _value_path(issue["loc"])
            if _pop(data, path) is _ABSENT:
                continue
            unknown += issue["type"] == "extra_forbidden"
            problems.append(_problem(path, issue, suggest=unknown <= SUGGESTED_PER_INPUT))
            dropped = True
    return dropped


def _fill_missing(data: dict[str, Any], loc: Path, problems: list[FieldProblem]) -> bool:
    """A required value is missing: an empty section where one may be empty, else drop its section."""
    parent = loc[:-1]
    if not parent:
        if _get(data, loc) is not _ABSENT:
            return False
        put_at(data, loc, {})  # a whole section left out, e.g. no patient details yet
        return True
    section = _pop(data, parent)
    if section is _ABSENT:
        return False  # its section is already left out (another of its values was missing)
    if parent == ("patient",):
        put_at(data, parent, section)
        # the patient section holds what every assessment needs: nothing to drop, only to ask
        problems.append(
            FieldProblem(
                field=".".join(loc), label=_label(loc), value="", problem="required: enter it", allowed=""
            )
        )
        return False
    label = _label(parent)
    missing = _label(loc)
    problems.append(
        FieldProblem(
            field=".".join(parent),
            label=label,
            value="",
            problem=f"incomplete: {missing} is not entered, so the {label} is left out until it is",
            allowed="",
        )
    )
    return True


def _break_check(data: dict[str, Any], loc: Path, message: str, problems: list[FieldProblem]) -> bool:
    """A check across fields failed: drop the values that make it fail, the fewest first.

    Candidates, tried in order until the same check no longer fails: the value the check's rule
    qualifies (a management choice without its start date; MRI findings given without a scan;
    an earlier mJOA or a start date after the assessment date), then each other field the
    section's :data:`CROSS_FIELD_CHECKS` read, later fields first; then the whole section. The
    assessment date and the statement that there is no scan are kept in preference to what
    contradicts them. Values a dropped value leaves incomplete are reported in the next round.
    """
    for paths in _candidates(data, loc):
        trial = _copy(data)
        for path in paths:
            _pop(trial, path)
        if not _still_fails(trial, loc, message):
            _drop(data, paths, message, problems)
            return True
    return False


def _candidates(data: dict[str, Any], loc: Path) -> list[list[Path]]:
    section = _get(data, ("mri",))
    mri: list[Path] = (
        [("mri", str(name)) for name in section if name != "available"]
        if isinstance(section, Mapping)
        else []
    )
    preferred: dict[Path, list[list[Path]]] = {
        ("patient",): [[("patient", "management")]],
        ("mri",): [mri],
        (): [
            [("earlier_mjoa",)],
            [("patient", "management_since")],
            [("earlier_mjoa",), ("patient", "management_since")],
        ],
    }
    read = [
        tuple(path.split("."))
        for paths, _ in CROSS_FIELD_CHECKS
        if _section_of(paths) == loc
        for path in paths
    ]
    singles = [[_droppable(path)] for path in reversed(dict.fromkeys(read))]
    whole = [[loc]] if loc and loc != ("patient",) else []
    candidates = [*preferred.get(loc, []), *singles, *whole]
    return [paths for paths in candidates if paths and all(_get(data, p) is not _ABSENT for p in paths)]


def _droppable(path: Path) -> Path:
    """A required value goes with its section (an earlier mJOA without its date is no mJOA)."""
    spec = _spec(path)
    return path[:-1] if spec is not None and spec.required and len(path) > 1 else path


def _drop(data: dict[str, Any], paths: list[Path], message: str, problems: list[FieldProblem]) -> None:
    for path in paths:
        value = _pop(data, path)
        problems.append(
            FieldProblem(
                field=".".join(path),
                label=_label(path),
                value=_shown(value),
                problem=f"does not fit the other entries: {message}",
                allowed="",
            )
        )


def _still_fails(data: dict[str, Any], loc: Path, message: str) -> bool:
    try:
        Findings.model_validate(data)
    except ValidationError as error:
        return any(
            tuple(str(part) for part in issue["loc"]) == loc and _message(issue["msg"]) == message
            for issue in error.errors(include_url=False)
        )
    return False


def _section_of(paths: tuple[str, ...]) -> Path:
    """The section whose model runs a check: the common prefix of the sections it reads."""
    parts = [tuple(path.split("."))[:-1] for path in paths]
    common: list[str] = []
    for names in zip(*parts, strict=False):
        if len(set(names)) != 1:
            break
        common.append(names[0])
    return tuple(common)


def _is_section(data: dict[str, Any], loc: Path) -> bool:
    """The error is about a whole section (a model check), not about one value."""
    return not loc or isinstance(_get(data, loc), Mapping)


def _value_path(loc: tuple[int | str, ...]) -> Path:
    """The part of the input to drop: a set is dropped whole, an invalid level key with its level."""
    path: list[str] = []
    for part in loc:
        if isinstance(part, int) or part == "[key]":
            break
        path.append(part)
    return tuple(path)


_UNKNOWN = "not a field of the findings"


def _unknown(problems: list[FieldProblem]) -> int:
    return sum(problem.problem.startswith(_UNKNOWN) for problem in problems)


def _problem(path: Path, issue: Mapping[str, Any], *, suggest: bool = True) -> FieldProblem:
    kind = issue["type"]
    value = issue.get("input")
    where = ".".join(path) or "input"
    if kind == "extra_forbidden":
        # A few suggestions per entry: thousands of unknown keys must not cost seconds.
        hint = _nearest(path).replace(";", ",") if suggest else ""
        return FieldProblem(
            field=where,
            label=where,
            value=_shown(value),
            problem=_UNKNOWN + hint,
            allowed="",
        )
    return FieldProblem(
        field=where,
        label=_label(path),
        value=_shown(value),
        problem=_plain_reason(path, issue),
        allowed=_allowed(path),
    )


def _plain_reason(path: Path, issue: Mapping[str, Any]) -> str:
    """The model's reason in clinical words where a field range or choice says it better."""
    spec = _spec(path)
    kind = issue["type"]
    if spec is not None and spec.kind in ("int", "float") and spec.minimum is not None:
        if kind.startswith(("greater", "less")):
            return "outside the range this field allows"
        if kind.endswith("parsing") or kind in ("int_type", "float_type", "int_from_float"):
            return "not a number" if kind != "int_from_float" else "not a whole number"
    if spec is not None and spec.kind == "enum":
        return "not one of the choices"
    if spec is not None and spec.kind in ("tri", "bool"):
        return "not yes or no"
    if spec is not None and spec.kind == "date":
        return "not a date (YYYY-MM-DD)"
    return _message(issue["msg"])


def _allowed(path: Path) -> str:
    spec = _spec(path)
    if spec is not None and spec.options:
        return ", ".join(option.replace("_", " ") for option in spec.options)
    if spec is not None and spec.kind in ("int", "float") and spec.minimum is not None:
        high = "" if spec.maximum is None else f"{spec.maximum:g}"
        return f"{spec.minimum:g}-{high}" + ("" if spec.kind == "float" else ", whole numbers")
    return field_description(path).rstrip(".")


def _spec(path: Path) -> Any:
    try:
        return field_spec(".".join(path))
    except KeyError:
        return None


_SECTION_LABELS = {
    "mjoa": "mJOA",
    "earlier_mjoa": "Earlier mJOA",
    "cord_diameters": "Cord diameters (MSCC)",
    "mri": "MRI",
    "umn": "Upper-motor-neuron signs",
}


def _label(path: Path) -> str:
    if not path:
        return "Findings"
    if path[-1] in _SECTION_LABELS:
        return _SECTION_LABELS[path[-1]]
    spec = _spec(path)
    if spec is not None and spec.help:
        return str(spec.label)
    return path[-1].replace("_", " ").capitalize()


def _message(text: str) -> str:
    return text.removeprefix("Value error, ")


def _shown(value: Any) -> str:
    if value is _ABSENT or value is None:
        return ""
    if isinstance(value, Mapping):
        return "(a group of values)"
    if isinstance(value, list | tuple | set | frozenset):
        return "(a list of values)"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


class _Absent:
    pass


_ABSENT: Any = _Absent()


def _copy(value: Any) -> Any:
    """A copy of the nested sections (values themselves are not changed, only dropped)."""
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    return value


def _get(data: Any, path: Path) -> Any:
    for part in path:
        if not isinstance(data, Mapping) or part not in data:
            return _ABSENT
        data = data[part]
    return data


def _pop(data: Any, path: Path) -> Any:
    if not path:
        return _ABSENT
    parent = _get(data, path[:-1])
    if not isinstance(parent, dict) or path[-1] not in parent:
        return _ABSENT
    return parent.pop(path[-1])
