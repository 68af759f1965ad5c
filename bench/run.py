"""Benchmark: single-case latency and batch throughput, next to a hand-written baseline.

``python bench/run.py [--quick]`` measures

* ``assess`` (the full explained recommendation) per call, cycling through the validation cases;
* ``default_engine().decide`` (the batch decision path) and ``bench.baseline.baseline_pathway``
  (the same rules as a plain if/else chain), with and without pydantic validation of the input;
* the real batch CLI (``python -m myelo_cds batch``, a subprocess timed by wall clock) on
  synthetic cases from ``bench/generate.py``, JSONL and CSV, with ``--workers 2``;
* the ``verify`` command's wall time,

prints a markdown table and saves it to ``bench/results.md`` (``--quick``: fewer calls and rows,
saved to ``bench/.data/results-quick.md``). Generated inputs and outputs go to ``bench/.data``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/run.py` puts bench/, not the repository, on the path
    sys.path.insert(0, str(ROOT))

import pydantic  # noqa: E402

from bench.baseline import baseline_pathway  # noqa: E402
from bench.generate import DATA_DIR, write_both  # noqa: E402
from myelo_cds import Findings, assess, default_engine  # noqa: E402

VALIDATION_DIR = ROOT / "data" / "validation"
SEED = 20250101
DECIDE_TARGET = 3.0  # engine decide within 3x of the hand-written function
BATCH_TARGET_S = 10.0  # 100,000 rows in under 10 s on 2 cores
ROUNDS = 5


# --- single-case latency -------------------------------------------------------------------


def _load_validation() -> list[dict[str, Any]]:
    return [
        json.loads(path.read_text(encoding="utf-8"))["findings"]
        for path in sorted(VALIDATION_DIR.glob("*.json"))
    ]


def _per_call(fn: Callable[[Any], object], inputs: Sequence[Any], calls: int) -> list[float]:
    """Seconds taken by each of ``calls`` calls, cycling through ``inputs``."""
    clock = time.perf_counter
    count = len(inputs)
    samples = []
    for i in range(calls):
        item = inputs[i % count]
        start = clock()
        fn(item)
        samples.append(clock() - start)
    return samples


def _stats(samples: list[float], scale: float) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median": statistics.median(ordered) * scale,
        "p95": ordered[int(0.95 * (len(ordered) - 1))] * scale,
        "mean": statistics.fmean(ordered) * scale,
    }


def measure_latency(calls_assess: int, calls_fast: int) -> tuple[dict[str, dict[str, float]], int, int]:
    """Latency of each single-case path; also how many validation cases the baseline matches."""
    engine = default_engine()
    raw = _load_validation()
    cases = [Findings.model_validate(data) for data in raw]
    dated = [(findings, findings.assessment_date or dt.date.today()) for findings in cases]

    def run_assess(findings: Findings) -> object:
        return assess(findings)

    def run_decide(item: tuple[Findings, dt.date]) -> object:
        return engine.decide(item[0], item[1]).decision

    def run_baseline(item: tuple[Findings, dt.date]) -> object:
        return baseline_pathway(item[0], item[1])

    def run_validate_decide(data: dict[str, Any]) -> object:
        findings = Findings.model_validate(data)
        return engine.decide(findings, findings.assessment_date).decision

    def run_validate_baseline(data: dict[str, Any]) -> object:
        findings = Findings.model_validate(data)
        return baseline_pathway(findings, findings.assessment_date or dt.date.today())

    agree = 0
    for findings, on in dated:
        decision = engine.decide(findings, on).decision
        agree += baseline_pathway(findings, on) == (decision.pathway, decision.urgency)
    paths: list[tuple[str, Callable[[Any], object], Sequence[Any], int, float]] = [
        ("assess", run_assess, cases, calls_assess, 1e3),
        ("decide", run_decide, dated, calls_fast, 1e6),
        ("baseline", run_baseline, dated, calls_fast, 1e6),
        ("validate+decide", run_validate_decide, raw, calls_fast, 1e6),
        ("validate+baseline", run_validate_baseline, raw, calls_fast, 1e6),
    ]
    for _, fn, inputs, calls, _ in paths:
        _per_call(fn, inputs, max(3 * len(inputs), calls // 10))  # warm up (caches, allocator)
    # Interleaved rounds, so that a slow spell on a shared machine hits every path alike.
    samples: dict[str, list[list[float]]] = {name: [] for name, *_ in paths}
    for _ in range(ROUNDS):
        for name, fn, inputs, calls, _ in paths:
            samples[name].append(_per_call(fn, inputs, calls // ROUNDS))
    results = {
        name: _stats([x for part in samples[name] for x in part], scale) for name, _, _, _, scale in paths
    }
    for engine_path, hand_path in (("decide", "baseline"), ("validate+decide", "validate+baseline")):
        ratios = [
            statistics.median(fast) / statistics.median(hand)
            for fast, hand in zip(samples[engine_path], samples[hand_path], strict=True)
        ]
        results[engine_path]["ratio"] = statistics.median(ratios)
    return results, agree, len(dated)


# --- batch through the real CLI ----------------------------------------------------------------


def _inputs(rows: int) -> tuple[Path, Path]:
    """The synthetic inputs, regenerated only if the generator, the size or the seed changed."""
    source = (ROOT / "bench" / "generate.py").read_bytes()
    key = hashlib.sha256(source + f"{rows}:{SEED}".encode()).hexdigest()
    stamp = DATA_DIR / f"cases-{rows}.stamp"
    jsonl, table = DATA_DIR / f"cases-{rows}.jsonl", DATA_DIR / f"cases-{rows}.csv"
    if not (stamp.is_file() and stamp.read_text() == key and jsonl.is_file() and table.is_file()):
        print(f"generating {rows:,} cases in {DATA_DIR} ...", file=sys.stderr)
        write_both(rows, SEED, DATA_DIR)
        stamp.write_text(key)
    return jsonl, table


def _timed(command: list[str], log: Path) -> tuple[float, int, float, float]:
    """Run ``command``; wall s, exit status, peak RSS (MiB) of its largest process, CPU s.

    ``os.wait4`` reports the child's own resource use merged with that of the children it
    waited for (the batch workers); ``ru_maxrss`` is the largest single process, in KiB.
    CPU time (user + system, all processes) is less sensitive than wall time to other load.
    """
    with log.open("w") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return wall, process.returncode, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def measure_batch(rows: int, workers: int, repeat: int) -> list[dict[str, Any]]:
    """Each input format ``repeat`` times (alternating); the best wall time is reported."""
    jsonl, table = _inputs(rows)
    runs: dict[Path, list[tuple[float, float, float, str]]] = {jsonl: [], table: []}
    for _ in range(repeat):
        for source, done in runs.items():
            target = DATA_DIR / f"out-{rows}{source.suffix}"
            log = DATA_DIR / f"out-{rows}{source.suffix}.log"
            command = [sys.executable, "-m", "myelo_cds", "batch", str(source), "-o", str(target)]
            command += ["--workers", str(workers)]
            wall, status, rss, cpu = _timed(command, log)
            summary = log.read_text(encoding="utf-8").strip()
            if status != 0:
                raise SystemExit(f"batch failed ({status}): {summary}")
            done.append((wall, rss, cpu, summary))
    results = []
    for source, done in runs.items():
        wall, _, _, summary = min(done)
        errors = re.search(r"error ([\d,]+)", summary)
        results.append(
            {
                "format": source.suffix[1:].upper(),
                "rows": rows,
                "workers": workers,
                "wall": wall,
                "walls": [run[0] for run in done],
                "rate": rows / wall,
                "rss": max(run[1] for run in done),
                "cpu": min(run[2] for run in done),
                "errors": int(errors.group(1).replace(",", "")) if errors else 0,
                "summary": summary,
            }
        )
    return results


def measure_verify() -> tuple[float, float]:
    wall, status, rss, _ = _timed([sys.executable, "-m", "myelo_cds", "verify"], DATA_DIR / "verify.log")
    if status != 0:
        raise SystemExit("verify failed: " + (DATA_DIR / "verify.log").read_text(encoding="utf-8"))
    return wall, rss


# --- report ------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _command() -> str:
    python = Path(sys.executable)
    try:
        shown = str(python.relative_to(ROOT))
    except ValueError:
        shown = python.name
    return shlex.join([shown, *sys.argv])


def _load(values: tuple[float, float, float]) -> str:
    return "/".join(f"{value:.2f}" for value in values)


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def report(
    *,
    latency: dict[str, dict[str, float]],
    agree: tuple[int, int],
    batch: list[dict[str, Any]],
    verify: tuple[float, float],
    quick: bool,
    load: tuple[tuple[float, float, float], tuple[float, float, float]],
) -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        "# myelo-cds benchmark" + (" (quick run)" if quick else ""),
        "",
        f"- date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- machine: {_cpu_model()}; {os.cpu_count()} CPUs ({usable} usable); {platform.platform()}",
        f"- python {platform.python_version()} ({platform.python_implementation()}),"
        f" pydantic {pydantic.VERSION}",
        f"- load average (1/5/15 min) before: {_load(load[0])}; after: {_load(load[1])}"
        " (other processes on the machine skew the numbers)",
        f"- rule set: {default_engine().rule_set.version} ({default_engine().rule_set.sha256[:12]})",
        f"- command: `{_command()}`",
        "",
        "## Single case (cycling through the validation cases)",
        "",
        "| path | unit | median | p95 | mean |",
        "|---|---|---:|---:|---:|",
    ]
    labels = {
        "assess": ("`assess` (full explained recommendation)", "ms"),
        "decide": ("`default_engine().decide` (batch path)", "µs"),
        "baseline": ("hand-written `baseline_pathway`", "µs"),
        "validate+decide": ("`Findings.model_validate` + `decide`", "µs"),
        "validate+baseline": ("`Findings.model_validate` + baseline", "µs"),
    }
    for name, (label, unit) in labels.items():
        s = latency[name]
        cells = " | ".join(f"{s[key]:.{2 if unit == 'ms' else 1}f}" for key in ("median", "p95", "mean"))
        lines.append(f"| {label} | {unit} | {cells} |")
    ratio = latency["decide"]["ratio"]
    ratio_mean = latency["decide"]["mean"] / latency["baseline"]["mean"]
    ratio_valid = latency["validate+decide"]["ratio"]
    ratio_valid_mean = latency["validate+decide"]["mean"] / latency["validate+baseline"]["mean"]
    lines += [
        "",
        f"| ratio (engine / hand-written) | median of {ROUNDS} rounds | of means | target ≤ 3x |",
        "|---|---:|---:|---|",
        f"| decide / baseline | {ratio:.1f}x | {ratio_mean:.1f}x | {_met(ratio <= DECIDE_TARGET)} |",
        f"| (validate + decide) / (validate + baseline) | {ratio_valid:.1f}x | {ratio_valid_mean:.1f}x "
        f"| {_met(ratio_valid <= DECIDE_TARGET)} |",
        "",
        f"Baseline and engine agree on {agree[0]}/{agree[1]} validation cases (pathway and urgency).",
        "",
        "## Batch (`python -m myelo_cds batch IN -o OUT --workers N`, wall clock incl. start-up)",
        "",
        "| input | rows | workers | best wall s (all runs) | rows/s | CPU s, all processes (best) "
        "| peak RSS MiB (largest process) | errors "
        f"| target < {BATCH_TARGET_S:.0f} s per 100,000 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in batch:
        per_100k = row["wall"] * 100_000 / row["rows"]
        lines.append(
            f"| {row['format']} | {row['rows']:,} | {row['workers']} "
            f"| {row['wall']:.2f} ({', '.join(f'{wall:.2f}' for wall in row['walls'])}) "
            f"| {row['rate']:,.0f} | {row['cpu']:.2f} | {row['rss']:.0f} | {row['errors']} "
            f"| {_met(per_100k < BATCH_TARGET_S)} |"
        )
    lines += [
        "",
        f"Pathways: {batch[0]['summary'].replace(str(ROOT) + os.sep, '')}",  # no machine path in the file
        "",
        "## Verification",
        "",
        "| command | wall s | peak RSS MiB |",
        "|---|---:|---:|",
        f"| `python -m myelo_cds verify` | {verify[0]:.2f} | {verify[1]:.0f} |",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and 10,000 batch rows")
    parser.add_argument("--rows", type=int, help="batch rows (default 100,000; --quick 10,000)")
    parser.add_argument("--workers", type=int, default=2, help="batch worker processes (default 2)")
    parser.add_argument("--repeat", type=int, help="batch runs per format (default 2; --quick 1)")
    parser.add_argument("--output", type=Path, help="markdown file to write (default bench/results.md)")
    args = parser.parse_args(argv)
    rows = args.rows or (10_000 if args.quick else 100_000)
    output = args.output or (DATA_DIR / "results-quick.md" if args.quick else ROOT / "bench" / "results.md")
    DATA_DIR.mkdir(parents=True, exist_ok=True)

    load_before = os.getloadavg()
    print("single-case latency ...", file=sys.stderr)
    latency, agree, total = measure_latency(*((200, 2_000) if args.quick else (2_000, 20_000)))
    print("batch ...", file=sys.stderr)
    batch = measure_batch(rows, args.workers, args.repeat or (1 if args.quick else 2))
    print("verify ...", file=sys.stderr)
    verify = measure_verify()
    load = (load_before, os.getloadavg())
    text = report(
        latency=latency, agree=(agree, total), batch=batch, verify=verify, quick=args.quick, load=load
    )
    print(text)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(f"saved to {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
