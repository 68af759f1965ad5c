"""Field metadata from the findings model: label, help, kind, options and range per input path.

One source for every surface: the form widgets, the CSV column documentation and the
error messages all read the model through here.
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from myelo_cds.findings._model import Findings
from myelo_cds.findings._paths import field_paths, nested, resolve_path

__all__ = ["FieldSpec", "Kind", "field_spec", "findings_from_values", "leaf_paths"]

Kind = Literal["tri", "bool", "enum", "int", "float", "date", "set", "text"]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    path: str
    label: str
    help: str
    kind: Kind
    options: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        optional = len(args) < len(get_args(annotation))
        if len(args) == 1:
            return args[0], optional
        return annotation, optional
    return annotation, False


def _bounds(info: FieldInfo, annotation: Any) -> tuple[float | None, float | None]:
    low = high = None
    metadata = list(info.metadata)
    for arg in get_args(annotation):  # Annotated[int, Field(ge=..)] inside Optional
        metadata.extend(getattr(arg, "metadata", []) or [])
    if hasattr(annotation, "__metadata__"):
        for item in annotation.__metadata__:
            metadata.extend(getattr(item, "metadata", []) or [])
    for item in metadata:
        if isinstance(item, Ge):
            low = float(item.ge)  # type: ignore[arg-type]
        elif isinstance(item, Gt):
            low = float(item.gt)  # type: ignore[arg-type]
        elif isinstance(item, Le):
            high = float(item.le)  # type: ignore[arg-type]
    return low, high


def _label(description: str, name: str) -> tuple[str, str]:
    text = description.replace(" Leave empty if not examined.", "").strip()
    label = text.rstrip(".") if text else name.replace("_", " ").capitalize()
    return label, description


def _spec(path: str, info: FieldInfo) -> FieldSpec:
    annotation, optional = _strip_optional(info.annotation)
    label, help_text = _label(info.description or "", path.rsplit(".", 1)[-1])
    required = info.is_required()
    base = getattr(annotation, "__origin__", annotation)
    if annotation is bool and optional:
        return FieldSpec(path, label, help_text, "tri")
    if annotation is bool:
        return FieldSpec(path, label, help_text, "bool")
    if isinstance(base, type) and issubclass(base, Enum):
        return FieldSpec(path, label, help_text, "enum", tuple(m.value for m in base), required=required)
    if get_origin(annotation) is frozenset:
        (member,) = get_args(annotation)
        return FieldSpec(path, label, help_text, "set", tuple(m.value for m in member))
    low, high = _bounds(info, annotation)
    if base is int:
        return FieldSpec(path, label, help_text, "int", minimum=low, maximum=high, required=required)
    if base is float:
        return FieldSpec(path, label, help_text, "float", minimum=low, maximum=high, required=required)
    if base is dt.date:
        return FieldSpec(path, label, help_text, "date", required=required)
    return FieldSpec(path, label, help_text, "text", required=required)


@cache
def field_spec(path: str) -> FieldSpec:
    """Metadata of one input path, e.g. ``exam.umn.babinski`` or ``mri.levels.C5-C6.kang``.

    Raises:
        KeyError: if the path does not name a field.
    """
    last = resolve_path(path)[-1]
    if last.info is None:  # the key of a mapping entry (an MRI level) is no field
        raise KeyError(path)
    return _spec(path, last.info)


def leaf_paths(model: type[BaseModel] = Findings) -> Iterator[str]:
    """Every scalar input path of a model (MRI levels excluded: they are keyed by level)."""
    return field_paths(model)


def findings_from_values(values: dict[str, Any]) -> dict[str, Any]:
    """Nested findings data from ``{path: value}``; ``None`` values (unknown) are left out."""
    return nested(
        (path.split("."), value.isoformat() if isinstance(value, dt.date) else value)
        for path, value in values.items()
        if value is not None and value not in ([], "")
    )
