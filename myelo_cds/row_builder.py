"""A clinic-list header compiled into a fast builder of validated findings.

A CSV row is turned into :class:`~myelo_cds.findings.Findings` by the same pydantic models
as a single case, section by section: each sub-model (``patient.history``, ``exam.umn``,
``mri.levels.C5-C6``...) is validated on its own and the validated, immutable instance is
reused for every later row whose cells for that section are the same. Clinic lists repeat
sections a lot (most reflex or history blocks look alike), so most sections are validated
once. Only the parents of changed sections are validated again, with their model validators.

Why this is exact: the models are frozen, have no validator that reads another section,
and pydantic accepts an already-validated instance of a field's model as it is. So the
findings equal those of ``Findings.model_validate(cells_to_findings(header, cells))``
(tests/test_batch_fast.py checks it on generated lists). Any validation error makes the
caller rebuild the row by the plain path, so a bad row gets exactly the same message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from myelo_cds.findings import Findings

__all__ = ["RowBuilder", "compile_header"]

_EMPTY: Any = object()
"""A section whose cells are all empty: left out, exactly as ``cells_to_findings`` does."""

# A section is remembered while reuse pays: after _PROBE lookups it must have hit at least
# _MIN_HIT_RATE of them, and it never holds more than _MAX_ENTRIES (bounded memory).
_PROBE = 2000
_MIN_HIT_RATE = 0.25
_MAX_ENTRIES = 50_000


def _no_key(cells: Sequence[str]) -> Any:
    return ()


@dataclass(eq=False)
class _Section:
    """One model (or a mapping of models, like ``mri.levels``) and the columns under it."""

    model: type[BaseModel] | None
    """The model to validate with; None for a mapping (its parent validates it)."""
    item_model: type[BaseModel] | None = None
    """For a mapping: the model of each entry."""
    scalars: list[tuple[str, int, bool]] = field(default_factory=list)
    """(field name, column index, is a ``;``-separated list) of the cells owned directly."""
    children: dict[str, _Section] = field(default_factory=dict)
    columns: tuple[int, ...] = ()
    key: Callable[[Sequence[str]], Any] = _no_key
    """The section's cells as one hashable value (C-speed ``itemgetter``)."""
    cache: dict[tuple[str, ...], Any] | None = None
    lookups: int = 0
    hits: int = 0

    def child(self, name: str) -> _Section:
        """The nested section ``name`` (created on first use); ``LookupError`` if none."""
        found = self.children.get(name)
        if found is not None:
            return found
        if self.item_model is not None:  # an entry of a mapping of models (an MRI level)
            found = _Section(model=self.item_model)
        else:
            found = _section_for(self.model, name)
        self.children[name] = found
        return found

    def finish(self, remember: bool) -> tuple[int, ...]:
        own = [index for _, index, _ in self.scalars]
        for child in self.children.values():
            own.extend(child.finish(remember=True))
        self.columns = tuple(sorted(own))
        self.key = itemgetter(*self.columns) if self.columns else _no_key
        self.cache = {} if remember and self.columns else None
        return self.columns


def _section_for(model: type[BaseModel] | None, name: str) -> _Section:
    if model is None or name not in model.model_fields:
        raise LookupError(name)
    annotation = model.model_fields[name].annotation
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return _Section(model=candidate)
        if get_origin(candidate) is dict:
            value = get_args(candidate)[1]
            if isinstance(value, type) and issubclass(value, BaseModel):
                return _Section(model=None, item_model=value)
    raise LookupError(name)


class RowBuilder:
    """Builds validated findings from the cells of one compiled header (see the module doc)."""

    def __init__(self, root: _Section, width: int) -> None:
        self._root = root
        self._width = width

    def findings(self, cells: Sequence[str]) -> Findings:
        """The validated findings of one row; raises pydantic's ``ValidationError`` if invalid."""
        if len(cells) != self._width:
            cells = [*cells[: self._width], *([""] * (self._width - len(cells)))]
        built = _build(self._root, cells)
        if built is _EMPTY:
            return Findings.model_validate({})
        assert isinstance(built, Findings)
        return built


def _build(section: _Section, cells: Sequence[str]) -> Any:
    cache = section.cache
    if cache is not None:
        key = section.key(cells)
        section.lookups += 1
        found = cache.get(key)
        if found is not None:
            section.hits += 1
            return found
    values: dict[str, Any] = {}
    for name, index, is_list in section.scalars:
        text = cells[index].strip()
        if text:
            values[name] = [part.strip() for part in text.split(";") if part.strip()] if is_list else text
    for name, child in section.children.items():
        value = _build(child, cells)
        if value is not _EMPTY:
            values[name] = value
    if not values:
        result: Any = _EMPTY
    elif section.model is None:
        result = values
    else:
        result = section.model.model_validate(values)
    if cache is not None:
        if section.lookups >= _PROBE and section.hits < _MIN_HIT_RATE * section.lookups:
            section.cache = None  # a section that rarely repeats is cheaper just to validate
        elif len(cache) < _MAX_ENTRIES:
            cache[key] = result
    return result


def compile_header(header: Sequence[tuple[tuple[str, ...], bool]]) -> RowBuilder | None:
    """A builder for rows under ``header`` (from ``batch.parse_header``), or None.

    None means a header the builder does not take (a column naming a field that does not
    exist, a column repeated, or a name used both for a value and a section): the caller
    then uses the plain path, which gives those rows their usual messages.
    """
    root = _Section(model=Findings)
    seen: set[tuple[str, ...]] = set()
    try:
        for index, (parts, is_list) in enumerate(header):
            if parts in seen or "" in parts:
                return None
            seen.add(parts)
            section = root
            for part in parts[:-1]:
                if any(name == part for name, _, _ in section.scalars):
                    return None
                section = section.child(part)
            if parts[-1] in section.children:
                return None
            section.scalars.append((parts[-1], index, is_list))
    except LookupError:
        return None
    root.finish(remember=False)  # a whole row is new every time (its case id at least)
    return RowBuilder(root, len(header))
