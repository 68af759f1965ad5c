"""Benchmark: the worklist and timeline pages with a clinic's worth of stored records (not a test).

``python bench/record_pages_bench.py [--patients 10000] [--assessments 100000] [--rounds 10] [--db PATH]
[--no-browser]``

Fills a new SQLite file (in a temporary directory; or ``--db PATH``, reused when it already holds
patients, filled when it is new) with ``bench/records_bench.py``'s data set, points
``MYELO_CDS_DB_PATH`` at it and times:

- under ``streamlit.testing.v1.AppTest`` (the server-side script run, which is what the cores
  spend; AppTest's own overhead is shown by an empty page): the worklist page's first run, then
  reruns with the default filters and with every status shown; the timeline page's first run
  (the patient list) and the rerun that draws one patient's charts and table;
- the pieces of those pages called directly (store query, row building, Arrow serialisation of
  the table, course and charts), to show which part dominates;
- in Chromium (unless ``--no-browser``): ``streamlit run app.py`` on the same file, from
  navigation to ``/worklist`` until its title and until its dataframe are visible, each load a new
  Streamlit session: in a new browser profile (empty HTTP cache) and in new tabs of one profile
  (the frontend's JavaScript cached, as in a clinician's browser); and within one session, from a
  click on the sidebar link (coming from the About page) until the dataframe is visible.

Prints a markdown table with the numbers and the command that produced them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The pages are timed, not the sign-in: run them in the announced development mode.
os.environ.setdefault("MYELO_CDS_AUTH", "none")
# `python bench/record_pages_bench.py` puts bench/, not the repository, on the path
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import URL  # noqa: E402
from streamlit import dataframe_util  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from bench.records_bench import fill  # noqa: E402
from myelo_cds.course import course_alerts, timeline  # noqa: E402
from myelo_cds.records import Store  # noqa: E402
from myelo_cds.ui.charts import mjoa_timeline, subdomain_timeline  # noqa: E402
from myelo_cds.ui.records import worklist_table  # noqa: E402

ALL_STATUSES = ["overdue", "due", "scheduled"]
TIMEOUT = 300
BROWSER_TIMEOUT_MS = 60_000


class Row:
    """One line of the result table: a label and its timings in seconds."""

    def __init__(self, label: str, values: list[float], note: str = "") -> None:
        self.label, self.values, self.note = label, values, note

    def cells(self) -> str:
        ordered = sorted(self.values)
        median = statistics.median(ordered) * 1000
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000 if len(ordered) > 1 else None
        p95_cell = f"{p95:,.0f} ms" if p95 is not None else ""
        return f"| {self.label} | {median:,.0f} ms | {p95_cell} | {len(ordered)} | {self.note} |"


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _repeat(call: Callable[[], object], rounds: int) -> list[float]:
    return [_timed(call) for _ in range(rounds)]


def _check(at: AppTest) -> AppTest:
    if at.exception:
        raise RuntimeError(f"the page raised: {at.exception[0].message}")
    return at


# --- AppTest: the server-side script run ---------------------------------------------------------


def app_test_rows(rounds: int, patient_id: str) -> tuple[list[Row], dict[str, int]]:
    rows: list[Row] = []
    counts: dict[str, int] = {}

    empty = AppTest.from_string("import streamlit as st\nst.write('hello')\n", default_timeout=TIMEOUT)
    empty.run()
    rows.append(Row("AppTest overhead: a one-line page, rerun", _repeat(lambda: _check(empty.run()), rounds)))

    worklist = AppTest.from_file(str(ROOT / "pages" / "worklist.py"), default_timeout=TIMEOUT)
    first = _timed(lambda: _check(worklist.run()))
    counts["worklist default"] = len(worklist.dataframe[0].value)
    rows.append(Row("worklist: first run (new session; store pool opened)", [first]))
    rows.append(
        Row(
            "worklist: rerun, default filters (overdue + due within 14 days)",
            _repeat(lambda: _check(worklist.run()), rounds),
            f"{counts['worklist default']:,} rows",
        )
    )
    switch = _timed(lambda: _check(worklist.multiselect[0].set_value(ALL_STATUSES).run()))
    counts["worklist all"] = len(worklist.dataframe[0].value)
    reruns = _repeat(lambda: _check(worklist.run()), rounds)
    rows.append(
        Row(
            "worklist: rerun, all statuses shown",
            [switch, *reruns],
            f"{counts['worklist all']:,} rows; first value is the filter change",
        )
    )

    page = AppTest.from_file(str(ROOT / "pages" / "timeline.py"), default_timeout=TIMEOUT)
    first = _timed(lambda: _check(page.run()))
    counts["timeline options"] = len(page.selectbox[0].options)
    rows.append(
        Row(
            "timeline: first run (patient list, nothing selected)",
            [first],
            f"{counts['timeline options']:,} patients in the select box",
        )
    )
    select = _timed(lambda: _check(page.selectbox[0].select(patient_id).run()))
    counts["timeline visits"] = len(page.dataframe[0].value)
    counts["timeline charts"] = len(page.get("vega_lite_chart"))
    reruns = _repeat(lambda: _check(page.run()), rounds)
    rows.append(
        Row(
            f"timeline: patient {patient_id} selected, rerun (charts + table)",
            [select, *reruns],
            f"{counts['timeline visits']} visits, {counts['timeline charts']} charts; "
            "first value is the selection; each run logs a 'view' event",
        )
    )
    return rows, counts


# --- the same work called directly ---------------------------------------------------------------


def piece_rows(store: Store, rounds: int, patient_id: str) -> tuple[list[Row], int]:
    today = dt.date.today()
    worklist = store.worklist(today)

    def table(statuses: list[str]) -> list[dict[str, object]]:
        return worklist_table([row for row in worklist if row.status in statuses])

    full = table(ALL_STATUSES)
    payload = 0

    def arrow() -> None:
        nonlocal payload
        frame = dataframe_util.convert_anything_to_pandas_df(full, ensure_copy=False)
        payload = len(dataframe_util.convert_pandas_df_to_arrow_bytes(frame))

    records = store.assessments(patient_id)

    def charts() -> None:
        course_alerts([record.findings for record in records])
        course = timeline([(r.findings, r.recommendation.pathway, r.recommendation.urgency) for r in records])
        mjoa_timeline(list(course.visits), list(course.annotations), course.mcid_band).to_dict()
        if course.subdomains:
            subdomain_timeline(list(course.subdomains)).to_dict()

    rows = [
        Row("piece: `store.worklist(today)`", _repeat(lambda: store.worklist(today), rounds)),
        Row("piece: worklist row dicts, all statuses", _repeat(lambda: table(ALL_STATUSES), rounds)),
        Row(
            "piece: `st.dataframe` pandas + Arrow conversion, all statuses",
            _repeat(arrow, rounds),
            f"{len(full):,} rows",
        ),
        Row("piece: `store.patients()`", _repeat(store.patients, rounds)),
        Row(
            f"piece: `store.assessments({patient_id})`",
            _repeat(lambda: store.assessments(patient_id), rounds),
        ),
        Row("piece: course alerts + timeline + 2 Altair charts to spec", _repeat(charts, rounds)),
    ]
    return rows, payload


# --- the browser ----------------------------------------------------------------------------------


def browser_rows(db_path: Path, loads: int, log: Path) -> list[Row]:
    from playwright.sync_api import Browser, BrowserContext, sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS
    from tests.e2e.live_app import live_app

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"Chromium not found at {CHROMIUM} (use --no-browser)")

    def load(context: BrowserContext, url: str) -> tuple[float, float]:
        """Seconds from navigation until the title, and until the dataframe, are visible."""
        page = context.new_page()
        page.set_default_timeout(BROWSER_TIMEOUT_MS)
        started = time.perf_counter()
        page.goto(f"{url}/worklist")
        page.get_by_role("heading", name="Clinic worklist").wait_for(state="visible")
        title = time.perf_counter() - started
        page.locator('[data-testid="stDataFrame"]').first.wait_for(state="visible")
        table = time.perf_counter() - started
        if "myelo-cds" not in page.title():  # app.py's set_page_config: the router ran
            raise RuntimeError(f"/worklist did not go through app.py (page title {page.title()!r})")
        page.close()
        return title, table

    def start(context: BrowserContext, url: str) -> float:
        """The server's first session, at ``/`` (the consult page), until its first heading is visible.

        Until some session has run app.py's ``st.navigation``, Streamlit serves a deep link such as
        ``/worklist`` from the ``pages/`` directory (multipage v1: page title "worklist", sidebar
        "app, about, ..."), without app.py; opening ``/`` first makes every load below use the router.
        """
        page = context.new_page()
        page.set_default_timeout(BROWSER_TIMEOUT_MS)
        started = time.perf_counter()
        page.goto(url)
        page.get_by_role("heading").first.wait_for(state="visible")
        elapsed = time.perf_counter() - started
        page.close()
        return elapsed

    def navigate(context: BrowserContext, url: str, times: int) -> list[float]:
        """Seconds from a sidebar click (from the About page) until the worklist's dataframe is visible."""
        page = context.new_page()
        page.set_default_timeout(BROWSER_TIMEOUT_MS)
        page.goto(f"{url}/about")
        out = []
        for _ in range(times):
            page.get_by_role("heading", name="About and patient information").wait_for(state="visible")
            table = page.locator('[data-testid="stDataFrame"]')
            table.first.wait_for(state="detached")
            started = time.perf_counter()
            page.get_by_role("link", name="Clinic worklist").click()
            table.first.wait_for(state="visible")
            out.append(time.perf_counter() - started)
            page.get_by_role("link", name="About & patient information").click()
        page.close()
        return out

    def profile(browser: Browser) -> BrowserContext:
        return browser.new_context(viewport={"width": 1366, "height": 1400})

    with live_app(db_path, log) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            warm = profile(browser)
            first = start(warm, url)  # also fills the profile's HTTP cache
            cold = []
            for _ in range(loads):
                context = profile(browser)
                cold.append(load(context, url))
                context.close()
            cached = [load(warm, url) for _ in range(loads)]
            clicks = navigate(warm, url, loads)
        finally:
            browser.close()
    return [
        Row(
            "browser: server's first session, `/` (consult) until its first heading is visible",
            [first],
            "empty HTTP cache; cold imports",
        ),
        Row(
            "browser: `/worklist` until the title is visible, empty HTTP cache",
            [t for t, _ in cold],
            "new browser profile each load",
        ),
        Row(
            "browser: `/worklist` until the dataframe is visible, empty HTTP cache",
            [t for _, t in cold],
            "new browser profile each load",
        ),
        Row(
            "browser: `/worklist` until the title is visible, cached JS",
            [t for t, _ in cached],
            "new tab (new session) each load",
        ),
        Row(
            "browser: `/worklist` until the dataframe is visible, cached JS",
            [t for _, t in cached],
            "new tab (new session) each load",
        ),
        Row(
            "browser: sidebar click from About until the worklist dataframe is visible",
            clicks,
            "one session, no page load",
        ),
    ]


# --- main -------------------------------------------------------------------------------------------


def _prepare(db: Path, patients: int, assessments: int) -> str:
    url = URL.create("sqlite", database=str(db.resolve())).render_as_string(hide_password=False)
    if db.exists():
        existing = Store(url)
        stored = len(existing.patients())
        existing.close()
        if stored:
            return f"reused `{db}`"
    seconds = fill(url, patients, assessments, dt.date.today())
    return f"filled in {seconds:.0f} s"


def _patient(store: Store, each: int) -> str:
    """The first patient with ``each`` visits (or the nearest count) and a sub-domain chart."""
    candidates = sorted(store.patients(), key=lambda p: (abs(p.assessment_count - each), p.patient_id))
    for summary in candidates[:50]:
        records = store.assessments(summary.patient_id)
        course = timeline([(r.findings, r.recommendation.pathway, r.recommendation.urgency) for r in records])
        if course.subdomains:
            return summary.patient_id
    return candidates[0].patient_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--assessments", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--db", type=Path, help="SQLite file to reuse (filled first if new or empty)")
    parser.add_argument(
        "--loads", type=int, default=5, help="browser loads (and clicks) of the worklist page"
    )
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args(argv)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())  # before this run adds its own
    command = shlex.join(["python", "bench/record_pages_bench.py", *(sys.argv[1:] if argv is None else argv)])
    with tempfile.TemporaryDirectory(prefix="myelo-pages-bench-") as tmp:
        db = args.db or Path(tmp) / "records.sqlite3"
        filled = _prepare(db, args.patients, args.assessments)
        os.environ.pop("MYELO_CDS_DATABASE_URL", None)
        os.environ["MYELO_CDS_DB_PATH"] = str(db.resolve())
        store = Store(URL.create("sqlite", database=str(db.resolve())).render_as_string(hide_password=False))
        stored = store.patients()
        total = sum(p.assessment_count for p in stored)
        patient_id = _patient(store, round(total / max(len(stored), 1)))
        with _quiet_streamlit():
            rows, counts = app_test_rows(args.rounds, patient_id)
            pieces, payload = piece_rows(store, args.rounds, patient_id)
        store.close()
        size = db.stat().st_size / 1e9
        browser: list[Row] = []
        if not args.no_browser:
            browser = browser_rows(db, args.loads, Path(tmp) / "server.log")
    print(
        f"`{command}` ({os.cpu_count()} cores, streamlit {_streamlit_version()}, "
        f"load average at start {load})\n"
    )
    print(
        f"SQLite: {len(stored):,} patients, {total:,} assessments ({size:.2f} GB file, {filled}); "
        f"worklist {counts['worklist all']:,} rows, {counts['worklist default']:,} with the default filters; "
        f"Arrow payload of the full worklist table {payload / 1e6:.2f} MB.\n"
    )
    print("| measurement | median | p95 | runs | note |")
    print("|---|---:|---:|---:|---|")
    for row in [*rows, *pieces, *browser]:
        print(row.cells())
    return 0


@contextlib.contextmanager
def _quiet_streamlit() -> Iterator[None]:
    """No "missing ScriptRunContext" warnings (AppTest set-up, st.dataframe's conversion called bare)."""
    logger = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")

    def bare_mode(record: logging.LogRecord) -> bool:
        return "missing ScriptRunContext" not in record.getMessage()

    logger.addFilter(bare_mode)
    try:
        yield
    finally:
        logger.removeFilter(bare_mode)


def _streamlit_version() -> str:
    import streamlit

    return streamlit.__version__


if __name__ == "__main__":
    raise SystemExit(main())
