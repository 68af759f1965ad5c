"""One full consult in the browser, shared by the proxy test, the trace recorder and the bench.

The moderate DCM case of ``test_consult_flow`` (mJOA 13/18, compression at C5-C6), then a
pseudonymous case id, the clinician id and *Save this assessment to the record*. Each step
that changes a widget returns once the run it started has finished (``script_runs``), so the
page is watched with ``watch_runs(page)`` before it is opened.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from tests.e2e.script_runs import rerun_after, wait_until_idle, watch_runs

__all__ = [
    "choose_option",
    "enter_moderate_dcm",
    "load_example",
    "open_expander",
    "save_to_record",
    "watch_runs",
]

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"


def _widget(page: Page, key: str) -> Locator:
    return page.locator(".st-key-" + re.sub(r"[^A-Za-z0-9_-]", "-", key))


def _tab(page: Page, name: str) -> None:
    """Open a tab of the full examination (one click from the quick consult, the default view)."""
    tab = page.get_by_role("tab", name=name)
    if not tab.count():
        with rerun_after(page):
            _widget(page, "consult_view").get_by_role("radio", name="Full examination").click()
    tab.click()


def _yes_no(page: Page, key: str, answer: str) -> None:
    with rerun_after(page):
        _widget(page, key).get_by_text(answer, exact=True).click()


def _number(page: Page, key: str, value: int) -> None:
    field = _widget(page, key).get_by_role("spinbutton")
    with rerun_after(page):
        field.fill(str(value))
        field.press("Enter")


def _choose(page: Page, key: str, option: str) -> None:
    """Choose an option: a button of a segmented control or pills, or a drop-down's option."""
    widget = _widget(page, key)
    if widget.get_by_role("combobox").count():
        widget.get_by_role("combobox").click()
        with rerun_after(page):
            page.get_by_role("option", name=option).first.click()
        return
    with rerun_after(page):
        widget.get_by_role("radio", name=option).first.click()


def open_expander(page: Page, title: str) -> None:
    """Open the expander ``title`` and return once it has finished opening.

    While it opens, its body is a box shorter than its content: a click inside it makes the
    browser scroll that box to the control, and the scroll closes a drop-down list as it opens
    (seen under load, about one load in fifteen). Opened, the box is as tall as its content.
    """
    expander = page.get_by_test_id("stExpander").filter(has_text=title)
    expander.get_by_text(title).click()
    details = expander.get_by_test_id("stExpanderDetails")
    expect(details).to_be_visible()
    page.wait_for_function(
        """(details) => {
          const box = details.parentElement;
          return box.scrollHeight <= box.clientHeight && box.scrollTop === 0;
        }""",
        arg=details.element_handle(),
        polling="raf",
    )


def choose_option(page: Page, label: str, option: str) -> None:
    """Pick ``option`` in the drop-down ``label`` once the page is idle (a run still drawing
    redraws the box and closes its list under the click), then wait for the box to show it."""
    wait_until_idle(page)
    box = page.get_by_role("combobox", name=label)
    box.click()
    page.get_by_role("option", name=option).click()
    expect(box).to_have_value(option)
    wait_until_idle(page)


def load_example(page: Page, name: str) -> None:
    """Load one of the shipped example cases into the consult form and return once the run that
    drew it has finished: a value typed while that run is still drawing is sent with the form's
    earlier values and can undo part of the example (the read-only storage test lost the
    example's pathway that way, about one run in three)."""
    case_id = json.loads((EXAMPLES / f"{name}.json").read_text())["case_id"]
    # A run still drawing (the page's first run, or the one that follows sign-in and names the
    # draft) redraws the expander and closes a drop-down opened meanwhile; the page's script
    # state reads "notRunning" before its first run has even started, so wait on the runs the
    # browser has heard of, not on that attribute.
    wait_until_idle(page)
    open_expander(page, "Start from an example or a saved case file")
    choose = page.get_by_role("combobox", name="Example case")
    choose.click()
    with rerun_after(page):  # choosing reruns the page (the button is enabled by it)
        page.get_by_role("option", name=name).click()
    with rerun_after(page):
        page.get_by_role("button", name="Load example").click()
    expect(page.get_by_role("textbox", name="Pseudonymous case id (no names)")).to_have_value(case_id)
    wait_until_idle(page)


def enter_moderate_dcm(page: Page) -> None:
    """Enter the findings on the quick consult (one screen, no tabs) and wait for the
    recommendation."""
    expect(page.get_by_role("heading", name="Consult")).to_be_visible()
    _number(page, "f.patient.age_years", 64)
    _yes_no(page, "f.symptoms.fever", "No")
    _yes_no(page, "f.symptoms.rapid_loss_of_ambulation", "No")
    # Asked, so the answer is settled (left blank, moderate DCM of unknown onset is urgent until
    # the cancer question is answered).
    _yes_no(page, "f.patient.history.cancer", "No")
    _yes_no(page, "f.symptoms.hand_clumsiness", "Yes")
    _yes_no(page, "f.symptoms.gait_imbalance", "Yes")
    _yes_no(page, "f.exam.umn.hoffmann_tromner", "Yes")
    _choose(page, "f.mjoa.ue_motor", "3 - Can button a shirt, with great difficulty")
    _choose(page, "f.mjoa.le_motor", "5 - Moderate-to-significant instability")
    _choose(page, "f.mjoa.ue_sensation", "2 - Mild sensory loss")
    _choose(page, "f.mjoa.sphincter", "3 - Normal micturition")
    expect(page.get_by_test_id("stMetric")).to_contain_text("13/18")
    with rerun_after(page):
        _widget(page, "f.mri.available").get_by_text("A cervical MRI has been done and read").click()
    _choose(page, "f.mri.levels.C5-C6.kang", "2")
    _yes_no(page, "f.mri.unlisted_levels_normal", "Yes")
    recommendation = page.get_by_test_id("stAlertContentWarning").first
    expect(recommendation).to_contain_text("Surgical referral")
    expect(recommendation).to_contain_text("EXPEDITED")


def press_save(page: Page, case_id: str, clinician_id: str) -> None:
    """Name the case and the clinician, and press Save (the caller checks what it answers)."""
    case = _widget(page, "f.case_id").locator("input")
    with rerun_after(page):
        case.fill(case_id)
        case.press("Enter")
    clinician = page.get_by_role("textbox", name="Clinician id for the note (initials or staff number)")
    with rerun_after(page):
        clinician.fill(clinician_id)
        clinician.press("Enter")
    page.get_by_role("button", name="Save this assessment to the record").click()


def save_to_record(page: Page, case_id: str, clinician_id: str) -> None:
    """Name the case and the clinician, save, and wait for the confirmation."""
    press_save(page, case_id, clinician_id)
    expect(
        page.get_by_test_id("stAlertContentSuccess").filter(has_text=f"Saved for {case_id}")
    ).to_be_visible()
