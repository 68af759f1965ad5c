"""Load: N concurrent clinicians doing a full consult, on one replica and on two behind nginx.

    python bench/deploy_load.py [--sessions 10 25 50] [--think 1.0] [--browsers 2] [--topologies ...]
                                [--variant 'LABEL:KEY=VALUE,...' ...] [--bare]

For each topology (one replica, reached directly; two replicas behind the shipped nginx,
reached over TLS) and each N, fresh replicas of ``asgi.py`` start on one PostgreSQL database
(Debian's, started on loopback as in the tests). N sessions arrive within ``--ramp`` seconds;
each opens the consult, enters the moderate DCM findings one widget at a time (15 reruns of the
consult fragment), names the case and the clinician and saves the assessment: the websocket
protocol of ``tests/streamlit_ws.py``, so the load is the server's, not a browser's. A
clinician pauses ``--think`` seconds (0.5-1.5x) before each step.

Reported per run: page open (page fetch + websocket + first run) and interaction latency (one
rerun: widget state sent until the run finished) p50/p95/max; errors (exceptions, unfinished
runs, time-outs, a consult whose recommendation or save confirmation is missing); server
memory per session (replica RSS at the peak minus after one warm-up consult per replica, over
N); server CPU time per script run (the replicas' user + system time over the run, divided by
the runs: it does not depend on other work on the machine, so it gives the capacity); and the
load average before and after, because the machine is shared. ``--browsers B`` then runs B
real Chromium consults at once against the two-replica proxy (time to the first recommendation
panel, and the whole consult in the browser). Writes ``bench/results-deploy.md`` (or ``--out``).

``--variant 'LABEL:KEY=VALUE,...'`` also measures replicas started with that environment, e.g.
a Streamlit option against the shipped one (``STREAMLIT_RUNNER_POST_SCRIPT_GC=true``, the
collection after every run that ``.streamlit/config.toml`` turns off): each N runs the shipped
configuration and every variant in turn, on the same machine in the same run. ``--bare`` also
drives the bare form of ``bench/bench_app.py`` (the consult's widgets with no engine, no result
panel, no save: the 13 findings only), for the server CPU time of Streamlit's own widget
handling beside the consult's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import signal
import ssl
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The consult is timed, not the sign-in: the replicas run the announced development mode.
os.environ.setdefault("MYELO_CDS_AUTH", "none")
os.environ.setdefault("MYELO_CDS_DEV_ROLE", "clinician")  # a clinician saves (a resident does not)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.deploy_stack import replicas  # noqa: E402
from tests.e2e.live_app import LiveServer  # noqa: E402
from tests.nginx_fixture import running_nginx  # noqa: E402
from tests.pg_fixture import find_postgres_bin, temporary_postgres  # noqa: E402
from tests.streamlit_ws import StreamlitSession, insecure_tls  # noqa: E402
from tests.ws_consult import findings_only, full_consult  # noqa: E402

RESULTS = ROOT / "bench" / "results-deploy.md"
BARE_SCRIPT = "bench/bench_app.py"
# The panel's answer for the moderate DCM consult: the pathway, then its urgency (the rule set
# decides which urgency, and may mark the answer provisional while a red flag is not excluded).
RECOMMENDATION = "Surgical referral** - urgency **"


@dataclass
class Run:
    topology: str
    sessions: int
    label: str = ""
    opens: list[float] = field(default_factory=list)
    interactions: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    memory_per_session_mb: float = 0.0
    server_cpu_seconds: float = 0.0
    load_before: float = 0.0
    load_after: float = 0.0
    wall_seconds: float = 0.0


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/PID/stat`` fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else float("nan")


@dataclass(frozen=True)
class Target:
    """Where the clinicians connect and how they pace themselves."""

    url: str
    tls: ssl.SSLContext | None
    think: float = 0.0
    ramp: float = 0.0
    bare: bool = False


async def _one_clinician(
    target: Target, number: int, run: Run, done: asyncio.Event, hold: asyncio.Event
) -> None:
    await asyncio.sleep(random.uniform(0, target.ramp))
    case_id = f"LOAD-{run.topology[:3]}-{run.sessions}-{number:03d}"
    try:
        started = time.perf_counter()
        path = "/bare" if target.bare else "/"
        async with StreamlitSession(target.url, path, tls=target.tls) as session:
            connected = time.perf_counter() - started
            if target.bare:
                results = await findings_only(session, think_seconds=target.think)
            else:
                results = await full_consult(session, case_id, f"clin-{number}", think_seconds=target.think)
            run.opens.append(connected + results[0].seconds)
            run.interactions.extend(result.seconds for result in results[1:])
            for result in results:
                run.errors.extend(result.exceptions)
            texts = [text for result in results for text in result.texts]
            if target.bare:
                if not any("le_motor = " in text for text in results[-1].texts):
                    run.errors.append(f"{case_id}: no echo on the bare form")
            elif not any(RECOMMENDATION in text for text in texts):
                run.errors.append(f"{case_id}: no recommendation")
            if not target.bare and not any(f"Saved for {case_id}" in text for text in results[-1].texts):
                run.errors.append(f"{case_id}: not saved")
            done.set()
            await hold.wait()  # stay connected until every clinician is done, as open tabs do
    except Exception as error:  # a load test counts failures; it does not stop at the first
        run.errors.append(f"{case_id}: {type(error).__name__}: {error}"[:200])
    finally:
        done.set()


async def _drive(target: Target, run: Run, pids: Sequence[int]) -> float:
    """Run the clinicians; return the replicas' peak RSS (MB) while they were connected."""
    hold = asyncio.Event()
    finished = [asyncio.Event() for _ in range(run.sessions)]
    tasks = [
        asyncio.create_task(_one_clinician(target, n, run, finished[n], hold)) for n in range(run.sessions)
    ]
    peak = 0.0
    while not all(event.is_set() for event in finished):
        peak = max(peak, sum(_rss_mb(pid) for pid in pids))
        await asyncio.sleep(0.25)
    peak = max(peak, sum(_rss_mb(pid) for pid in pids))
    hold.set()
    await asyncio.gather(*tasks)
    return peak


@dataclass(frozen=True)
class Server:
    """How the replicas start: the script, extra environment (a variant to compare)."""

    script: str = "asgi.py"
    env: tuple[tuple[str, str], ...] = ()
    label: str = ""


@contextlib.contextmanager
def _topology(
    name: str, database_url: str, server: Server = Server()
) -> Iterator[tuple[Target, list[LiveServer]]]:
    count = 1 if name == "one replica" else 2
    with (
        tempfile.TemporaryDirectory() as folder,
        replicas(database_url, count, Path(folder), script=server.script, env=dict(server.env)) as started,
    ):
        if count == 1:
            yield Target(started[0].url, None), started
            return
        ports = [int(server.url.rsplit(":", 1)[1]) for server in started]
        with running_nginx(ports) as proxy:
            yield Target(proxy.url, insecure_tls()), started


def measure(
    name: str, sessions: int, database_url: str, think: float, ramp: float, *, server: Server = Server()
) -> Run:
    """One topology with ``sessions`` clinicians, on fresh replicas after one warm-up consult."""
    run = Run(name, sessions, server.label)
    bare = server.script == BARE_SCRIPT
    with _topology(name, database_url, server) as (target, up):
        pids = [replica.process.pid for replica in up]
        for replica in up:  # one consult on each replica first: imports, caches, connection pools
            warm = Run(name, 1)
            asyncio.run(_drive(Target(replica.url, None, bare=bare), warm, pids))
            if warm.errors:
                raise RuntimeError(f"warm-up consult failed: {warm.errors}")
        baseline = sum(_rss_mb(pid) for pid in pids)
        cpu_before = sum(_cpu_seconds(pid) for pid in pids)
        run.load_before = os.getloadavg()[0]
        started = time.perf_counter()
        paced = Target(target.url, target.tls, think, ramp, bare)
        peak = asyncio.run(_drive(paced, run, pids))
        run.wall_seconds = time.perf_counter() - started
        run.load_after = os.getloadavg()[0]
        run.server_cpu_seconds = sum(_cpu_seconds(pid) for pid in pids) - cpu_before
        run.memory_per_session_mb = (peak - baseline) / sessions
    return run


def browsers(count: int, database_url: str) -> list[tuple[float, float, str]]:
    """``count`` Chromium consults at once through nginx: (first panel s, whole consult s, error)."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS
    from tests.e2e.consult_steps import enter_moderate_dcm, save_to_record, watch_runs

    outcomes: list[tuple[float, float, str]] = []

    def one(number: int, url: str) -> None:
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                viewport = {"width": 1366, "height": 1400}
                context = browser.new_context(viewport=viewport, ignore_https_errors=True)  # type: ignore[arg-type]
                page = watch_runs(context.new_page())  # the steps wait for the app's runs
                page.set_default_timeout(60_000)
                started = time.perf_counter()
                page.goto(url + "/")
                page.get_by_role("heading", name="Recommendation").wait_for()
                first = time.perf_counter() - started
                enter_moderate_dcm(page)
                save_to_record(page, f"BROWSER-{number}", f"clin-b{number}")
                outcomes.append((first, time.perf_counter() - started, ""))
                browser.close()
        except Exception as error:
            outcomes.append((float("nan"), float("nan"), f"{type(error).__name__}: {error}"[:200]))

    with _topology("two replicas", database_url) as (target, _up):
        threads = [threading.Thread(target=one, args=(n, target.url)) for n in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return outcomes


def _row(run: Run) -> str:
    ms = [1000 * value for value in run.interactions] or [float("nan")]
    opens = [1000 * value for value in run.opens] or [float("nan")]
    cells = [
        run.topology + (f", {run.label}" if run.label else ""),
        str(run.sessions),
        str(len(run.interactions)),
        f"{statistics.median(ms):.0f}",
        f"{_percentile(ms, 0.95):.0f}",
        f"{max(ms):.0f}",
        f"{statistics.median(opens):.0f}",
        f"{_percentile(opens, 0.95):.0f}",
        str(len(run.errors)),
        f"{run.memory_per_session_mb:.2f}",
        f"{1000 * run.server_cpu_seconds / max(1, len(run.interactions) + len(run.opens)):.0f}",
        f"{run.wall_seconds:.0f}",
        f"{run.load_before:.1f} / {run.load_after:.1f}",
    ]
    return "| " + " | ".join(cells) + " |"


def _browser_line(outcomes: list[tuple[float, float, str]]) -> str:
    good = [outcome for outcome in outcomes if not outcome[2]]
    firsts = ", ".join(f"{first:.1f}" for first, _, _ in good)
    wholes = ", ".join(f"{whole:.1f}" for _, whole, _ in good)
    failures = "".join(f"; {error}" for _, _, error in outcomes if error)
    return (
        f"{len(outcomes)} Chromium consults at once through nginx to two replicas: first recommendation"
        f" panel {firsts} s after navigation; whole consult (13 findings, case and clinician ids, save;"
        f" the test helpers pause 250-400 ms per step) {wholes} s;"
        f" errors: {len(outcomes) - len(good)}{failures}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 25, 50])
    topologies = ["one replica", "two replicas"]
    parser.add_argument("--topologies", nargs="+", choices=topologies, default=topologies)
    parser.add_argument("--think", type=float, default=1.0, help="mean pause before each step, seconds")
    parser.add_argument("--ramp", type=float, default=10.0, help="sessions arrive within this many seconds")
    parser.add_argument("--browsers", type=int, default=2, help="real Chromium consults at once (0: none)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="markdown table to write")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL:KEY=VALUE,...",
        help="also measure replicas started with this environment (e.g. 'GC after each run:"
        "STREAMLIT_RUNNER_POST_SCRIPT_GC=true'); each N runs every variant in turn",
    )
    parser.add_argument(
        "--bare", action="store_true", help="also measure the bare form of bench/bench_app.py"
    )
    args = parser.parse_args(argv)
    servers = [Server(label="shipped" if args.variant else "")]
    for spec in args.variant:
        label, _, settings = spec.partition(":")
        pairs = tuple((key, value) for key, _, value in (item.partition("=") for item in settings.split(",")))
        servers.append(Server(env=pairs, label=label))
    if args.bare:
        servers.append(Server(BARE_SCRIPT, label="bare form"))
    # Stopped with SIGTERM, still stop the servers it started (the `with` blocks below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        raise SystemExit("PostgreSQL binaries not found: apt-get install -y postgresql")
    options = "".join(f" --variant {spec!r}" for spec in args.variant) + (" --bare" if args.bare else "")
    lines = [
        f"`python bench/deploy_load.py --sessions {' '.join(map(str, args.sessions))} --think {args.think:g}"
        f" --topologies {' '.join(repr(t) for t in args.topologies)}"
        f" --ramp {args.ramp:g} --browsers {args.browsers}{options}` on {os.cpu_count()} CPUs"
        f" ({platform.processor() or platform.machine()}, Python {platform.python_version()}),"
        f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. The machine was shared with other work:"
        " the load average (1 min) before / after each run is in the last column.",
        "",
        "| topology | sessions | interactions | p50 ms | p95 ms | max ms | open p50 ms | open p95 ms | errors"
        " | server MB / session | server CPU ms / run | wall s | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    with temporary_postgres(bin_dir) as database:
        for topology in args.topologies:
            for sessions in args.sessions:
                for server in servers:
                    url = database.create_database()
                    run = measure(topology, sessions, url, args.think, args.ramp, server=server)
                    lines.append(_row(run))
                    print(lines[-1], flush=True)
                    for error in run.errors[:5]:
                        print("   error:", error, flush=True)
        if args.browsers:
            lines += ["", _browser_line(browsers(args.browsers, database.create_database()))]
            print(lines[-1], flush=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
