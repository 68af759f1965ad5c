"""In Chromium: a half-typed consult with an invalid field still shows the emergency banner (issue 13).

The age is left blank and "supervised rehabilitation" is chosen without its start date (a value
the findings refuse); a deficit new since a trauma is entered. What a person sees: the red
banner with its trigger at the top, the left-out entry named beside it, and the incomplete state.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import screenshot


def _widget(page: Page, key: str) -> Locator:
    return page.locator(".st-key-" + re.sub(r"[^A-Za-z0-9_-]", "-", key))


def _choose(page: Page, key: str, option: str) -> None:
    """Click an option of a segmented control and wait until the page shows it chosen."""
    button = _widget(page, key).get_by_role("radio", name=option, exact=True)
    button.click()
    expect(button).to_have_attribute("aria-checked", "true")


def test_emergency_banner_is_visible_with_the_age_blank_and_an_unrelated_field_invalid(
    page: Page, app_url: str
) -> None:
    page.set_viewport_size({"width": 1280, "height": 1400})
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Consult")).to_be_visible()
    _choose(page, "f.patient.management", "supervised rehabilitation")
    _choose(page, "f.patient.history.recent_trauma", "Yes")
    _choose(page, "f.symptoms.deficit_after_trauma", "Yes")

    banner = page.get_by_test_id("stAlertContentError").filter(has_text="EMERGENCY - red flag present")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("RF-TRAUMA")
    problems = page.get_by_test_id("stAlertContentWarning").filter(has_text="Some entries were left out")
    expect(problems).to_be_visible()
    expect(problems).to_contain_text("patient.management")
    expect(page.get_by_text(re.compile(r"Incomplete - enter age")).first).to_be_visible()
    assert _widget(page, "f.patient.age_years").get_by_role("spinbutton").input_value() == ""
    # The banner is above the form: the first thing on the page under the title.
    banner_top = banner.bounding_box()
    form_top = _widget(page, "f.patient.age_years").bounding_box()
    assert banner_top is not None
    assert form_top is not None
    assert banner_top["y"] < form_top["y"]
    screenshot(page, "consult_failsafe_banner_age_blank")
