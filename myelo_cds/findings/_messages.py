"""Input errors for people: the field, the value given, what is allowed and what to do."""

from __future__ import annotations

import difflib
from functools import cache, lru_cache

from pydantic import ValidationError

from myelo_cds.findings._model import Findings
from myelo_cds.findings._paths import field_paths, resolve_path, resolve_prefix

__all__ = ["SUGGESTED_PER_INPUT", "describe_validation_error", "field_description", "unknown_names_message"]


def field_description(path: tuple[str, ...]) -> str:
    """The field's description (label, unit and range) from the model, or ``''``."""
    try:
        info = resolve_path(path)[-1].info
    except KeyError:
        return ""
    return info.description if info is not None and info.description else ""


SUGGESTED_PER_INPUT = 3
"""Unknown names given a spelling suggestion per document, row or upload; the rest are listed
without one (a pasted document with thousands of unknown keys once cost 16 s per rerun)."""
_SUGGEST_CHARS = 64
"""Names longer than this get no suggestion (no field name is near that long)."""


def _nearest(path: tuple[str, ...]) -> str:
    """A suggestion for an unknown name: the nearest fields of its own section, else the fields
    of that name elsewhere, else the section's field names. Looked up in a precomputed index and
    remembered per (section, name), so a repeated unknown name costs one dictionary lookup."""
    name = path[-1] if path else ""
    if len(name) > _SUGGEST_CHARS:
        name = ""
    return _suggestion(tuple(path[:-1]), name)


@lru_cache(maxsize=4096)
def _suggestion(section: tuple[str, ...], name: str) -> str:
    reached = resolve_prefix(section)
    model = (reached[-1].model or reached[-1].owner) if reached else Findings
    names = list(model.model_fields)
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6) if name else []
    if close:
        return f"; did you mean {', '.join(repr(name) for name in close)}?"
    index = _leaf_index()
    near_leaves = difflib.get_close_matches(name, list(index), n=3, cutoff=0.75) if name else []
    elsewhere = [path for leaf in near_leaves for path in index[leaf]]
    if elsewhere:
        return f"; did you mean {', '.join(repr(p) for p in elsewhere[:3])}?"
    return f"; allowed fields here: {', '.join(names)}"


@cache
def _all_paths() -> tuple[str, ...]:
    """Every field path in the findings model (for suggestions across sections)."""
    return tuple(field_paths(through_mappings=True))


@cache
def _leaf_index() -> dict[str, tuple[str, ...]]:
    """Every path by its last name (``age_years`` -> ``patient.age_years``), built once."""
    index: dict[str, list[str]] = {}
    for path in _all_paths():
        index.setdefault(path.rsplit(".", 1)[-1], []).append(path)
    return {leaf: tuple(paths) for leaf, paths in index.items()}


def unknown_names_message(names: list[str], what: str = "column") -> str:
    """One message for unknown names (columns of an upload, keys): the first few with a
    suggestion, then how many more; each name shortened."""
    shown = []
    for name in names[:SUGGESTED_PER_INPUT]:
        short = name if len(name) <= _SUGGEST_CHARS else name[:_SUGGEST_CHARS] + "..."
        hint = _nearest(tuple(name.split("."))).removeprefix("; ")
        shown.append(f"{short!r} ({hint})")
    more = len(names) - len(shown)
    tail = f" and {more:,} more" if more > 0 else ""
    plural = what if len(names) == 1 else what + "s"
    return f"unknown {plural}: {'; '.join(shown)}{tail}"


def describe_validation_error(error: ValidationError) -> list[str]:
    """One line per problem: ``field: value X is not allowed: reason (allowed: range)``."""
    lines = []
    suggested = 0
    for problem in error.errors(include_url=False):
        path = tuple(str(part) for part in problem["loc"])
        where = ".".join(path) or "input"
        given = problem.get("input")
        kind = problem["type"]
        if kind == "extra_forbidden":
            suggested += 1
            hint = _nearest(path) if suggested <= SUGGESTED_PER_INPUT else ""
            lines.append(f"{where}: unknown field{hint}")
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
