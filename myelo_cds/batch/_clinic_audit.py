"""Registry audit of a clinic list: every row through the batch path, then a summary.

A clinic list is a CSV or Excel (.xlsx) sheet with the batch columns (dotted paths into the
findings, see :func:`template_columns`), or JSONL with one findings object per line. It
should hold each patient's most recent assessment. Every row is evaluated by the engine's
batch path (the same pathway and urgency as a single consult); a bad row is reported with
its reason and never stops the rest. The summary counts pathways, follow-up that is
overdue on the audit date, cases meeting surgical criteria, and rows with errors.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from myelo_cds.batch._loader import DEFAULT_UPLOAD_LIMITS, Upload, UploadLimits, read_upload
from myelo_cds.batch._rows import OUTPUT_COLUMNS, evaluate_table, parse_header
from myelo_cds.errors import UploadError
from myelo_cds.exports.csv_safety import safe_cell
from myelo_cds.findings import CervicalLevel, LevelFinding, example_cases, leaf_paths
from myelo_cds.followup import follow_up_schedule
from myelo_cds.rules.engine import PATHWAY_LABELS

__all__ = [
    "AUDIT_COLUMNS",
    "MAX_BYTES",
    "MAX_ROWS",
    "Audit",
    "Upload",
    "UploadError",
    "UploadLimits",
    "audit_rows",
    "read_upload",
    "results_csv",
    "rows_of",
    "template_columns",
    "template_csv",
]

MAX_BYTES = DEFAULT_UPLOAD_LIMITS.max_bytes
"""Largest upload the loader takes (50 MB); the page also keeps to the server's upload limit."""
MAX_ROWS = DEFAULT_UPLOAD_LIMITS.max_rows
AUDIT_COLUMNS = (*OUTPUT_COLUMNS, "next_review_due", "follow_up_overdue")
# Pathways that recommend surgery, and those where surgery is one of the options offered.
SURGICAL = ("surgical_referral",)
SURGICAL_OPTION = ("surgery_or_structured_rehab",)


def template_columns() -> list[str]:
    """Every column a clinic list may have: each findings field, and each MRI level's."""
    columns = [path for path in leaf_paths() if path != "schema_version"]
    at = columns.index("mri.unlisted_levels_normal")
    levels = [
        f"mri.levels.{level.value}.{name}" for level in CervicalLevel for name in LevelFinding.model_fields
    ]
    return [*columns[:at], *levels, *columns[at:]]


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    row: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            row.update(_flatten(value, f"{prefix}{key}."))
        elif isinstance(value, list):
            row[prefix + key] = ";".join(str(item) for item in value)
        elif isinstance(value, bool):
            row[prefix + key] = "true" if value else "false"
        elif value is not None:
            row[prefix + key] = str(value)
    return row


def template_csv() -> bytes:
    """A CSV template: every column, and one filled row (the moderate DCM example)."""
    columns = template_columns()
    example = _flatten(json.loads(example_cases()["moderate_dcm"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerow([example.get(column, "") for column in columns])
    return buffer.getvalue().encode("utf-8")


@dataclass
class Audit:
    """Every row's result and the summary of a clinic list."""

    on: dt.date
    rows: list[dict[str, Any]] = field(default_factory=list)
    pathways: Counter[str] = field(default_factory=Counter)
    overdue: int = 0
    surgical: int = 0
    surgical_option: int = 0

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [row for row in self.rows if row["error"]]


def _next_review(row: dict[str, Any], assessed: dt.date, on: dt.date) -> tuple[str, bool]:
    """The first follow-up visit the plan schedules, and whether its window closed before ``on``."""
    plan = follow_up_schedule(
        assessed,
        [rule for rule in row["deciding_rules"].split(";") if rule],
        row["urgency"],
        [flag for flag in row["flags"].split(";") if flag],
    )
    upcoming = [visit for visit in plan.visits if visit.due > assessed]
    if not upcoming:
        return "", False
    first = upcoming[0]
    return first.due.isoformat(), first.window_end < on


def audit_rows(upload: Upload, on: dt.date, progress: Callable[[int, int], None] | None = None) -> Audit:
    """Evaluate every row of the upload on the audit date ``on`` (for rows without their own date).

    Args:
        upload: from :func:`read_upload`.
        on: the audit date: rows without an assessment date are assessed on it, and a
            follow-up is overdue when its window ended before it.
        progress: called with (rows done, rows in all) every few hundred rows.
    """
    header = parse_header(upload.columns) if upload.columns is not None else None
    total = len(upload.records)
    audit = Audit(on=on)
    for out, assessed in evaluate_table(header, upload.records, on, lines=upload.lines):
        out["next_review_due"], out["follow_up_overdue"] = "", ""
        if assessed is not None:
            due, overdue = _next_review(out, assessed, on)
            out["next_review_due"] = due
            out["follow_up_overdue"] = "yes" if overdue else "no"
            audit.overdue += overdue
            audit.surgical += out["pathway"] in SURGICAL
            audit.surgical_option += out["pathway"] in SURGICAL_OPTION
        audit.pathways["error" if out["error"] else out["pathway"]] += 1
        audit.rows.append(out)
        if progress and (len(audit.rows) % 250 == 0 or len(audit.rows) == total):
            progress(len(audit.rows), total)
    return audit


def results_csv(audit: Audit) -> bytes:
    """The audit's rows as CSV; cells a spreadsheet would run as formulas are neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(AUDIT_COLUMNS)
    for row in audit.rows:
        writer.writerow([safe_cell(row[name]) for name in AUDIT_COLUMNS])
    return buffer.getvalue().encode("utf-8")


#: Columns whose values are ids: shown in words (the CSV keeps the ids, for re-import).
_IN_WORDS = {"urgency", "band", "course"}
_LIST_SEPARATOR = ";"


def _heading(column: str) -> str:
    """``next_review_due`` -> ``next review due``; ``mjoa_total`` -> ``mJOA total``."""
    return column.replace("mjoa", "mJOA").replace("follow_up", "follow-up").replace("_", " ")


def _shown(column: str, value: Any) -> Any:
    if column == "pathway" and isinstance(value, str):
        return PATHWAY_LABELS.get(value, value)
    if column in _IN_WORDS and isinstance(value, str):
        return value.replace("_", " ")
    if isinstance(value, str) and _LIST_SEPARATOR in value:
        return ", ".join(value.split(_LIST_SEPARATOR))
    return value


def rows_of(audit: Audit) -> Iterator[dict[str, Any]]:
    """The rows for a table a clinician reads: headings and pathways in words (the rule-set
    columns left out: they are the same on every row, and shown once under the table)."""
    hidden = {"rule_set_version", "rule_set_sha256"}
    for row in audit.rows:
        yield {_heading(key): _shown(key, value) for key, value in row.items() if key not in hidden}
