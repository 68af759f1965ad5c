"""Registry audit: the domain module and the page (AppTest), with CSV, Excel and JSONL lists."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from openpyxl import Workbook
from streamlit.testing.v1 import AppTest

from bench.generate import flatten, generate_cases
from myelo_cds import Findings, assess
from myelo_cds.batch import (
    UploadError,
    audit_rows,
    read_upload,
    results_csv,
    template_columns,
    template_csv,
)

ROOT = Path(__file__).resolve().parents[1]
AUDIT_DATE = dt.date(2026, 12, 1)


def _clinic_csv(count: int = 30, bad: bool = True) -> bytes:
    rows = [flatten(case) for case in generate_cases(count, seed=4)]
    if bad:
        rows[3]["mjoa.ue_motor"] = "9"
        rows[7]["patient.age_years"] = "=HYPERLINK(1)"
    columns = list(dict.fromkeys(column for row in rows for column in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def test_template_round_trips_and_names_every_column() -> None:
    upload = read_upload("template.csv", template_csv())
    assert upload.columns == template_columns()
    assert "mri.levels.C5-C6.kang" in upload.columns
    audit = audit_rows(upload, AUDIT_DATE)
    assert audit.rows[0]["pathway"] == "surgical_referral"
    assert not audit.errors


def test_audit_matches_assess_and_reports_bad_rows_with_reasons() -> None:
    audit = audit_rows(read_upload("clinic.csv", _clinic_csv()), AUDIT_DATE)
    cases = list(generate_cases(30, seed=4))
    for index, (row, case) in enumerate(zip(audit.rows, cases, strict=True)):
        if index in (3, 7):
            assert row["pathway"] == ""
            continue
        expected = assess(Findings.model_validate(case))
        assert (row["pathway"], row["urgency"]) == (expected.pathway, expected.urgency)
        upcoming = [visit for visit in expected.follow_up.visits if visit.due > expected.assessment_date]
        if not upcoming:  # e.g. an emergency referral: the plan has no later visit to miss
            assert (row["next_review_due"], row["follow_up_overdue"]) == ("", "no")
            continue
        assert row["next_review_due"] == upcoming[0].due.isoformat()
        assert row["follow_up_overdue"] == ("yes" if upcoming[0].window_end < AUDIT_DATE else "no")
    assert [row["row"] for row in audit.errors] == [4, 8]
    assert "mjoa.ue_motor" in audit.errors[0]["error"]
    assert audit.pathways["error"] == 2
    assert audit.surgical == sum(row["pathway"] == "surgical_referral" for row in audit.rows)
    exported = list(csv.reader(io.StringIO(results_csv(audit).decode())))
    assert all(not cell.startswith(("=", "+", "@")) for line in exported for cell in line)


def test_excel_and_jsonl_give_the_same_results_as_csv() -> None:
    cases = list(generate_cases(12, seed=8))
    rows = [flatten(case) for case in cases]
    columns = list(dict.fromkeys(column for row in rows for column in row))
    book = Workbook()
    sheet = book.active
    sheet.append(columns)
    for row in rows:
        sheet.append([_typed(row.get(column)) for column in columns])
    data = io.BytesIO()
    book.save(data)
    excel = audit_rows(read_upload("clinic.xlsx", data.getvalue()), AUDIT_DATE)
    jsonl = audit_rows(
        read_upload("clinic.jsonl", "".join(json.dumps(case) + "\n" for case in cases).encode()), AUDIT_DATE
    )
    expected = [assess(Findings.model_validate(case)).pathway for case in cases]
    assert [row["pathway"] for row in excel.rows] == expected
    assert [row["pathway"] for row in jsonl.rows] == expected
    assert not excel.errors


def _typed(text: str | None) -> object:
    """Cells as a spreadsheet stores them: numbers, booleans, dates, text."""
    if text is None:
        return None
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return text


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("clinic.pdf", b"%PDF", ".csv, .xlsx or .jsonl"),
        ("clinic.csv", b"", "empty"),
        ("clinic.csv", b"case_id,patient.age_years\n", "no rows"),
        ("clinic.csv", b"\xff\xfe\x00bad", "not UTF-8"),
        ("clinic.xlsx", b"not a zip file", "not a readable Excel"),
    ],
)
def test_malformed_uploads_get_a_clear_message(name: str, data: bytes, message: str) -> None:
    with pytest.raises(UploadError, match=message):
        read_upload(name, data)


def test_oversized_upload_is_refused_before_reading() -> None:
    from myelo_cds.batch import UploadLimits

    with pytest.raises(UploadError, match="largest taken"):
        read_upload("clinic.csv", b"x" * 101, UploadLimits(max_bytes=100))


def _page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "registry_audit.py"), default_timeout=60)
    at.run()
    assert not at.exception
    return at


def test_page_without_an_upload_offers_the_template() -> None:
    at = _page()
    assert "Upload a clinic list" in at.info[0].value
    assert at.get("download_button")


def test_page_audits_an_uploaded_list_and_lists_bad_rows() -> None:
    at = _page()
    at.date_input[0].set_value(AUDIT_DATE)
    at.file_uploader[0].set_value(("clinic.csv", _clinic_csv(), "text/csv")).run()
    assert not at.exception
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Rows assessed"] == "28"
    assert metrics["Rows with errors"] == "2"
    errors = at.dataframe[1].value
    assert errors["row"].tolist() == [4, 8]
    assert "mjoa.ue_motor" in errors["reason"].iloc[0]
    pathways = at.dataframe[0].value
    assert pathways["cases"].sum() == 30
    assert len(at.dataframe[2].value) == 30


def test_page_reports_a_malformed_upload_without_crashing() -> None:
    at = _page()
    at.file_uploader[0].set_value(("clinic.xlsx", b"definitely not excel", "application/octet-stream")).run()
    assert not at.exception
    assert "Cannot audit clinic.xlsx" in at.error[0].value
