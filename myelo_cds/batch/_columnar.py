"""Clinic lists evaluated column by column: the fast batch path for CSV files.

A CSV chunk is parsed by Apache Arrow into dictionary-encoded columns, so each distinct cell
text of a column is handled once. Then, for the whole chunk at a time:

1. **Cells** are validated by pydantic with the type and constraints of their findings field
   (a ``TypeAdapter`` built from the model's own field), once per distinct text.
2. **Rows** are accepted only when the findings models would accept them: required fields
   present in every section given, and the checks across fields
   (:data:`~myelo_cds.findings.CROSS_FIELD_CHECKS`, the functions the model validators call).
   A row that is not accepted is handed back to the caller, which evaluates it the plain way
   (``batch.evaluate_row``), so a bad row gets exactly its usual message.
3. **Sections** of the findings that a part of ``observe`` reads (a reflex pair, the
   reflexes, one MRI level, the MRI...) are built once per distinct combination of their
   values, innermost first, with the models' ``model_construct`` (the values are validated
   already).
4. **Leaves** come from the parts of :func:`~myelo_cds.rules.facts.observe`
   (:func:`observe_parts`: :func:`~myelo_cds.rules.facts.age_leaves`,
   :func:`~myelo_cds.rules.facts.reflex_leaves` and the others), each called once per
   distinct value of the few fields or the section it reads.
5. **Facts**: each composite fact the result columns depend on comes from its function in
   :data:`~myelo_cds.rules.facts.FACT_FUNCTIONS`, called once per distinct value of the facts
   its parameters name (:data:`~myelo_cds.rules.facts.FACT_INPUTS`): most read a few yes/no
   leaves, so a fact is computed a handful of times per chunk, not once per row.
6. **The result columns** (:func:`outcome_of`) read only the features, the red-flag, flag and
   differential screens, the mJOA total and what a pathway needs (:class:`_Reads`). Each
   screen is run by the rules' own ``screen`` (and ``escalation``) once per distinct value of
   the facts its rows name, and the result columns once per distinct combination of those
   answers (the outcome key), by the engine itself (``Engine.evaluate`` and
   :func:`outcome_of`) on the leaves of the first row with that key.

Rows carry small integer codes: a function's inputs form one integer key per row, and its
answers are kept in a table indexed by that key, so a value seen before costs no Python call.
Whole sections of real rows mostly differ (ages, dates, timed walks), so the patient and the
examination are read through observe's smaller parts, each of a few fields, whose values
repeat. The leaves of a row mostly differ too (the days between two mJOA scores), but what
the result columns read mostly does not (on the generated 100,000-row list, 85,000 distinct
combinations of leaves have 11,000 distinct outcome keys). So the batch path computes, for
every accepted row, what ``Engine.decide`` computes for that row's findings, through the same
functions, with no rule, threshold or validation of its own (tests/test_batch_fast.py
compares the two on generated lists and on hypothesis rows; tests/test_fact_functions.py
checks that cases with the same outcome key have the same result columns).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from typing import Annotated, Any, get_args, get_origin

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from pydantic import BaseModel, TypeAdapter, ValidationError

from myelo_cds.findings import CROSS_FIELD_CHECKS, Findings, example_cases, resolve_path
from myelo_cds.rules._triage import Escalation, escalation
from myelo_cds.rules.engine import PATHWAY_NEEDED_FACTS, Engine, Evaluation
from myelo_cds.rules.facts import (
    FACT_FUNCTIONS,
    FACT_INPUTS,
    PARAMS,
    Leaves,
    age_leaves,
    approach_leaves,
    care_leaves,
    coordination_leaves,
    duration_leaves,
    electro_leaves,
    history_leaves,
    mjoa_leaves,
    mri_leaves,
    observe,
    reflex_leaves,
    risk_factor_leaves,
    sensation_leaves,
    sign_leaves,
    strength_leaves,
    symptom_leaves,
    umn_leaves,
)
from myelo_cds.rules.ruleset import ScreenRule
from myelo_cds.rules.table import screen

__all__ = [
    "OUTCOME_COLUMNS",
    "ChunkResult",
    "Plan",
    "compile_plan",
    "evaluate_chunk",
    "observe_parts",
    "outcome_of",
    "parse_chunk",
    "table_of_cells",
]

Header = Sequence[tuple[tuple[str, ...], bool]]

_INVALID: Any = type("Invalid", (), {"__repr__": lambda self: "<invalid>"})()
"""The value of a cell its field does not accept."""
_MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>"})()
"""The value of an empty cell of a required field."""

_DENSE_BITS = 22
"""A memo whose key fits in this many bits keeps its answers in a flat array."""
_CACHE_BOUND = 200_000
"""Validated cell texts remembered per column (ids and free text rarely repeat)."""
_MEMO_BOUND = 500_000
"""Answers a memo keeps for keys too wide for a flat array (then it starts again)."""
_KEY_BITS = 62
"""Bits of one integer key (an ``int64``, its sign bit left alone); wider keys are kept
as rows of codes."""

#: The result columns an outcome holds (``batch.OUTPUT_COLUMNS`` without row, case id and version).
OUTCOME_COLUMNS = (
    "pathway",
    "urgency",
    "deciding_rules",
    "red_flags",
    "flags",
    "differentials",
    "mjoa_total",
    "band",
    "course",
    "provisional",
)


def outcome_of(engine: Engine, evaluation: Evaluation) -> tuple[Any, ...]:
    """The result columns of one case, in ``OUTCOME_COLUMNS`` order: the engine's headline
    decision (as the consult shows it), its red flags, the flags and differentials screened on
    the same facts, and whether the answer is provisional."""
    facts, true = evaluation.facts, evaluation.true_facts
    rule_set = engine.rule_set
    features = facts["features"]
    # The answer to act on now, as the consult shows it: raised while a red flag is not excluded.
    pathway, _, urgency, provisional = engine.headline(evaluation)
    return (
        pathway,
        urgency,
        ";".join(evaluation.decision.deciding),  # the rules that fired, as in the consult's basis
        ";".join(evaluation.red_flags),
        ";".join(screen(rule_set.flags, facts, true)),
        ";".join(screen(rule_set.differentials, facts, true)),
        "" if facts["mjoa_total"] is None else facts["mjoa_total"],
        features["band"],
        features["course"],
        "yes" if provisional else "",
    )


def _typed(value: Any) -> Hashable:
    return (value.__class__, value)  # True and 1 are different values here


class _Dictionary:
    """Distinct values, each with a stable small integer code (values equal under ``key``
    share one)."""

    __slots__ = ("_index", "_key", "values")

    def __init__(self, key: Callable[[Any], Hashable] = _typed) -> None:
        self.values: list[Any] = []
        self._index: dict[Hashable, int] = {}
        self._key = key

    def code(self, value: Any) -> int:
        key = self._key(value)
        found = self._index.get(key)
        if found is None:
            found = self._index[key] = len(self.values)
            self.values.append(value)
        return found


class _Built:
    """Values each made once by a memo (a new code for each: they need no comparing)."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: list[Any] = [None]  # code 0: absent

    def code(self, value: Any) -> int:
        if value is None:
            return 0
        self.values.append(value)
        return len(self.values) - 1


@dataclass(slots=True)
class _Col:
    """A column of the chunk: a code per row into a list of values."""

    codes: np.ndarray
    dictionary: _Dictionary | _Built

    def truth(self) -> np.ndarray:
        """Rows whose value ``is True``."""
        table = np.fromiter((value is True for value in self.dictionary.values), bool)
        truth: np.ndarray = table[self.codes]
        return truth

    def take(self, rows: np.ndarray) -> _Col:
        return _Col(self.codes[rows], self.dictionary)


def _constant(value: Any, rows: int) -> _Col:
    dictionary = _Dictionary()
    return _Col(np.full(rows, dictionary.code(value), np.int32), dictionary)


def _leaves_key(leaves: Leaves) -> Hashable:
    values = tuple(leaves.values())
    return values, tuple(map(type, values))


# --- the header, compiled -------------------------------------------------------------------


@dataclass(eq=False)
class _Section:
    """A findings model (or an entry of a mapping, like one MRI level) and what fills it."""

    path: str
    model: type[BaseModel]
    optional: bool
    """Absent means None (an optional model, a level not listed), not the defaults."""
    depth: int
    required: tuple[str, ...] = ()
    columns: list[int] = field(default_factory=list)
    """Header positions of every cell under this section."""
    cells: dict[str, str] = field(default_factory=dict)
    """Its own fields given by a column: field name -> the column's path."""
    children: dict[str, str] = field(default_factory=dict)
    """Its fields that are sections: field name -> section path."""
    entries: dict[str, dict[Any, str]] = field(default_factory=dict)
    """Its mappings of models (``levels``): field name -> {key: section path of the entry}."""


@dataclass(eq=False)
class _Cell:
    """One header column: the field it fills and how its text is validated."""

    index: int
    path: str
    is_list: bool
    adapter: TypeAdapter[list[Any]]
    default: Any
    cache: dict[str, Any] = field(default_factory=dict)
    dictionary: _Dictionary = field(default_factory=_Dictionary)


def _required(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(name for name, info in model.model_fields.items() if info.is_required())


@cache
def _adapter(model: type[BaseModel], name: str) -> TypeAdapter[list[Any]]:
    """Validates a list of cell values exactly as ``model`` validates its field ``name``."""
    info = model.model_fields[name]
    annotation = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    return TypeAdapter(list[annotation])  # type: ignore[valid-type]


def _mapping_key(model: type[BaseModel], name: str, key: str) -> Any:
    """A mapping entry's key as the model holds it (``"C5-C6"`` -> ``CervicalLevel``)."""
    annotation = model.model_fields[name].annotation
    for candidate in (annotation, *get_args(annotation)):
        if get_origin(candidate) is dict:
            key_type = get_args(candidate)[0]
            return key_type(key) if isinstance(key_type, type) and issubclass(key_type, Enum) else key
    return key  # pragma: no cover - only mappings have entries


class Plan:
    """A compiled header: what each column fills, and the answers kept between chunks.

    A plan belongs to one engine and one default assessment date (for rows without one).
    """

    def __init__(
        self,
        sections: dict[str, _Section],
        cells: list[_Cell],
        width: int,
        engine: Engine,
        on: dt.date,
        *,
        reads: _Reads,
    ) -> None:
        self.sections = sections
        self.cells = cells
        self.width = width
        self.engine = engine
        self.on = on
        self.by_path = {cell.path: cell for cell in cells}
        self.memos: dict[str, _Memo] = {}
        """Answers kept between chunks: the assessment dates, the facts, the screens and the
        outcomes."""
        self.leaf_values: dict[str, _Dictionary] = {}
        """The distinct leaves of each part of ``observe``, kept between chunks."""
        self.reads = reads
        self.splits = {part: _Split(names) for part, names in reads.leaves.items()}
        """Each leaf of a part of ``observe`` as a column of its own, kept between chunks."""
        self.params = _Built()
        self.params.code(engine.params)
        self.rendered: dict[Any, list[Any]] = {}
        """The caller's renderings of the outcomes, indexed by outcome code (codes are stable)."""
        self.lock = threading.Lock()
        """One chunk at a time: the memos grow as chunks are evaluated (a server's audit
        pages may share a plan between sessions)."""

    def memo(self, name: str, fn: Callable[..., Any], key: Callable[[Any], Hashable] = _typed) -> _Memo:
        """The memo of ``fn`` kept under ``name`` (made on first use); answers equal under
        ``key`` share a code."""
        if name not in self.memos:
            self.memos[name] = _Memo(fn, _Dictionary(key))
        return self.memos[name]

    def leaves(self, part: str) -> _Dictionary:
        """The distinct leaves one part of ``observe`` has given so far."""
        return self.leaf_values.setdefault(part, _Dictionary(_leaves_key))

    def assessment_date(self, day: dt.date | None) -> dt.date:
        """A row's own assessment date, else the plan's."""
        return day or self.on

    def outcome(self, *values: Any) -> tuple[Any, ...]:
        """The result columns of a row: ``values`` are what the outcome reads (see
        :class:`_Reads`), then the leaves of every part of ``observe``, whose facts the engine
        derives again in full (the rows sharing what the outcome reads share its answer)."""
        leaves: Leaves = {}
        for part in values[self.reads.width :]:
            leaves.update(part)
        return outcome_of(self.engine, self.engine.evaluate(leaves))


def compile_plan(header: Header, engine: Engine, on: dt.date) -> Plan | None:
    """A plan for rows under ``header`` (from ``batch.parse_header``), or None.

    None means a header this path does not take (a column naming no findings field, a column
    repeated, a cell given for a whole section or mapping), or parts of ``observe`` this path
    does not know (:func:`observe_parts`): every row then takes the plain path, which reports
    such rows with their usual messages.
    """
    part_leaves = _part_leaves(engine.params)
    if part_leaves is None:
        return None
    reads = _outcome_reads(engine, part_leaves)
    if reads is None:
        return None
    root = _Section(path="", model=Findings, optional=False, depth=0, required=_required(Findings))
    sections: dict[str, _Section] = {"": root}
    cells: list[_Cell] = []
    seen: set[str] = set()
    for index, (parts, is_list) in enumerate(header):
        path = ".".join(parts)
        if path in seen:
            return None
        seen.add(path)
        try:
            resolved = resolve_path(parts)
        except KeyError:
            return None
        last = resolved[-1]
        if last.info is None or last.model is not None or get_origin(last.info.annotation) is dict:
            return None
        enclosing = [root]
        for depth, part in enumerate(resolved[:-1], start=1):
            if part.mapping:
                continue
            key = ".".join(parts[:depth])
            if key not in sections:
                assert part.model is not None  # a part before the last is a section
                sections[key] = _Section(key, part.model, part.optional, depth, _required(part.model))
                parent = enclosing[-1]
                if part.is_key:  # an entry of the mapping named by the part before
                    mapping = parts[depth - 2]
                    keyed = _mapping_key(parent.model, mapping, part.name)
                    parent.entries.setdefault(mapping, {})[keyed] = key
                else:
                    parent.children[part.name] = key
            enclosing.append(sections[key])
        default = _MISSING if last.info.is_required() else last.info.get_default(call_default_factory=True)
        cells.append(_Cell(index, path, is_list, _adapter(last.owner, last.name), default))
        enclosing[-1].cells[last.name] = path
        for section in enclosing:
            section.columns.append(index)
    return Plan(sections, cells, len(header), engine, on, reads=reads)


# --- parsing ----------------------------------------------------------------------------------


def parse_chunk(data: bytes, width: int) -> pa.Table | None:
    """The records of a CSV chunk (no header) as ``width`` dictionary-encoded text columns.

    None when the chunk is not plain: a quote character, a line end other than LF or CRLF,
    a record of another width, or text that is not UTF-8. The caller then reads it with
    Python's ``csv`` module, as before, so quoting keeps its exact meaning.
    """
    if b'"' in data or (b"\r" in data and data.count(b"\r") != data.count(b"\r\n")):
        return None
    names = [f"c{index}" for index in range(width)]
    text = pa.dictionary(pa.int32(), pa.string())
    try:
        return pa_csv.read_csv(
            pa.BufferReader(data),
            read_options=pa_csv.ReadOptions(column_names=names, use_threads=False, block_size=1 << 20),
            parse_options=pa_csv.ParseOptions(quote_char=False, ignore_empty_lines=True),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, text),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        ).unify_dictionaries()
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None


def table_of_cells(records: Sequence[Sequence[str]], width: int) -> pa.Table:
    """Records already split into cells (an upload) as a parsed chunk; short rows padded.

    Cells beyond the header are dropped and missing ones are empty, as ``cells_to_findings``
    reads them.
    """
    columns = [[] for _ in range(width)]  # type: list[list[str]]
    for record in records:
        for index, column in enumerate(columns):
            column.append(record[index] if index < len(record) else "")
    return pa.table(
        {
            f"c{index}": pa.array(column, pa.string()).dictionary_encode()
            for index, column in enumerate(columns)
        }
    )


# --- functions over columns -------------------------------------------------------------------


class _Memo:
    """A function's answers, kept between chunks, indexed by the codes of its inputs."""

    def __init__(self, fn: Callable[..., Any], results: _Dictionary | _Built) -> None:
        self.fn = fn
        self.results = results
        self.bits: tuple[int, ...] = ()
        self.dense: np.ndarray | None = None
        self.sparse: dict[Any, int] = {}

    def _reset(self, sizes: list[int]) -> None:
        self.bits = tuple(max(1, (2 * size).bit_length()) for size in sizes)
        self.dense = np.full(1 << sum(self.bits), -1, np.int32) if sum(self.bits) <= _DENSE_BITS else None
        self.sparse = {}

    def __call__(self, *inputs: _Col, carry: Sequence[_Col] = ()) -> _Col:
        """The answer for every row, as a column. ``carry``: columns passed to the function
        after the inputs, from the first row of each distinct key, but not part of the key."""
        given = (*inputs, *carry)
        sizes = [len(col.dictionary.values) for col in inputs]
        if not self.bits or any(size > (1 << bits) for size, bits in zip(sizes, self.bits, strict=True)):
            self._reset(sizes)
        if sum(self.bits) > _KEY_BITS:  # too wide for one integer key: distinct rows of codes
            first, inverse = _distinct_rows([col.codes for col in inputs], self.bits)
            distinct = np.stack([col.codes[first] for col in inputs], axis=1)
            keys: list[Any] = list(map(tuple, distinct.tolist()))
            return _Col(self._known(keys, first, given)[inverse], self.results)
        key = np.zeros(len(inputs[0].codes), np.int64)
        for col, bits in zip(inputs, self.bits, strict=True):
            key <<= bits
            key |= col.codes
        if self.dense is None:
            distinct, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            return _Col(self._known(distinct.tolist(), first, given)[inverse], self.results)
        result = self.dense[key]
        missing = np.flatnonzero(result < 0)
        if len(missing):
            wanted, first = np.unique(key[missing], return_index=True)
            self.dense[wanted] = self._answers(given, missing[first])
            result = self.dense[key]
        return _Col(result, self.results)

    def _known(self, keys: list[Any], first: np.ndarray, inputs: Sequence[_Col]) -> np.ndarray:
        """The answer code of each distinct key (``first``: a row holding it)."""
        if len(self.sparse) > _MEMO_BOUND:
            self.sparse = {}
        found = [self.sparse.get(key, -1) for key in keys]
        todo = [position for position, code in enumerate(found) if code < 0]
        if todo:
            for position, code in zip(todo, self._answers(inputs, first[todo]), strict=True):
                found[position] = self.sparse[keys[position]] = code
        return np.asarray(found, np.int32)

    def _answers(self, inputs: Sequence[_Col], rows: np.ndarray) -> list[int]:
        """The answer codes for the inputs of ``rows``, computed."""
        arguments = [[col.dictionary.values[code] for code in col.codes[rows].tolist()] for col in inputs]
        return [self.results.code(self.fn(*values)) for values in zip(*arguments, strict=True)]


def _distinct_rows(codes: Sequence[np.ndarray], bits: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """A row holding each distinct combination of ``codes`` (one array per input, each code
    below ``1 << bits``), and each row's combination as an index into those rows.

    The codes are packed into one integer per row; when the next input would not fit, the
    packed keys so far are replaced by their ranks among the distinct ones (fewer bits). This
    is several times cheaper than sorting the rows of codes (``np.unique(..., axis=0)``).
    """
    rows = len(codes[0])
    key = np.zeros(rows, np.int64)
    used = 0
    for column, width in zip(codes, bits, strict=True):
        if used + width > _KEY_BITS:
            key = np.unique(key, return_inverse=True)[1].reshape(-1).astype(np.int64)
            used = max(1, rows.bit_length())
        key = (key << width) | column
        used += width
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


# --- a chunk, evaluated -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """The records of a chunk: blank ones dropped; accepted ones evaluated."""

    accepted: np.ndarray
    """Per record, whether it was evaluated here (else the caller evaluates its cells)."""
    case_ids: list[str]
    """Per accepted record, its case id ("" if none)."""
    outcome: np.ndarray
    """Per accepted record, an index into ``outcomes``."""
    outcomes: list[tuple[Any, ...]]
    """Distinct result columns, in ``OUTCOME_COLUMNS`` order."""
    when: _Col
    """Per accepted record, the date it was assessed on."""
    cells: Callable[[int], list[str]]
    """The raw cells of record ``i`` (for the plain path)."""


def evaluate_chunk(plan: Plan, table: pa.Table, skip_blank: bool = True) -> ChunkResult:
    """Evaluate every accepted record of a parsed chunk (see the module doc).

    ``skip_blank`` drops records of only spaces and commas, as the CSV reader of the batch does.
    """
    with plan.lock:
        return _evaluate(plan, table, skip_blank)


def _evaluate(plan: Plan, table: pa.Table, skip_blank: bool) -> ChunkResult:
    raw = [table.column(index).combine_chunks() for index in range(plan.width)]
    texts: list[list[str]] = [column.dictionary.to_pylist() for column in raw]
    all_indices = [column.indices.to_numpy(zero_copy_only=False) for column in raw]

    # Blank records (only spaces and commas) are skipped, as batch._csv_rows does.
    blank = np.full(table.num_rows, skip_blank)
    for words, index in zip(texts, all_indices if skip_blank else (), strict=False):
        blank &= np.fromiter((not word.strip(" \r") for word in words), bool, len(words))[index]
    keep = np.flatnonzero(~blank)
    indices = [index[keep] for index in all_indices]

    def cells_of(record: int) -> list[str]:
        position = keep[record]
        return [words[index[position]] for words, index in zip(texts, all_indices, strict=True)]

    # 1. cells, validated once per distinct text; 2. rows whose sections are complete
    values = {cell.index: _cell_values(cell, texts[cell.index]) for cell in plan.cells}
    ok, present = _complete_rows(plan, texts, indices, values, len(keep))

    # 3. the sections of those rows (built fresh for each chunk: most are seen once)
    accepted = np.flatnonzero(ok)
    columns: dict[str, _Col] = {}
    for cell in plan.cells:
        remap = np.fromiter((cell.dictionary.code(value) for value in values[cell.index]), np.int32)
        columns[cell.path] = _Col(remap[indices[cell.index][accepted]], cell.dictionary)
    read = _part_paths(plan.engine.params)
    for section in sorted(plan.sections.values(), key=lambda section: -section.depth):
        # Only the sections a part reads, and those inside them, are built.
        if section.path and any(section.path == path or section.path.startswith(path + ".") for path in read):
            columns[section.path] = _section_column(section, columns, present[section.path][accepted])
    roots = _root_columns(plan, columns, len(accepted))

    # 4. the checks across fields, with the values the model validators read
    passed = np.ones(len(accepted), bool)
    given = {path: mask[accepted] for path, mask in present.items()}
    for paths, check in CROSS_FIELD_CHECKS:
        inputs = [_path_column(plan, path, columns, given) for path in paths]
        passed &= _Memo(_passes(check), _Dictionary())(*inputs).truth()
    final = accepted[passed]
    ok[:] = False
    ok[final] = True
    kept = np.flatnonzero(passed)
    read_columns = {
        path: (roots[path] if "." not in path else _path_column(plan, path, columns, given)).take(kept)
        for path in read
    }

    # 5. the leaves, then the facts the outcome reads, each once per distinct value of its
    # inputs, then the outcome once per distinct value of what it reads
    on = plan.memo("on", plan.assessment_date)(roots["assessment_date"].take(kept))
    parts = _leaf_parts(plan, read_columns, on)
    outcome = _outcome_column(plan, parts)

    case_id = plan.by_path.get("case_id")
    if case_id is None:
        ids = [""] * len(final)
    else:
        id_values = [value if isinstance(value, str) else "" for value in values[case_id.index]]
        ids = [id_values[code] for code in indices[case_id.index][final].tolist()]
    return ChunkResult(
        accepted=ok,
        case_ids=ids,
        outcome=outcome.codes,
        outcomes=outcome.dictionary.values,
        when=on,
        cells=cells_of,
    )


def _complete_rows(
    plan: Plan, texts: list[list[str]], indices: list[np.ndarray], values: dict[int, list[Any]], rows: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Rows whose cells are all valid and whose sections have their required fields, and
    which sections each row gives."""
    ok = np.ones(rows, bool)
    filled: dict[int, np.ndarray] = {}
    for cell in plan.cells:
        words = texts[cell.index]
        local = indices[cell.index]
        ok &= ~np.fromiter((value is _INVALID for value in values[cell.index]), bool, len(words))[local]
        filled[cell.index] = np.fromiter((bool(word.strip()) for word in words), bool, len(words))[local]
    present: dict[str, np.ndarray] = {"": np.ones(rows, bool)}
    for path, section in plan.sections.items():
        if path:
            mask = np.zeros(rows, bool)
            for index in section.columns:
                mask |= filled[index]
            present[path] = mask
    for path, section in plan.sections.items():
        for name in section.required:
            full = f"{path}.{name}" if path else name
            if full in plan.sections:
                have = present[full]
            elif full in plan.by_path:
                have = filled[plan.by_path[full].index]
            else:
                have = np.zeros(rows, bool)
            ok &= ~present[path] | have
    return ok, present


def _section_column(section: _Section, columns: dict[str, _Col], given: np.ndarray) -> _Col:
    """The section's model, built once per distinct combination of its values (None where
    an optional section is absent). Its mappings of models become columns too."""
    names = (*section.cells, *section.children, *section.entries)
    inputs = [columns[path] for path in (*section.cells.values(), *section.children.values())]
    for name, entries in section.entries.items():
        mapping = _Memo(_mapping(tuple(entries)), _Built())(*(columns[path] for path in entries.values()))
        columns[f"{section.path}.{name}"] = mapping
        inputs.append(mapping)
    model = section.model
    # Every field not given keeps its default (a required one can only be missing where
    # the section is absent, and then the whole section is None).
    # A copy of one model made once with every field is 3-4 times cheaper than
    # ``model_construct`` of the same values (it walks every field's aliases): the same
    # values and the same fields set (every field), as tests/test_batch_fast.py checks.
    template = model.model_construct(
        **{
            name: None if name in names or info.is_required() else info.get_default(call_default_factory=True)
            for name, info in model.model_fields.items()
        }
    )

    def build(*field_values: Any) -> BaseModel:
        return template.model_copy(update=dict(zip(names, field_values, strict=True)))

    built = _Memo(build, _Built())(*inputs)
    if section.optional:
        built.codes = np.where(given, built.codes, 0).astype(np.int32)  # code 0: absent
    return built


def _mapping(keys: tuple[Any, ...]) -> Callable[..., dict[Any, BaseModel]]:
    """A mapping of models (``mri.levels``) from its entries, absent ones left out."""

    def build(*entries: BaseModel | None) -> dict[Any, BaseModel]:
        return {key: entry for key, entry in zip(keys, entries, strict=True) if entry is not None}

    return build


def _root_columns(plan: Plan, columns: dict[str, _Col], rows: int) -> dict[str, _Col]:
    """Each field of the findings as a column: given by the header, or its default in every row."""
    roots: dict[str, _Col] = {}
    for name, info in Findings.model_fields.items():
        if name in columns:
            roots[name] = columns[name]
        else:
            default = None if info.is_required() else info.get_default(call_default_factory=True)
            built = _Built()
            roots[name] = _Col(np.full(rows, built.code(default), np.int32), built)
    return roots


def _passes(check: Callable[..., str | None]) -> Callable[..., bool]:
    def passes(*values: Any) -> bool:
        return check(*values) is None

    return passes


def _path_column(plan: Plan, path: str, columns: dict[str, _Col], given: dict[str, np.ndarray]) -> _Col:
    """The value at ``path`` in every row, as the findings would hold it: the cell or section
    given, else the field's default; None wherever an enclosing optional section is absent."""
    parts = resolve_path(path)
    rows = len(next(iter(given.values())))
    col = columns.get(path)
    if col is None:
        last = parts[-1]
        assert last.info is not None  # a check reads fields
        built = _Built()
        default = None if last.info.is_required() else last.info.get_default(call_default_factory=True)
        col = _Col(np.full(rows, built.code(default), np.int32), built)
    names = path.split(".")
    absent = np.zeros(rows, bool)
    for depth, part in enumerate(parts[:-1], start=1):
        if part.optional:  # an optional section or a mapping entry: absent unless given
            section = ".".join(names[:depth])
            absent |= ~given[section] if section in given else np.ones(rows, bool)
    if absent.any():
        col = _Col(np.where(absent, col.dictionary.code(None), col.codes).astype(np.int32), col.dictionary)
    return col


ON = "on"
"""The name under which :func:`observe_parts` asks for the assessment date."""


def observe_parts(
    params: Mapping[str, Any],
) -> tuple[tuple[str, tuple[str, ...], Callable[..., Leaves]], ...]:
    """The parts of :func:`~myelo_cds.rules.facts.observe`, as it calls them: a name, the
    findings fields (dotted paths, or :data:`ON`) each reads, and the function of their values.
    The patient and the examination are read through their smaller functions, each of a few
    fields, so that a part is called once per distinct value of those fields, not of the
    whole (mostly unique) section.

    Merged in this order, their leaves are ``observe``'s (tests/test_batch_fast.py): when
    ``observe`` reads another part of the findings, it is added here.
    """
    patient, exam = "patient.", "exam."
    return (
        ("history", (patient + "history",), history_leaves),
        (
            "risk_factors",
            tuple(patient + name for name in ("smoker", "psychiatric_comorbidity", "diabetes")),
            risk_factor_leaves,
        ),
        ("duration", (patient + "symptom_duration_months",), lambda months: duration_leaves(months, params)),
        ("age", (patient + "age_years",), lambda age: age_leaves(age, params)),
        (
            "care",
            (
                *(patient + name for name in ("management", "management_since", "rehabilitation_start_mjoa")),
                ON,
            ),
            lambda management, since, start, on: care_leaves(management, since, start, params, on),
        ),
        ("approach", (patient + "surgical_approach",), approach_leaves),
        ("symptoms", ("symptoms",), symptom_leaves),
        ("reflexes", (exam + "reflexes",), lambda reflexes: reflex_leaves(reflexes, params)),
        ("umn", (exam + "umn",), umn_leaves),
        ("strength", (exam + "strength",), strength_leaves),
        ("coordination", (exam + "coordination",), coordination_leaves),
        ("sensation", (exam + "sensation",), sensation_leaves),
        (
            "signs",
            tuple(
                exam + name
                for name in ("fasciculations_widespread", "tongue_signs", "deficits_attributed_to_myelopathy")
            ),
            sign_leaves,
        ),
        ("mjoa", ("mjoa", "earlier_mjoa", ON), mjoa_leaves),
        ("mri", ("mri",), lambda mri: mri_leaves(mri, params)),
        ("electro", ("electro",), electro_leaves),
        ("nurick", ("nurick",), _nurick_leaf),
    )


def _nurick_leaf(nurick: int | None) -> Leaves:
    """The Nurick grade, which ``observe`` reads as it is given."""
    return {"nurick": nurick}


def _part_leaves(params: Mapping[str, Any]) -> dict[str, tuple[str, ...]] | None:
    """The names of the leaves each part of :func:`observe_parts` gives, or None unless,
    merged in order, they are exactly the leaves ``observe`` gives (their names do not depend
    on the findings: tried on the first example case)."""
    findings = Findings.model_validate_json(next(iter(example_cases().values())))
    on = findings.assessment_date or dt.date.today()
    names: dict[str, tuple[str, ...]] = {}
    for part, fields, read in observe_parts(params):
        names[part] = tuple(read(*(on if name == ON else _read(findings, name) for name in fields)))
    merged = [name for part in names.values() for name in part]
    return names if merged == list(observe(findings, params, on)) else None


def _read(findings: Findings, path: str) -> Any:
    """The value at a dotted path of the findings."""
    value: Any = findings
    for name in path.split("."):
        value = getattr(value, name)
    return value


def _part_paths(params: Mapping[str, Any]) -> set[str]:
    """The findings paths the parts of ``observe`` read."""
    return {name for _, fields, _ in observe_parts(params) for name in fields if name != ON}


def _leaf_parts(plan: Plan, columns: dict[str, _Col], on: _Col) -> list[_Col]:
    """The leaves of each part of ``observe``, once per distinct value (and date) it reads."""
    columns = {**columns, ON: on}
    return [
        _Memo(read, plan.leaves(name))(*(columns[field] for field in fields))
        for name, fields, read in observe_parts(plan.engine.params)
    ]


# --- the outcome, once per distinct value of what it reads --------------------------------------


@dataclass(frozen=True, slots=True)
class _Reads:
    """What the result columns of a row read, and how each is derived from the leaves.

    ``outcome_of`` reads the features (the decision and its rules, band and course), the
    red-flag screen and its escalation, the flags and differentials screened, the mJOA total,
    and the facts :func:`~myelo_cds.rules.engine.missing_for_pathway` reads. Each screen table
    reads only the facts its rows name, so its answer is computed once per distinct value of
    those facts, by the rules' own functions; each fact by its function in
    :data:`~myelo_cds.rules.facts.FACT_FUNCTIONS`, once per distinct value of the facts its
    parameters name (:data:`~myelo_cds.rules.facts.FACT_INPUTS`).
    """

    leaves: dict[str, tuple[str, ...]]
    """Per part of ``observe``, the leaves it gives that a fact below reads."""
    facts: tuple[tuple[str, Callable[..., Any], tuple[str, ...]], ...]
    """The fact functions to call, in ``combine``'s order, with the names they read."""
    red_flags: tuple[str, ...]
    flags: tuple[str, ...]
    differentials: tuple[str, ...]
    direct: tuple[str, ...]
    """Facts the outcome reads as they are (features, mJOA total, what a pathway needs)."""

    @property
    def width(self) -> int:
        """How many values a row's outcome key holds (the screens and the direct facts)."""
        return 3 + len(self.direct)


#: Facts ``outcome_of`` reads itself, besides the screens.
_OUTCOME_FACTS = ("features", "mjoa_total")


def _screened(rows: Sequence[ScreenRule]) -> tuple[str, ...]:
    """The facts a screen table reads: its rows' conditions and red-flag escalations."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row.facts))
        if row.if_not_excluded is not None:
            names.update(dict.fromkeys(row.if_not_excluded.when))
    return tuple(names)


def _outcome_reads(engine: Engine, part_leaves: Mapping[str, tuple[str, ...]]) -> _Reads | None:
    """What the outcome reads under ``engine``'s rule set, or None if it reads a name no leaf
    or fact gives (then every row takes the plain path)."""
    rule_set = engine.rule_set
    red_flags, flags = _screened(rule_set.red_flags), _screened(rule_set.flags)
    differentials = _screened(rule_set.differentials)
    direct = tuple(dict.fromkeys((*_OUTCOME_FACTS, *PATHWAY_NEEDED_FACTS)))
    wanted = {*direct, *red_flags, *flags, *differentials}
    facts = []
    for function in reversed(FACT_FUNCTIONS):
        name = function.__name__
        if name in wanted:
            wanted.discard(name)
            wanted.update(read for read in FACT_INPUTS[name] if read != PARAMS)
            facts.append((name, function, FACT_INPUTS[name]))
    leaves = {part: tuple(name for name in names if name in wanted) for part, names in part_leaves.items()}
    if wanted - {name for names in leaves.values() for name in names}:
        return None
    return _Reads(leaves, tuple(reversed(facts)), red_flags, flags, differentials, direct)


def _fact_key(value: Any) -> Hashable:
    """A fact's value as a key (the features are a mapping)."""
    if isinstance(value, dict):
        return dict, tuple(value.items())
    return value.__class__, value


def _outcome_column(plan: Plan, parts: Sequence[_Col]) -> _Col:
    """The outcome of every row (an index into the distinct result columns), computed once
    per distinct value of what it reads (see :class:`_Reads`)."""
    reads, rule_set = plan.reads, plan.engine.rule_set
    rows = len(parts[0].codes)
    columns: dict[str, _Col] = {PARAMS: _Col(np.ones(rows, np.int32), plan.params)}
    for part, col in zip(reads.leaves, parts, strict=True):
        columns.update(plan.splits[part](col))
    for name, function, inputs in reads.facts:
        columns[name] = plan.memo(f"fact {name}", function, _fact_key)(*(columns[read] for read in inputs))
    red_flags = plan.memo("red flags", _red_flag_screen(rule_set.red_flags, reads.red_flags))
    flags = plan.memo("flags", _screen(rule_set.flags, reads.flags))
    differentials = plan.memo("differentials", _screen(rule_set.differentials, reads.differentials))
    key = [
        red_flags(*(columns[name] for name in reads.red_flags)),
        flags(*(columns[name] for name in reads.flags)),
        differentials(*(columns[name] for name in reads.differentials)),
        *(columns[name] for name in reads.direct),
    ]
    return plan.memo("outcome", plan.outcome)(*key, carry=parts)


def _screen(rows: tuple[ScreenRule, ...], names: tuple[str, ...]) -> Callable[..., tuple[str, ...]]:
    """The rows of a screen table that fire, from the values of the facts it reads."""

    def fired(*values: Any) -> tuple[str, ...]:
        return screen(rows, dict(zip(names, values, strict=True)))

    return fired


def _red_flag_screen(rows: tuple[ScreenRule, ...], names: tuple[str, ...]) -> Callable[..., Any]:
    """The red flags that fire and their escalation, from the values of the facts they read."""

    def fired(*values: Any) -> tuple[tuple[str, ...], Escalation]:
        facts = dict(zip(names, values, strict=True))
        return screen(rows, facts), escalation(rows, facts)

    return fired


class _Split:
    """Each leaf of one part of ``observe`` as a column of its own: per leaf, a table from
    the part's codes to the leaf's codes, grown as the part meets new values."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.values = {name: _Dictionary() for name in names}
        self.tables = np.zeros((len(names), 1024), np.int32)
        self.done = 0

    def __call__(self, part: _Col) -> dict[str, _Col]:
        known = part.dictionary.values
        if len(known) > self.done:
            if len(known) > self.tables.shape[1]:
                grown = np.zeros((len(self.names), 2 * len(known)), np.int32)
                grown[:, : self.done] = self.tables[:, : self.done]
                self.tables = grown
            new = known[self.done :]
            for row, name in enumerate(self.names):
                code = self.values[name].code
                self.tables[row, self.done : len(known)] = [code(leaves[name]) for leaves in new]
            self.done = len(known)
        return {
            name: _Col(self.tables[row][part.codes], self.values[name]) for row, name in enumerate(self.names)
        }


def _strip(text: str, is_list: bool) -> Any:
    text = text.strip()
    if not text:
        return ""
    if is_list:
        return [part.strip() for part in text.split(";") if part.strip()]
    return text


def _cell_values(cell: _Cell, texts: list[str]) -> list[Any]:
    """The validated value of each distinct text of a column (``_INVALID``, default if empty)."""
    cache = cell.cache
    new = [text for text in texts if text not in cache]
    if new:
        stripped = [_strip(text, cell.is_list) for text in new]
        given = [position for position, value in enumerate(stripped) if value != ""]
        values = _validate_many(cell.adapter, [stripped[position] for position in given])
        if len(cache) > _CACHE_BOUND:
            cache.clear()
        for text in new:
            cache[text] = cell.default
        for position, value in zip(given, values, strict=True):
            cache[new[position]] = value
    return [cache[text] for text in texts]


def _validate_many(adapter: TypeAdapter[list[Any]], values: list[Any]) -> list[Any]:
    """Each value validated; ``_INVALID`` where pydantic refuses it."""
    if not values:
        return []
    try:
        return adapter.validate_python(values)
    except ValidationError as error:
        bad = {problem["loc"][0] for problem in error.errors() if problem["loc"]}
        if not bad:  # pragma: no cover - a list always locates its elements
            return [_INVALID] * len(values)
        rest = [position for position in range(len(values)) if position not in bad]
        good = dict(zip(rest, _validate_many(adapter, [values[position] for position in rest]), strict=True))
        return [good.get(position, _INVALID) for position in range(len(values))]
