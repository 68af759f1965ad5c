"""The audit log's hash chain and each assessment's content hash, on SQLite and on a real
PostgreSQL server: an intact log verifies; a changed, removed or inserted event and a changed
assessment are each reported with the right id; two writers at once never fork the chain;
revision 0006 hashes the events kept before it; ``verify-audit`` exits 0 or 1 and says why."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, select, text

from myelo_cds.records import Store
from myelo_cds.records._chain import GENESIS, chain_hash
from myelo_cds.records._database import make_engine
from myelo_cds.records._migrate import alembic_config
from myelo_cds.records._schema import AuditEventRow
from tests.test_records import _alembic, case

ROOT = Path(__file__).resolve().parents[1]
EVENTS = AuditEventRow.__table__


def _tamper(engine: Engine, statement: str, **params: object) -> None:
    """Run ``statement`` on the audit table past its append-only triggers, as someone with the
    owner's rights could (SQLite: drop the trigger; PostgreSQL: replica mode skips triggers)."""
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
            connection.execute(text("DROP TRIGGER IF EXISTS audit_events_no_delete"))
        else:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text(statement), params)


def _save_three(store: Store) -> list[int]:
    ids = []
    for n, name in enumerate(("mild_dcm", "moderate_dcm", "postoperative")):
        findings, rec = case(name, dt.date(2025, 3, 4 + n))
        ids.append(store.save_assessment(findings, rec, patient_id=f"PT-{n}", author="dr.lee").id)
        store.record_event("view", actor="dr.kim", patient_id=f"PT-{n}", detail="timeline")
    return ids


def _event_ids(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT id FROM audit_events ORDER BY id")).scalars())


def test_the_chain_verifies_after_saves_and_events(store: Store, raw: Engine) -> None:
    assert store.verify_audit().intact  # an empty log
    _save_three(store)
    check = store.verify_audit()
    assert check.intact, check.problem
    assert (check.events, check.assessments) == (6, 3)
    with raw.connect() as connection:
        rows = connection.execute(
            text("SELECT chain_hash, content_sha256, action FROM audit_events ORDER BY id")
        )
        hashes = [(row.chain_hash, row.content_sha256, row.action) for row in rows]
    assert hashes[-1][0] == check.head
    assert len({h for h, _, _ in hashes}) == 6
    # each create event carries its assessment's content hash; other events none
    assert [content is not None for _, content, _ in hashes] == [True, False] * 3


def test_a_changed_event_is_reported_with_its_id(store: Store, raw: Engine) -> None:
    _save_three(store)
    target = _event_ids(raw)[2]
    _tamper(raw, "UPDATE audit_events SET actor = 'someone.else' WHERE id = :id", id=target)
    check = store.verify_audit()
    assert not check.intact
    assert check.problem is not None
    assert check.problem.startswith(f"audit event {target} is broken")


def test_a_removed_event_is_reported_at_the_event_after_it(store: Store, raw: Engine) -> None:
    _save_three(store)
    ids = _event_ids(raw)
    _tamper(raw, "DELETE FROM audit_events WHERE id = :id", id=ids[1])
    check = store.verify_audit()
    assert check.problem is not None
    assert check.problem.startswith(f"audit event {ids[2]} is broken")


def test_a_removed_create_event_is_reported(store: Store, raw: Engine) -> None:
    [first, *_] = _save_three(store)
    _tamper(raw, "DELETE FROM audit_events WHERE detail = :detail", detail=f"assessment {first}")
    assert not store.verify_audit().intact


def test_an_event_rehashed_without_its_successors_is_reported(store: Store, raw: Engine) -> None:
    """Changing an event and recomputing its own hash still breaks the next event's link."""
    _save_three(store)
    ids = _event_ids(raw)
    with raw.connect() as connection:
        before = connection.execute(
            text("SELECT chain_hash FROM audit_events WHERE id = :id"), {"id": ids[2]}
        ).scalar_one()
        row = connection.execute(select(EVENTS).where(EVENTS.c.id == ids[3])).one()
    values = dict(row._mapping, actor="forger")
    # hashed as the forger would, from the stored values: it still cannot match the successor
    forged = chain_hash(before, values)
    _tamper(
        raw,
        "UPDATE audit_events SET actor = 'forger', chain_hash = :hash WHERE id = :id",
        hash=forged,
        id=ids[3],
    )
    check = store.verify_audit()
    assert check.problem is not None
    assert check.problem.startswith(f"audit event {ids[4]} is broken")


def test_an_edited_assessment_is_reported_with_its_id_and_create_event(store: Store, raw: Engine) -> None:
    ids = _save_three(store)
    with raw.begin() as connection:
        connection.execute(text("UPDATE assessments SET urgency = 'routine' WHERE id = :id"), {"id": ids[1]})
        create_event = connection.execute(
            text("SELECT id FROM audit_events WHERE detail = :d"), {"d": f"assessment {ids[1]}"}
        ).scalar_one()
    check = store.verify_audit()
    assert check.problem == (
        f"assessment {ids[1]} was changed after it was saved (its content no longer matches the hash"
        f" in audit event {create_event})"
    )


def test_an_edited_finding_inside_the_stored_json_is_reported(store: Store, raw: Engine) -> None:
    ids = _save_three(store)
    findings, _ = case("mild_dcm", dt.date(2025, 3, 4))
    changed = findings.model_dump(mode="json", exclude_none=True)
    changed["patient"]["age_years"] = 15
    with raw.begin() as connection:
        cast = "CAST(:v AS JSONB)" if connection.dialect.name == "postgresql" else ":v"
        connection.execute(
            text(f"UPDATE assessments SET findings = {cast} WHERE id = :id"),
            {"v": json.dumps(changed), "id": ids[0]},
        )
    check = store.verify_audit()
    assert check.problem is not None
    assert check.problem.startswith(f"assessment {ids[0]} was changed")


def test_a_removed_assessment_is_reported(store: Store, raw: Engine) -> None:
    ids = _save_three(store)
    with raw.begin() as connection:
        connection.execute(
            text("UPDATE patients SET latest_assessment_id = NULL, next_visit_id = NULL WHERE id = 'PT-2'")
        )
        connection.execute(text("DELETE FROM follow_up_visits WHERE assessment_id = :id"), {"id": ids[2]})
        connection.execute(text("DELETE FROM assessments WHERE id = :id"), {"id": ids[2]})
    check = store.verify_audit()
    assert check.problem is not None
    assert check.problem.startswith(f"assessment {ids[2]} was removed")


def test_two_writers_at_once_never_fork_the_chain(db_url: str) -> None:
    """Two stores (two replicas' pools) append at once: every event links to the one before."""
    replicas = [Store(db_url), Store(db_url)]
    replicas[0].record_event("view", actor="warm", detail="migrate first")
    errors: list[BaseException] = []

    def append(store: Store, n: int) -> None:
        try:
            for i in range(15):
                store.record_event("view", actor=f"user{n}", patient_id=f"PT-{i}", detail="timeline")
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=append, args=(store, n)) for n, store in enumerate(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    check = replicas[0].verify_audit()
    assert check.intact, check.problem
    assert check.events == 31
    for store in replicas:
        store.close()


def test_migration_0006_hashes_the_events_kept_before_it(db_url: str, raw: Engine) -> None:
    store = Store(db_url)
    ids = _save_three(store)
    store.close()
    _alembic(db_url, "downgrade", "0005")
    with raw.connect() as connection:
        columns = set(connection.execute(text("SELECT * FROM audit_events")).keys())
    assert not columns & {"chain_hash", "content_sha256"}
    _alembic(db_url, "upgrade", "head")
    store = Store(db_url)
    check = store.verify_audit()
    assert check.intact, check.problem
    assert (check.events, check.assessments) == (6, 3)
    # the triggers are back: the log is append-only again
    with pytest.raises(Exception, match="append-only"), raw.begin() as connection:
        connection.execute(text("UPDATE audit_events SET actor = 'x'"))
    # and the re-hashed log still catches a changed assessment
    with raw.begin() as connection:
        connection.execute(text("UPDATE assessments SET author = 'x' WHERE id = :id"), {"id": ids[0]})
    problem = store.verify_audit().problem
    assert problem is not None
    assert problem.startswith(f"assessment {ids[0]} was changed")
    store.close()


def test_an_empty_log_starts_from_the_genesis_hash(store: Store, raw: Engine) -> None:
    store.record_event("view", actor="dr.lee", detail="audit log")
    with raw.connect() as connection:
        row = connection.execute(select(EVENTS)).one()
    assert row.chain_hash == chain_hash(GENESIS, row._mapping)


# --- the command ------------------------------------------------------------------------------


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "MYELO_CDS_DATABASE_URL": url, "HOME": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "myelo_cds", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_verify_audit_exits_0_when_intact_and_1_with_the_break(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    store = Store(url)
    ids = _save_three(store)
    store.close()
    intact = _cli(url, "verify-audit")
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.startswith("audit log intact: 6 events, 3 assessments; head ")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE assessments SET pathway = 'x' WHERE id = :id"), {"id": ids[0]})
    engine.dispose()
    broken = _cli(url, "verify-audit", "--format", "json")
    assert broken.returncode == 1
    report = json.loads(broken.stdout)
    assert report["intact"] is False
    assert report["problem"].startswith(f"assessment {ids[0]} was changed")
    assert _cli(url, "verify-audit").stdout.startswith(f"audit log BROKEN: assessment {ids[0]} was changed")


def test_migrate_brings_a_new_sqlite_file_to_the_newest_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    done = _cli(url, "migrate")
    assert done.returncode == 0, done.stderr
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert done.stderr.strip() == f"sqlite schema at revision {head}"
    assert _cli(url, "verify-audit").stdout.startswith("audit log intact: 0 events, 0 assessments")


def test_a_save_committed_while_verifying_is_seen_whole_or_not_at_all(db_url: str) -> None:
    """The chain and the assessments are read in one snapshot: a save that commits between the
    two walks is not an assessment without its create event."""
    verifier, writer = Store(db_url), Store(db_url)
    _save_three(writer)
    saved_meanwhile: list[int] = []

    def save_between(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "FROM assessments" in statement and not saved_meanwhile:
            findings, rec = case("mild_dcm", dt.date(2025, 4, 1))
            saved_meanwhile.append(
                writer.save_assessment(findings, rec, patient_id="PT-9", author="dr.lee").id
            )

    engine = verifier._database.engine
    event.listen(engine, "before_cursor_execute", save_between)
    try:
        check = verifier.verify_audit()
    finally:
        event.remove(engine, "before_cursor_execute", save_between)
    assert saved_meanwhile  # the save did commit between the two walks
    assert check.intact, check.problem
    assert check.assessments == 3
    assert verifier.verify_audit().assessments == 4
    verifier.close()
    writer.close()
