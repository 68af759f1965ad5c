"""The worklist leads to the patient (issue 16): a row's patient opens on the timeline and the
consult is one click away; the course alert column is wide enough to read; counts in grammar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from myelo_cds import Findings, assess
from myelo_cds.findings import example_cases
from myelo_cds.records import Store

ROOT = Path(__file__).resolve().parents[1]


def _save(database: Store, case_id: str) -> Findings:
    data: dict[str, Any] = json.loads(example_cases()["mild_dcm"])
    data.update(case_id=case_id, assessment_date="2026-01-10")
    data.pop("earlier_mjoa", None)
    findings = Findings.model_validate(data)
    database.save_assessment(findings, assess(findings), patient_id=case_id, author="clin-7")
    return findings


def _worklist(findings: Findings) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/worklist.py").run()
    at.date_input[0].set_value(findings.assessment_date).run()
    at.multiselect[0].set_value(["overdue", "due", "scheduled"]).run()
    assert not at.exception
    return at


@pytest.fixture(autouse=True)
def _no_sign_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYELO_CDS_AUTH", "none")


def test_a_patient_picked_on_the_worklist_opens_on_the_timeline(database: Store) -> None:
    _save(database, "PT-A")
    findings = _save(database, "PT-B")
    at = _worklist(findings)
    assert at.caption[0].value == "2 patients"
    assert not at.get("page_link"), "no link before a patient is picked"
    at.selectbox(key="worklist_patient").select("PT-B").run()
    assert not at.exception
    links = {link.proto.label: link.proto.page for link in at.get("page_link")}
    assert links == {"Timeline of PT-B": "timeline", "Consult": ""}
    assert any("press New patient before entering PT-B" in caption.value for caption in at.caption)
    at.switch_page("pages/timeline.py").run()  # what the link does
    assert not at.exception
    assert at.selectbox[0].value == "PT-B"


def test_one_patient_is_counted_in_the_singular(database: Store) -> None:
    at = _worklist(_save(database, "PT-A"))
    assert at.caption[0].value == "1 patient"


def test_the_course_alert_and_visit_columns_are_wide_enough_to_read(database: Store) -> None:
    at = _worklist(_save(database, "PT-A"))
    columns = json.loads(at.dataframe[0].proto.columns)
    assert columns["course alert"]["width"] == "large"
    assert columns["visit"]["width"] == "large"
