"""End to end in Chromium: a resident takes one full quiz (commit, reveal, score), then sees it on
their progress page."""

from __future__ import annotations

import contextlib

from playwright.sync_api import Page, expect

from tests.e2e.conftest import screenshot
from tests.e2e.script_runs import rerun_after


def _choose(page: Page, label: str, option: str, *, reruns: bool = False) -> None:
    """Open the select box and pick ``option``.

    The case box (outside the answer form) reruns the page: the step returns once that run has
    finished, so its redraw cannot close the next box's list under a click. Boxes inside the
    form only change on the page until the answer is committed.
    """
    box = page.get_by_role("combobox", name=label)
    box.click()
    with rerun_after(page) if reruns else contextlib.nullcontext():
        page.get_by_role("option", name=option).first.click()
    expect(box).to_have_value(option)


def _radio(page: Page, group: str, option: str) -> None:
    page.get_by_test_id("stRadio").filter(has_text=group).get_by_text(option, exact=True).click()


def test_a_resident_takes_a_full_quiz_and_sees_the_reveal_and_progress(page: Page, app_url: str) -> None:
    # Through the router (a fresh server given a deep link first lists the pages/ folder instead).
    page.goto(app_url)
    expect(page.get_by_test_id("stSidebarNav")).to_contain_text("Training")
    page.get_by_test_id("stSidebarNav").get_by_text("Training quiz", exact=True).click()
    expect(page.get_by_role("heading", name="Training quiz")).to_be_visible()
    _choose(
        page,
        "Case (the first one due for re-testing is preselected)",
        "T05 - Mild DCM at the 14/15 boundary (intermediate)",
        reruns=True,
    )
    expect(page.get_by_role("heading", name="Mild DCM at the 14/15 boundary")).to_be_visible()
    expect(page.get_by_text("Teaching points")).to_have_count(0)  # nothing revealed before the commit
    _choose(page, "mJOA upper-extremity motor (0-5)", "4 - Can button a shirt, with slight difficulty")
    _choose(
        page,
        "mJOA lower-extremity motor (0-7)",
        "6 - Mild instability; walks unaided with smooth reciprocation",
    )
    _choose(page, "mJOA upper-extremity sensation (0-3)", "2 - Mild sensory loss")
    _choose(page, "mJOA bladder function (0-3)", "3 - Normal micturition")
    _radio(page, "Severity grade", "Mild (mJOA 15-17)")
    _radio(page, "Pathway", "Surgery or supervised structured rehabilitation")
    page.get_by_test_id("stRadio").nth(2).get_by_text("-1 less appropriate", exact=True).click()
    page.get_by_role("button", name="Commit my answer").click()

    expect(page.get_by_test_id("stAlertContentSuccess").first).to_contain_text("Correct")
    expect(page.get_by_test_id("stMetric").first).to_contain_text("100%")
    expect(page.get_by_text("Teaching points")).to_be_visible()
    expect(page.get_by_text("R8 - Mild DCM (mJOA 15-17)")).to_be_visible()
    expect(page.get_by_role("button", name="Commit my answer")).to_have_count(0)
    screenshot(page, "training-quiz-reveal")

    page.get_by_test_id("stSidebarNav").get_by_text("Training progress", exact=True).click()
    expect(page.get_by_role("heading", name="Training progress")).to_be_visible()
    expect(page.get_by_test_id("stMetric").first).to_contain_text("1")
    expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(2)
    expect(page.get_by_test_id("stDataFrame")).to_have_count(1)  # the answers; nothing is due yet
    # The table draws on a canvas: wait for it, then for two painted frames.
    expect(page.get_by_test_id("stDataFrame").locator("canvas").first).to_be_visible()
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    screenshot(page, "training-progress")
