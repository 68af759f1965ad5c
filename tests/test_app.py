"""Every page launches under AppTest and shows a recommendation with its basis."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def _page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "assess_case.py"), default_timeout=30)
    at.run()
    assert not at.exception
    return at


def test_app_router_launches() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.run()
    assert not at.exception
    assert at.title[0].value == "Consult"


def test_example_case_shows_recommendation_and_basis() -> None:
    at = _page()
    at.selectbox[0].select("moderate_dcm").run()
    assert not at.exception
    assert "Surgical referral" in at.warning[0].value
    assert "EXPEDITED" in at.warning[0].value
    assert "R11" in at.dataframe[0].value["rule"].tolist()


def test_red_flag_example_shows_an_emergency_banner() -> None:
    at = _page()
    at.selectbox[0].select("red_flag_trauma").run()
    assert not at.exception
    assert "EMERGENCY" in at.error[0].value


def test_bad_input_names_the_field_and_does_not_crash() -> None:
    at = _page()
    at.text_area[0].input('{"patient": {"age_years": 300}}').run()
    assert not at.exception
    assert "patient.age_years" in at.warning[0].value  # amber: red is kept for an emergency
    assert "0-120" in at.warning[0].value
    assert not at.error
    assert at.text_area[0].value == '{"patient": {"age_years": 300}}'  # what was typed stays


def test_malformed_json_is_reported() -> None:
    at = _page()
    at.text_area[0].input("{oops").run()
    assert not at.exception
    assert "Not valid JSON" in at.error[0].value
