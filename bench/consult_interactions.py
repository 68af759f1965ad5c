"""Clicks and key presses to document a DCM consult, counted in Chromium (issue 16).

    python bench/consult_interactions.py [--case-id P7] [--shots DIR]

Starts the app (its own SQLite record file), opens the consult at 1366x768 and enters the
issue's standard moderate case (58 y, 8 months of clumsy hands and imbalance, Hoffmann +,
brisk reflexes, mJOA 13 = 3/5/2/3, Kang 2 at C5-C6 and C6-C7, no T2 signal) from an empty form
until the result bar shows the recommendation the engine gives for those findings:

* ``mouse``: clicks, and the digits typed into the two number fields;
* ``mouse + negative red-flag screen``: the same and a documented negative screen;
* ``keyboard only``: the documented keys (Alt+<letter> jumps to a section, Tab to the next
  control, Space or the option's number to choose, digits for a number), every key counted;
* ``follow-up``: the case saved, then a new visit of the same patient (case id typed, the
  last visit loaded, two findings changed, the red-flag screen asked again).

Each step waits for the run it started (``rerun_after``); a count is the number of
``click``, ``type`` (one per character) and ``press`` calls made on the page. Screenshots of
the quick consult at 1366x768 and 820x1180 go to ``--shots``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MYELO_CDS_AUTH", "none")
os.environ.setdefault("MYELO_CDS_DEV_ROLE", "clinician")  # saves to the record (follow-up)
sys.path.insert(0, str(ROOT))
from myelo_cds import Findings, assess  # noqa: E402
from myelo_cds.records import Store, database_url  # noqa: E402
from myelo_cds.rules.red_flag_questions import red_flag_questions  # noqa: E402
from myelo_cds.ui.consult_form import JUMPS, jump_targets  # noqa: E402
from myelo_cds.ui.style import JUMP_MODIFIER  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402
from tests.e2e.live_app import live_app  # noqa: E402
from tests.e2e.script_runs import rerun_after, watch_runs  # noqa: E402

MJOA = {
    "ue_motor": "3 - Can button a shirt, with great difficulty",
    "le_motor": "5 - Moderate-to-significant instability",
    "ue_sensation": "2 - Mild sensory loss",
    "sphincter": "3 - Normal micturition",
}
LEVELS = ("C5-C6", "C6-C7")
TODAY = {"issue 16 (before)": {"mouse": 46, "keyboard": 208, "follow_up": 55}}


def standard_case(negative_screen: bool) -> dict[str, Any]:
    """The findings the steps below enter, for the engine's expected answer."""
    data: dict[str, Any] = {
        "patient": {"age_years": 58, "symptom_duration_months": 8},
        "symptoms": {"hand_clumsiness": True, "gait_imbalance": True},
        "exam": {
            "umn": {"hoffmann_tromner": True},
            "reflexes": {
                n: {"left": 3, "right": 3}
                for n in ("biceps", "triceps", "brachioradialis", "patellar", "achilles")
            },
        },
        "mjoa": {"ue_motor": 3, "le_motor": 5, "ue_sensation": 2, "sphincter": 3},
        "mri": {
            "available": True,
            "unlisted_levels_normal": True,
            "levels": {level: {"kang": 2, "t2_signal": "none"} for level in LEVELS},
        },
    }
    if negative_screen:
        for question in red_flag_questions():
            *parents, leaf = question.path.split(".")
            node: Any = data
            for name in parents:
                node = node.setdefault(name, {})
            node[leaf] = question.negative
    return data


@dataclass
class Counter:
    """Counts what a person does: each click, each character typed, each key pressed."""

    page: Page
    clicks: int = 0
    keys: int = 0
    tabs: int = 0
    jumps: int = 0
    log: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.clicks + self.keys

    def click(self, target: Locator, what: str) -> None:
        with rerun_after(self.page):
            target.click()
        self.clicks += 1
        self.log.append(f"click {what}")

    def type_number(self, target: Locator, text: str, what: str) -> None:
        """Click a number field and type (the next click commits it, as a blur does)."""
        target.click()
        self.clicks += 1
        self.page.keyboard.type(text)
        self.keys += len(text)
        self.log.append(f"type {what} {text!r}")

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)
        self.keys += 1
        if key == "Tab":
            self.tabs += 1


def _key(key: str) -> str:
    return ".st-key-" + "".join(c if c.isalnum() or c in "_-" else "-" for c in key)


def _w(page: Page, key: str) -> Locator:
    return page.locator(_key(key))


def _radio(page: Page, key: str, name: str) -> Locator:
    return _w(page, key).get_by_role("radio", name=name).first


def _open(browser: Browser, url: str, width: int = 1366, height: int = 768) -> Page:
    page = watch_runs(browser.new_page(viewport={"width": width, "height": height}))
    page.goto(url)
    expect(page.get_by_role("heading", name="Consult")).to_be_visible()
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")
    return page


def _expect_answer(page: Page, negative_screen: bool) -> str:
    rec = assess(Findings.model_validate(standard_case(negative_screen)))
    bar = page.locator(".st-key-result_bar")
    expect(bar).to_contain_text("Surgical referral" if rec.pathway == "surgical_referral" else rec.pathway)
    expect(bar).to_contain_text(rec.urgency.upper())
    expect(bar).to_contain_text("mJOA 13/18")
    return f"{rec.pathway} ({rec.urgency}{', provisional' if rec.provisional else ''})"


def mouse(
    browser: Browser,
    url: str,
    negative_screen: bool,
    size: tuple[int, int] = (1366, 768),
    shot: Path | None = None,
) -> tuple[Counter, str]:
    """The standard case with the mouse; ``shot``: a screenshot at the MRI grid at the end."""
    page = _open(browser, url, *size)
    c = Counter(page)
    c.type_number(_w(page, "f.patient.age_years").get_by_role("spinbutton"), "58", "age")
    c.type_number(_w(page, "f.patient.symptom_duration_months").get_by_role("spinbutton"), "8", "duration")
    c.click(_radio(page, "f.symptoms.hand_clumsiness", "Yes"), "clumsy hands")
    c.click(_radio(page, "f.symptoms.gait_imbalance", "Yes"), "imbalance")
    c.click(_radio(page, "f.exam.umn.hoffmann_tromner", "Yes"), "Hoffmann")
    c.click(page.get_by_role("button", name="Brisk throughout"), "brisk throughout")
    for item, option in MJOA.items():
        c.click(_radio(page, f"f.mjoa.{item}", option), f"mJOA {item}")
    c.click(_w(page, "f.mri.available").get_by_text("A cervical MRI has been done and read"), "MRI read")
    for level in LEVELS:
        c.click(_radio(page, f"f.mri.levels.{level}.kang", "2"), f"Kang {level}")
        c.click(_radio(page, f"f.mri.levels.{level}.t2_signal", "none"), f"T2 {level}")
    c.click(_radio(page, "f.mri.unlisted_levels_normal", "Yes"), "other levels normal")
    if negative_screen:
        c.click(page.get_by_role("button", name="All negative"), "red flags all negative")
    answer = _expect_answer(page, negative_screen)
    if shot is not None:
        _w(page, "f.mri.levels.C7-T1.kang").scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        page.screenshot(path=str(shot))
    page.close()
    return c, answer


#: The page's keys are set up and every widget is drawn (Streamlit first shows a placeholder
#: for a widget whose code is still loading, and a focus put there is lost when it is drawn).
KEYS_READY = (
    "() => window.myeloKeyboardEntry === true && !document.querySelector('[data-testid=\"stSkeleton\"]')"
)


def _focused_inside(target: Locator) -> bool:
    return bool(target.evaluate("(el) => el.contains(document.activeElement)"))


def _wait_focus(page: Page, target: Locator) -> None:
    """Wait until the focus is on ``target`` or inside it (a jump or Tab has landed)."""
    page.wait_for_function("(el) => el.contains(document.activeElement)", arg=target.element_handle())


def _tab_to(c: Counter, target: Locator, limit: int = 120) -> None:
    for _ in range(limit):
        if _focused_inside(target):
            return
        c.press("Tab")
    raise RuntimeError(f"not reached by Tab within {limit} presses: {target}")


def _jump(c: Counter, letter: str, target: Locator) -> None:
    """Alt+letter, the section's jump key (one press: a chord counts once), lands on ``target``."""
    c.press(f"{JUMP_MODIFIER}+{letter}")
    c.jumps += 1
    _wait_focus(c.page, target)


def _choose(c: Counter, option: Locator, key: str = "Space") -> None:
    """In the focused row of buttons: arrows to ``option`` (if the focus is elsewhere), then
    ``key`` (Space, or the option's number) chooses it; waits for the run it starts."""
    if key == "Space":
        for _ in range(12):
            if _focused_inside(option):
                break
            c.press("ArrowRight")
    with rerun_after(c.page):
        c.press(key)
    expect(option).to_have_attribute("aria-checked", "true")


def _type(c: Counter, text: str) -> None:
    c.page.keyboard.type(text)
    c.keys += len(text)


def keyboard(browser: Browser, url: str) -> tuple[Counter, str]:
    """What a keyboard user does with the consult's documented keys (the legend above the
    form): Alt+<letter> jumps to a section's first control, Tab moves to the next control (a
    row of buttons is one stop), Space chooses the focused button, a digit chooses a numbered
    button (a grade, a Kang grade, an mJOA level), digits fill a number. Every key press is
    counted; a chord (Alt+M) counts once."""
    page = _open(browser, url)
    page.wait_for_function(KEYS_READY)
    jumps = jump_targets()
    section = {name: _w(page, jumps[letter]) for name, letter in JUMPS.items()}
    c = Counter(page)
    _jump(c, JUMPS["history"], section["history"])
    _type(c, "58")
    with rerun_after(page):
        c.press("Tab")  # leaving the field enters it
    _wait_focus(page, _w(page, "f.patient.symptom_duration_months"))
    _type(c, "8")
    with rerun_after(page):
        _jump(c, JUMPS["symptoms"], section["symptoms"])
    _choose(c, _radio(page, "f.symptoms.hand_clumsiness", "Yes"))
    _tab_to(c, _w(page, "f.symptoms.gait_imbalance"))
    _choose(c, _radio(page, "f.symptoms.gait_imbalance", "Yes"))
    _jump(c, JUMPS["UMN signs"], section["UMN signs"])
    _choose(c, _radio(page, "f.exam.umn.hoffmann_tromner", "Yes"))
    _jump(c, JUMPS["reflexes"], section["reflexes"])
    with rerun_after(page):
        c.press("Enter")  # Brisk throughout
    expect(_radio(page, "f.exam.reflexes.achilles.right", "3")).to_have_attribute("aria-checked", "true")
    _jump(c, JUMPS["mJOA"], section["mJOA"])
    for n, (item, option) in enumerate(MJOA.items()):
        if n:
            _tab_to(c, _w(page, f"f.mjoa.{item}"))
        _choose(c, _radio(page, f"f.mjoa.{item}", option), option[0])
    _jump(c, JUMPS["MRI"], section["MRI"])
    with rerun_after(page):
        c.press("Space")  # the switch: a cervical MRI has been done and read
    _tab_to(c, _w(page, "f.mri.unlisted_levels_normal"))
    _choose(c, _radio(page, "f.mri.unlisted_levels_normal", "Yes"))
    for level in LEVELS:
        _tab_to(c, _w(page, f"f.mri.levels.{level}.kang"))
        _choose(c, _radio(page, f"f.mri.levels.{level}.kang", "2"), "2")
        _tab_to(c, _w(page, f"f.mri.levels.{level}.t2_signal"))
        _choose(c, _radio(page, f"f.mri.levels.{level}.t2_signal", "none"))
    answer = _expect_answer(page, negative_screen=False)
    page.close()
    return c, answer


def follow_up(browser: Browser, url: str, case_id: str) -> tuple[Counter, str]:
    """Save the standard case for ``case_id`` (not counted), then count a new visit of the
    same patient with two changes."""
    store = Store(database_url())
    findings = Findings.model_validate(
        {**standard_case(negative_screen=True), "assessment_date": "2026-06-01"}
    )
    store.save_assessment(findings, assess(findings), patient_id=case_id, author="bench")
    store.close()
    page = _open(browser, url)
    c = Counter(page)
    case = _w(page, "f.case_id").locator("input")
    case.click()
    c.clicks += 1
    page.keyboard.type(case_id)
    c.keys += len(case_id)
    with rerun_after(page):
        c.press("Enter")
    c.click(page.get_by_role("button", name="Load the last visit"), "load the last visit")
    # Two findings changed since the last visit: walking worse (mJOA legs 5 -> 4), falls now yes.
    c.click(_radio(page, "f.mjoa.le_motor", "4 - "), "mJOA le_motor 4")
    c.click(_radio(page, "f.symptoms.falls", "Yes"), "falls")
    c.click(page.get_by_role("button", name="All negative"), "red flags asked again: all negative")
    bar = page.locator(".st-key-result_bar")
    expect(bar).to_contain_text("mJOA 12/18")
    text = bar.inner_text()
    page.close()
    return c, text.replace("\n", " ")


def screenshots(browser: Browser, url: str, folder: Path) -> list[Path]:
    """The quick consult at both sizes, the standard case entered, scrolled to the MRI grid."""
    out = []
    for width, height in ((1366, 768), (820, 1180)):
        path = folder / f"consult-quick-{width}x{height}.png"
        mouse(browser, url, negative_screen=True, size=(width, height), shot=path)
        out.append(path)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case-id", default="P7", help="the follow-up patient's id (its keys are counted)")
    parser.add_argument("--shots", type=Path, default=ROOT / "test-artifacts")
    args = parser.parse_args()
    args.shots.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="consult-interactions-"))
    os.environ["MYELO_CDS_DB_PATH"] = str(folder / "records.sqlite3")
    with live_app(folder / "records.sqlite3", folder / "server.log") as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        plain, answer = mouse(browser, url, negative_screen=False)
        screened, screened_answer = mouse(browser, url, negative_screen=True)
        keys, key_answer = keyboard(browser, url)
        visit, visit_bar = follow_up(browser, url, args.case_id)
        shots = screenshots(browser, url, args.shots)
        browser.close()
    before = TODAY["issue 16 (before)"]
    print("| task (1366x768) | clicks | keys | total | before (issue 16) | target |")
    print("|---|---|---|---|---|---|")
    rows = (
        ("standard moderate case, mouse", plain, before["mouse"], "<= 20"),
        ("the same with a documented negative red-flag screen", screened, "-", "<= 25"),
        (
            f"keyboard only (Tab {keys.tabs}, section jumps {keys.jumps} of the keys)",
            keys,
            before["keyboard"],
            "<= 60",
        ),
        (f"follow-up, two findings changed (id '{args.case_id}' typed)", visit, before["follow_up"], "<= 10"),
    )
    for name, count, old, target in rows:
        print(f"| {name} | {count.clicks} | {count.keys} | {count.total} | {old} | {target} |")
    print(f"\nanswers: mouse {answer}; screened {screened_answer}; keyboard {key_answer}")
    print(f"follow-up bar: {visit_bar}")
    print("screenshots: " + ", ".join(str(path) for path in shots))


if __name__ == "__main__":
    main()
