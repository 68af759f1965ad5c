"""Dotted paths into the findings model, resolved in one place.

A path names a field through its sections: ``patient.age_years``, ``exam.reflexes.biceps.left``.
An entry of a mapping of models is named by its key: ``mri.levels.C5-C6.kang``. The field
metadata, the input messages, the explanations and the batch paths all walk the model here,
and build nested findings data from ``{path: value}`` here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from myelo_cds.errors import InputError
from myelo_cds.findings._model import Findings, field_model

__all__ = ["PathPart", "field_paths", "nested", "put_at", "resolve_path", "resolve_prefix", "value_at"]


@dataclass(frozen=True, slots=True)
class PathPart:
    """One part of a dotted path, resolved against the findings model."""

    name: str
    owner: type[BaseModel]
    """The model whose field (or, for a mapping key, whose mapping entry) this part names."""
    info: FieldInfo | None
    """The field this part names; None for the key of a mapping entry."""
    model: type[BaseModel] | None
    """The model this part holds (a section, a mapping's entries, an entry), None for a value."""
    mapping: bool = False
    """The part is a mapping of models: the next part is one of its keys."""
    optional: bool = False
    """The part may be absent: an optional section (``mjoa``) or a mapping entry (an MRI level)."""

    @property
    def is_key(self) -> bool:
        return self.info is None


def _parts(path: str | Sequence[str]) -> tuple[str, ...]:
    return tuple(path.split(".")) if isinstance(path, str) else tuple(path)


def _keys_of(owner: type[BaseModel], mapping_field: str) -> frozenset[str] | None:
    """The allowed keys of a mapping field (an enumeration's values), None if any key is."""
    annotation = owner.model_fields[mapping_field].annotation
    for candidate in (annotation, *get_args(annotation)):
        if get_origin(candidate) is dict:
            key_type = get_args(candidate)[0]
            if isinstance(key_type, type) and issubclass(key_type, Enum):
                return frozenset(str(member.value) for member in key_type)
    return None


def resolve_path(path: str | Sequence[str], root: type[BaseModel] = Findings) -> tuple[PathPart, ...]:
    """Each part of ``path`` resolved, outermost first.

    Raises:
        KeyError: if the path is empty, a part names no field (or no allowed key of a
            mapping), or a part follows a plain value.
    """
    return _resolve(_parts(path), root)


@cache
def _resolve(parts: tuple[str, ...], root: type[BaseModel]) -> tuple[PathPart, ...]:
    if not parts:
        raise KeyError("")
    resolved: list[PathPart] = []
    model: type[BaseModel] | None = root
    for name in parts:
        previous = resolved[-1] if resolved else None
        if model is None:
            raise KeyError(".".join(parts))
        if previous is not None and previous.mapping:
            keys = _keys_of(previous.owner, previous.name)
            if keys is not None and name not in keys:
                raise KeyError(".".join(parts))
            resolved.append(PathPart(name, model, None, model, optional=True))
            continue
        info = model.model_fields.get(name)
        if info is None:
            raise KeyError(".".join(parts))
        held, mapping, optional = field_model(info.annotation)
        resolved.append(PathPart(name, model, info, held, mapping, optional and held is not None))
        model = held
    return tuple(resolved)


def resolve_prefix(path: str | Sequence[str], root: type[BaseModel] = Findings) -> tuple[PathPart, ...]:
    """The longest start of ``path`` that resolves (empty if even its first part does not)."""
    parts = _parts(path)
    for end in range(len(parts), 0, -1):
        try:
            return _resolve(parts[:end], root)
        except KeyError:
            continue
    return ()


def field_paths(model: type[BaseModel] = Findings, *, through_mappings: bool = False) -> Iterator[str]:
    """Every value path under ``model``, sections walked depth first, in field order.

    A mapping of models (``mri.levels``) is left out, or, with ``through_mappings``, walked
    without a key (``mri.levels.kang``: the fields an entry may hold).
    """
    for name, info in model.model_fields.items():
        held, mapping, _ = field_model(info.annotation)
        if held is None:
            yield name
        elif not mapping or through_mappings:
            yield from (f"{name}.{path}" for path in field_paths(held, through_mappings=through_mappings))


def value_at(instance: BaseModel, path: str | Sequence[str]) -> Any:
    """The value ``path`` names in a findings (or section) instance; None inside an absent
    section or mapping entry. A section path gives the section itself."""
    value: Any = instance
    for part in resolve_path(path, type(instance)):
        if value is None:
            return None
        value = value.get(part.name) if part.is_key else getattr(value, part.name)
    return value


def nested(items: Iterable[tuple[Sequence[str], Any]]) -> dict[str, Any]:
    """Nested findings data (as the models read it) from ``(path parts, value)`` pairs.

    Raises:
        InputError: if a path runs through another path's value (``mri`` given as a value
            and ``mri.available`` too).
    """
    data: dict[str, Any] = {}
    for parts, value in items:
        put_at(data, parts, value)
    return data


def put_at(data: dict[str, Any], parts: Sequence[str], value: Any) -> None:
    """Set ``value`` at ``parts`` in nested findings data, making the sections on the way.

    Raises:
        InputError: if the path runs through a value that is not a section.
    """
    target = data
    for part in parts[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise InputError(f"{'.'.join(parts)!r} conflicts with another value given")
    target[parts[-1]] = value
