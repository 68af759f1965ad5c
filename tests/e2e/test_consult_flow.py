"""End to end in Chromium: a clinician enters a case, sees the recommendation, downloads the documents."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import screenshot
from tests.e2e.consult_steps import _choose, _number, _tab, _widget, _yes_no, enter_moderate_dcm, load_example
from tests.e2e.script_runs import rerun_after


def test_enter_a_moderate_dcm_case_and_download_the_documents(page: Page, app_url: str) -> None:
    page.goto(app_url)
    enter_moderate_dcm(page)
    expect(page.get_by_text("R11 - Moderate DCM (mJOA 12-14)")).to_be_visible()
    screenshot(page, "consult_moderate_dcm")

    with page.expect_download() as pdf_download:
        page.get_by_role("button", name="Consult note (PDF)").click()
    pdf = pdf_download.value
    assert pdf.suggested_filename.endswith(".pdf")
    assert Path(pdf.path()).read_bytes()[:5] == b"%PDF-"

    with page.expect_download() as ics_download:
        page.get_by_role("button", name="Follow-up schedule (.ics)").click()
    calendar = Path(ics_download.value.path()).read_text(encoding="utf-8")
    assert calendar.startswith("BEGIN:VCALENDAR")
    assert calendar.count("BEGIN:VEVENT") == 4


def test_red_flag_shows_the_emergency_banner_in_the_browser(page: Page, app_url: str) -> None:
    page.goto(app_url)
    _number(page, "f.patient.age_years", 71)
    _yes_no(page, "f.symptoms.fever", "Yes")
    _tab(page, "Symptoms")
    _yes_no(page, "f.symptoms.hand_clumsiness", "Yes")
    banner = page.get_by_test_id("stAlertContentError").first
    expect(banner).to_contain_text("EMERGENCY - red flag present")
    expect(banner).to_contain_text("RF-INFECTION-FEVER")
    screenshot(page, "consult_red_flag")


def test_laptop_viewport_shows_form_and_recommendation(page: Page, app_url: str) -> None:
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(app_url)
    _number(page, "f.patient.age_years", 55)
    expect(page.get_by_role("heading", name="Recommendation")).to_be_visible()
    screenshot(page, "consult_1366x768")


def test_tablet_viewport_shows_form_and_recommendation(page: Page, app_url: str) -> None:
    page.set_viewport_size({"width": 820, "height": 1180})
    page.goto(app_url)
    _number(page, "f.patient.age_years", 58)
    expect(page.get_by_role("heading", name="Recommendation")).to_be_visible()
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_contain_text("urgency")
    screenshot(page, "consult_tablet_820x1180")


def test_two_visits_saved_to_the_record_show_the_deterioration_alert(page: Page, app_url: str) -> None:
    page.goto(app_url)
    load_example(page, "mild_dcm")
    expect(page.get_by_test_id("stAlertContentWarning").first).to_contain_text("Surgery or supervised")
    clinician = page.get_by_role("textbox", name="Clinician id for the note (initials or staff number)")
    clinician.fill("clin-7")
    clinician.press("Enter")
    page.get_by_role("button", name="Save this assessment to the record").click()
    expect(page.get_by_test_id("stAlertContentSuccess").filter(has_text="Saved for")).to_be_visible()

    # Six months later the lower-extremity item has fallen two levels.
    date = _widget(page, "f.assessment_date").locator("input")
    date.fill("2025-10-09")
    date.press("Enter")
    with rerun_after(page):  # the date input commits what was typed when the pointer moves on
        _tab(page, "mJOA & Nurick")
    _choose(page, "f.mjoa.le_motor", "4 - Manages stairs (up and/or down) only with a handrail")
    alert = page.get_by_test_id("stAlertContentError").filter(has_text="DETERIORATION")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("compared with the visit of 2025-04-09")
    screenshot(page, "consult_second_visit_deterioration")
