"""The registry audit of an upload, run in a child process with memory and time limits.

A hostile or just very large clinic list must not take the server's process with it (a 0.25 MB
workbook once held a replica for 132 s and 1 GB, slowing every other clinician's page). The
loader refuses what it can recognise before reading (:mod:`myelo_cds.batch._loader`); this module
bounds what is left: the upload is read and audited by ``python -m myelo_cds.batch._sandbox``,
which limits its own address space (``RLIMIT_AS``) and CPU time (``RLIMIT_CPU``) before it reads
a byte, and is killed by the server past a wall-clock limit. A replica runs at most
``concurrent`` audits at once; another upload waits briefly, then is refused with a message.

The child talks over its standard output, one line per message: ``progress <done> <total>``,
then ``audit <json>`` or ``refused <message>``. Its standard error is discarded (a traceback
could carry a cell of a patient's row into a log).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from myelo_cds.batch._loader import DEFAULT_UPLOAD_LIMITS, UploadLimits
from myelo_cds.errors import SettingsError, UploadError

__all__ = ["DEFAULT_AUDIT_LIMITS", "AuditLimits", "audit_limits_from_environment", "audit_upload"]

_ROOT = Path(__file__).resolve().parents[2]
_EXIT_MEMORY = 3


@dataclass(frozen=True, slots=True)
class AuditLimits:
    """What one registry audit may use on the server."""

    max_memory_bytes: int = 1536 * 1024 * 1024
    """Address space of the audit's process (the interpreter with its libraries takes ~400 MB
    of it; a 50 MB list of 100,000 full rows needs about 900 MB)."""
    max_seconds: float = 180.0
    """Wall-clock time of one audit (100,000 rows take about 20 s on one core)."""
    concurrent: int = 1
    """Audits running at once on a replica; another upload waits up to ``queue_seconds``."""
    queue_seconds: float = 10.0


DEFAULT_AUDIT_LIMITS = AuditLimits()

# Environment variable -> (AuditLimits field, unit, lowest, highest, factor to the field's unit).
_SETTINGS = {
    "MYELO_CDS_AUDIT_MEMORY_MB": ("max_memory_bytes", "megabytes", 512, 65_536, 1024 * 1024),
    "MYELO_CDS_AUDIT_SECONDS": ("max_seconds", "seconds", 5, 3_600, 1),
    "MYELO_CDS_AUDIT_CONCURRENT": ("concurrent", "audits at once", 1, 16, 1),
}


def audit_limits_from_environment(environ: dict[str, str] | None = None) -> AuditLimits:
    """The registry audit's limits, from ``MYELO_CDS_AUDIT_MEMORY_MB`` (default 1536),
    ``MYELO_CDS_AUDIT_SECONDS`` (180) and ``MYELO_CDS_AUDIT_CONCURRENT`` (1); unset means the default.

    Raises:
        SettingsError: a value that is not a whole number in its range (the message names the
            variable, the value and the range).
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, (field, unit, low, high, factor) in _SETTINGS.items():
        text = env.get(name, "").strip()
        if not text:
            continue
        if not text.isdigit() or not low <= int(text) <= high:
            default = getattr(DEFAULT_AUDIT_LIMITS, field) / factor
            raise SettingsError(
                f"{name}={text[:20]!r} is not allowed: a whole number of {unit} from {low:,} to "
                f"{high:,} (default {default:g})"
            )
        values[field] = int(text) * factor
    return AuditLimits(**values)


_SLOTS: dict[int, threading.BoundedSemaphore] = {}
_SLOTS_LOCK = threading.Lock()


def _slots(concurrent: int) -> threading.BoundedSemaphore:
    with _SLOTS_LOCK:
        return _SLOTS.setdefault(concurrent, threading.BoundedSemaphore(concurrent))


def audit_upload(
    name: str,
    data: bytes,
    on: dt.date,
    *,
    limits: AuditLimits = DEFAULT_AUDIT_LIMITS,
    upload_limits: UploadLimits = DEFAULT_UPLOAD_LIMITS,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """Read and audit an uploaded clinic list in a child process; returns its
    :class:`~myelo_cds.batch.Audit`.

    Raises:
        UploadError: the loader refused the file, the audit passed its memory or time limit, or
            the server is busy with other audits. The message says which and what to do.
    """
    from myelo_cds.batch._clinic_audit import Audit

    slots = _slots(limits.concurrent)
    if not slots.acquire(timeout=limits.queue_seconds):
        raise UploadError("another registry audit is running on this server; try again in a minute")
    try:
        result = _run_child(name, data, on, limits=limits, upload_limits=upload_limits, progress=progress)
    finally:
        slots.release()
    return Audit(
        on=on,
        rows=result["rows"],
        pathways=Counter(result["pathways"]),
        overdue=result["overdue"],
        surgical=result["surgical"],
        surgical_option=result["surgical_option"],
    )


def _run_child(
    name: str,
    data: bytes,
    on: dt.date,
    *,
    limits: AuditLimits,
    upload_limits: UploadLimits,
    progress: Callable[[int, int], None] | None,
) -> dict[str, Any]:
    request = {
        "name": name,
        "on": on.isoformat(),
        "memory": limits.max_memory_bytes,
        "cpu_seconds": max(1, int(limits.max_seconds) + 1),
        "upload_limits": asdict(upload_limits),
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "myelo_cds.batch._sandbox"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=_ROOT,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")])),
        },
    )
    timed_out = threading.Event()

    def _kill() -> None:
        timed_out.set()
        child.kill()

    timer = threading.Timer(limits.max_seconds, _kill)
    timer.daemon = True
    timer.start()
    outcome: tuple[str, str] | None = None
    try:
        assert child.stdin is not None
        assert child.stdout is not None
        try:
            child.stdin.write(json.dumps(request).encode() + b"\n" + data)
            child.stdin.close()
        except BrokenPipeError:  # the child ended early (it is reported below)
            pass
        for raw in child.stdout:
            kind, _, rest = raw.decode("utf-8").rstrip("\n").partition(" ")
            if kind == "progress" and progress is not None:
                done, total = (int(part) for part in rest.split())
                progress(done, total)
            elif kind in ("audit", "refused"):
                outcome = (kind, rest)
        child.wait()
    finally:  # a stopped page run (StopException) or any error ends the child too
        timer.cancel()
        if child.poll() is None:
            child.kill()
            child.wait()
    if outcome is not None and outcome[0] == "audit":
        result: dict[str, Any] = json.loads(outcome[1])
        return result
    if outcome is not None:
        raise UploadError(outcome[1])
    raise UploadError(_failure(child.returncode, timed_out.is_set(), limits))


def _failure(code: int, timed_out: bool, limits: AuditLimits) -> str:
    if timed_out:
        return (
            f"the audit took longer than {limits.max_seconds:g} s and was stopped; "
            "split the list or use `python -m myelo_cds batch`"
        )
    if code == -signal.SIGXCPU:
        return (
            f"the audit used more than {limits.max_seconds:g} s of processor time and was stopped; "
            "split the list or use `python -m myelo_cds batch`"
        )
    if code == _EXIT_MEMORY:
        return (
            f"the audit needed more than {limits.max_memory_bytes / 1024**2:,.0f} MB of memory and was "
            "stopped; split the list or leave out empty columns"
        )
    return f"the audit stopped unexpectedly (exit status {code}); the file was not audited"


# --- the child ----------------------------------------------------------------------------


def _child() -> int:
    request = json.loads(sys.stdin.buffer.readline())
    resource.setrlimit(resource.RLIMIT_AS, (request["memory"], request["memory"]))
    resource.setrlimit(resource.RLIMIT_CPU, (request["cpu_seconds"], request["cpu_seconds"]))
    out = sys.stdout
    try:
        data = sys.stdin.buffer.read()
        from myelo_cds.batch._clinic_audit import audit_rows, read_upload

        upload = read_upload(request["name"], data, UploadLimits(**request["upload_limits"]))
        del data

        def _progress(done: int, total: int) -> None:
            out.write(f"progress {done} {total}\n")
            out.flush()

        audit = audit_rows(upload, dt.date.fromisoformat(request["on"]), progress=_progress)
        body = {
            "rows": audit.rows,
            "pathways": dict(audit.pathways),
            "overdue": audit.overdue,
            "surgical": audit.surgical,
            "surgical_option": audit.surgical_option,
        }
        out.write("audit " + json.dumps(body, default=str) + "\n")
    except UploadError as error:
        out.write("refused " + str(error).replace("\n", " ") + "\n")
    except MemoryError:
        return _EXIT_MEMORY
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child())
