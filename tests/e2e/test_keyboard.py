"""In Chromium: the consult's keyboard entry (issue 16). Alt+<letter> moves the focus to a
section's first control and changes nothing; a digit chooses the numbered button of the row
that has the focus and nothing else; a jump to a section that is not on screen does nothing.
"""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from bench.consult_interactions import KEYS_READY
from myelo_cds.ui.consult_form import FULL, JUMPS, VIEW_KEY, jump_targets
from myelo_cds.ui.style import JUMP_MODIFIER, key_class
from tests.e2e.consult_steps import _widget
from tests.e2e.script_runs import rerun_after, wait_until_idle


def _ready(page: Page, app_url: str) -> None:
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Consult")).to_be_visible()
    wait_until_idle(page)
    page.wait_for_function(KEYS_READY)


def _focused_inside(target: Locator) -> bool:
    return bool(target.evaluate("(el) => el.contains(document.activeElement)"))


def test_each_section_jump_focuses_its_first_control_and_changes_nothing(page: Page, app_url: str) -> None:
    _ready(page, app_url)
    bar = page.locator(".st-key-result_bar")
    before = bar.inner_text()
    for section, letter in JUMPS.items():
        # The key is shown beside the section's heading and in the legend above the form.
        expect(page.locator("kbd.myelo-jump", has_text=f"{JUMP_MODIFIER} + {letter}")).to_have_count(2)
        target = page.locator("." + key_class(jump_targets()[letter]))
        page.keyboard.press(f"{JUMP_MODIFIER}+{letter}")
        page.wait_for_function("(el) => el.contains(document.activeElement)", arg=target.element_handle())
        assert _focused_inside(target), section
        box = page.evaluate("() => document.activeElement.getBoundingClientRect().toJSON()")
        assert box["y"] >= 0, (section, box)  # on screen
        assert box["y"] + box["height"] <= 1400, (section, box)
    # A jump only moves the focus: no answer is chosen, the result is what it was.
    expect(page.locator('[class*="st-key-f-"] [role="radio"][aria-checked="true"]')).to_have_count(0)
    expect(_widget(page, "f.mri.available").get_by_role("switch")).not_to_be_checked()
    assert bar.inner_text() == before


def test_a_digit_chooses_the_numbered_button_of_the_focused_row_only(page: Page, app_url: str) -> None:
    _ready(page, app_url)
    ue_motor = _widget(page, "f.mjoa.ue_motor")
    page.keyboard.press(f"{JUMP_MODIFIER}+{JUMPS['mJOA']}")
    with rerun_after(page):
        page.keyboard.press("3")
    chosen = ue_motor.get_by_role("radio", name="3 - ")
    expect(chosen).to_have_attribute("aria-checked", "true")
    expect(chosen).to_be_focused()
    # The same digit again keeps the choice (pressing a chosen button would clear it); a digit
    # with no button on the row chooses nothing.
    page.keyboard.press("3")
    page.keyboard.press("9")
    expect(ue_motor.locator('[aria-checked="true"]')).to_have_count(1)
    expect(chosen).to_have_attribute("aria-checked", "true")
    # A row of Yes/No answers takes no digit: a stray number never answers a question.
    page.keyboard.press(f"{JUMP_MODIFIER}+{JUMPS['red flags']}")
    page.keyboard.press("1")
    page.keyboard.press("0")
    first_question = _widget(page, jump_targets()[JUMPS["red flags"]])
    expect(first_question.locator('[aria-checked="true"]')).to_have_count(0)
    # In a number field digits are typed as always.
    page.keyboard.press(f"{JUMP_MODIFIER}+{JUMPS['history']}")
    page.keyboard.type("64")
    with rerun_after(page):
        page.keyboard.press("Tab")
    expect(_widget(page, "f.patient.age_years").get_by_role("spinbutton")).to_have_value("64")


def test_a_jump_to_a_section_not_on_screen_does_nothing(page: Page, app_url: str) -> None:
    """The full examination shows one tab: Alt+M with the mJOA tab closed leaves the focus."""
    _ready(page, app_url)
    with rerun_after(page):
        _widget(page, VIEW_KEY).get_by_role("radio", name=FULL).click()
    view = _widget(page, VIEW_KEY).get_by_role("radio", name=FULL)
    view.focus()
    page.keyboard.press(f"{JUMP_MODIFIER}+{JUMPS['mJOA']}")
    expect(view).to_be_focused()
    # The red-flag block is on the first tab (open): its jump works in this view too.
    page.keyboard.press(f"{JUMP_MODIFIER}+{JUMPS['red flags']}")
    target = page.locator("." + key_class(jump_targets()[JUMPS["red flags"]]))
    page.wait_for_function("(el) => el.contains(document.activeElement)", arg=target.element_handle())
