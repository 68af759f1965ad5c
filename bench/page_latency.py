"""Widget change -> recommendation rendered, in Chromium, for the consult page and a bare form.

    python bench/page_latency.py [--rounds 30]

Starts `streamlit run bench/bench_app.py`, loads a mild DCM example, then flips the mJOA
lower-extremity item between 6 and 5 (mJOA 15 <-> 14, so the pathway changes) and times, in the
browser, from the selection until the result bar shows the new answer (its mJOA total is drawn
with the pathway once the engine has answered). The bare page draws
the same form widgets and echoes the value (no engine, no result panel). Also reports cold start:
process start until the health endpoint answers and until the consult page first paints.

Two clocks per change: *Playwright* (from the call to ``click()``, which first waits for the
button to be visible and still, until ``wait_for`` sees the text; this includes Playwright's own
round trips) and *in page* (from the click event's time stamp until the first animation frame
after the text is in the page: what the clinician waits for).
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


# In the page: the click's time stamp, and the first animation frame once the text is there.
_WATCH = """
([where, text]) => {
  const round = (window.__latencyRound = {});
  document.addEventListener("click", (event) => { round.click = event.timeStamp; },
    {capture: true, once: true});
  const found = () => [...document.querySelectorAll(where)].some((e) => e.innerText.includes(text));
  const observer = new MutationObserver(() => {
    if (round.click === undefined || !found()) return;
    observer.disconnect();
    requestAnimationFrame(() => { round.frame = performance.now(); });
  });
  observer.observe(document.body, {childList: true, subtree: true, characterData: true});
}
"""


def _round_trip(page: Page, expected: tuple[str, str], option: str) -> tuple[float, float]:
    """Select, then wait for the alert of the expected kind holding the expected text;
    returns the milliseconds by Playwright's clock and in the page."""
    where, text = expected
    selector = where if where.startswith(".") else f'[data-testid="{where}"]'
    page.evaluate(_WATCH, [selector, text])
    start = _choose(page, option)
    found = page.locator(where) if where.startswith(".") else page.get_by_test_id(where)
    found.filter(has_text=text).first.wait_for(state="visible", timeout=20_000)
    elapsed = (time.perf_counter() - start) * 1000
    page.wait_for_function("() => window.__latencyRound.frame !== undefined", timeout=20_000)
    in_page = page.evaluate("() => window.__latencyRound.frame - window.__latencyRound.click")
    return elapsed, float(in_page)


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


def measure(
    page: Page, url: str, rounds: int, texts: dict[int, tuple[str, str]]
) -> tuple[list[float], list[float]]:
    """Milliseconds per change by Playwright's clock and in the page."""
    _prepare(page, url)
    times, in_page = [], []
    for index in range(rounds + 3):
        score = 5 if index % 2 == 0 else 6
        elapsed, seen = _round_trip(page, texts[score], LE_OPTIONS[score])
        if index >= 3:  # warm-up rounds dropped
            times.append(elapsed)
            in_page.append(seen)
    return times, in_page


def _p95(times: list[float]) -> float:
    return sorted(times)[int(0.95 * (len(times) - 1))]


def summary(name: str, times: tuple[list[float], list[float]]) -> str:
    playwright, in_page = times
    return (
        f"| {name} | {statistics.median(playwright):.0f} | {_p95(playwright):.0f} "
        f"| {statistics.median(in_page):.0f} | {_p95(in_page):.0f} | {len(playwright)} |"
    )


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
    print("| page | median ms | p95 ms | in page: median ms | in page: p95 ms | rounds |")
    print("|---|---|---|---|---|---|")
    print(summary("consult (engine + result panel)", consult))
    print(summary("bare form (same widgets, no engine)", bare))
    ratio = statistics.median(consult[0]) / statistics.median(bare[0])
    ratio_in_page = statistics.median(consult[1]) / statistics.median(bare[1])
    print(f"\nratio of medians consult/bare: {ratio:.2f} (in page {ratio_in_page:.2f})")
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")
    print(
        f"cold start: server healthy after {health_ms:.0f} ms; "
        f"consult page first paint {first_paint_ms:.0f} ms"
    )


if __name__ == "__main__":
    main()
