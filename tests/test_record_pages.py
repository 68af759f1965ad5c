"""Record pages under AppTest against a real SQLite file: save two visits, see the course."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from myelo_cds import Findings, assess
from myelo_cds.findings import example_cases, field_spec
from myelo_cds.records import Store
from myelo_cds.ui.consult_form import KEY, _flatten, _to_widget

ROOT = Path(__file__).resolve().parents[1]


def _mild(date: str, le_motor: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(example_cases()["mild_dcm"])
    data["assessment_date"] = date
    data["mjoa"]["le_motor"] = le_motor
    data.pop("earlier_mjoa", None)
    return data


def _consult_with(data: dict[str, Any], clinician: str = "clin-7") -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "consult.py"), default_timeout=60)
    for path, value in _flatten(data):
        at.session_state[KEY + path] = _to_widget(field_spec(path), value)
    at.session_state["clinician_id"] = clinician
    at.run()
    assert not at.exception
    return at


def test_saving_two_visits_raises_a_deterioration_alert_on_the_consult(database: Store) -> None:
    first = _mild("2026-01-10", 6)  # mJOA 15 (mild)
    at = _consult_with(first)
    save = next(button for button in at.button if button.label == "Save this assessment to the record")
    save.click().run()
    assert not at.exception
    assert any("Saved for" in s.value for s in at.success)
    case_id = first["case_id"]
    assert len(database.assessments(case_id)) == 1

    second = _consult_with(_mild("2026-06-10", 4))  # mJOA 13: a 2-point fall and a change of band
    alerts = [e.value for e in second.error if "DETERIORATION" in e.value]
    assert alerts, [e.value for e in second.error]
    assert "compared with the visit of 2026-01-10" in alerts[0]
    # The consult note (its copyable text) names the same course alert in "Course since the last visit".
    note = next(code.value for code in second.code if "Course since the last visit" in code.value)
    course = note[note.index("Course since the last visit") :]
    assert "DETERIORATION compared with the visit of 2026-01-10" in course


def test_timeline_page_shows_the_stored_course(database: Store) -> None:
    for date, le_motor in (("2026-01-10", 6), ("2026-06-10", 4)):
        findings = Findings.model_validate(_mild(date, le_motor))
        database.save_assessment(
            findings, assess(findings), patient_id=findings.case_id or "", author="clin-7"
        )
    at = AppTest.from_file(str(ROOT / "pages" / "timeline.py"), default_timeout=60)
    at.run()
    at.selectbox[0].select(findings.case_id).run()
    assert not at.exception
    assert any("DETERIORATION" in e.value for e in at.error)
    table = at.dataframe[0].value
    assert list(table["mJOA"]) == [15, 13]
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2, "mJOA timeline and sub-domain charts"
    assert database.audit_events(patient_id=findings.case_id)[0].action == "view"


def test_worklist_lists_due_patients_and_exports_safe_csv(database: Store) -> None:
    findings = Findings.model_validate(_mild("2026-01-10", 6))
    database.save_assessment(findings, assess(findings), patient_id=findings.case_id or "", author="clin-7")
    at = AppTest.from_file(str(ROOT / "pages" / "worklist.py"), default_timeout=60)
    at.run()
    assert not at.exception
    at.date_input[0].set_value(findings.assessment_date).run()
    at.multiselect[0].set_value(["overdue", "due", "scheduled"]).run()
    table = at.dataframe[0].value
    assert list(table["patient"]) == [findings.case_id]


def test_audit_page_lists_events_newest_first(database: Store) -> None:
    database.record_event("export", actor="clin-7", detail="worklist csv")
    at = AppTest.from_file(str(ROOT / "pages" / "audit.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert at.dataframe[0].value["action"].iloc[0] == "export"


def test_a_half_entered_consult_survives_a_reload(database: Store) -> None:
    first = AppTest.from_file(str(ROOT / "pages" / "consult.py"), default_timeout=60)
    first.run()
    first.number_input(key="f.patient.age_years").set_value(64)
    first.segmented_control(key="f.symptoms.hand_clumsiness").set_value("Yes")
    first.run()
    token = first.query_params["draft"]
    token = token[0] if isinstance(token, list) else token
    assert database.load_draft(token, owner="dev") == {
        "patient": {"age_years": 64},
        "symptoms": {"hand_clumsiness": True},
    }

    reloaded = AppTest.from_file(str(ROOT / "pages" / "consult.py"), default_timeout=60)
    reloaded.query_params["draft"] = token
    reloaded.run()
    assert not reloaded.exception
    assert reloaded.number_input(key="f.patient.age_years").value == 64
    assert reloaded.segmented_control(key="f.symptoms.hand_clumsiness").value == "Yes"
