"""One full consult in the browser, shared by the proxy test, the trace recorder and the bench.

The moderate DCM case of ``test_consult_flow`` (mJOA 13/18, compression at C5-C6), then a
pseudonymous case id, the clinician id and *Save this assessment to the record*.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

__all__ = ["enter_moderate_dcm", "load_example", "save_to_record"]


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


def load_example(page: Page, name: str) -> None:
    """Load one of the shipped example cases into the consult form."""
    page.get_by_text("Start from an example or a saved case file").click()
    page.get_by_role("combobox", name="Example case").click()
    page.get_by_role("option", name=name).click()
    page.get_by_role("button", name="Load example").click()


def enter_moderate_dcm(page: Page) -> None:
    """Enter the findings in examination order and wait for the recommendation."""
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


def save_to_record(page: Page, case_id: str, clinician_id: str) -> None:
    """Name the case and the clinician, save, and wait for the confirmation."""
    case = _widget(page, "f.case_id").locator("input")
    case.fill(case_id)
    case.press("Enter")
    page.wait_for_timeout(300)
    clinician = page.get_by_role("textbox", name="Clinician id for the note (initials or staff number)")
    clinician.fill(clinician_id)
    clinician.press("Enter")
    page.wait_for_timeout(300)
    page.get_by_role("button", name="Save this assessment to the record").click()
    expect(
        page.get_by_test_id("stAlertContentSuccess").filter(has_text=f"Saved for {case_id}")
    ).to_be_visible()
