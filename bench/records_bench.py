"""Benchmark: the record store with a clinic's worth of data (not a test).

``python bench/records_bench.py [--url URL | --postgres] [--patients 10000] [--assessments 100000]``

Fills a new SQLite file (default, in a temporary directory), the empty database at ``--url``,
or (``--postgres``) a throwaway PostgreSQL server started from the Debian packages as the
tests start it, with pseudonymous patients and their assessments, bulk-inserted through the
store's own tables: each assessment carries a real findings document and the full
recommendation from ``assess`` (the six example cases at dates spread over three years), its
follow-up visits and a "create" audit event. Then it times the store's public calls and prints
a markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/records_bench.py` puts bench/, not the repository, on the path
    sys.path.insert(0, str(ROOT))

from sqlalchemy import bindparam, insert, text, update  # noqa: E402

from myelo_cds import Findings, assess  # noqa: E402
from myelo_cds.records import Store, next_visit_number  # noqa: E402
from myelo_cds.records._database import make_engine  # noqa: E402
from myelo_cds.records._schema import Assessment, AuditEventRow, FollowUpVisit, Patient  # noqa: E402

EXAMPLES = [
    "asymptomatic_compression",
    "mild_dcm",
    "moderate_dcm",
    "postoperative",
    "als_mimic",
    "red_flag_trauma",
]
# Most patients are under surveillance or rehabilitation; emergencies are rare.
WEIGHTS = [30, 30, 20, 12, 6, 2]
BATCH = 2000


def _shifted(base: Findings, when: dt.date) -> Findings:
    """The example case moved to ``when``, with its earlier dates moved alike."""
    assert base.assessment_date is not None
    delta = when - base.assessment_date
    data = base.model_dump()
    data["assessment_date"] = when
    if data.get("earlier_mjoa"):
        data["earlier_mjoa"]["date"] += delta
    if data["patient"].get("management_since"):
        data["patient"]["management_since"] += delta
    return Findings.model_validate(data)


def _templates(today: dt.date, weeks: int) -> dict[tuple[str, int], dict[str, Any]]:
    """Findings, recommendation and visits for every example on a weekly grid of dates."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for name in EXAMPLES:
        base = Findings.model_validate_json((ROOT / "data" / "examples" / f"{name}.json").read_text())
        for week in range(weeks):
            when = today - dt.timedelta(weeks=weeks - 1 - week)
            findings = _shifted(base, when)
            rec = assess(findings)
            mjoa = findings.mjoa
            out[(name, week)] = {
                "date": when,
                "findings": findings.model_dump(mode="json", exclude_none=True),
                "recommendation": rec.model_dump(mode="json"),
                "pathway": rec.pathway,
                "urgency": rec.urgency,
                "rule_set": rec.rule_set,
                "mjoa": (rec.scores.mjoa.total if rec.scores.mjoa else None, mjoa),
                "nurick": findings.nurick,
                "next": next_visit_number(rec.follow_up, when),
                "schedule": rec.follow_up.schedule_id,
                "visits": rec.follow_up.visits,
            }
    return out


def fill(url: str, patients: int, assessments: int, today: dt.date, seed: int = 1) -> float:
    """Bulk-insert the data set; returns the seconds it took."""
    rng = random.Random(seed)
    weeks = 156
    started = time.perf_counter()
    templates = _templates(today, weeks)
    Store(url).patients()  # migrate the empty database
    engine = make_engine(url)
    now = dt.datetime.now(dt.UTC)
    per_patient = [
        assessments // patients + (1 if n < assessments % patients else 0) for n in range(patients)
    ]
    current: list[dict[str, Any]] = []
    next_id = 1
    visit_id = 1
    with engine.begin() as connection:
        connection.execute(
            insert(Patient),
            [{"id": f"P{n:06d}", "created_at": now, "assessment_count": 0} for n in range(patients)],
        )
    rows: list[dict[str, Any]] = []
    visits: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []

    def flush() -> None:
        with engine.begin() as connection:
            connection.execute(insert(Assessment), rows)
            connection.execute(insert(FollowUpVisit), visits)
            connection.execute(insert(AuditEventRow), events)
        rows.clear()
        visits.clear()
        events.clear()

    for n, count in enumerate(per_patient):
        patient_id = f"P{n:06d}"
        name = rng.choices(EXAMPLES, WEIGHTS)[0]
        # visits every 4-20 weeks, the last one within the past 30 weeks
        week = weeks - 1 - rng.randrange(0, 30)
        series = []
        for _ in range(count):
            series.append(max(week, 0))
            week -= rng.randint(4, 20)
        for position, week in enumerate(sorted(series)):
            t = templates[(name, week)]
            total, mjoa = t["mjoa"]
            rows.append(
                {
                    "id": next_id,
                    "patient_id": patient_id,
                    "assessment_date": t["date"],
                    "created_at": now + dt.timedelta(microseconds=next_id),
                    "author": "bench",
                    "pathway": t["pathway"],
                    "urgency": t["urgency"],
                    "rule_set_id": t["rule_set"].id,
                    "rule_set_version": t["rule_set"].version,
                    "rule_set_sha256": t["rule_set"].sha256,
                    "mjoa_total": total,
                    "mjoa_ue_motor": mjoa.ue_motor if mjoa else None,
                    "mjoa_le_motor": mjoa.le_motor if mjoa else None,
                    "mjoa_ue_sensation": mjoa.ue_sensation if mjoa else None,
                    "mjoa_sphincter": mjoa.sphincter if mjoa else None,
                    "nurick": t["nurick"],
                    "next_visit_number": t["next"],
                    "findings": t["findings"],
                    "recommendation": t["recommendation"],
                }
            )
            next_visit_id = None
            for visit in t["visits"]:
                if visit.number == t["next"]:
                    next_visit_id = visit_id
                visits.append(
                    {
                        "id": visit_id,
                        "assessment_id": next_id,
                        "number": visit.number,
                        "due": visit.due,
                        "window_start": visit.window_start,
                        "window_end": visit.window_end,
                        "label": visit.label,
                        "mri_due": visit.mri_due,
                        "schedule_id": t["schedule"],
                    }
                )
                visit_id += 1
            events.append(
                {
                    "at": now,
                    "actor": "bench",
                    "action": "create",
                    "patient_id": patient_id,
                    "detail": f"assessment {next_id}",
                    "rule_set_version": t["rule_set"].version,
                }
            )
            if position == count - 1:
                current.append(
                    {
                        "pid": patient_id,
                        "assessment_count": count,
                        "latest_assessment_id": next_id,
                        "last_assessment_date": t["date"],
                        "last_pathway": t["pathway"],
                        "last_urgency": t["urgency"],
                        "next_visit_id": next_visit_id,
                        "course_alert": "deterioration" if rng.random() < 0.03 else None,
                    }
                )
            next_id += 1
        if len(rows) >= BATCH:
            flush()
    if rows:
        flush()
    with engine.begin() as connection:
        names = [key for key in current[0] if key != "pid"]
        connection.execute(
            update(Patient)
            .where(Patient.id == bindparam("pid"))
            .values({name: bindparam(name) for name in names}),
            current,
        )
        if connection.dialect.name == "postgresql":
            for table in ("assessments", "follow_up_visits"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" (SELECT max(id) FROM {table}))"
                    )
                )
            connection.execute(text("ANALYZE"))
        else:
            connection.execute(text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


def _time(call: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        out.append(time.perf_counter() - started)
    return out


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms"


def _p95(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", help="an EMPTY database to fill (default: a new SQLite file in a temp dir)")
    parser.add_argument(
        "--postgres", action="store_true", help="start a throwaway PostgreSQL server (Debian 'postgresql')"
    )
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--assessments", type=int, default=100_000)
    args = parser.parse_args(argv)
    today = dt.date.today()
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="myelo-records-bench-"))
        url = args.url or f"sqlite:///{Path(tmp) / 'records.sqlite3'}"
        if args.postgres:
            from tests.pg_fixture import find_postgres_bin, temporary_postgres

            bin_dir = find_postgres_bin()
            if bin_dir is None:
                parser.error("PostgreSQL is not installed (Debian package 'postgresql')")
            url = stack.enter_context(temporary_postgres(bin_dir)).create_database()
        filled = fill(url, args.patients, args.assessments, today)
        store = Store(url)
        rng = random.Random(7)
        sample = [f"P{rng.randrange(args.patients):06d}" for _ in range(100)]
        cold = _time(lambda: store.worklist(today), 1)
        worklist = _time(lambda: store.worklist(today), 7)
        rows = store.worklist(today)
        statuses = {
            status: sum(row.status == status for row in rows) for status in ("overdue", "due", "scheduled")
        }
        per_patient = [t for pid in sample for t in _time(functools.partial(store.assessments, pid), 1)]
        latest = [t for pid in sample for t in _time(functools.partial(store.latest, pid), 1)]
        patients = _time(store.patients, 5)
        findings = _shifted(
            Findings.model_validate_json((ROOT / "data" / "examples" / "mild_dcm.json").read_text()), today
        )
        rec = assess(findings)
        saves = [
            t
            for pid in sample[:20]
            for t in _time(
                functools.partial(store.save_assessment, findings, rec, patient_id=pid, author="bench"), 1
            )
        ]
        size = ""
        if store.backend == "sqlite":
            size = f"{Path(url.removeprefix('sqlite:///')).stat().st_size / 1e9:.2f} GB file"
        store.close()
    each = args.assessments // args.patients
    table = [
        ("`worklist(today)` first call", cold),
        ("`worklist(today)`", worklist),
        ("`patients()`", patients),
        (f"`assessments(patient_id)` (~{each} each, JSON re-validated)", per_patient),
        ("`latest(patient_id)`", latest),
        ("`save_assessment` (one transaction, course alert over the stored course)", saves),
    ]
    counts = ", ".join(f"{status} {number:,}" for status, number in statuses.items())
    where = size or "PostgreSQL"
    print(
        f"Records on {store.backend}: {args.patients:,} patients, {args.assessments:,} assessments ({where});"
    )
    print(f"filled in {filled:.0f} s; worklist rows: {len(rows):,} ({counts}).\n")
    print("| call | median | p95 | runs |")
    print("|---|---:|---:|---:|")
    for label, values in table:
        p95 = _p95(values) if len(values) > 1 else ""
        print(f"| {label} | {_ms(values)} | {p95} | {len(values)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
