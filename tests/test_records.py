"""Patient records on SQLite and on a real PostgreSQL server: what is saved reads back the same,
the worklist states the right status on both sides of each boundary, the audit log cannot be
changed, names are refused as patient ids, and a process killed mid-save loses nothing it
had committed and leaves no half-saved assessment."""

from __future__ import annotations

import ast
import datetime as dt
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from functools import cache
from pathlib import Path
from typing import NoReturn

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.exc import DBAPIError

import myelo_cds.records
from myelo_cds import Findings, Recommendation, assess
from myelo_cds.records import RecordError, Store, database_url, next_visit_number
from myelo_cds.records._database import make_engine
from myelo_cds.records._migrate import alembic_config
from myelo_cds.records._models import check_patient_id
from myelo_cds.records._schema import Base

ROOT = Path(__file__).resolve().parents[1]
TABLES = {
    "patients",
    "assessments",
    "follow_up_visits",
    "audit_events",
    "drafts",
    "training_attempts",
    "accounts",
}


@cache
def _example(name: str) -> Findings:
    return Findings.model_validate_json((ROOT / "data" / "examples" / f"{name}.json").read_text())


def case(name: str, on: dt.date, **mjoa: int) -> tuple[Findings, Recommendation]:
    """An example case dated ``on`` (optionally with some mJOA items changed), and its result."""
    findings = _example(name)
    update: dict[str, object] = {"assessment_date": on}
    if mjoa:
        assert findings.mjoa is not None
        update["mjoa"] = findings.mjoa.model_copy(update=mjoa)
    findings = Findings.model_validate({**findings.model_dump(), **update})
    return findings, assess(findings)


def _count(engine: Engine, query: str, **params: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(query), params).scalar_one())


# --- the package ----------------------------------------------------------------------------


def test_public_surface_is_exactly_the_intended_names() -> None:
    assert sorted(myelo_cds.records.__all__) == [
        "Account",
        "AssessmentRecord",
        "AuditEvent",
        "NewTrainingAttempt",
        "PatientSummary",
        "RecordError",
        "Store",
        "TrainingAttempt",
        "WorkStatus",
        "WorklistRow",
        "database_url",
        "next_visit_number",
        "open_shared_store",
        "shared_store",
    ]
    for name in myelo_cds.records.__all__:
        assert hasattr(myelo_cds.records, name)


def test_records_never_log_and_know_no_ui() -> None:
    for path in (ROOT / "myelo_cds" / "records").glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert not imported & {"logging", "streamlit", "pages", "app"}, path
        assert "print(" not in path.read_text(), path


def test_database_url_is_a_sqlite_file_in_the_current_directory_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MYELO_CDS_DATABASE_URL", raising=False)
    monkeypatch.delenv("MYELO_CDS_DB_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    assert database_url() == f"sqlite:///{tmp_path / 'myelo_cds.sqlite3'}"
    monkeypatch.setenv("MYELO_CDS_DB_PATH", str(tmp_path / "clinic" / "records.sqlite3"))
    assert database_url() == f"sqlite:///{tmp_path / 'clinic' / 'records.sqlite3'}"
    monkeypatch.setenv("MYELO_CDS_DATABASE_URL", "postgresql+psycopg://app@127.0.0.1/myelo")
    assert database_url() == "postgresql+psycopg://app@127.0.0.1/myelo"


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with engine.connect() as connection:
        pragma = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    engine.dispose()
    assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30000, "synchronous": 2}


def test_an_in_memory_sqlite_database_is_refused() -> None:
    with pytest.raises(ValueError, match="database file"):
        Store("sqlite://")


# --- migrations -----------------------------------------------------------------------------


def _alembic(url: str, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "-x", f"url={url}", *args],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_migrations_run_up_from_empty_and_down_to_base(db_url: str, raw: Engine) -> None:
    assert not set(inspect(raw).get_table_names()) & TABLES
    _alembic(db_url, "upgrade", "head")
    assert set(inspect(raw).get_table_names()) >= TABLES
    with raw.connect() as connection:
        # the tables are exactly what the models describe: no drift between the two
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        newest = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == newest
    store = Store(db_url)  # with data in every table, down to base still works
    store.save_assessment(*case("moderate_dcm", dt.date(2025, 3, 4)), patient_id="PT-1", author="a")
    store.close()
    _alembic(db_url, "downgrade", "base")
    assert not set(inspect(raw).get_table_names()) & TABLES


def test_the_store_migrates_a_new_database_on_first_use(store: Store, raw: Engine) -> None:
    assert store.patients() == []
    assert set(inspect(raw).get_table_names()) >= TABLES | {"alembic_version"}


# --- save and read back ---------------------------------------------------------------------


@pytest.mark.parametrize("example", ["mild_dcm", "red_flag_trauma", "postoperative"])
def test_a_saved_assessment_reads_back_equal(store: Store, raw: Engine, example: str) -> None:
    findings, rec = case(example, dt.date(2025, 3, 4))
    saved = store.save_assessment(findings, rec, patient_id="PT-0001", author="dr.lee")
    [back] = store.assessments("PT-0001")
    assert back == saved
    assert back.findings == findings
    assert back.recommendation == rec
    assert (back.patient_id, back.author, back.assessment_date) == ("PT-0001", "dr.lee", dt.date(2025, 3, 4))
    assert (back.rule_set_version, back.rule_set_sha256) == (rec.rule_set.version, rec.rule_set.sha256)
    assert back.created_at.tzinfo is not None
    assert store.latest("PT-0001") == saved
    assert _count(raw, "SELECT count(*) FROM follow_up_visits WHERE assessment_id = :id", id=saved.id) == len(
        rec.follow_up.visits
    )
    [created] = store.audit_events()
    assert (created.action, created.actor, created.patient_id) == ("create", "dr.lee", "PT-0001")
    assert created.rule_set_version == rec.rule_set.version


def test_the_mjoa_items_and_nurick_are_columns(store: Store, raw: Engine) -> None:
    findings, rec = case("mild_dcm", dt.date(2025, 3, 4))
    store.save_assessment(findings, rec, patient_id="PT-1", author="dr.lee")
    with raw.connect() as connection:
        row = connection.execute(
            text(
                "SELECT mjoa_total, mjoa_ue_motor, mjoa_le_motor, mjoa_ue_sensation, mjoa_sphincter, nurick,"
                " pathway, urgency FROM assessments"
            )
        ).one()
    assert findings.mjoa is not None
    assert tuple(row) == (
        15,
        findings.mjoa.ue_motor,
        findings.mjoa.le_motor,
        findings.mjoa.ue_sensation,
        findings.mjoa.sphincter,
        findings.nurick,
        rec.pathway,
        rec.urgency,
    )


def test_undated_findings_are_stored_with_the_recommendation_date(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    findings = _example("moderate_dcm").model_copy(update={"assessment_date": None})
    rec = assess(findings, dt.date(2025, 5, 6))
    store.save_assessment(findings, rec, patient_id="PT-1", author="dr.lee")
    [back] = store.assessments("PT-1")
    assert back.findings == findings.model_copy(update={"assessment_date": dt.date(2025, 5, 6)})


def test_findings_and_a_recommendation_of_another_case_or_date_are_refused(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    findings, _ = case("mild_dcm", dt.date(2025, 3, 4))
    _, other = case("moderate_dcm", dt.date(2025, 3, 4))
    with pytest.raises(RecordError, match="different cases"):
        store.save_assessment(findings, other, patient_id="PT-1", author="dr.lee")
    _, later = case("mild_dcm", dt.date(2025, 3, 5))
    with pytest.raises(RecordError, match="assess the findings again"):
        store.save_assessment(findings, later, patient_id="PT-1", author="dr.lee")
    assert store.patients() == []


def test_findings_that_would_not_read_back_are_refused(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    findings, rec = case("postoperative", dt.date(2025, 6, 1))
    # model_copy skips validation: surgery after the assessment date
    late = findings.patient.model_copy(update={"management_since": dt.date(2025, 7, 1)})
    invalid = findings.model_copy(update={"patient": late})
    with pytest.raises(
        RecordError, match=r"Findings not valid, nothing was saved: .*management_since must not be after"
    ):
        store.save_assessment(invalid, rec, patient_id="PT-1", author="dr.lee")
    assert store.patients() == []


def test_assessments_are_ordered_by_assessment_date_then_time_saved(store: Store) -> None:
    march_first = store.save_assessment(*case("mild_dcm", dt.date(2025, 3, 1)), patient_id="PT-1", author="a")
    january = store.save_assessment(*case("mild_dcm", dt.date(2025, 1, 1)), patient_id="PT-1", author="a")
    march_second = store.save_assessment(
        *case("moderate_dcm", dt.date(2025, 3, 1)), patient_id="PT-1", author="a"
    )
    assert [r.id for r in store.assessments("PT-1")] == [january.id, march_first.id, march_second.id]
    assert store.latest("PT-1") == march_second
    # a back-dated entry does not become the latest
    store.save_assessment(
        *case("asymptomatic_compression", dt.date(2024, 6, 1)), patient_id="PT-1", author="a"
    )
    assert store.latest("PT-1") == march_second
    assert store.latest("PT-2") is None
    assert store.assessments("PT-2") == []


def test_patients_summary_counts_and_shows_the_latest_pathway(store: Store) -> None:
    store.save_assessment(
        *case("asymptomatic_compression", dt.date(2025, 1, 10)), patient_id="B-2", author="a"
    )
    store.save_assessment(*case("moderate_dcm", dt.date(2025, 2, 10)), patient_id="B-2", author="a")
    store.save_assessment(*case("mild_dcm", dt.date(2025, 1, 5)), patient_id="A-1", author="a")
    summaries = store.patients()
    assert [
        (s.patient_id, s.assessment_count, s.last_assessment_date, s.last_pathway, s.last_urgency)
        for s in summaries
    ] == [
        ("A-1", 1, dt.date(2025, 1, 5), "surgery_or_structured_rehab", "expedited"),
        ("B-2", 2, dt.date(2025, 2, 10), "surgical_referral", "expedited"),
    ]


def test_a_two_point_mjoa_fall_is_a_course_alert_on_the_summary_and_worklist(store: Store) -> None:
    store.save_assessment(*case("mild_dcm", dt.date(2025, 1, 6)), patient_id="PT-1", author="a")
    assert store.patients()[0].course_alert is None
    store.save_assessment(*case("mild_dcm", dt.date(2025, 4, 7), le_motor=4), patient_id="PT-1", author="a")
    assert store.patients()[0].course_alert == "deterioration"
    assert store.worklist(dt.date(2025, 4, 8))[0].course_alert == "deterioration"


def test_a_failed_save_stores_nothing(store: Store, raw: Engine) -> None:
    findings, rec = case("asymptomatic_compression", dt.date(2025, 3, 4))
    visits = rec.follow_up.visits
    # two visits with one number: the second visit row violates a constraint after the
    # patient and the assessment rows were written in the same transaction
    broken = rec.model_copy(
        update={"follow_up": rec.follow_up.model_copy(update={"visits": (*visits, visits[0])})}
    )
    with pytest.raises(RecordError, match=r"nothing was saved \(IntegrityError\)"):
        store.save_assessment(findings, broken, patient_id="PT-1", author="a")
    for table in TABLES:
        assert _count(raw, f"SELECT count(*) FROM {table}") == 0, table


# --- pseudonymous ids -----------------------------------------------------------------------


def test_a_name_as_patient_id_is_refused_with_a_clear_error(store: Store) -> None:
    findings, rec = case("mild_dcm", dt.date(2025, 3, 4))
    with pytest.raises(RecordError, match="contains a space") as refused:
        store.save_assessment(findings, rec, patient_id="John Smith", author="dr.lee")
    message = str(refused.value)
    assert "pseudonymous id" in message
    assert "no names" in message
    assert "John" not in message  # the refused value never reaches a log through the message
    assert store.patients() == []
    for bad in ("", "x" * 65, "Smith, J", "Zoë", "a/b"):
        with pytest.raises(RecordError, match="patient id refused"):
            store.save_assessment(findings, rec, patient_id=bad, author="dr.lee")
    with pytest.raises(RecordError):
        store.assessments("John Smith")
    with pytest.raises(RecordError):
        store.record_event("view", actor="dr.lee", patient_id="John Smith")
    with pytest.raises(RecordError, match="author"):
        store.save_assessment(findings, rec, patient_id="PT-1", author="dr\nlee")
    assert store.audit_events() == []


@pytest.mark.parametrize(
    "candidate",
    ["PT-1", "a.b_c-d", "x" * 64, "x" * 65, "", "John Smith", "Zoë", "a/b", "pt-1\n", "١٢٣", "PT\u202e1"],
)
def test_a_patient_id_is_stored_exactly_when_it_is_a_valid_case_id(candidate: str) -> None:
    """One pattern for both: a case id the form accepts can always be saved as the patient id,
    and the store refuses every id the form would refuse."""
    try:
        Findings.model_validate({"case_id": candidate, "patient": {"age_years": 60}})
        form_accepts = True
    except ValueError:
        form_accepts = False
    try:
        check_patient_id(candidate)
        store_accepts = True
    except RecordError:
        store_accepts = False
    assert form_accepts == store_accepts


# --- worklist -------------------------------------------------------------------------------


def test_the_next_visit_is_the_first_after_the_assessment_day() -> None:
    _, mild = case("mild_dcm", dt.date(2025, 3, 4))
    assert mild.follow_up.visits[0].due == dt.date(2025, 3, 4)  # baseline: this consult itself
    assert next_visit_number(mild.follow_up, dt.date(2025, 3, 4)) == 2
    _, emergency = case("red_flag_trauma", dt.date(2025, 3, 4))
    assert [v.due for v in emergency.follow_up.visits] == [dt.date(2025, 3, 4)]
    assert next_visit_number(emergency.follow_up, dt.date(2025, 3, 4)) == 1


def test_worklist_status_on_both_sides_of_each_boundary(store: Store) -> None:
    findings, rec = case("asymptomatic_compression", dt.date(2025, 3, 4))
    store.save_assessment(findings, rec, patient_id="PT-1", author="a")
    visit = rec.follow_up.visits[0]
    start, end = visit.window_start, visit.window_end
    assert start < visit.due < end
    day = dt.timedelta(days=1)

    def status(today: dt.date, within: int = 14) -> str:
        [row] = store.worklist(today, due_within_days=within)
        assert (row.due, row.window_start, row.window_end, row.label) == (visit.due, start, end, visit.label)
        return row.status

    assert status(end) == "due"  # last day of the window
    assert status(end + day) == "overdue"  # the window has closed
    assert status(start - 14 * day) == "due"  # the window opens within 14 days
    assert status(start - 15 * day) == "scheduled"
    assert status(start, within=0) == "due"
    assert status(start - day, within=0) == "scheduled"
    assert status(start - 31 * day, within=30) == "scheduled"
    assert status(start - 30 * day, within=30) == "due"


def test_worklist_reads_only_the_latest_assessment(store: Store) -> None:
    store.save_assessment(*case("moderate_dcm", dt.date(2024, 1, 2)), patient_id="PT-1", author="a")
    assert store.worklist(dt.date(2025, 3, 5))[0].status == "overdue"
    _, rec = case("asymptomatic_compression", dt.date(2025, 3, 4))
    store.save_assessment(
        *case("asymptomatic_compression", dt.date(2025, 3, 4)), patient_id="PT-1", author="a"
    )
    [row] = store.worklist(dt.date(2025, 3, 5))
    assert (row.status, row.due, row.last_pathway) == (
        "scheduled",
        rec.follow_up.visits[0].due,
        "surveillance",
    )
    assert row.last_assessment_date == dt.date(2025, 3, 4)


def test_worklist_puts_overdue_first_then_due_then_scheduled(store: Store) -> None:
    today = dt.date(2025, 6, 1)
    store.save_assessment(*case("asymptomatic_compression", today), patient_id="C-scheduled", author="a")
    store.save_assessment(*case("red_flag_trauma", dt.date(2025, 5, 1)), patient_id="B-overdue", author="a")
    store.save_assessment(*case("moderate_dcm", dt.date(2025, 5, 10)), patient_id="A-due", author="a")
    rows = store.worklist(today)
    assert [(r.patient_id, r.status) for r in rows] == [
        ("B-overdue", "overdue"),
        ("A-due", "due"),
        ("C-scheduled", "scheduled"),
    ]
    with pytest.raises(RecordError):
        store.worklist(today, due_within_days=-1)


def test_worklist_and_patients_are_one_query_each(store: Store) -> None:
    for number in range(5):
        store.save_assessment(
            *case("moderate_dcm", dt.date(2025, 1, 1 + number)), patient_id=f"P{number}", author="a"
        )
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    engine = store._database.engine  # the store's own engine: count what it sends
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert len(store.worklist(dt.date(2025, 2, 1))) == 5
        assert len(store.patients()) == 5
    finally:
        event.remove(engine, "before_cursor_execute", count)
    queries = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 2, statements
    assert not any("findings" in s or "recommendation" in s for s in queries)


# --- audit log ------------------------------------------------------------------------------


def test_the_audit_log_is_append_only_in_the_database(store: Store, raw: Engine) -> None:
    store.record_event("view", actor="dr.lee", patient_id="PT-1")
    store.record_event("export", actor="admin", detail="worklist csv")
    events = store.audit_events()
    assert [(e.action, e.actor, e.patient_id, e.detail) for e in events] == [
        ("export", "admin", None, "worklist csv"),
        ("view", "dr.lee", "PT-1", ""),
    ]
    assert [e.action for e in store.audit_events(patient_id="PT-1")] == ["view"]
    assert [e.action for e in store.audit_events(limit=1)] == ["export"]
    statements = ["UPDATE audit_events SET actor = 'someone else'", "DELETE FROM audit_events"]
    if raw.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_events")
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), raw.begin() as connection:
            connection.execute(text(statement))
    assert store.audit_events() == events


def test_audit_actions_are_short_words(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    for action in ("", "View", "view patient", "x" * 33):
        with pytest.raises(RecordError, match="audit action"):
            store.record_event(action, actor="dr.lee")
    with pytest.raises(RecordError, match="detail"):
        store.record_event("view", actor="dr.lee", detail="x" * 501)


# --- concurrency and crashes ----------------------------------------------------------------


def test_threads_sharing_one_store_all_save(store: Store) -> None:
    """The pages share one store per server process: concurrent saves queue, none fails."""
    work = [case("moderate_dcm", dt.date(2025, 1, day)) for day in range(1, 6)]
    errors: list[BaseException] = []

    def save(thread: int) -> None:
        try:
            for findings, rec in work:
                store.save_assessment(findings, rec, patient_id=f"T{thread % 2}", author="a")
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=save, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted((p.patient_id, p.assessment_count) for p in store.patients()) == [("T0", 10), ("T1", 10)]


def _save_until_killed(
    url: str, work: list[tuple[Findings, Recommendation]], out: int, seed: int
) -> NoReturn:
    """In a forked child: save in a loop, saying "B" before each save and "C id" after commit."""
    try:
        store = Store(url)
        rng = random.Random(seed)
        number = 0
        while True:
            findings, rec = work[number % len(work)]
            os.write(out, f"B {os.getpid()}\n".encode())
            saved = store.save_assessment(
                findings, rec, patient_id=f"crash-{rng.randrange(3)}", author="crash"
            )
            os.write(out, f"C {os.getpid()} {saved.id}\n".encode())
            number += 1
    except BaseException as error:
        os.write(out, f"E {os.getpid()} {type(error).__name__}: {error}\n"[:500].encode())
    finally:
        os._exit(1)


def _kill_rounds(url: str, rounds: int, seed: int) -> set[int]:
    """Fork two concurrent savers per round and SIGKILL each in the middle of a save."""
    rng = random.Random(seed)
    work = [
        case(name, dt.date(2025, 2, day))
        for name, day in (("mild_dcm", 3), ("moderate_dcm", 4), ("postoperative", 5))
    ]
    committed: set[int] = set()
    for round_number in range(rounds):
        read_end, write_end = os.pipe()
        children = []
        for child in range(2):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child never returns
                os.close(read_end)
                _save_until_killed(url, work, write_end, seed * 1000 + round_number * 10 + child)
            children.append(pid)
        os.close(write_end)
        alive = set(children)
        commits_before_kill = rng.randint(0, 3)
        seen = 0
        buffer = b""
        deadline = time.monotonic() + 60
        try:
            while alive:
                ready, _, _ = select.select([read_end], [], [], max(0.0, deadline - time.monotonic()))
                assert ready, "the saving processes stopped reporting"
                chunk = os.read(read_end, 65536)
                assert chunk, "the saving processes exited on their own"
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    kind, pid_text, *rest = line.decode().split(" ", 2)
                    if kind == "E":
                        pytest.fail(f"a saving process failed: {rest}")
                    if kind == "C":
                        committed.add(int(rest[0]))
                        seen += 1
                    elif int(pid_text) in alive and seen >= commits_before_kill:
                        # kill inside the save that has just begun, at a random point of it
                        time.sleep(rng.uniform(0, 0.02))
                        os.kill(int(pid_text), signal.SIGKILL)
                        os.waitpid(int(pid_text), 0)
                        alive.discard(int(pid_text))
            # whatever the children wrote before dying was written after a commit had returned
            while chunk := os.read(read_end, 65536):
                buffer += chunk
            for line in buffer.split(b"\n"):
                if line.startswith(b"C "):
                    committed.add(int(line.split()[2]))
        finally:
            for pid in alive:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            os.close(read_end)
    return committed


def test_a_process_killed_mid_save_loses_no_committed_assessment(db_url: str, raw: Engine) -> None:
    first = Store(db_url)
    first.patients()  # migrate before the children start, so they crash inside saves
    first.close()
    committed = _kill_rounds(db_url, rounds=20, seed=4)
    assert committed, "no save was committed: the test proved nothing"

    if raw.dialect.name == "sqlite":
        database = raw.url.database
        assert database is not None
        with sqlite3.connect(database) as check:
            assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert check.execute("PRAGMA foreign_key_check").fetchall() == []
    store = Store(db_url)
    stored = {
        record.id: record for pid in ("crash-0", "crash-1", "crash-2") for record in store.assessments(pid)
    }
    assert committed <= set(stored), "an assessment reported as committed is missing"
    with raw.connect() as connection:
        visits: dict[int, int] = dict(
            connection.execute(
                text("SELECT assessment_id, count(*) FROM follow_up_visits GROUP BY assessment_id")
            ).all()
        )
        created = {
            detail
            for (detail,) in connection.execute(
                text("SELECT detail FROM audit_events WHERE action = 'create'")
            )
        }
        latest: dict[str, int] = dict(
            connection.execute(text("SELECT id, latest_assessment_id FROM patients")).all()
        )
    for assessment_id, record in stored.items():  # every stored assessment is whole
        assert visits.get(assessment_id) == len(record.recommendation.follow_up.visits), assessment_id
        assert f"assessment {assessment_id}" in created
    for patient_id, latest_id in latest.items():
        assert latest_id == store.assessments(patient_id)[-1].id
    for summary in store.patients():  # the patients' current state matches their assessments
        course = store.assessments(summary.patient_id)
        assert summary.assessment_count == len(course)
        assert (summary.last_assessment_date, summary.last_pathway) == (
            course[-1].assessment_date,
            course[-1].pathway,
        )
    # and the database takes new saves
    store.save_assessment(*case("mild_dcm", dt.date(2025, 3, 1)), patient_id="crash-0", author="a")
    store.close()


def test_a_draft_is_kept_replaced_and_forgotten(store: Store) -> None:
    token = "t0ken-" + "x" * 20
    assert store.load_draft(token, owner="dr.lee") is None
    store.save_draft(token, {"patient": {"age_years": 64}}, owner="dr.lee")
    store.save_draft(token, {"patient": {"age_years": 65}, "case_id": "PT-9"}, owner="dr.lee")
    assert store.load_draft(token, owner="dr.lee") == {"patient": {"age_years": 65}, "case_id": "PT-9"}
    store.delete_draft(token, owner="dr.lee")
    assert store.load_draft(token, owner="dr.lee") is None


def test_a_malformed_draft_token_is_refused(store: Store) -> None:
    with pytest.raises(RecordError, match="draft token"):
        store.save_draft("short", {}, owner="dr.lee")
