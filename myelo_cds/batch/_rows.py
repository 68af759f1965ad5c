"""Batch evaluation of clinic lists (CSV or JSONL): one result row per case.

A CSV column is a dotted path into the findings (``patient.age_years``,
``mjoa.ue_motor``, ``mri.levels.C5-C6.kang``); an empty cell means "not examined".
List fields (``mjoa.not_due_to_myelopathy``) take ``;``-separated values. A JSONL line
is one findings object, exactly as ``assess`` reads it. A bad row is reported with its
reason and never stops the rest. Rows are evaluated by the same engine as a single
assessment (the decision without its explanation).
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import io
import itertools
import json
import multiprocessing
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from pydantic import ValidationError

from myelo_cds.batch import _columnar as columnar
from myelo_cds.batch._loader import check_header
from myelo_cds.errors import InputError, JsonInputError, UploadError
from myelo_cds.exports.csv_safety import safe_cells, safe_texts
from myelo_cds.findings import Findings, describe_validation_error, nested, parse_json_object
from myelo_cds.rules.engine import default_engine

__all__ = [
    "OUTPUT_COLUMNS",
    "cells_to_findings",
    "evaluate_row",
    "evaluate_table",
    "outcome",
    "parse_header",
    "row_to_findings",
    "run_batch",
]

OUTPUT_COLUMNS = (
    "row",
    "case_id",
    *columnar.OUTCOME_COLUMNS,
    "rule_set_version",
    "rule_set_sha256",
    "error",
)
_LIST_FIELDS = {"mjoa.not_due_to_myelopathy"}


Header = tuple[tuple[tuple[str, ...], bool], ...]


def parse_header(columns: Iterable[str]) -> Header:
    """CSV column names split once into path parts, with whether the column is a list."""
    return tuple((tuple(column.strip().split(".")), column.strip() in _LIST_FIELDS) for column in columns)


def cells_to_findings(header: Header, cells: Iterable[str]) -> dict[str, Any]:
    """One CSV row (cells in header order) as the nested findings object; empty = unknown."""
    given = []
    for (parts, is_list), cell in zip(header, cells, strict=False):
        text = cell.strip()
        if text:
            value = [part.strip() for part in text.split(";") if part.strip()] if is_list else text
            given.append((parts, value))
    return nested(given)


def row_to_findings(row: dict[str, str]) -> dict[str, Any]:
    """A flat CSV row as a dict (dotted column names) -> the nested findings object."""
    return cells_to_findings(parse_header(row), row.values())


Raw = str | bytes | list[str]
"""A row as read: CSV cells (or one CSV record) under a header, or one JSONL line."""


def _data_of(raw: Raw, header: Header | None, line: int | None) -> dict[str, Any]:
    """The nested findings data of a row; a JSONL line is read by the strict JSON reader (a
    hostile line is refused with its line number, never a traceback)."""
    if header is None:
        assert not isinstance(raw, list)
        return parse_json_object(raw, source=f"line {line:,}" if line else "the row")
    cells = raw if isinstance(raw, list) else next(csv.reader([_text_of(raw)]))
    return cells_to_findings(header, cells)


def _text_of(raw: str | bytes) -> str:
    return raw.decode("utf-8") if isinstance(raw, bytes) else raw


def _case_id_of(data: dict[str, Any]) -> str:
    """The case id of a row that failed validation, if it has a readable one."""
    case_id = data.get("case_id")
    return case_id if isinstance(case_id, str) else ""


def evaluate_row(
    number: int, raw: Raw, on: dt.date | None, header: Header | None = None, *, line: int | None = None
) -> dict[str, Any]:
    """Evaluate one raw row (CSV cells with their header, or a JSONL line).

    Errors become the ``error`` column; they never stop the batch. ``line`` is the row's line
    in its file, named by the message of a JSONL line that is not valid JSON.
    """
    return _evaluate_raw(number, raw, on, header, line)[0]


def _evaluate_raw(
    number: int, raw: Raw, on: dt.date | None, header: Header | None, line: int | None = None
) -> tuple[dict[str, Any], Findings | None]:
    """:func:`evaluate_row`'s result row, with the findings when the row was valid."""
    out = _blank(number)
    try:
        data = _data_of(raw, header, line)
        findings = Findings.model_validate(data)
    except JsonInputError as error:
        out["error"] = str(error)
        return out, None
    except ValidationError as error:
        out["case_id"] = _case_id_of(data)
        out["error"] = "; ".join(describe_validation_error(error))
        return out, None
    except (ValueError, TypeError, csv.Error, StopIteration) as error:
        out["error"] = f"malformed row: {error}"
        return out, None
    out.update(outcome(findings, on))
    return out, findings


def _blank(number: int) -> dict[str, Any]:
    rule_set = default_engine().rule_set
    out: dict[str, Any] = dict.fromkeys(OUTPUT_COLUMNS, "")
    out["row"] = number
    out["rule_set_version"] = rule_set.version
    out["rule_set_sha256"] = rule_set.sha256
    return out


def outcome(findings: Findings, on: dt.date | None) -> dict[str, Any]:
    """The result columns for valid findings: the engine's decision without its explanation."""
    engine = default_engine()
    # A row's own assessment date wins; --date only fills rows without one.
    evaluation = engine.decide(findings, findings.assessment_date or on)
    return {
        "case_id": findings.case_id or "",
        **dict(zip(columnar.OUTCOME_COLUMNS, columnar.outcome_of(engine, evaluation), strict=True)),
    }


def _csv_records(handle: TextIO) -> Iterator[str]:
    """Raw CSV records (a quoted cell may hold a line break), left unparsed for the workers."""
    pending = ""
    for line in handle:
        pending += line
        if pending.count('"') % 2 == 0:
            if pending.strip(", \r\n"):
                yield pending
            pending = ""
    if pending.strip(", \r\n"):
        yield pending


# --- the parallel batch: workers read and evaluate byte ranges of the file -------------------

_CHUNK_BYTES = 1 << 20
_CSV_CHUNK_BYTES = 8 << 20
"""CSV ranges are larger: the columnar path pays a fixed cost per chunk, not per row."""
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class _Job:
    source: str
    offset: int
    length: int
    header: Header | None
    """The CSV header, or None for JSONL."""
    on: dt.date | None
    jsonl_out: bool
    first_line: int = 1
    """The line number of the range's first line (JSONL messages name a line)."""


def _record_end(data: bytes, csv_quotes: bool) -> int:
    """Index just after the last whole record in ``data`` (0 if none ends there).

    A CSV record may hold a quoted line break, so a line ends a record only where the
    quotes before it are balanced (``data`` always starts at a record boundary).
    """
    cut = data.rfind(b"\n")
    if csv_quotes:
        while cut >= 0 and data.count(b'"', 0, cut) % 2:
            cut = data.rfind(b"\n", 0, cut)
    return cut + 1


def _first_record_end(data: bytes) -> int:
    """Index just after the CSV header record (the first line with balanced quotes)."""
    cut = data.find(b"\n")
    while cut >= 0 and data.count(b'"', 0, cut) % 2:
        cut = data.find(b"\n", cut + 1)
    return cut + 1 if cut >= 0 else len(data)


def _ranges(
    handle: BinaryIO, start: int, csv_quotes: bool, size: int = _CHUNK_BYTES
) -> Iterator[tuple[int, int, int]]:
    """Byte ranges of about ``size`` bytes holding whole records, from ``start`` on, each with
    the number of line ends before it in the file."""
    handle.seek(0)
    line_ends = handle.read(start).count(b"\n")
    pending = b""
    offset = start
    while True:
        block = handle.read(size)
        data = pending + block
        if not block:
            if data:
                yield offset, len(data), line_ends
            return
        cut = _record_end(data, csv_quotes)
        if cut == 0:  # one record longer than a block: read on
            pending = data
            continue
        yield offset, cut, line_ends
        line_ends += data.count(b"\n", 0, cut)
        offset += cut
        pending = data[cut:]


def _read_header(source: Path) -> tuple[Header | None, int]:
    """The CSV header (None for JSONL) and the byte offset where the rows start; a header the
    loader refuses (too many columns, an unknown or repeated column) raises UploadError."""
    with source.open("rb") as handle:
        head = handle.read(_CHUNK_BYTES)
        skip = len(_BOM) if head.startswith(_BOM) else 0
        if source.suffix.lower() != ".csv":
            return None, skip
        while True:
            end = _first_record_end(head)
            if end < len(head) or not (more := handle.read(_CHUNK_BYTES)):
                break
            head += more
    try:
        first = head[skip:end].decode("utf-8")
    except UnicodeDecodeError as error:
        raise UploadError(f"the header is not UTF-8 (byte {error.start:,}); save the file as UTF-8") from None
    columns = next(csv.reader([first]), [])
    check_header(columns)
    return parse_header(columns), end


_NOT_UTF8 = re.compile("[\udc80-\udcff]")
"""Bytes that were not UTF-8, kept as lone surrogates by ``surrogateescape``."""


def _csv_rows(text: str) -> Iterator[list[str]]:
    """The cells of each CSV record in ``text``; blank records are skipped."""
    if '"' not in text and text.count("\r") == text.count("\r\n"):
        # No quoting and plain line ends: a record is a line and a cell is what lies
        # between commas, exactly as the csv module reads it, only faster.
        for line in text.split("\n"):
            if line.strip(", \r"):
                yield line.removesuffix("\r").split(",")
        return
    for record in _csv_records(io.StringIO(text, newline="")):
        yield next(csv.reader([record]))


# Per worker process: one compiled plan per header and default date, reused by every chunk.
_PLANS: dict[tuple[Header, dt.date], columnar.Plan | None] = {}
_MAX_PLANS = 32
"""Plans kept at once (a server auditing many different lists keeps its memory bounded)."""


def _plan(header: Header, on: dt.date | None) -> columnar.Plan | None:
    day = on or dt.date.today()
    if (header, day) not in _PLANS:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        _PLANS[(header, day)] = columnar.compile_plan(header, default_engine(), day)
    return _PLANS[(header, day)]


def _plain(cells: list[str], header: Header, on: dt.date | None) -> tuple[dict[str, Any], dt.date | None]:
    """One record the plain way (:func:`evaluate_row`), with its assessment date if valid."""
    if _NOT_UTF8.search("".join(cells)):
        out = _blank(0)
        out["error"] = "the row is not UTF-8 text; save the file as UTF-8"
        return out, None
    out, findings = _evaluate_raw(0, cells, on, header)
    return out, None if findings is None else findings.assessment_date or on or dt.date.today()


def _columnar_rows(
    plan: columnar.Plan, table: Any, header: Header, on: dt.date | None, skip_blank: bool = True
) -> Iterator[tuple[dict[str, Any], dt.date | None]]:
    """Each record's result row and date: accepted ones from the columns, the rest plainly."""
    chunk = columnar.evaluate_chunk(plan, table, skip_blank)
    accepted = chunk.accepted.tolist()
    base = _blank(0)
    names = columnar.OUTCOME_COLUMNS
    done = 0
    for record, ok in enumerate(accepted):
        if not ok:
            yield _plain(chunk.cells(record), header, on)
            continue
        out = dict(base)
        out["case_id"] = chunk.case_ids[done]
        out.update(zip(names, chunk.outcomes[chunk.outcome[done]], strict=True))
        yield out, chunk.when.dictionary.values[chunk.when.codes[done]]
        done += 1


_TABLE_ROWS = 4096
"""Records of an upload evaluated together by the columnar path."""


def evaluate_table(
    header: Header | None,
    records: Iterable[str | list[str]],
    on: dt.date,
    *,
    lines: Sequence[int] | None = None,
) -> Iterator[tuple[dict[str, Any], dt.date | None]]:
    """Each record's result row (numbered from 1) and, for a valid row, its assessment date.

    Records are CSV cells under ``header``, or JSONL lines when ``header`` is None (``lines``:
    their line numbers in the file, for messages). Rows without their own
    ``assessment_date`` are assessed on ``on``. Bad rows carry their reason in ``error`` (and
    no date) and never stop the rest.
    """
    plan = _plan(header, on) if header is not None else None
    number = 0
    if header is not None:
        pending: list[list[str]] = []
        for raw in [*records, None]:
            if raw is not None:
                pending.append(raw if isinstance(raw, list) else next(csv.reader([raw]), []))
                if len(pending) < _TABLE_ROWS:
                    continue
            if plan is not None and pending:
                rows = _columnar_rows(plan, columnar.table_of_cells(pending, len(header)), header, on, False)
            else:
                rows = (_plain(cells, header, on) for cells in pending)
            for out, when in rows:
                number += 1
                out["row"] = number
                yield out, when
            pending = []
        return
    for raw in records:
        number += 1
        line = lines[number - 1] if lines is not None else number
        out, findings = _evaluate_raw(number, raw, on, None, line)
        yield out, None if findings is None else findings.assessment_date or on


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while one byte range is evaluated.

    The answers kept between chunks grow to hundreds of thousands of objects, which every
    full collection walks again, while the batch makes almost no garbage cycles (300,000 rows
    of the benchmark: 13% of the CPU time spent in full collections that freed nothing). The
    collector runs again between ranges, so a cycle a bad row leaves (a traceback) is freed.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _work(job: _Job) -> tuple[list[str], Counter[str]]:
    """Evaluate one byte range; returns each output row rendered without its number."""
    with _collector_paused():
        return _evaluate_range(job)


def _evaluate_range(job: _Job) -> tuple[list[str], Counter[str]]:
    with open(job.source, "rb") as handle:
        handle.seek(job.offset)
        data = handle.read(job.length)
    header, on = job.header, job.on
    if header is None:
        # Each line is read on its own (bytes: one that is not UTF-8 is that line's error).
        rows: Iterable[dict[str, Any]] = (
            evaluate_row(0, record, on, line=job.first_line + index)
            for index, record in enumerate(data.split(b"\n"))
            if record.strip()
        )
        return _render(rows, job.jsonl_out)
    plan = _plan(header, on)
    table = columnar.parse_chunk(data, len(header)) if plan is not None else None
    if plan is None or table is None:
        text = data.decode("utf-8", "surrogateescape")  # a record that is not UTF-8 is its error
        return _render((_plain(cells, header, on)[0] for cells in _csv_rows(text)), job.jsonl_out)
    return _render_columnar(plan, table, header, on, job.jsonl_out)


def _render(rows: Iterable[dict[str, Any]], jsonl_out: bool) -> tuple[list[str], Counter[str]]:
    """Result rows rendered as CSV or JSONL lines without their row number."""
    counts: Counter[str] = Counter()
    rendered: list[str] = []
    if jsonl_out:
        for row in rows:
            counts["error" if row["error"] else row["pathway"]] += 1
            del row["row"]
            rendered.append(json.dumps(row)[1:] + "\n")  # the row number is put in front later
        return rendered, counts
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = OUTPUT_COLUMNS[1:]
    ends = []
    for row in rows:
        counts["error" if row["error"] else row["pathway"]] += 1
        writer.writerow(safe_cells(map(row.__getitem__, columns)))
        ends.append(buffer.tell())
    body = buffer.getvalue()
    rendered = [body[start:end] for start, end in zip([0, *ends], ends, strict=False)]
    return rendered, counts


_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def _render_columnar(
    plan: columnar.Plan, table: Any, header: Header, on: dt.date | None, jsonl_out: bool
) -> tuple[list[str], Counter[str]]:
    """Like :func:`_render` over a parsed chunk: each distinct outcome is rendered once.

    An accepted row's line is its case id cell followed by its outcome's cells, which is what
    the CSV writer gives for the whole row (a valid case id needs no quoting: it matches
    ``[A-Za-z0-9._-]``); rows the columns did not accept are rendered from their plain result.
    """
    chunk = columnar.evaluate_chunk(plan, table)
    base = _blank(0)
    suffixes = plan.rendered.setdefault(jsonl_out, [])
    for values in chunk.outcomes[len(suffixes) :]:
        row = {**base, **dict(zip(columnar.OUTCOME_COLUMNS, values, strict=True))}
        del row["row"], row["case_id"]
        if jsonl_out:
            suffixes.append(json.dumps(row)[1:] + "\n")
        else:
            suffixes.append(_render([{**row, "row": 0, "case_id": ""}], False)[0][0][1:])
    counts: Counter[str] = Counter()
    outcome = chunk.outcome.tolist()
    pathway = columnar.OUTCOME_COLUMNS.index("pathway")
    for code, count in Counter(outcome).items():
        counts[chunk.outcomes[code][pathway]] += count
    rendered: list[str] = []
    if jsonl_out:
        lines = [f'"case_id": {json.dumps(case_id)}, ' for case_id in chunk.case_ids]
    else:
        if not _ID_CHARS.issuperset("".join(chunk.case_ids)):  # pragma: no cover - the id pattern
            raise AssertionError("a validated case id holds a character the CSV writer would quote")
        lines = [cell + "," for cell in safe_texts(chunk.case_ids)]
    accepted = chunk.accepted
    if accepted.all():
        return [line + suffixes[code] for line, code in zip(lines, outcome, strict=True)], counts
    done = 0
    for record, ok in enumerate(accepted.tolist()):
        if ok:
            rendered.append(lines[done] + suffixes[outcome[done]])
            done += 1
        else:
            plain, plain_counts = _render([_plain(chunk.cells(record), header, on)[0]], jsonl_out)
            rendered.extend(plain)
            counts.update(plain_counts)
    return rendered, counts


def _jobs(
    source: Path, header: Header | None, start: int, on: dt.date | None, jsonl_out: bool
) -> Iterator[_Job]:
    with source.open("rb") as handle:
        size = _CHUNK_BYTES if header is None else _CSV_CHUNK_BYTES
        for offset, length, line_ends in _ranges(handle, start, csv_quotes=header is not None, size=size):
            yield _Job(str(source), offset, length, header, on, jsonl_out, line_ends + 1)


def run_batch(
    source: Path,
    target: Path,
    *,
    on: dt.date | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Evaluate every row of ``source`` into ``target``; returns counts by pathway and errors.

    Args:
        source: a ``.csv``, ``.jsonl`` or ``.xlsx`` file. A CSV or JSONL list of any length is
            streamed; its header is checked as the loader checks an upload (columns, unknown and
            repeated names) and a row that cannot be read (not UTF-8, not JSON) is that row's
            error. An ``.xlsx`` list is read by the loader, with an upload's limits.
        target: a ``.csv`` or ``.jsonl`` file to write.
        on: assessment date for rows without one (default: today).
        workers: processes to use (default: the number of CPUs); a list that fits one byte
            range (1 MB of JSONL, 8 MB of CSV) is evaluated in this process, without workers.
        progress: called with the number of rows done so far.
    """
    workers = workers or os.cpu_count() or 1
    default_engine()  # compile once before the workers fork
    partial = target.with_name(target.name + ".partial")
    try:
        counts = _write_all(source, target, partial, on=on, workers=workers, progress=progress)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)  # a killed or failed run never leaves a result file
    return counts


def _write_all(
    source: Path,
    target: Path,
    partial: Path,
    *,
    on: dt.date | None,
    workers: int,
    progress: Callable[[int], None] | None,
) -> dict[str, int]:
    jsonl_out = target.suffix.lower() in (".jsonl", ".ndjson")
    if not jsonl_out and target.suffix.lower() != ".csv":
        raise InputError(f"{target.name}: batch output must be .csv or .jsonl")
    if source.suffix.lower() == ".xlsx":
        return _write_upload(source, partial, on=on, jsonl_out=jsonl_out, progress=progress)
    if source.suffix.lower() not in (".csv", ".jsonl", ".ndjson"):
        raise InputError(f"{source.name}: batch input must be .csv, .jsonl or .xlsx")
    header, start = _read_header(source)
    counts: Counter[str] = Counter()
    number = 1
    with partial.open("w", newline="", encoding="utf-8") as dst:
        if not jsonl_out:
            dst.write(",".join(OUTPUT_COLUMNS) + "\n")
        jobs = _jobs(source, header, start, on, jsonl_out)
        # The first ranges, up to one per worker: a list that fits one range (1 MB of JSONL,
        # 8 MB of CSV) is evaluated here, since a pool would only add its start-up; a longer one
        # gets no more workers than it has ranges.
        first = list(itertools.islice(jobs, workers))
        jobs = itertools.chain(first, jobs)
        pool = multiprocessing.get_context("fork").Pool(len(first)) if len(first) > 1 else None
        try:
            results = pool.imap(_work, jobs) if pool else map(_work, jobs)
            for rendered, chunk_counts in results:
                if jsonl_out:
                    text = "".join([f'{{"row": {number + i}, {line}' for i, line in enumerate(rendered)])
                else:
                    text = "".join([f"{number + i},{line}" for i, line in enumerate(rendered)])
                dst.write(text)
                number += len(rendered)
                counts.update(chunk_counts)
                if progress:
                    progress(number - 1)
        except BaseException:
            if pool:
                pool.terminate()  # a failed run stops at once
            raise
        finally:
            if pool:
                pool.close()
                pool.join()
    return dict(counts)


def _write_upload(
    source: Path,
    partial: Path,
    *,
    on: dt.date | None,
    jsonl_out: bool,
    progress: Callable[[int], None] | None,
) -> dict[str, int]:
    """A list the loader reads whole (an .xlsx workbook), evaluated here, in this process."""
    from myelo_cds.batch._loader import DEFAULT_UPLOAD_LIMITS, read_upload

    with source.open("rb") as handle:
        data = handle.read(DEFAULT_UPLOAD_LIMITS.max_bytes + 1)  # a larger file is refused unread
    upload = read_upload(source.name, data)
    header = parse_header(upload.columns) if upload.columns is not None else None
    counts: Counter[str] = Counter()
    with partial.open("w", newline="", encoding="utf-8") as dst:
        if not jsonl_out:
            dst.write(",".join(OUTPUT_COLUMNS) + "\n")
        results = evaluate_table(header, upload.records, on or dt.date.today(), lines=upload.lines)
        for done, (row, _) in enumerate(results, start=1):
            number = row["row"]
            rendered, row_counts = _render([row], jsonl_out)
            prefix = f'{{"row": {number}, ' if jsonl_out else f"{number},"
            dst.write(prefix + rendered[0])
            counts.update(row_counts)
            if progress and done % 1000 == 0:
                progress(done)
    return dict(counts)
