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
3. **Leaves and facts** come from the steps of :mod:`myelo_cds.rules.facts`, the same pure
   functions :func:`~myelo_cds.rules.facts.observe` and :func:`~myelo_cds.rules.facts.combine`
   run for one case. Each step runs once per distinct combination of its inputs: rows carry
   small integer codes, a step's inputs form one integer key per row, and the step's answers
   are kept in a table indexed by that key, so most chunks need no Python call at all.
4. **Screens** (red flags, flags, differentials) test ``is True`` on the fact columns, as
   :func:`~myelo_cds.rules.table.screen` does, and the **decision table** is looked up once
   per distinct feature vector by the engine's own (memoised) ``decide``.

So the batch path computes, for every accepted row, what ``Engine.decide`` computes for that
row's findings, with no second copy of a rule, a threshold or a validation
(tests/test_batch_fast.py compares the two on generated lists and on hypothesis rows).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Annotated, Any, get_origin

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from pydantic import BaseModel, TypeAdapter, ValidationError

from myelo_cds.findings import CROSS_FIELD_CHECKS, CervicalLevel, Findings, field_model
from myelo_cds.rules.engine import Engine
from myelo_cds.rules.facts import FACT_STEPS, LEAF_STEPS, ON, Step
from myelo_cds.rules.table import FEATURE_NAMES, Decision

__all__ = [
    "OUTCOME_COLUMNS",
    "ChunkResult",
    "Plan",
    "compile_plan",
    "evaluate_chunk",
    "parse_chunk",
    "table_of_cells",
]

Header = Sequence[tuple[tuple[str, ...], bool]]

_INVALID: Any = type("Invalid", (), {"__repr__": lambda self: "<invalid>"})()
"""The value of a cell its field does not accept."""
_MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>"})()
"""The value of an empty cell of a required field."""

_DENSE_BITS = 22
"""A step whose key fits in this many bits keeps its answers in a flat array."""
_CACHE_BOUND = 200_000
"""Validated cell texts remembered per column (ids and free text rarely repeat)."""


class _Dictionary:
    """Distinct values, each with a stable small integer code."""

    __slots__ = ("_index", "values")

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._index: dict[tuple[type, Any], int] = {}

    def code(self, value: Any) -> int:
        key = (value.__class__, value)  # True and 1 are different values here
        found = self._index.get(key)
        if found is None:
            found = self._index[key] = len(self.values)
            self.values.append(value)
        return found


@dataclass(slots=True)
class _Col:
    """A column of the chunk: a code per row into a dictionary of values."""

    codes: np.ndarray
    dictionary: _Dictionary

    def truth(self) -> np.ndarray:
        """Rows whose value ``is True`` (what the screens read)."""
        table = np.fromiter((value is True for value in self.dictionary.values), bool)
        truth: np.ndarray = table[self.codes]
        return truth


# --- the header, compiled -------------------------------------------------------------------


@dataclass(eq=False)
class _Section:
    """A findings model (or a mapping entry, like one MRI level) and the columns under it."""

    path: str
    model: type[BaseModel]
    optional: bool
    """Absent means None (an optional model, a level not listed), not the defaults."""
    required: tuple[str, ...] = ()
    columns: list[int] = field(default_factory=list)
    """Header positions of every cell under this section."""


@dataclass(eq=False)
class _Cell:
    """One header column: the field it fills and how its text is validated."""

    index: int
    path: str
    is_list: bool
    adapter: TypeAdapter[list[Any]]
    default: Any
    sections: tuple[_Section, ...]
    """Enclosing sections, outermost first (the root excluded)."""
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


class Plan:
    """A compiled header: what each column fills, and the state kept between chunks.

    A plan belongs to one engine and one default assessment date (for rows without one).
    """

    def __init__(
        self,
        sections: dict[str, _Section],
        cells: list[_Cell],
        width: int,
        engine: Engine,
        on: dt.date,
    ) -> None:
        self.sections = sections
        self.cells = cells
        self.width = width
        self.engine = engine
        self.by_path = {cell.path: cell for cell in cells}
        self.tables: dict[Step, _StepTable] = {}
        self.constants: dict[str, _Dictionary] = {}
        self.presence: dict[str, _Dictionary] = {}
        self.screens: dict[tuple[str, ...], _Dictionary] = {}
        self.rendered: dict[Any, list[Any]] = {}
        """The caller's renderings of the outcomes, indexed by outcome code (codes are stable)."""
        self.lock = threading.Lock()
        """One chunk at a time: the step tables grow as chunks are evaluated (a server's
        audit pages may share a plan between sessions)."""
        self.checks = tuple(
            Step(("ok",), tuple("$" + path for path in paths), _check(check))
            for paths, check in CROSS_FIELD_CHECKS
        )
        self.needed = {
            name for step in LEAF_STEPS for name in step.inputs if name.startswith("$") and name != ON
        }
        self.needed |= {name for step in self.checks for name in step.inputs}
        decide = engine.table.decide
        self.date_step = Step((ON,), ("$assessment_date",), lambda p, day: day or on)
        self.final_steps = (
            Step(("features.red_flag",), ("red_flags",), _red_flag_feature),
            Step(("decision",), tuple(f"features.{name}" for name in FEATURE_NAMES), lambda p, *f: decide(f)),
            Step(
                ("outcome",),
                (
                    "decision",
                    "red_flags",
                    "flags",
                    "differentials",
                    "mjoa_total",
                    "features.band",
                    "features.course",
                ),
                _outcome,
            ),
        )

    def run(self, steps: Sequence[Step], env: dict[str, _Col]) -> None:
        """Run ``steps`` over the columns in ``env``, adding their output columns."""
        params = self.engine.params
        for step in steps:
            inputs = [env[name] for name in step.inputs]
            if step.fn is None:
                env[step.outputs[0]] = inputs[0]
                continue
            table = self.tables.get(step)
            if table is None:
                fn = step.fn
                table = self.tables[step] = _StepTable(partial(fn, params), len(step.outputs))
            env.update(zip(step.outputs, table.columns(table.run(inputs)), strict=True))

    def constant(self, path: str) -> _Dictionary:
        """The dictionary of a field no column gives: code 0 is its value in every row."""
        if path not in self.constants:
            dictionary = self.constants[path] = _Dictionary()
            dictionary.code(_default_of(self, path))
        return self.constants[path]


def _red_flag_feature(p: Any, fired: tuple[str, ...]) -> str:
    return "yes" if fired else "no"


_LEVEL_NAMES = frozenset(level.value for level in CervicalLevel)


def compile_plan(header: Header, engine: Engine, on: dt.date) -> Plan | None:
    """A plan for rows under ``header`` (from ``batch.parse_header``), or None.

    None means a header this path does not take (a column naming no findings field, a column
    repeated, a name used both for a value and a section, a cell given for a whole section):
    every row then takes the plain path, which reports such rows with their usual messages.
    """
    root = _Section(path="", model=Findings, optional=False, required=_required(Findings))
    sections: dict[str, _Section] = {"": root}
    cells: list[_Cell] = []
    seen: set[str] = set()
    for index, (parts, is_list) in enumerate(header):
        path = ".".join(parts)
        if path in seen or "" in parts or path in sections:
            return None
        seen.add(path)
        enclosing: list[_Section] = []
        model: type[BaseModel] = Findings
        position = 0
        while position < len(parts) - 1:
            part = parts[position]
            info = model.model_fields.get(part)
            if info is None or any(cell.path == ".".join(parts[: position + 1]) for cell in cells):
                return None
            child_model, mapping, optional = field_model(info.annotation)
            if child_model is None:
                return None
            if mapping:  # mri.levels.C5-C6: the next part is the key of one entry
                position += 1
                if position >= len(parts) - 1 or parts[position] not in _LEVEL_NAMES:
                    return None
                optional = True
            key = ".".join(parts[: position + 1])
            if key not in sections:
                sections[key] = _Section(key, child_model, optional, _required(child_model))
            enclosing.append(sections[key])
            model = child_model
            position += 1
        info = model.model_fields.get(parts[-1])
        if info is None or field_model(info.annotation)[0] is not None or get_origin(info.annotation) is dict:
            return None
        default = _MISSING if info.is_required() else info.get_default(call_default_factory=True)
        cells.append(_Cell(index, path, is_list, _adapter(model, parts[-1]), default, tuple(enclosing)))
        for section in (root, *enclosing):
            section.columns.append(index)
    if any(path.startswith(cell.path + ".") for cell in cells for path in sections):
        return None
    return Plan(sections, cells, len(header), engine, on)


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


# --- steps over columns -----------------------------------------------------------------------


class _StepTable:
    """One step's answers, kept between chunks, indexed by the codes of its inputs."""

    def __init__(self, fn: Callable[..., Any], n_outputs: int) -> None:
        self.fn = fn
        self.n_outputs = n_outputs
        self.results = _Dictionary()
        self.outputs = [_Dictionary() for _ in range(n_outputs)] if n_outputs > 1 else [self.results]
        self.output_codes: list[list[int]] = [[] for _ in range(n_outputs)]
        self.bits: tuple[int, ...] = ()
        self.dense: np.ndarray | None = None
        self.sparse: dict[Any, int] = {}

    def _reset(self, sizes: list[int]) -> None:
        self.bits = tuple(max(1, (2 * size).bit_length()) for size in sizes)
        self.dense = np.full(1 << sum(self.bits), -1, np.int32) if sum(self.bits) <= _DENSE_BITS else None
        self.sparse = {}

    def _answer(self, codes: tuple[int, ...], dictionaries: list[_Dictionary]) -> int:
        values = [dictionary.values[code] for dictionary, code in zip(dictionaries, codes, strict=True)]
        return self.results.code(self.fn(*values))

    def run(self, inputs: list[_Col]) -> np.ndarray:
        """The result code of every row."""
        sizes = [len(col.dictionary.values) for col in inputs]
        if not self.bits or any(size > (1 << bits) for size, bits in zip(sizes, self.bits, strict=True)):
            self._reset(sizes)
        dictionaries = [col.dictionary for col in inputs]
        if sum(self.bits) > 62:  # too wide for one integer key: distinct rows of codes
            stacked = np.stack([col.codes for col in inputs], axis=1)
            distinct, inverse = np.unique(stacked, axis=0, return_inverse=True)
            answers = np.empty(len(distinct), np.int32)
            for position, row in enumerate(map(tuple, distinct.tolist())):
                found = self.sparse.get(row)
                if found is None:
                    found = self.sparse[row] = self._answer(row, dictionaries)
                answers[position] = found
            return answers[inverse.reshape(-1)]
        key = np.zeros(len(inputs[0].codes), np.int64)
        for col, bits in zip(inputs, self.bits, strict=True):
            key <<= bits
            key |= col.codes
        if self.dense is not None:
            result = self.dense[key]
            missing = result < 0
            if missing.any():
                for wanted in np.unique(key[missing]).tolist():
                    self.dense[wanted] = self._answer(self._split(wanted), dictionaries)
                result = self.dense[key]
            return result
        distinct, inverse = np.unique(key, return_inverse=True)
        answers = np.empty(len(distinct), np.int32)
        for position, wanted in enumerate(distinct.tolist()):
            found = self.sparse.get(wanted)
            if found is None:
                found = self.sparse[wanted] = self._answer(self._split(wanted), dictionaries)
            answers[position] = found
        return answers[inverse]

    def _split(self, key: int) -> tuple[int, ...]:
        codes = []
        for bits in reversed(self.bits):
            codes.append(key & ((1 << bits) - 1))
            key >>= bits
        return tuple(reversed(codes))

    def columns(self, result: np.ndarray) -> list[_Col]:
        """One column per output, from the result codes."""
        if self.n_outputs == 1:
            return [_Col(result, self.results)]
        for position in range(self.n_outputs):
            done = self.output_codes[position]
            for value in self.results.values[len(done) :]:
                done.append(self.outputs[position].code(value[position]))
        return [
            _Col(np.asarray(codes, np.int32)[result], dictionary)
            for codes, dictionary in zip(self.output_codes, self.outputs, strict=True)
        ]


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
)


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
    rows = len(keep)

    def cells_of(record: int) -> list[str]:
        position = keep[record]
        return [words[index[position]] for words, index in zip(texts, all_indices, strict=True)]

    # 1. cells, validated once per distinct text
    ok = np.ones(rows, bool)
    filled: dict[int, np.ndarray] = {}
    values: dict[int, list[Any]] = {}
    for cell in plan.cells:
        words = texts[cell.index]
        column_values = values[cell.index] = _cell_values(cell, words)
        local = indices[cell.index]
        ok &= ~np.fromiter((value is _INVALID for value in column_values), bool, len(words))[local]
        filled[cell.index] = np.fromiter((bool(word.strip()) for word in words), bool, len(words))[local]

    # 2. the sections each row gives, and their required fields
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

    # The $ inputs as columns of codes, over the rows accepted so far.
    accepted = np.flatnonzero(ok)
    given = {path: mask[accepted] for path, mask in present.items()}
    env: dict[str, _Col] = {}
    for cell in plan.cells:
        name = "$" + cell.path
        if name not in plan.needed:
            continue
        remap = np.fromiter((cell.dictionary.code(value) for value in values[cell.index]), np.int32)
        codes = remap[indices[cell.index][accepted]]
        env[name] = _Col(_absent_is_none(codes, cell.sections, given, cell.dictionary), cell.dictionary)
    levels = np.zeros(len(accepted), bool)
    for path in plan.sections:
        if path:
            env["$" + path] = _presence(plan, path, given[path])
        if path.startswith("mri.levels."):
            levels |= given[path]
    env["$mri.levels"] = _presence(plan, "mri.levels", levels)
    for name in plan.needed - env.keys():
        dictionary = plan.constant(name[1:])
        codes = np.zeros(len(accepted), np.int32)
        env[name] = _Col(_absent_is_none(codes, _sections_of(plan, name[1:]), given, dictionary), dictionary)

    # 3. the checks across fields
    passed = np.ones(len(accepted), bool)
    for step in plan.checks:
        plan.run((step,), env)
        result = env.pop("ok")
        passed &= result.truth()
    final = accepted[passed]
    ok[:] = False
    ok[final] = True
    env = {name: _Col(col.codes[passed], col.dictionary) for name, col in env.items()}

    # 4. leaves, facts, screens, the decision
    plan.run((plan.date_step, *LEAF_STEPS, *FACT_STEPS), env)
    rule_set = plan.engine.rule_set
    truth: dict[str, np.ndarray] = {}  # facts known true, shared by the three screens
    env["red_flags"] = _screen(plan, env, truth, rule_set.red_flags, len(final))
    env["flags"] = _screen(plan, env, truth, rule_set.flags, len(final))
    env["differentials"] = _screen(plan, env, truth, rule_set.differentials, len(final))
    plan.run(plan.final_steps, env)

    case_id = plan.by_path.get("case_id")
    if case_id is None:
        ids = [""] * len(final)
    else:
        id_values = [value if isinstance(value, str) else "" for value in values[case_id.index]]
        ids = [id_values[code] for code in indices[case_id.index][final].tolist()]
    return ChunkResult(
        accepted=ok,
        case_ids=ids,
        outcome=env["outcome"].codes,
        outcomes=env["outcome"].dictionary.values,
        when=env[ON],
        cells=cells_of,
    )


def _outcome(
    p: Any,
    decision: Decision,
    red: tuple[str, ...],
    flags: tuple[str, ...],
    differentials: tuple[str, ...],
    total: int | None,
    band: str,
    course: str,
) -> tuple[Any, ...]:
    """The result columns of one row (as ``batch.outcome``), in ``OUTCOME_COLUMNS`` order."""
    return (
        decision.pathway,
        decision.urgency,
        ";".join(decision.deciding),
        ";".join(red),
        ";".join(flags),
        ";".join(differentials),
        "" if total is None else total,
        band,
        course,
    )


def _check(check: Callable[..., str | None]) -> Callable[..., bool]:
    def passes(p: Any, *values: Any) -> bool:
        return check(*values) is None

    return passes


def _screen(
    plan: Plan, env: dict[str, _Col], truth: dict[str, np.ndarray], rows: Sequence[Any], count: int
) -> _Col:
    """The ids of the screen rows that fire, per row (as ``table.screen``).

    ``truth`` caches, per fact, the rows where it is known true.
    """

    def true(name: str) -> np.ndarray:
        if name not in truth:
            truth[name] = env[name].truth()
        return truth[name]

    bits = np.zeros(count, np.int64)
    for position, row in enumerate(rows):
        fires = np.ones(count, bool)
        for name in row.all:
            fires &= true(name)
        if row.any:
            some = np.zeros(count, bool)
            for name in row.any:
                some |= true(name)
            fires &= some
        bits |= fires.astype(np.int64) << position
    distinct, inverse = np.unique(bits, return_inverse=True)
    dictionary = plan.screens.setdefault(tuple(row.id for row in rows), _Dictionary())
    codes = np.fromiter(
        (
            dictionary.code(tuple(row.id for position, row in enumerate(rows) if value >> position & 1))
            for value in distinct.tolist()
        ),
        np.int32,
        len(distinct),
    )
    return _Col(codes[inverse].astype(np.int32), dictionary)


def _presence(plan: Plan, path: str, mask: np.ndarray) -> _Col:
    """A section as an input: True where given, None where absent (as ``facts.observe`` reads it)."""
    dictionary = plan.presence.setdefault(path, _Dictionary())
    absent, given = dictionary.code(None), dictionary.code(True)
    return _Col(np.where(mask, given, absent).astype(np.int32), dictionary)


def _sections_of(plan: Plan, path: str) -> tuple[_Section, ...]:
    parts = path.split(".")
    keys = (".".join(parts[:n]) for n in range(1, len(parts)))
    return tuple(plan.sections[key] for key in keys if key in plan.sections)


def _default_of(plan: Plan, path: str) -> Any:
    """The value of a findings field (or section) that no column gives, in every row.

    A field's default; None inside an optional section no column gives (absent in every
    row); a section reads as True when present by default, None when absent.
    """
    model: type[BaseModel] = Findings
    parts = path.split(".")
    position = 0
    while True:
        info = model.model_fields[parts[position]]
        child, mapping, optional = field_model(info.annotation)
        last = position == len(parts) - 1
        if child is None:
            return None if info.is_required() else info.get_default(call_default_factory=True)
        if mapping:
            if last:
                return None  # a mapping with no entry given
            position += 1
            optional = True
        key = ".".join(parts[: position + 1])
        if optional and key not in plan.sections:
            return None
        if position == len(parts) - 1:
            return True
        model = child
        position += 1


def _absent_is_none(
    codes: np.ndarray, sections: tuple[_Section, ...], given: dict[str, np.ndarray], dictionary: _Dictionary
) -> np.ndarray:
    """Codes with None wherever an enclosing optional section is absent from the row."""
    optional = [section for section in sections if section.optional]
    if not optional:
        return codes
    inside = np.ones(len(codes), bool)
    for section in optional:
        inside &= given[section.path]
    return np.where(inside, codes, dictionary.code(None)).astype(np.int32)
