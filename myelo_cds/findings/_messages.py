"""Input errors for people: the field, the value given, what is allowed and what to do."""

from __future__ import annotations

import difflib
from functools import cache

from pydantic import ValidationError

from myelo_cds.findings._model import Findings
from myelo_cds.findings._paths import field_paths, resolve_path, resolve_prefix

__all__ = ["describe_validation_error", "field_description"]


def field_description(path: tuple[str, ...]) -> str:
    """The field's description (label, unit and range) from the model, or ``''``."""
    try:
        info = resolve_path(path)[-1].info
    except KeyError:
        return ""
    return info.description if info is not None and info.description else ""


def _nearest(path: tuple[str, ...]) -> str:
    reached = resolve_prefix(path[:-1])
    model = (reached[-1].model or reached[-1].owner) if reached else Findings
    names = list(model.model_fields)
    close = difflib.get_close_matches(path[-1], names, n=3, cutoff=0.6)
    if close:
        return f"; did you mean {', '.join(repr(name) for name in close)}?"
    elsewhere = [
        p
        for p in _all_paths()
        if difflib.get_close_matches(path[-1], [p.rsplit(".", 1)[-1]], n=1, cutoff=0.75)
    ]
    if elsewhere:
        return f"; did you mean {', '.join(repr(p) for p in elsewhere[:3])}?"
    return f"; allowed fields here: {', '.join(names)}"


@cache
def _all_paths() -> tuple[str, ...]:
    """Every field path in the findings model (for suggestions across sections)."""
    return tuple(field_paths(through_mappings=True))


def describe_validation_error(error: ValidationError) -> list[str]:
    """One line per problem: ``field: value X is not allowed: reason (allowed: range)``."""
    lines = []
    for problem in error.errors(include_url=False):
        path = tuple(str(part) for part in problem["loc"])
        where = ".".join(path) or "input"
        given = problem.get("input")
        kind = problem["type"]
        if kind == "extra_forbidden":
            lines.append(f"{where}: unknown field{_nearest(path)}")
            continue
        if kind == "missing":
            described = field_description(path)
            lines.append(f"{where}: required field is missing" + (f" ({described})" if described else ""))
            continue
        message = problem["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        described = field_description(path)
        shown = repr(given) if not isinstance(given, dict) else "an object"
        line = f"{where}: value {shown} is not allowed: {message}"
        if described:
            line += f" (allowed: {described})"
        lines.append(line)
    return lines
