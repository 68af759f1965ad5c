"""End to end in Chromium: a clinician enters a case, sees the recommendation, downloads the documents."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import screenshot


def _widget(page: Page, key: str):  # type: ignore[no-untyped-def]
    return page.locator(".st-key-" + re.sub(r"[^A-Za-z0-9_-]", "-", key))


def _tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def _yes_no(page: Page, key: str, answer: str) -> None:
    _widget(page, key).get_by_text(answer, exact=True).click()
    page.wait_for_timeout(250)


def _number(page: Page, key: str, value: int) -> None:
    field = _widget(page, key).get_by_role("spinbutton")
    field.fill(str(value))
    field.press("Enter")
    page.wait_for_timeout(250)


def _choose(page: Page, key: str, option: str) -> None:
    _widget(page, key).get_by_role("combobox").click()
    page.get_by_role("option", name=option).first.click()
    page.wait_for_timeout(250)


def test_enter_a_moderate_dcm_case_and_download_the_documents(page: Page, app_url: str) -> None:
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Consult")).to_be_visible()
    _number(page, "f.patient.age_years", 64)
    _yes_no(page, "f.symptoms.fever", "No")
    _yes_no(page, "f.symptoms.rapid_loss_of_ambulation", "No")
    _tab(page, "Symptoms")
    _yes_no(page, "f.symptoms.hand_clumsiness", "Yes")
    _yes_no(page, "f.symptoms.gait_imbalance", "Yes")
    _tab(page, "Reflexes & UMN signs")
    _yes_no(page, "f.exam.umn.hoffmann_tromner", "Yes")
    _tab(page, "mJOA & Nurick")
    _choose(page, "f.mjoa.ue_motor", "3 - Can button a shirt, with great difficulty")
    _choose(page, "f.mjoa.le_motor", "5 - Moderate-to-significant instability")
    _choose(page, "f.mjoa.ue_sensation", "2 - Mild sensory loss")
    _choose(page, "f.mjoa.sphincter", "3 - Normal micturition")
    expect(page.get_by_test_id("stMetric")).to_contain_text("13/18")
    _tab(page, "MRI")
    _widget(page, "f.mri.available").get_by_text("A cervical MRI has been done and read").click()
    page.wait_for_timeout(400)
    _choose(page, "f.mri.levels.C5-C6.kang", "2")
    _yes_no(page, "f.mri.unlisted_levels_normal", "Yes")

    recommendation = page.get_by_test_id("stAlertContentWarning").first
    expect(recommendation).to_contain_text("Surgical referral")
    expect(recommendation).to_contain_text("EXPEDITED")
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
    page.get_by_text("Start from an example or a saved case file").click()
    page.get_by_role("combobox", name="Example case").click()
    page.get_by_role("option", name="mild_dcm").click()
    page.get_by_role("button", name="Load example").click()
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_contain_text("Surgery or supervised")
    clinician = page.get_by_role("textbox", name="Clinician id for the note (initials or staff number)")
    clinician.fill("clin-7")
    clinician.press("Enter")
    page.get_by_role("button", name="Save this assessment to the record").click()
    expect(page.get_by_test_id("stAlertContentSuccess").filter(has_text="Saved for")).to_be_visible()

    # Six months later the lower-extremity item has fallen two levels.
    date = _widget(page, "f.assessment_date").locator("input")
    date.fill("2025-10-09")
    date.press("Enter")
    page.wait_for_timeout(500)
    _tab(page, "mJOA & Nurick")
    _choose(page, "f.mjoa.le_motor", "4 - Manages stairs (up and/or down) only with a handrail")
    alert = page.get_by_test_id("stAlertContentError").filter(has_text="DETERIORATION")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("compared with the visit of 2025-04-09")
    screenshot(page, "consult_second_visit_deterioration")
