"""The registry audit's table reads in clinical words (issue 16): headings and pathways in words,
lists with commas; the CSV download keeps the ids a program re-reads."""

from __future__ import annotations

import csv
import io
import re

from myelo_cds.batch import Audit, audit_rows, read_upload, results_csv, rows_of
from myelo_cds.rules.engine import PATHWAY_LABELS
from tests.test_registry_audit import AUDIT_DATE, _clinic_csv


def _audit() -> Audit:
    return audit_rows(read_upload("clinic.csv", _clinic_csv(count=12, bad=False)), AUDIT_DATE)


def test_the_table_has_headings_and_pathways_in_words() -> None:
    rows = list(rows_of(_audit()))
    assert rows
    for row in rows:
        assert not [key for key in row if "_" in key], row.keys()
        assert row["pathway"] in PATHWAY_LABELS.values()
        for value in row.values():
            if isinstance(value, str):
                assert not re.search(r"\b[a-z]+_[a-z_]+\b", value), value  # no raw id
                assert ";" not in value
    assert {"case id", "mJOA total", "next review due", "follow-up overdue"} <= set(rows[0])


def test_the_csv_keeps_the_ids() -> None:
    audit = _audit()
    table = list(csv.DictReader(io.StringIO(results_csv(audit).decode())))
    assert {row["pathway"] for row in table} <= set(PATHWAY_LABELS)
    assert "case_id" in table[0]


def test_one_row_with_an_error_is_counted_in_the_singular() -> None:
    from streamlit.testing.v1 import AppTest

    from tests.test_registry_audit import ROOT

    at = AppTest.from_file(str(ROOT / "pages" / "registry_audit.py"), default_timeout=60)
    at.run()
    at.date_input[0].set_value(AUDIT_DATE)
    data = _clinic_csv(count=5, bad=False).decode().splitlines()
    header, first, *rest = data
    columns = header.split(",")
    cells = first.split(",")
    cells[columns.index("mjoa.ue_motor")] = "9"  # one row out of range
    upload = "\n".join([header, ",".join(cells), *rest]).encode()
    at.file_uploader[0].set_value(("clinic.csv", upload, "text/csv")).run()
    assert not at.exception
    assert any(w.value.startswith("Not assessed: 1 row;") for w in at.warning)
