"""Hostile JSON on the pages that read it (issue 14): Assess a case file, Case authoring and the
Registry audit show a field error naming the problem, never Streamlit's generic exception, and
on Case authoring the error does not stick: the next run is clean."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bench.hostile_inputs import deep_json, duplicate_key_json, hostile_jsonl_lines, long_number_json
from myelo_cds.auth import User

ROOT = Path(__file__).resolve().parents[1]
SUPERVISOR = User(user_id="sup-1", role="clinician", supervisor=True)

HOSTILE_TEXT = {
    "100k-deep": (deep_json(), "nested too deeply"),
    "5000-digit": (long_number_json(), "a number of 5,000 characters"),
    "duplicate-key": (
        duplicate_key_json(),
        "patient.age_years: the key 'age_years' is written more than once",
    ),
    "NaN": ('{"patient": {"age_years": NaN}}', "NaN is not a number JSON allows"),
    "array": ("[1, 2]", "the top level must be a JSON object"),
}


def _page(name: str, user: User | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=60)
    if user is not None:
        at.session_state["myelo_cds.user"] = user
    at.run()
    assert not at.exception
    return at


def _by_label(elements, label: str):  # type: ignore[no-untyped-def]
    return next(element for element in elements if element.label == label)


@pytest.mark.parametrize("kind", list(HOSTILE_TEXT))
def test_assess_a_case_file_shows_hostile_json_as_a_field_error(kind: str) -> None:
    text, reason = HOSTILE_TEXT[kind]
    at = _page("assess_case.py")
    at.text_area[0].input(text).run()
    assert not at.exception
    assert len(at.error) == 1
    assert at.error[0].value.startswith("Not valid JSON (Findings): ")
    assert reason.replace("'", "") in at.error[0].value.replace("\\", "").replace("'", "")
    assert not at.code  # nothing assessed from a document that was refused


@pytest.mark.parametrize("kind", list(HOSTILE_TEXT))
def test_case_authoring_shows_a_pasted_hostile_case_once_and_the_next_run_is_clean(kind: str) -> None:
    text, reason = HOSTILE_TEXT[kind]
    at = _page("case_authoring.py", SUPERVISOR)
    _by_label(at.text_area, "or paste the case JSON").set_value(text)
    _by_label(at.button, "Check the imported case").click().run()
    assert not at.exception
    assert at.error[0].value.startswith("The case file: not valid JSON: ")
    assert reason.replace("'", "") in at.error[0].value.replace("\\", "").replace("'", "")
    at.run()  # any later run (another widget, a rerun) no longer carries the refused document
    assert not at.exception
    assert not at.error


def test_case_authoring_reports_an_uploaded_file_that_is_not_utf8() -> None:
    at = _page("case_authoring.py", SUPERVISOR)
    at.file_uploader[0].set_value(("case.json", b'{"id": "X\xff\xfe"}', "application/json")).run()
    _by_label(at.button, "Check the imported case").click().run()
    assert not at.exception
    assert "not UTF-8 text: the byte at offset 9 (line 1)" in at.error[0].value


def test_case_authoring_create_form_shows_hostile_findings_as_a_field_error() -> None:
    at = _page("case_authoring.py", SUPERVISOR)
    _by_label(at.text_area, "Findings (JSON, as the consult takes them)").set_value(deep_json())
    _by_label(at.button, "Check the new case").click().run()
    assert not at.exception
    assert at.error[0].value.startswith("Findings are not valid JSON: nested too deeply")


def test_registry_audit_lists_each_hostile_line_as_a_row_error() -> None:
    good = b'{"case_id": "A1", "patient": {"age_years": 64}}'
    data = b"\n".join([good, *hostile_jsonl_lines(), good]) + b"\n"
    at = _page("registry_audit.py")
    at.file_uploader[0].set_value(("clinic.jsonl", data, "application/octet-stream")).run()
    assert not at.exception
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Rows with errors"] == str(len(hostile_jsonl_lines()))
    reasons = at.dataframe[1].value["reason"].tolist()
    assert reasons[0].startswith("line 2 is not valid JSON: nested too deeply")
    assert reasons[2].startswith("line 4 is not valid JSON: not UTF-8 text")


def test_registry_audit_refuses_the_issues_workbook_with_the_reason() -> None:
    from bench.hostile_inputs import wide_xlsx

    at = _page("registry_audit.py")
    at.file_uploader[0].set_value(("clinic.xlsx", wide_xlsx(16_384, 500), "application/octet-stream")).run()
    assert not at.exception
    assert "Cannot audit clinic.xlsx" in at.error[0].value
    assert "at most 100 to 1" in at.error[0].value
