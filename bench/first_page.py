"""The first page on a freshly started server: is it as fast as the next one?

    python bench/first_page.py [--rounds 5] [--out bench/results-first-page.md]

Each round starts fresh servers on their own SQLite file, in two ways: ``streamlit run
app.py`` (the pages alone: nothing is imported before the first session, as a server without a
warm-up) and ``streamlit run asgi.py``, the deployment entry point, which warms the engine, the
rule set and every module the pages import when it starts and turns ``/readyz`` ready after
that (the clinicians are let in only then). On each server:

- in Chromium, a new tab on the consult until the recommendation panel's heading is on screen
  (first paint of the page with its panel), for the first tab of the server and then for a
  second tab (browser cache emptied: a new context);
- on another fresh server, over the websocket (``tests/streamlit_ws.py``), the first script run
  of the first session and of a second session: the server's own share, without the browser.

Also reported: process start until ``/_stcore/health`` answers and, for ``asgi.py``, until
``/readyz`` answers ready. The load average is given beside each row, since the machine may be
shared. Writes ``bench/results-first-page.md`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The page is timed, not the sign-in: the announced development mode.
os.environ.setdefault("MYELO_CDS_AUTH", "none")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, sync_playwright  # noqa: E402

from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402
from tests.e2e.live_app import free_port, wait_until_serving  # noqa: E402
from tests.streamlit_ws import StreamlitSession  # noqa: E402

RESULTS = ROOT / "bench" / "results-first-page.md"
VARIANTS = {"app.py (no warm-up)": "app.py", "asgi.py (warm-up, then ready)": "asgi.py"}


def _answers(url: str) -> bool | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return True if answer.status == 200 else None
    except OSError:
        return None


@contextlib.contextmanager
def _fresh_server(script: str, folder: Path) -> Iterator[tuple[str, float, float]]:
    """A new server process; yields (url, seconds to healthy, seconds to ready or healthy)."""
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
        "--server.address", "127.0.0.1", "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    env = {**os.environ, "MYELO_CDS_DB_PATH": str(folder / f"records-{port}.sqlite3")}
    env.pop("MYELO_CDS_DATABASE_URL", None)
    log = folder / f"server-{port}.log"
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(lambda: _answers(f"{url}/_stcore/health"), process, log, timeout=60)
        healthy = time.perf_counter() - started
        ready = healthy
        if script == "asgi.py":
            wait_until_serving(lambda: _answers(f"{url}/readyz"), process, log, timeout=60)
            ready = time.perf_counter() - started
        yield url, healthy, ready
    finally:
        process.terminate()
        process.wait(timeout=20)


def _tab(browser: Browser, url: str) -> float:
    """A new tab (empty cache) on the consult until the recommendation panel's heading shows."""
    context = browser.new_context(viewport={"width": 1366, "height": 1400})
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        started = time.perf_counter()
        page.goto(url + "/")
        page.get_by_role("heading", name="Recommendation").wait_for()
        return time.perf_counter() - started
    finally:
        context.close()


async def _two_sessions(url: str) -> tuple[float, float]:
    """The first script run of the server's first session, then of a second session."""
    times = []
    for _ in range(2):
        async with StreamlitSession(url) as session:
            result = await session.open()
            if result.exceptions:
                raise RuntimeError(f"the consult failed: {result.exceptions}")
            times.append(result.seconds)
    return times[0], times[1]


def _ms(values: Sequence[float]) -> str:
    return f"{1000 * statistics.median(values):,.0f} ({1000 * min(values):,.0f}-{1000 * max(values):,.0f})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rows: dict[str, dict[str, list[float]]] = {name: {} for name in VARIANTS}
    loads: dict[str, list[float]] = {name: [] for name in VARIANTS}
    folder = Path(tempfile.mkdtemp(prefix="first-page-"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        for _ in range(args.rounds):
            for name, script in VARIANTS.items():  # alternating, so both see the same load
                loads[name].append(os.getloadavg()[0])
                times = rows[name]
                with _fresh_server(script, folder) as (url, healthy, ready):
                    times.setdefault("healthy", []).append(healthy)
                    times.setdefault("ready", []).append(ready)
                    times.setdefault("tab1", []).append(_tab(browser, url))
                    times.setdefault("tab2", []).append(_tab(browser, url))
                with _fresh_server(script, folder) as (url, _healthy, _ready):
                    # Playwright's sync API runs its own event loop in this thread: the
                    # websocket sessions get a loop of their own in another thread.
                    with concurrent.futures.ThreadPoolExecutor(1) as pool:
                        first, second = pool.submit(asyncio.run, _two_sessions(url)).result()
                    times.setdefault("run1", []).append(first)
                    times.setdefault("run2", []).append(second)
        browser.close()
    lines = [
        f"`python bench/first_page.py --rounds {args.rounds}` on {os.cpu_count()} CPUs"
        f" ({platform.processor() or platform.machine()}, Python {platform.python_version()}),"
        f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Milliseconds, median (range) of"
        f" {args.rounds} fresh servers each; the machine may be shared: the load average (1 min) at"
        " the start of each round is in the last column.",
        "",
        "| server | start to healthy | start to ready | first tab: first paint | second tab | first"
        " session: first run | second session | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, times in rows.items():
        cells = [_ms(times[key]) for key in ("healthy", "ready", "tab1", "tab2", "run1", "run2")]
        if VARIANTS[name] != "asgi.py":
            cells[1] = "-"  # no readiness route
        load = " / ".join(f"{value:.1f}" for value in loads[name])
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {load} |")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
