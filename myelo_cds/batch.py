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
import json
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from myelo_cds.csv_safety import safe_cell
from myelo_cds.errors import describe_validation_error
from myelo_cds.findings import Findings
from myelo_cds.rules.engine import default_engine
from myelo_cds.rules.table import screen

__all__ = [
    "OUTPUT_COLUMNS",
    "cells_to_findings",
    "evaluate_row",
    "parse_header",
    "read_rows",
    "row_to_findings",
    "run_batch",
]

OUTPUT_COLUMNS = (
    "row",
    "case_id",
    "pathway",
    "urgency",
    "deciding_rules",
    "red_flags",
    "flags",
    "differentials",
    "mjoa_total",
    "band",
    "course",
    "rule_set_version",
    "rule_set_sha256",
    "error",
)
_LIST_FIELDS = {"mjoa.not_due_to_myelopathy"}
_CHUNK = 2000


Header = tuple[tuple[tuple[str, ...], bool], ...]


def parse_header(columns: Iterable[str]) -> Header:
    """CSV column names split once into path parts, with whether the column is a list."""
    return tuple((tuple(column.strip().split(".")), column.strip() in _LIST_FIELDS) for column in columns)


def cells_to_findings(header: Header, cells: Iterable[str]) -> dict[str, Any]:
    """One CSV row (cells in header order) as the nested findings object; empty = unknown."""
    nested: dict[str, Any] = {}
    for (parts, is_list), cell in zip(header, cells, strict=False):
        text = cell.strip()
        if not text:
            continue
        value: Any = text
        if is_list:
            value = [part.strip() for part in text.split(";") if part.strip()]
        target = nested
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ValueError(f"column {'.'.join(parts)!r} conflicts with another column")
        target[parts[-1]] = value
    return nested


def row_to_findings(row: dict[str, str]) -> dict[str, Any]:
    """A flat CSV row as a dict (dotted column names) -> the nested findings object."""
    return cells_to_findings(parse_header(row), row.values())


def _parse(raw: str | list[str], header: Header | None) -> Findings:
    if header is None:
        assert isinstance(raw, str)
        return Findings.model_validate_json(raw)
    cells = next(csv.reader([raw])) if isinstance(raw, str) else raw
    return Findings.model_validate(cells_to_findings(header, cells))


def _case_id_of(raw: str | list[str], header: Header | None) -> str:
    """The case id of a row that failed validation, if it can be read at all."""
    try:
        if header is None:
            data = json.loads(raw) if isinstance(raw, str) else {}
        else:
            cells = next(csv.reader([raw])) if isinstance(raw, str) else raw
            data = cells_to_findings(header, cells)
    except (ValueError, csv.Error, StopIteration):
        return ""
    case_id = data.get("case_id") if isinstance(data, dict) else None
    return case_id if isinstance(case_id, str) else ""


def evaluate_row(
    number: int, raw: str | list[str], on: dt.date | None, header: Header | None = None
) -> dict[str, Any]:
    """Evaluate one raw row (CSV cells with their header, or a JSONL line).

    Errors become the ``error`` column; they never stop the batch.
    """
    engine = default_engine()
    out: dict[str, Any] = dict.fromkeys(OUTPUT_COLUMNS, "")
    out["row"] = number
    out["rule_set_version"] = engine.rule_set.version
    out["rule_set_sha256"] = engine.rule_set.sha256
    try:
        findings = _parse(raw, header)
    except ValidationError as error:
        out["case_id"] = _case_id_of(raw, header)
        out["error"] = "; ".join(describe_validation_error(error))
        return out
    except (ValueError, TypeError) as error:
        out["error"] = f"malformed row: {error}"
        return out
    # A row's own assessment date wins; --date only fills rows without one.
    evaluation = engine.decide(findings, findings.assessment_date or on)
    facts, decision = evaluation.facts, evaluation.decision
    rule_set = engine.rule_set
    features = facts["features"]
    out.update(
        case_id=findings.case_id or "",
        pathway=decision.pathway,
        urgency=decision.urgency,
        deciding_rules=";".join(decision.deciding),
        red_flags=";".join(evaluation.red_flags),
        flags=";".join(screen(rule_set.flags, facts)),
        differentials=";".join(screen(rule_set.differentials, facts)),
        mjoa_total="" if facts["mjoa_total"] is None else facts["mjoa_total"],
        band=features["band"],
        course=features["course"],
    )
    return out


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


def read_rows(path: Path, handle: TextIO) -> tuple[Header | None, Iterator[str | list[str]]]:
    """The header (CSV only) and the raw rows of a CSV or JSONL file (chosen by extension).

    CSV records are framed here and parsed in the worker processes.
    """
    if path.suffix.lower() == ".csv":
        records = _csv_records(handle)
        first = next(records, "")
        header = parse_header(next(csv.reader([first]), []))
        return header, records
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return None, (line for line in handle if line.strip())
    raise ValueError(f"{path.name}: batch input must be .csv or .jsonl")


_Job = tuple[int, list[str | list[str]], dt.date | None, Header | None]


def _work(job: _Job) -> list[dict[str, Any]]:
    start, rows, on, header = job
    return [evaluate_row(start + i, raw, on, header) for i, raw in enumerate(rows)]


def _jobs(rows: Iterable[str | list[str]], on: dt.date | None, header: Header | None) -> Iterator[_Job]:
    iterator = iter(rows)
    start = 1
    while chunk := list(islice(iterator, _CHUNK)):
        yield start, chunk, on, header
        start += len(chunk)


def _writer(path: Path, handle: TextIO) -> Callable[[dict[str, Any]], None]:
    if path.suffix.lower() == ".csv":
        writer = csv.DictWriter(handle, fieldnames=OUTPUT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        return lambda row: writer.writerow({k: safe_cell(v) for k, v in row.items()})
    if path.suffix.lower() in (".jsonl", ".ndjson"):

        def write_json(row: dict[str, Any]) -> None:
            handle.write(json.dumps(row) + "\n")

        return write_json
    raise ValueError(f"{path.name}: batch output must be .csv or .jsonl")


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
        source: a ``.csv`` or ``.jsonl`` file.
        target: a ``.csv`` or ``.jsonl`` file to write.
        on: assessment date for rows without one (default: today).
        workers: processes to use (default: the number of CPUs).
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
    counts: dict[str, int] = {}
    done = 0
    with (
        source.open(newline="", encoding="utf-8") as src,
        partial.open("w", newline="", encoding="utf-8") as dst,
    ):
        write = _writer(target, dst)
        header, rows = read_rows(source, src)
        jobs = _jobs(rows, on, header)
        pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
        try:
            results = pool.imap(_work, jobs) if pool else map(_work, jobs)
            for chunk in results:
                for row in chunk:
                    write(row)
                    key = "error" if row["error"] else row["pathway"]
                    counts[key] = counts.get(key, 0) + 1
                done += len(chunk)
                if progress:
                    progress(done)
        finally:
            if pool:
                pool.close()
                pool.join()
    return counts
