"""Clinic lists: batch evaluation (CSV, JSONL) and the registry audit of a clinic list."""

from myelo_cds.batch._clinic_audit import (
    AUDIT_COLUMNS,
    MAX_BYTES,
    MAX_ROWS,
    Audit,
    UploadError,
    audit_rows,
    read_upload,
    results_csv,
    rows_of,
    template_columns,
    template_csv,
)
from myelo_cds.batch._rows import (
    OUTPUT_COLUMNS,
    cells_to_findings,
    evaluate_row,
    evaluate_table,
    outcome,
    parse_header,
    row_to_findings,
    run_batch,
)

__all__ = [
    "AUDIT_COLUMNS",
    "MAX_BYTES",
    "MAX_ROWS",
    "OUTPUT_COLUMNS",
    "Audit",
    "UploadError",
    "audit_rows",
    "cells_to_findings",
    "evaluate_row",
    "evaluate_table",
    "outcome",
    "parse_header",
    "read_upload",
    "results_csv",
    "row_to_findings",
    "rows_of",
    "run_batch",
    "template_columns",
    "template_csv",
]
