"""Soak: does one replica's memory stay flat for half an hour of clinicians saving consults?

    python bench/soak.py [--minutes 30] [--sessions 40] [--think 10] [--warm-up 5] [--out ...]

One replica of ``asgi.py`` on PostgreSQL (Debian's, on loopback, as in ``bench/deploy_load.py``).
``--sessions`` clinicians work at once for ``--minutes``: each opens a new tab on the consult,
enters the moderate DCM findings one widget at a time, names the case and the clinician and saves
(17 script runs, ``tests/ws_consult.py``), pausing ``--think`` seconds (0.5-1.5x) before each
step, then closes the tab and starts the next consult with a new case id. A closed tab's session
stays in the server for ``server.disconnectedSessionTTL`` (30 s as shipped; 60 s when the run in
``bench/results-soak.md`` was made), as it would in a clinic.

Every ``--sample`` seconds the replica's RSS and CPU time and the load average are recorded.
Reported: RSS over time (one row a minute), its range after ``--warm-up`` minutes and whether
that range is within 10 % of its lowest value; interaction latency p50/p95/max over the run and
per minute; consults saved; errors (exceptions, unfinished runs, time-outs, a consult without
its recommendation or save confirmation). Writes ``bench/results-soak.md`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import signal
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.deploy_load import (  # noqa: E402
    RECOMMENDATION,
    Run,
    Server,
    Target,
    _cpu_seconds,
    _drive,
    _percentile,
    _rss_mb,
    _topology,
)
from tests.pg_fixture import find_postgres_bin, temporary_postgres  # noqa: E402
from tests.streamlit_ws import StreamlitSession  # noqa: E402
from tests.ws_consult import full_consult  # noqa: E402

RESULTS = ROOT / "bench" / "results-soak.md"
FLAT_WITHIN = 0.10


@dataclass
class Sample:
    seconds: float
    rss_mb: float
    cpu_seconds: float
    load: float


@dataclass
class Soak:
    """What the clinicians saw: (time since start when it ended, seconds) per interaction (each
    step after the page opened), errors, consults."""

    interactions: list[tuple[float, float]] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)
    consults: int = 0
    saved: int = 0
    samples: list[Sample] = field(default_factory=list)


async def _clinician(target: Target, number: int, soak: Soak, start: float, until: float) -> None:
    await asyncio.sleep(random.uniform(0, target.ramp))
    visit = 0
    while time.perf_counter() < until:
        visit += 1
        case_id = f"SOAK-{number:03d}-{visit:03d}"
        try:
            async with StreamlitSession(target.url, tls=target.tls) as session:
                results = await full_consult(
                    session,
                    case_id,
                    f"clin-{number}",
                    think_seconds=target.think,
                    on_step=lambda result: soak.interactions.append(
                        (time.perf_counter() - start, result.seconds)
                    ),
                )
            now = time.perf_counter() - start
            soak.consults += 1
            soak.errors.extend((now, error) for result in results for error in result.exceptions)
            if not any(RECOMMENDATION in text for result in results for text in result.texts):
                soak.errors.append((now, f"{case_id}: no recommendation"))
            if any(f"Saved for {case_id}" in text for text in results[-1].texts):
                soak.saved += 1
            else:
                soak.errors.append((now, f"{case_id}: not saved"))
        except Exception as error:  # a soak counts failures; it does not stop at the first
            now = time.perf_counter() - start
            soak.errors.append((now, f"{case_id}: {type(error).__name__}: {error}"[:200]))
            await asyncio.sleep(target.think)


async def _sampler(pid: int, soak: Soak, start: float, every: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        soak.samples.append(
            Sample(time.perf_counter() - start, _rss_mb(pid), _cpu_seconds(pid), os.getloadavg()[0])
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


async def _soak(target: Target, pid: int, sessions: int, minutes: float, every: float) -> Soak:
    soak = Soak()
    start = time.perf_counter()
    until = start + 60 * minutes
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sampler(pid, soak, start, every, stop))
    await asyncio.gather(*(_clinician(target, n, soak, start, until) for n in range(sessions)))
    # The last consults finish after ``until``; then the closed tabs' sessions expire
    # (server.disconnectedSessionTTL: 30 s as shipped, at most 60 s).
    await asyncio.sleep(70)
    stop.set()
    await sampler
    return soak


def _ms(values: Sequence[float]) -> str:
    if not values:
        return "-"
    ms = [1000 * value for value in values]
    return f"{statistics.median(ms):,.0f} / {_percentile(ms, 0.95):,.0f} / {max(ms):,.0f}"


def report(soak: Soak, args: argparse.Namespace, baseline_mb: float) -> list[str]:
    warm = [sample for sample in soak.samples if sample.seconds >= 60 * args.warm_up]
    during = [sample for sample in warm if sample.seconds <= 60 * args.minutes]
    low = min(sample.rss_mb for sample in during)
    high = max(sample.rss_mb for sample in during)
    first, last = during[0], during[-1]
    spread = (high - low) / low
    latencies = [seconds for _, seconds in soak.interactions]
    after_warm_up = [seconds for at, seconds in soak.interactions if at >= 60 * args.warm_up]
    cpu = soak.samples[-1].cpu_seconds - soak.samples[0].cpu_seconds
    lines = [
        f"`python bench/soak.py --minutes {args.minutes:g} --sessions {args.sessions} --think {args.think:g}"
        f" --warm-up {args.warm_up:g} --sample {args.sample:g}` on {os.cpu_count()} CPUs"
        f" ({platform.processor() or platform.machine()}, Python {platform.python_version()}),"
        f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; one replica of `asgi.py` with the"
        " shipped `.streamlit/config.toml`, on PostgreSQL. The machine was shared with other work:"
        " the load average (1 min) is in the table.",
        "",
        f"- consults saved: **{soak.saved}** of {soak.consults} finished;"
        f" interactions: {len(latencies):,}; errors: **{len(soak.errors)}**",
        f"- interaction latency p50 / p95 / max: **{_ms(latencies)} ms** over the whole run;"
        f" {_ms(after_warm_up)} ms after the first {args.warm_up:g} minutes",
        f"- server RSS: {baseline_mb:.0f} MB after one warm-up consult; from minute {args.warm_up:g} to"
        f" {args.minutes:g}: lowest {low:.0f} MB, highest {high:.0f} MB, {first.rss_mb:.0f} MB at the"
        f" start and {last.rss_mb:.0f} MB at the end of that span; range {100 * spread:.1f} % of the"
        f" lowest: **{'flat' if spread <= FLAT_WITHIN else 'NOT flat'} within {100 * FLAT_WITHIN:.0f} %**",
        f"- server CPU: {cpu:.0f} s over {soak.samples[-1].seconds / 60:.1f} minutes"
        f" ({1000 * cpu / max(1, len(latencies) + soak.consults):.0f} ms per script run)",
        f"- after the last consult and {70} s for the closed tabs' sessions to expire:"
        f" RSS {soak.samples[-1].rss_mb:.0f} MB",
        "",
        "| minute | server RSS MB | server CPU % | interactions | p50 ms | p95 ms | errors | load avg |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by_minute: dict[int, list[Sample]] = {}
    for sample in soak.samples:
        by_minute.setdefault(int(sample.seconds // 60), []).append(sample)
    previous = soak.samples[0]
    for minute, samples in sorted(by_minute.items()):
        end = samples[-1]
        share = 100 * (end.cpu_seconds - previous.cpu_seconds) / max(1e-9, end.seconds - previous.seconds)
        previous = end
        in_minute = [s for at, s in soak.interactions if minute * 60 <= at < (minute + 1) * 60]
        ms = [1000 * s for s in in_minute]
        errors = sum(1 for at, _ in soak.errors if minute * 60 <= at < (minute + 1) * 60)
        lines.append(
            f"| {minute + 1} | {end.rss_mb:.0f} | {share:.0f} | {len(in_minute)}"
            f" | {statistics.median(ms) if ms else float('nan'):.0f}"
            f" | {_percentile(ms, 0.95) if ms else float('nan'):.0f} | {errors} | {end.load:.1f} |"
        )
    for at, error in soak.errors[:10]:
        lines.append(f"\nerror at {at:.0f} s: {error}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long clinicians start consults")
    parser.add_argument("--sessions", type=int, default=40, help="clinicians at once")
    parser.add_argument("--think", type=float, default=10.0, help="mean pause before each step, seconds")
    parser.add_argument("--ramp", type=float, default=10.0, help="clinicians arrive within this many seconds")
    parser.add_argument("--warm-up", type=float, default=5.0, help="minutes before RSS must stay flat")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument("--out", type=Path, default=RESULTS, help="markdown report to write")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        raise SystemExit("PostgreSQL binaries not found: apt-get install -y postgresql")
    with (
        temporary_postgres(bin_dir) as database,
        _topology("one replica", database.create_database(), Server()) as (target, up),
    ):
        pid = up[0].process.pid
        warm = Run("one replica", 1)
        asyncio.run(_drive(Target(target.url, None), warm, [pid]))
        if warm.errors:
            raise RuntimeError(f"warm-up consult failed: {warm.errors}")
        baseline = _rss_mb(pid)
        paced = Target(target.url, target.tls, args.think, args.ramp)
        soak = asyncio.run(_soak(paced, pid, args.sessions, args.minutes, args.sample))
    lines = report(soak, args, baseline)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:8]), flush=True)
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
