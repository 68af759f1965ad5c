"""The registry audit runs off the server's process (issue 14): in a child with an address-space
and a time limit, one audit at a time per replica; past a limit the upload is refused with a
message that names the limit, and the page records the upload and the export in the audit log."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from myelo_cds.batch import AuditLimits, UploadError, audit_rows, audit_upload, read_upload, template_csv
from myelo_cds.batch._sandbox import _slots
from tests.test_registry_audit import _clinic_csv

ROOT = Path(__file__).resolve().parents[1]
ON = dt.date(2026, 12, 1)


def _long_list(rows: int) -> bytes:
    header, example = template_csv().decode().splitlines()[:2]
    return (header + "\n" + "\n".join([example] * rows) + "\n").encode()


def test_the_child_gives_the_same_audit_as_this_process() -> None:
    data = _clinic_csv(60)
    seen: list[tuple[int, int]] = []
    child = audit_upload("clinic.csv", data, ON, progress=lambda done, total: seen.append((done, total)))
    here = audit_rows(read_upload("clinic.csv", data), ON)
    assert child.rows == here.rows
    assert child.pathways == here.pathways
    assert (child.overdue, child.surgical, child.surgical_option) == (
        here.overdue,
        here.surgical,
        here.surgical_option,
    )
    assert [row["row"] for row in child.errors] == [4, 8]
    assert seen[-1] == (60, 60)


def test_the_loaders_refusal_comes_back_as_its_message() -> None:
    with pytest.raises(UploadError, match=r"unknown column: 'patient\.agee'"):
        audit_upload("clinic.csv", b"case_id,patient.agee\nA1,64\n", ON)


def test_an_audit_past_its_memory_limit_is_refused_and_one_within_it_is_not() -> None:
    """The limit is on the child's address space, the imported libraries (about 330 MB) included:
    1,000 rows need about 540 MB of it, 60,000 rows more than 800 MB."""
    limits = AuditLimits(max_memory_bytes=640 * 1024 * 1024)
    assert len(audit_upload("clinic.csv", _long_list(1_000), ON, limits=limits).rows) == 1_000
    with pytest.raises(UploadError, match="needed more than 640 MB of memory"):
        audit_upload("clinic.csv", _long_list(60_000), ON, limits=limits)


def test_an_audit_past_its_time_limit_is_stopped() -> None:
    """A quarter of a second is less than the child's start-up alone (Python and the package's
    imports), so the limit is reached on any machine, however fast the audit itself has become
    (5,000 rows took under 1 s once the batch got faster, and this test then saw no stop)."""
    started = time.perf_counter()
    with pytest.raises(UploadError, match=r"took longer than 0\.25 s and was stopped"):
        audit_upload("clinic.csv", _long_list(5_000), ON, limits=AuditLimits(max_seconds=0.25))
    assert time.perf_counter() - started < 10.0  # stopped, not left to finish (generous: load)


def test_a_second_audit_waits_then_is_refused_while_one_runs() -> None:
    limits = AuditLimits(concurrent=1, queue_seconds=0.2)
    slot = _slots(1)
    assert slot.acquire(timeout=5)  # an audit of another session holds the replica's one slot
    try:
        with pytest.raises(UploadError, match="another registry audit is running"):
            audit_upload("clinic.csv", _clinic_csv(10), ON, limits=limits)
    finally:
        slot.release()


def test_the_page_states_the_servers_upload_limit_and_records_the_upload_once() -> None:
    from myelo_cds.ui.records import store

    at = AppTest.from_file(str(ROOT / "pages" / "registry_audit.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert "up to 5 MB and 100,000 rows" in at.file_uploader[0].label
    before = [e for e in store().audit_events(limit=10_000) if e.action == "registry_audit"]
    at.date_input[0].set_value(ON)
    at.file_uploader[0].set_value(("clinic.csv", _clinic_csv(), "text/csv")).run()
    assert not at.exception
    at.run()  # a rerun shows the same audit without auditing (or recording) it again
    assert not at.exception
    assert {metric.label: metric.value for metric in at.metric}["Rows with errors"] == "2"
    after = [e for e in store().audit_events(limit=10_000) if e.action == "registry_audit"]
    assert len(after) == len(before) + 1
    assert after[0].detail == "clinic list audited: 30 rows, 2 with errors"
    assert "clinic.csv" not in after[0].detail


def test_the_audit_limits_come_from_the_environment_with_their_ranges() -> None:
    from myelo_cds.batch import audit_limits_from_environment
    from myelo_cds.errors import SettingsError

    assert audit_limits_from_environment({}) == AuditLimits()
    limits = audit_limits_from_environment(
        {
            "MYELO_CDS_AUDIT_MEMORY_MB": "2048",
            "MYELO_CDS_AUDIT_SECONDS": "60",
            "MYELO_CDS_AUDIT_CONCURRENT": "2",
        }
    )
    assert limits == AuditLimits(max_memory_bytes=2048 * 1024 * 1024, max_seconds=60, concurrent=2)
    with pytest.raises(
        SettingsError,
        match=r"MYELO_CDS_AUDIT_MEMORY_MB='100' is not allowed: a whole number of megabytes from 512 to 65,536 \(default 1536\)",
    ):
        audit_limits_from_environment({"MYELO_CDS_AUDIT_MEMORY_MB": "100"})
    with pytest.raises(
        SettingsError,
        match=r"MYELO_CDS_AUDIT_SECONDS='1.5' is not allowed: a whole number of seconds from 5 to 3,600 \(default 180\)",
    ):
        audit_limits_from_environment({"MYELO_CDS_AUDIT_SECONDS": "1.5"})
