"""Hostile uploads and JSON: how fast and how cheaply each is refused, and whether a replica
stays usable while a registry audit runs (issue 14).

    python bench/hostile_uploads.py                # refusals: time and peak memory of each
    python bench/hostile_uploads.py --before       # also the unguarded openpyxl read (slow)
    python bench/hostile_uploads.py --resilience   # consult reruns while an audit runs

Refusals: each hostile input goes through the same function the page and ``batch`` call
(``read_upload``, ``parse_json_object``, ``salvage``, ``run_batch``), in this process; the time
is the median of three and the memory is tracemalloc's peak of Python allocations during the
call (the zip inflater's own buffers are not counted, which is why the guarded path reads no
sheet at all). ``--before`` times openpyxl reading the issue's workbook shape as the page did
before the loader (read-only mode, every row), on 20 of its 500 rows, with the process's peak
RSS.

Resilience: a server (``bench/registry_app.py``: the consult page and a page that audits a file
from disk through ``audit_upload``, exactly as the Registry audit page does) runs on loopback.
One websocket session enters the moderate DCM consult again and again (13 reruns each); after
an idle phase a second session opens the registry-load page, so the server audits the largest
accepted list (a CSV at the server's 5 MB upload limit, full template, every row valid) while
the consult goes on. Reported: the consult rerun p50/p95 idle and during the audit, the
server's peak RSS and the audit child's peak RSS (sampled from /proc every 0.1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import functools
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.hostile_inputs import (  # noqa: E402
    deep_json,
    duplicate_key_json,
    hostile_jsonl_lines,
    long_number_json,
    row_jump_xlsx,
    wide_xlsx,
)
from myelo_cds.batch import read_upload, run_batch, template_csv  # noqa: E402
from myelo_cds.errors import InputError  # noqa: E402
from myelo_cds.findings import example_cases, parse_json_object, salvage  # noqa: E402


def _measure(call: Callable[[], Any]) -> tuple[float, float, str]:
    """Median seconds of three calls, tracemalloc peak MB of one, and the outcome."""
    times = []
    outcome = ""
    for _ in range(3):
        started = time.perf_counter()
        try:
            result = call()
            outcome = f"accepted ({result})" if isinstance(result, str) else "accepted"
        except InputError as error:
            outcome = str(error)
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    with contextlib.suppress(InputError):
        call()
    peak = tracemalloc.get_traced_memory()[1] / 1024**2
    tracemalloc.stop()
    return statistics.median(times), peak, outcome


def _wide_csv() -> bytes:
    return (",".join(f"c{i}" for i in range(16_384)) + "\n" + ",".join(["1"] * 16_384) + "\n").encode()


def _openpyxl_wide() -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append([f"c{i}" for i in range(16_384)])
    for _ in range(3):
        sheet.append([1] * 16_384)
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def _jsonl_batch(lines: list[bytes]) -> Callable[[], str]:
    def run() -> str:
        with tempfile.TemporaryDirectory() as folder:
            source, target = Path(folder) / "in.jsonl", Path(folder) / "out.jsonl"
            source.write_bytes(b"\n".join(lines) + b"\n")
            counts = run_batch(source, target, workers=1)
            return f"{sum(counts.values())} rows written, {counts.get('error', 0)} errors"

    return run


def refusals() -> list[tuple[str, int, float, float, str]]:
    many_keys = json.dumps(
        {"patient": {"age_years": 60}, **{f"unknwn_field_{i:05d}": i for i in range(1_999)}}
    )
    cases: list[tuple[str, bytes | str, Callable[[], Any]]] = []

    def upload(name: str, label: str, data: bytes) -> None:
        cases.append((label, data, lambda: read_upload(name, data)))

    upload("c.xlsx", "xlsx 16,384 x 500 (the issue's file)", wide_xlsx(16_384, 500))
    upload("c.xlsx", "xlsx 16,384 x 3, dimension declared", wide_xlsx(16_384, 3))
    upload("c.xlsx", "xlsx 16,384 x 3, first row only", wide_xlsx(16_384, 3, declare=False))
    upload("c.xlsx", "xlsx 16,384 x 3 written by openpyxl", _openpyxl_wide())
    upload("c.xlsx", "xlsx jumping to row 1,048,576", row_jump_xlsx())
    upload("c.csv", "csv header of 16,384 columns", _wide_csv())
    for label, text in (
        ("JSON 100,000-deep nesting", deep_json()),
        ("JSON 5,000-digit number", long_number_json()),
        ("JSON key written twice", duplicate_key_json()),
    ):
        cases.append((label, text, functools.partial(parse_json_object, text, source="the findings")))
    cases.append(
        (
            "JSON 2,000 unknown keys (salvage + suggestions)",
            many_keys,
            lambda: f"{len(salvage(json.loads(many_keys))[1])} problems",
        )
    )
    good = json.dumps(json.loads(example_cases()["moderate_dcm"])).encode()
    lines = [*hostile_jsonl_lines(), good]
    cases.append(("batch JSONL, 7 hostile lines + 1 good", b"\n".join(lines), _jsonl_batch(lines)))
    rows = []
    for label, data, call in cases:
        seconds, peak, outcome = _measure(call)
        rows.append((label, len(data), seconds, peak, outcome))
    return rows


def before() -> tuple[float, float]:
    """Seconds and peak RSS (MB) of openpyxl reading 16,384 x 20 in read-only mode, in a child."""
    code = (
        "import io, resource, sys, time\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from bench.hostile_inputs import wide_xlsx\n"
        "from openpyxl import load_workbook\n"
        "data = wide_xlsx(16_384, 20)\n"
        "t = time.perf_counter()\n"
        "book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)\n"
        "rows = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, check=True, timeout=600
    )
    seconds, rss = out.stdout.split()
    return float(seconds), float(rss)


# --- resilience ---------------------------------------------------------------------------


def _largest_accepted_csv(limit: int) -> bytes:
    header, example = template_csv().decode().splitlines()[:2]
    rows = max(1, (limit - len(header) - 1) // (len(example) + 1))
    return (header + "\n" + "\n".join([example] * rows) + "\n").encode()


def _rss(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    """Child processes of every thread of ``pid`` (a page's script thread starts the audit)."""
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


def resilience(idle_rounds: int) -> dict[str, Any]:
    from tests.e2e.live_app import live_server
    from tests.streamlit_ws import StreamlitSession
    from tests.ws_consult import findings_only

    limit = 5 * 1024 * 1024
    data = _largest_accepted_csv(limit)
    folder = Path(tempfile.mkdtemp(prefix="hostile-bench-"))
    upload = folder / "clinic.csv"
    upload.write_bytes(data)
    env = {"MYELO_CDS_AUTH": "none", "MYELO_CDS_DEV_ROLE": "admin", "MYELO_BENCH_UPLOAD": str(upload)}
    peaks = {"server": 0.0, "audit child": 0.0}
    stop = threading.Event()
    with live_server(
        folder / "server.log", script="bench/registry_app.py", db_path=folder / "r.sqlite3", env=env
    ) as server:

        def sample() -> None:
            while not stop.is_set():
                peaks["server"] = max(peaks["server"], _rss(server.process.pid))
                for child in _children(server.process.pid):
                    peaks["audit child"] = max(peaks["audit child"], _rss(child))
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()

        async def run() -> dict[str, Any]:
            idle: list[float] = []
            busy: list[float] = []
            audit_text: list[str] = []
            audit_done = asyncio.Event()

            async def consults(into: list[float], until: Callable[[], bool]) -> None:
                while not until():
                    async with StreamlitSession(server.url) as session:
                        results = await findings_only(session)
                    into.extend(result.seconds for result in results[1:])

            rounds = 0

            def idle_done() -> bool:
                nonlocal rounds
                rounds += 1
                return rounds > idle_rounds

            await consults(idle, idle_done)

            async def audit() -> None:
                started = time.perf_counter()
                async with StreamlitSession(server.url, path="/registry-load") as session:
                    result = await session.open()
                audit_text.extend(result.texts)
                audit_text.append(f"(page run {time.perf_counter() - started:.1f} s)")
                audit_done.set()

            task = asyncio.create_task(audit())
            await asyncio.sleep(0.5)  # the audit has started
            await consults(busy, audit_done.is_set)
            await task
            return {"idle": idle, "busy": busy, "audit": audit_text}

        outcome = asyncio.run(run())
        stop.set()
        sampler.join()
    return {**outcome, "peaks": peaks, "upload_bytes": len(data)}


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", action="store_true")
    parser.add_argument("--resilience", action="store_true")
    parser.add_argument("--idle-rounds", type=int, default=3)
    args = parser.parse_args()
    now = dt.datetime.now(dt.UTC)
    print(f"# hostile uploads, {now:%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.1f}")
    print("\n| input | bytes | time | peak (tracemalloc) | outcome |\n|---|---:|---:|---:|---|")
    for label, size, seconds, peak, outcome in refusals():
        print(f"| {label} | {size:,} | {seconds * 1000:,.1f} ms | {peak:,.1f} MB | {outcome[:110]} |")
    if args.before:
        seconds, rss = before()
        print(
            f"\nunguarded openpyxl read-only, 16,384 x 20 of the issue's shape: {seconds:.1f} s, "
            f"peak RSS {rss:,.0f} MB (x25 rows for the issue's file)"
        )
    if args.resilience:
        result = resilience(args.idle_rounds)
        idle, busy = result["idle"], result["busy"]
        size = result["upload_bytes"] / 1024**2
        print(f"\nresilience: audit of a {size:.1f} MB CSV: {' '.join(result['audit'])}")
        for name, values in (("idle", idle), ("during the audit", busy)):
            p50, p95 = _p(values, 0.5), _p(values, 0.95)
            print(f"consult reruns {name}: n={len(values)} p50 {p50:.3f} s p95 {p95:.3f} s")
        print(
            f"peak RSS: server {result['peaks']['server']:,.0f} MB, audit child "
            f"{result['peaks']['audit child']:,.0f} MB (its limit: address space 1,536 MB)"
        )
    print(f"\nthis process's peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
