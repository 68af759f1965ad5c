"""Server CPU of one consult rerun, step by step: the consult beside the bare form (issue 16).

    python bench/rerun_cpu.py [--rounds 4]

One replica of ``asgi.py`` on a fresh PostgreSQL database (as ``bench/deploy_load.py`` starts
it), one clinician at a time, no concurrency: after one warm-up consult, ``--rounds`` consults
each open the page, enter the moderate DCM findings one widget at a time (the websocket protocol
of ``tests/streamlit_ws.py``), then name the case and the clinician and save. The replica's user
+ system CPU time is read before and after each step (with a short pause so that the work of
the step has finished), so a finding change is measured apart from the page open and the save
(``deploy_load.py`` divides the whole run's CPU time by all runs). The bare form of
``bench/bench_app.py`` (the same form widgets, no engine, no result panel, no save) is measured
the same way. The kernel counts CPU time in clock ticks (10 ms): read the means over many steps.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MYELO_CDS_AUTH", "none")
os.environ.setdefault("MYELO_CDS_DEV_ROLE", "clinician")  # a clinician saves (a resident does not)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.deploy_load import BARE_SCRIPT, _cpu_seconds  # noqa: E402
from tests.deploy_stack import replicas  # noqa: E402
from tests.pg_fixture import find_postgres_bin, temporary_postgres  # noqa: E402
from tests.streamlit_ws import RunResult, StreamlitSession  # noqa: E402
from tests.ws_consult import MODERATE_DCM, SAVE  # noqa: E402

#: Pause before and after each step: the replica finishes sending before its CPU time is read.
_SETTLE_SECONDS = 0.15
Steps = dict[str, list[float]]


async def _consult(url: str, path: str, pid: int, number: int, *, bare: bool, steps: Steps) -> None:
    async with StreamlitSession(url, path) as session:

        async def step(name: str, run: Callable[[], Awaitable[RunResult]]) -> None:
            await asyncio.sleep(_SETTLE_SECONDS)
            before = _cpu_seconds(pid)
            result = await run()
            await asyncio.sleep(_SETTLE_SECONDS)
            steps.setdefault(name, []).append(_cpu_seconds(pid) - before)
            if result.exceptions:
                raise RuntimeError(f"{name}: {result.exceptions[0]}")

        await step("open", session.open)
        for key, value in MODERATE_DCM:

            def change(key: str = key, value: Any = value) -> Awaitable[RunResult]:
                return session.change(key, value)

            await step("finding change", change)
        if not bare:
            await step("case id", lambda: session.change("f.case_id", f"RERUN-{number:03d}"))
            await step("clinician id", lambda: session.change("clinician_id", "clin-1"))
            await step("save", lambda: session.click(SAVE))


def measure(database_url: str, script: str, path: str, rounds: int) -> Steps:
    """CPU seconds per step name over ``rounds`` consults after one warm-up consult."""
    bare = script == BARE_SCRIPT
    with (
        tempfile.TemporaryDirectory() as folder,
        replicas(database_url, 1, Path(folder), script=script) as up,
    ):
        url, pid = up[0].url, up[0].process.pid
        asyncio.run(_consult(url, path, pid, 999, bare=bare, steps={}))  # imports, caches, pool
        steps: Steps = {}
        for number in range(rounds):
            asyncio.run(_consult(url, path, pid, number, bare=bare, steps=steps))
        return steps


def _line(label: str, steps: Steps) -> str:
    cells = [label, *(f"{1000 * statistics.mean(steps[name]):.1f}" for name in _COLUMNS if name in steps)]
    cells += ["-"] * (len(_COLUMNS) + 1 - len(cells))
    every = [value for values in steps.values() for value in values]
    return "| " + " | ".join([*cells, f"{1000 * statistics.mean(every):.1f}"]) + " |"


_COLUMNS = ("finding change", "open", "case id", "clinician id", "save")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="consults measured per page")
    args = parser.parse_args(argv)
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        raise SystemExit("PostgreSQL binaries not found: apt-get install -y postgresql")
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    print("| page | " + " | ".join(f"{name} ms" for name in _COLUMNS) + " | every run ms |")
    print("|---|" + "---:|" * (len(_COLUMNS) + 1))
    with temporary_postgres(bin_dir) as database:
        for label, script, path in (("consult", "asgi.py", "/"), ("bare form", BARE_SCRIPT, "/bare")):
            steps = measure(database.create_database(), script, path, args.rounds)
            print(_line(label, steps), flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
