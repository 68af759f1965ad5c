"""Input errors for people: the field, the value given, what is allowed and what to do."""

from __future__ import annotations

import difflib
from functools import cache
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from myelo_cds.findings._model import Findings

__all__ = ["describe_validation_error", "field_description"]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


@cache
def _fields_at(path: tuple[str, ...]) -> tuple[type[BaseModel] | None, Any]:
    """The model that owns the last part of ``path`` and that field's info."""
    model: type[BaseModel] | None = Findings
    info = None
    for part in path:
        if model is None:
            return None, None
        fields = model.model_fields
        if part not in fields:
            # dict keys (e.g. an MRI level) keep the value model of the dict
            return model, None
        info = fields[part]
        owner = model
        model = _model_of(info.annotation)
        if model is None:
            return owner, info
    return model, info


def field_description(path: tuple[str, ...]) -> str:
    """The field's description (label, unit and range) from the model, or ``''``."""
    _, info = _fields_at(path)
    return info.description if info is not None and info.description else ""


def _nearest(path: tuple[str, ...]) -> str:
    model, _ = _fields_at(path[:-1]) if len(path) > 1 else (Findings, None)
    if model is None:
        return ""
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
    paths: list[str] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            inner = _model_of(info.annotation)
            if inner is not None and inner is not model:
                walk(inner, f"{prefix}{name}.")
            else:
                paths.append(prefix + name)

    walk(Findings, "")
    return tuple(paths)


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
