"""Health latency while the CDS Hooks service handles its largest accepted request.

    python bench/cds_hooks_load.py [--calls 6] [--concurrent 2] [--probes-idle 200] [--out FILE]

Starts ``asgi:app`` under uvicorn on loopback (one replica, a scratch SQLite record store for
the audit, one trusted test EHR whose tokens sign every call), then:

1. idle: ``GET /_stcore/health`` every 20 ms, ``--probes-idle`` times;
2. loaded: ``--concurrent`` clients each post the largest request the service accepts
   (``MYELO_CDS_HOOKS_MAX_BYTES`` = 1 MB and under ``MYELO_CDS_HOOKS_MAX_RESOURCES`` = 2,000
   resources: finding Observations of the moderate DCM example, dated over a month) until
   ``--calls`` calls are answered, while health is probed every 20 ms;
3. refused: a 4 MB body (the size that took 26 s on the event loop before) is posted and must get
   413 at once, health probed meanwhile.

Reports p50/p95/max of health in each phase and of the hook calls, and the load average (the
machine is shared: compare phases of one run, not runs).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from myelo_cds import Findings, assess  # noqa: E402
from myelo_cds.exports.fhir import FINDING_SYSTEM, assessment_bundle  # noqa: E402
from myelo_cds.service._prefetch import HookLimits  # noqa: E402
from myelo_cds.service.cds_hooks import SERVICE_ID  # noqa: E402
from tests.cds_hooks_tokens import ClientKeys, environment, write_trust  # noqa: E402
from tests.e2e.live_app import free_port, wait_until_serving  # noqa: E402

SERVICE = f"/cds-services/{SERVICE_ID}"
PATIENT = "1288992"


def largest_request(limits: HookLimits) -> bytes:
    """A patient-view call as large as the limits accept (bytes and resources)."""
    findings = Findings.model_validate_json((ROOT / "data" / "examples" / "moderate_dcm.json").read_text())
    bundle = json.loads(assessment_bundle(findings, assess(findings)).model_dump_json())
    resources = [entry["resource"] for entry in bundle["entry"]]
    patient = {**next(r for r in resources if r["resourceType"] == "Patient"), "id": PATIENT}
    subject = {"reference": f"Patient/{PATIENT}"}
    observations = [
        {**r, "subject": subject}
        for r in resources
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["system"] == FINDING_SYSTEM
    ]
    responses = [{**r, "subject": subject} for r in resources if r["resourceType"] == "QuestionnaireResponse"]

    def body(count: int) -> bytes:
        entries = [
            {
                "resource": {
                    **observations[i % len(observations)],
                    "id": f"o{i}",
                    "effectiveDateTime": f"2025-03-{1 + i % 28:02d}",
                }
            }
            for i in range(count)
        ]
        call = {
            "hook": "patient-view",
            "hookInstance": "bench",
            "context": {"userId": "Practitioner/1", "patientId": PATIENT},
            "prefetch": {
                "patient": patient,
                "findings": {"resourceType": "Bundle", "type": "searchset", "entry": entries},
                "mjoa": {
                    "resourceType": "Bundle",
                    "type": "searchset",
                    "entry": [{"resource": r} for r in responses],
                },
            },
        }
        return json.dumps(call).encode()

    low, high = 1, limits.max_resources - 1 - len(responses)
    while low < high:  # the most observations that still fit in the byte limit
        middle = (low + high + 1) // 2
        if len(body(middle)) <= limits.max_bytes:
            low = middle
        else:
            high = middle - 1
    return body(low)


def _percentiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    median, top = statistics.median(ordered) * 1000, ordered[-1] * 1000
    return f"p50 {median:.1f} ms, p95 {p95 * 1000:.1f} ms, max {top:.1f} ms (n={len(ordered)})"


def _probe(url: str, stop: threading.Event, out: list[float], count: int | None = None) -> None:
    with httpx.Client(timeout=30) as client:
        while not stop.is_set() and (count is None or len(out) < count):
            started = time.perf_counter()
            answer = client.get(f"{url}/_stcore/health")
            out.append(time.perf_counter() - started)
            if answer.text != "ok":
                raise RuntimeError(f"health answered {answer.status_code}: {answer.text[:80]}")
            time.sleep(0.02)


def _discovered(url: str) -> Any:
    try:
        return httpx.get(f"{url}/cds-services", timeout=5).json()
    except httpx.TransportError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=6, help="largest-request calls in the loaded phase")
    parser.add_argument("--concurrent", type=int, default=2, help="clients posting at once")
    parser.add_argument("--probes-idle", type=int, default=200)
    parser.add_argument("--out", type=Path, help="also write the report (markdown) here")
    args = parser.parse_args()

    limits = HookLimits()
    body = largest_request(limits)
    resources = body.count(b'"resourceType"')
    folder = Path(tempfile.mkdtemp(prefix="cds-hooks-bench-"))
    keys = ClientKeys()
    env = {
        **os.environ,
        **environment(write_trust(folder, keys)),
        "MYELO_CDS_DB_PATH": str(folder / "records.sqlite3"),
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / "uvicorn.log"
    command = [sys.executable, "-m", "uvicorn", "asgi:app", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    lines = [
        "# CDS Hooks: health latency during the largest accepted request",
        "",
        f"Command: `python bench/cds_hooks_load.py --calls {args.calls} --concurrent {args.concurrent}`",
        f"Largest request: {len(body):,} bytes, {resources:,} resources; one uvicorn replica, loopback.",
        f"Load average before: {os.getloadavg()[0]:.2f}",
        "",
    ]
    try:
        wait_until_serving(lambda: _discovered(url), process, log, timeout=120)
        idle: list[float] = []
        _probe(url, threading.Event(), idle, args.probes_idle)
        lines.append(f"- health, idle: {_percentiles(idle)}")

        calls: list[float] = []
        statuses: list[int] = []
        lock = threading.Lock()

        def post_largest() -> None:
            with httpx.Client(timeout=120) as client:
                while True:
                    with lock:
                        if len(statuses) >= args.calls:
                            return
                        statuses.append(0)
                        slot = len(statuses) - 1
                    started = time.perf_counter()
                    answer = client.post(
                        url + SERVICE,
                        content=body,
                        headers={
                            "Authorization": f"Bearer {keys.token(SERVICE)}",
                            "Content-Type": "application/json",
                        },
                    )
                    with lock:
                        calls.append(time.perf_counter() - started)
                        statuses[slot] = answer.status_code

        stop = threading.Event()
        loaded: list[float] = []
        prober = threading.Thread(target=_probe, args=(url, stop, loaded))
        prober.start()
        workers = [threading.Thread(target=post_largest) for _ in range(args.concurrent)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        stop.set()
        prober.join()
        lines.append(
            f"- health, during {args.calls} largest calls ({args.concurrent} at once): {_percentiles(loaded)}"
        )
        lines.append(f"- the largest call itself: {_percentiles(calls)}; statuses {sorted(set(statuses))}")

        stop = threading.Event()
        refused_probe: list[float] = []
        prober = threading.Thread(target=_probe, args=(url, stop, refused_probe))
        prober.start()
        started = time.perf_counter()
        too_big = httpx.post(
            url + SERVICE,
            content=b'{"padding": "' + b"x" * 4_000_000 + b'"}',
            headers={"Authorization": f"Bearer {keys.token(SERVICE)}", "Content-Type": "application/json"},
            timeout=120,
        )
        refused = time.perf_counter() - started
        time.sleep(0.2)
        stop.set()
        prober.join()
        lines.append(
            f"- a 4 MB body: HTTP {too_big.status_code} in {refused * 1000:.0f} ms; "
            f"health meanwhile: {_percentiles(refused_probe)}"
        )
        lines.append(f"- load average after: {os.getloadavg()[0]:.2f}")
    finally:
        process.terminate()
        process.wait(timeout=20)
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
