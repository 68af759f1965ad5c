"""Widget change -> recommendation rendered, in Chromium, for the consult page and a bare form.

    python bench/page_latency.py [--rounds 30]

Starts `streamlit run bench/bench_app.py`, loads a mild DCM example, then flips the mJOA
lower-extremity item between 6 and 5 (mJOA 15 <-> 14, so the pathway changes) and times, in the
browser, from the selection until the result bar shows the new answer (its mJOA total is drawn
with the pathway once the engine has answered). The bare page draws
the same form widgets and echoes the value (no engine, no result panel). Also reports cold start:
process start until the health endpoint answers and until the consult page first paints.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]

# The pages are timed, not the sign-in: run them in the announced development mode.
os.environ.setdefault("MYELO_CDS_AUTH", "none")
sys.path.insert(0, str(ROOT))
from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402
from tests.e2e.live_app import live_app  # noqa: E402

LE_OPTIONS = {
    6: "6 - Mild instability; walks unaided with smooth reciprocation",
    5: "5 - Moderate-to-significant instability, but manages stairs without a handrail",
}


def _choose(page: Page, option: str) -> float:
    """One click on the item's button (the quick consult shows every level's wording)."""
    start = time.perf_counter()
    page.locator(".st-key-f-mjoa-le_motor").get_by_role("radio", name=option).click()
    return start


def _round_trip(page: Page, expected: tuple[str, str], option: str) -> float:
    """Select, then wait for the alert of the expected kind holding the expected text."""
    where, text = expected
    start = _choose(page, option)
    found = page.locator(where) if where.startswith(".") else page.get_by_test_id(where)
    found.filter(has_text=text).first.wait_for(state="visible", timeout=20_000)
    return (time.perf_counter() - start) * 1000


def _prepare(page: Page, url: str) -> None:
    page.goto(url)
    page.get_by_role("spinbutton", name="Age in whole years (0-120)").wait_for()
    page.wait_for_timeout(1000)
    field = page.get_by_role("spinbutton", name="Age in whole years (0-120)")
    field.fill("60")
    field.press("Enter")
    # The quick consult (the default view) holds every widget used here: no tabs.
    page.locator(".st-key-f-symptoms-hand_clumsiness").get_by_text("Yes", exact=True).click()
    page.locator(".st-key-f-exam-umn-hoffmann_tromner").get_by_text("Yes", exact=True).click()
    for key, option in (
        ("ue_motor", "4 - Can button a shirt, with slight difficulty"),
        ("ue_sensation", "2 - Mild sensory loss"),
        ("sphincter", "3 - Normal micturition"),
    ):
        page.locator(f".st-key-f-mjoa-{key}").get_by_role("radio", name=option).click()
        page.wait_for_timeout(300)
    page.locator(".st-key-f-mri-available").get_by_text("A cervical MRI has been done and read").click()
    page.wait_for_timeout(500)
    page.locator(".st-key-f-mri-levels-C5-C6-kang").get_by_role("radio", name="2", exact=True).click()
    page.wait_for_timeout(500)


def measure(page: Page, url: str, rounds: int, texts: dict[int, tuple[str, str]]) -> list[float]:
    _prepare(page, url)
    times = []
    for index in range(rounds + 3):
        score = 5 if index % 2 == 0 else 6
        elapsed = _round_trip(page, texts[score], LE_OPTIONS[score])
        if index >= 3:  # warm-up rounds dropped
            times.append(elapsed)
    return times


def summary(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return f"| {name} | {statistics.median(times):.0f} | {p95:.0f} | {len(times)} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    started = time.perf_counter()
    log = Path(tempfile.mkdtemp(prefix="page-latency-"))
    with live_app(log / "records.sqlite3", log / "server.log", script="bench/bench_app.py") as url:
        health_ms = (time.perf_counter() - started) * 1000
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1366, "height": 1400})
            first = time.perf_counter()
            page.goto(url)
            page.get_by_role("heading", name="Recommendation").wait_for()
            first_paint_ms = (time.perf_counter() - first) * 1000
            consult = measure(
                page,
                url,
                args.rounds,
                # The result bar, drawn once the engine has answered (pathway, urgency, mJOA).
                {5: (".st-key-result_bar", "mJOA 14/18"), 6: (".st-key-result_bar", "mJOA 15/18")},
            )
            bare_page = browser.new_page(viewport={"width": 1366, "height": 1400})
            bare = measure(
                bare_page,
                f"{url}/bare",
                args.rounds,
                {5: ("stAlertContentSuccess", "le_motor = 5"), 6: ("stAlertContentSuccess", "le_motor = 6")},
            )
            browser.close()
    print("| page | median ms | p95 ms | rounds |")
    print("|---|---|---|---|")
    print(summary("consult (engine + result panel)", consult))
    print(summary("bare form (same widgets, no engine)", bare))
    print(f"\nratio of medians consult/bare: {statistics.median(consult) / statistics.median(bare):.2f}")
    print(
        f"cold start: server healthy after {health_ms:.0f} ms; "
        f"consult page first paint {first_paint_ms:.0f} ms"
    )


if __name__ == "__main__":
    main()
