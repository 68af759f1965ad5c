"""Storage that fails loudly and safely (issue 14).

Readiness probes a write and the SQLite file's identity: a read-only file (``chmod 0444``) and a
file deleted (and made again) under a running server make ``/readyz`` answer 503 with the
reason, and the store refuses to read or write the stranger file instead of saving into it.
On PostgreSQL a read-only database and an app role that may not insert are not ready either.
A database error never carries the statement's values (case id, findings, draft token) into
the message or a log.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url, text
from starlette.applications import Starlette
from starlette.testclient import TestClient
from streamlit.testing.v1 import AppTest

from myelo_cds import Findings, assess
from myelo_cds.findings import example_cases, field_spec
from myelo_cds.records import RecordError, Store
from myelo_cds.records._database import make_engine
from myelo_cds.service import health, warmup
from myelo_cds.ui.consult_form import KEY, _flatten, _to_widget
from tests.pg_fixture import PostgresServer
from tests.service_dirs import scratch_directory
from tests.test_records import case

ROOT = Path(__file__).resolve().parents[1]
CASE_ID = "PT-SECRET-4711"
TOKEN = "tok-Zq9xSecretDraftToken0123456789"


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "records.sqlite3"
    yield path
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if name.exists():
            name.chmod(0o644)


@pytest.fixture
def ready_state(monkeypatch: pytest.MonkeyPatch) -> None:
    state = warmup.WarmUp()
    state.start([])
    assert state.wait(10)
    monkeypatch.setattr(warmup, "STATE", state)


def _readyz() -> tuple[int, dict[str, str]]:
    answer = TestClient(Starlette(routes=health.routes)).get(health.READINESS_PATH)
    return answer.status_code, answer.json()


def _replace(path: Path) -> None:
    """Delete the file and make a new, valid database at the same path (a restore gone wrong)."""
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        name.unlink(missing_ok=True)
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")


# --- SQLite ---------------------------------------------------------------------------------


def test_a_writable_file_is_ready(sqlite_file: Path) -> None:
    store = Store(f"sqlite:///{sqlite_file}")
    store.check_ready()
    assert store.save_problem() is None
    store.close()


def test_a_read_only_file_is_not_ready_and_says_so(sqlite_file: Path) -> None:
    store = Store(f"sqlite:///{sqlite_file}")
    store.check_ready()
    sqlite_file.chmod(0o444)
    with pytest.raises(RecordError, match=r"read-only \(mode 444\): nothing can be saved"):
        store.check_ready()
    # the probe's answer reaches the page at once, not after its cache ran out
    assert store.save_problem() is not None
    # and a save is refused even where SQLite itself would write (a server running as root)
    findings, rec = case("mild_dcm", dt.date(2025, 3, 4))
    with pytest.raises(RecordError, match=r"read-only \(mode 444\)"):
        store.save_assessment(findings, rec, patient_id="PT-1", author="dr.lee")
    sqlite_file.chmod(0o644)
    store.check_ready()
    store.close()


def _non_root_runner() -> list[str]:
    """How to run this interpreter as a non-root user: directly when not root, else as
    ``nobody`` (skipped when that user cannot run it, e.g. an interpreter under /root)."""
    if os.geteuid() != 0:
        return []
    runner = ["runuser", "-u", "nobody", "--"]
    probe = subprocess.run(
        [*runner, sys.executable, "-c", "import sqlalchemy"], capture_output=True, check=False
    )
    if probe.returncode:
        pytest.skip(
            "the nobody user cannot run this Python interpreter (as root SQLite would write a 0444 file)"
        )
    return runner


def test_a_read_only_file_refuses_saves_for_a_non_root_server() -> None:
    """The real failure under a service user: SQLite opens a 0444 file read-only, the write
    probe fails and a save raises a RecordError that names no value."""
    runner = _non_root_runner()
    folder = scratch_directory("myelo-cds-readonly-", "nobody")
    folder.chmod(0o777)
    path = folder / "records.sqlite3"
    Store(f"sqlite:///{path}").check_ready()
    for name in folder.iterdir():
        name.chmod(0o444)
    script = (
        "import datetime as dt\n"
        "from myelo_cds.records import RecordError, Store\n"
        "from tests.test_records import case\n"
        f"store = Store({f'sqlite:///{path}'!r})\n"
        "try:\n"
        "    store.check_ready()\n"
        "except RecordError as error:\n"
        "    print('ready:', error)\n"
        "findings, rec = case('mild_dcm', dt.date(2025, 3, 4))\n"
        f"findings = findings.model_copy(update={{'case_id': {CASE_ID!r}}})\n"
        f"rec = rec.model_copy(update={{'case_id': {CASE_ID!r}}})\n"
        f"store.save_assessment(findings, rec, patient_id={CASE_ID!r}, author='dr.lee')\n"
    )
    try:
        run = subprocess.run(
            [*runner, sys.executable, "-c", script],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={"PATH": "/usr/bin:/bin", "HOME": str(folder), "PYTHONPATH": str(ROOT)},
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert "ready: the record database file is read-only (mode 444)" in run.stdout, run.stderr
    assert run.returncode == 1  # the save raised: a traceback in the server log ...
    assert "RecordError: the record database could not save, nothing was saved" in run.stderr
    assert CASE_ID not in run.stderr  # ... that holds no case id
    assert "age_years" not in run.stderr


def test_a_file_deleted_and_made_again_is_refused(sqlite_file: Path) -> None:
    store = Store(f"sqlite:///{sqlite_file}")
    findings, rec = case("mild_dcm", dt.date(2025, 3, 4))
    store.save_assessment(findings, rec, patient_id="PT-1", author="dr.lee")
    _replace(sqlite_file)
    with pytest.raises(RecordError, match="replaced or removed since this server opened it"):
        store.check_ready()
    # a read would show no stored visits, and so no deterioration: it is refused too
    with pytest.raises(RecordError, match="replaced or removed"):
        store.assessments("PT-1")
    with pytest.raises(RecordError, match="nothing can be saved"):
        store.save_assessment(findings, rec, patient_id="PT-1", author="dr.lee")
    problem = store.save_problem()
    assert problem is not None
    assert "replaced or removed" in problem
    with sqlite3.connect(sqlite_file) as connection:  # nothing went into the stranger file
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert tables == {"alembic_version"}
    store.close()


def test_a_deleted_file_is_refused(sqlite_file: Path) -> None:
    store = Store(f"sqlite:///{sqlite_file}")
    store.check_ready()
    sqlite_file.unlink()
    with pytest.raises(RecordError, match="replaced or removed"):
        store.check_ready()
    store.close()


def test_readyz_answers_503_with_the_reason_for_a_read_only_or_replaced_file(
    sqlite_file: Path, monkeypatch: pytest.MonkeyPatch, ready_state: None
) -> None:
    monkeypatch.setenv("MYELO_CDS_DB_PATH", str(sqlite_file))
    monkeypatch.delenv("MYELO_CDS_DATABASE_URL", raising=False)
    assert _readyz() == (200, {"status": "ready", "database": "sqlite"})
    sqlite_file.chmod(0o444)
    status, answer = _readyz()
    assert status == 503
    assert answer["reason"].startswith("the record database file is read-only (mode 444)")
    assert str(sqlite_file) not in answer["reason"]
    sqlite_file.chmod(0o644)
    assert _readyz()[0] == 200
    _replace(sqlite_file)
    status, answer = _readyz()
    assert status == 503
    assert "replaced or removed" in answer["reason"]


def test_a_save_that_succeeds_clears_the_problem_at_once(sqlite_file: Path) -> None:
    store = Store(f"sqlite:///{sqlite_file}")
    sqlite_file.touch()
    store.check_ready()
    sqlite_file.chmod(0o444)
    assert store.save_problem() is not None
    sqlite_file.chmod(0o644)
    findings, rec = case("mild_dcm", dt.date(2025, 3, 4))
    store.save_assessment(findings, rec, patient_id="PT-1", author="dr.lee")
    assert store.save_problem() is None
    store.close()


# --- no values in errors and logs -------------------------------------------------------------


def _block_inserts(url: str, table: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(
                text(
                    f"CREATE TRIGGER block_{table} BEFORE INSERT ON {table}"
                    " BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE OR REPLACE FUNCTION block() RETURNS trigger LANGUAGE plpgsql AS"
                    " $$ BEGIN RAISE EXCEPTION 'disk says no'; END $$"
                )
            )
            connection.execute(
                text(
                    f"CREATE TRIGGER block_{table} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION block()"
                )
            )
    engine.dispose()


def test_a_failed_save_logs_no_case_id_findings_or_token(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(db_url)
    store.check_ready()
    _block_inserts(db_url, "assessments")
    _block_inserts(db_url, "drafts")
    findings, rec = case("mild_dcm", dt.date(2025, 3, 4))
    findings = findings.model_copy(update={"case_id": CASE_ID})
    rec = rec.model_copy(update={"case_id": CASE_ID})
    log = logging.getLogger("myelo_cds.test.server")
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(RecordError) as failed:
            store.save_assessment(findings, rec, patient_id=CASE_ID, author="dr.lee")
        log.exception("save failed")  # as a server logs an error that reached it
        with pytest.raises(RecordError) as draft_failed:
            store.save_draft(TOKEN, {"case_id": CASE_ID}, owner="dr.lee")
        log.exception("draft failed")
    assert TOKEN not in str(draft_failed.value)
    message = str(failed.value)
    assert message.startswith("the record database could not save, nothing was saved (")
    assert CASE_ID not in message
    assert CASE_ID not in caplog.text
    assert TOKEN not in caplog.text
    assert "age_years" not in caplog.text  # no findings
    # the driver's error is still there for a debugger, with its parameters hidden
    original = failed.value.__context__
    assert original is not None
    assert "[SQL parameters hidden due to hide_parameters=True]" in str(original)
    assert CASE_ID not in str(original)
    store.close()


def test_a_failed_save_in_a_real_process_leaves_no_values_in_its_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    Store(url).check_ready()
    _block_inserts(url, "assessments")
    _block_inserts(url, "drafts")
    script = (
        "import datetime as dt, logging\n"
        "from myelo_cds.records import RecordError, Store\n"
        "from tests.test_records import case\n"
        "logging.basicConfig(level=logging.DEBUG)\n"
        f"store = Store({url!r})\n"
        "try:\n"
        f"    store.save_draft({TOKEN!r}, {{'case_id': {CASE_ID!r}}}, owner='dr.lee')\n"
        "except RecordError:\n"
        "    logging.exception('draft not kept')\n"
        "findings, rec = case('mild_dcm', dt.date(2025, 3, 4))\n"
        f"findings = findings.model_copy(update={{'case_id': {CASE_ID!r}}})\n"
        f"rec = rec.model_copy(update={{'case_id': {CASE_ID!r}}})\n"
        f"store.save_assessment(findings, rec, patient_id={CASE_ID!r}, author='dr.lee')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 1
    assert "ERROR:root:draft not kept" in run.stderr
    assert "RecordError: the record database could not save, nothing was saved" in run.stderr
    for secret in (CASE_ID, TOKEN, "age_years", "mjoa"):
        assert secret not in run.stderr, secret


# --- PostgreSQL -------------------------------------------------------------------------------


def _admin(url: str) -> psycopg.Connection[tuple[object, ...]]:
    parsed = make_url(url)
    return psycopg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
        autocommit=True,
    )


def test_a_read_only_postgresql_database_is_not_ready(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database()
    Store(url).check_ready()
    with _admin(url) as connection:
        connection.execute(f"ALTER DATABASE {make_url(url).database} SET default_transaction_read_only = on")
    store = Store(url)
    with pytest.raises(RecordError, match="database is read-only"):
        store.check_ready()
    assert store.save_problem() is not None
    store.close()


# --- PostgreSQL: the schema's owner migrates, the app's role reads and appends ------------------


@pytest.fixture
def owner_and_app(postgres_server: PostgresServer) -> tuple[str, str]:
    """A new database (its owner: the server's superuser) and a login role for the app that
    owns nothing and has no rights on it yet."""
    owner_url = postgres_server.create_database()
    database = make_url(owner_url).database
    role = f"app_{database}"
    password = "app-" + TOKEN[-12:]
    with _admin(owner_url) as connection:
        connection.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        connection.execute(f"GRANT CONNECT ON DATABASE {database} TO {role}")
    app_url = make_url(owner_url).set(username=role, password=password).render_as_string(hide_password=False)
    return owner_url, app_url


def _migrate(owner_url: str, app_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(ROOT),
        "MYELO_CDS_DATABASE_URL": app_url,
        "MYELO_CDS_MIGRATION_DATABASE_URL": owner_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "myelo_cds", "migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_app_role_that_cannot_migrate_says_what_to_run(owner_and_app: tuple[str, str]) -> None:
    _, app_url = owner_and_app
    store = Store(app_url)
    with pytest.raises(
        RecordError, match="the app's database role may not migrate it: run 'python -m myelo_cds migrate'"
    ):
        store.check_ready()
    store.close()


def test_the_app_role_without_ddl_rights_saves_after_the_owner_migrated(
    owner_and_app: tuple[str, str],
) -> None:
    owner_url, app_url = owner_and_app
    app_role = make_url(app_url).username
    done = _migrate(owner_url, app_url)
    assert done.returncode == 0, done.stderr
    assert f"the app's role {app_role} may read and append only" in done.stderr
    owner_password = make_url(owner_url).password
    assert owner_password
    assert owner_password not in done.stderr + done.stdout
    store = Store(app_url)
    store.check_ready()
    findings, rec = case("moderate_dcm", dt.date(2025, 3, 4))
    saved = store.save_assessment(findings, rec, patient_id="PT-1", author="dr.lee")
    store.record_event("view", actor="dr.lee", patient_id="PT-1", detail="timeline")
    assert store.save_draft(TOKEN, {"case_id": "PT-1"}, owner="dr.lee")
    store.delete_draft(TOKEN, owner="dr.lee")
    # accounts and sign-in (with its failure counts) work under the app's role too
    store.add_account("dr.kim", "clinician", actor="cli:admin", password="a long passphrase for kim 42")
    assert store.sign_in("dr.kim", "not the passphrase at all", client="10.0.0.9") is None
    assert store.sign_in("dr.kim", "a long passphrase for kim 42", client="10.0.0.9") is not None
    store.set_disabled("dr.kim", True, actor="cli:admin")
    assert store.verify_audit().intact
    store.close()
    app = make_engine(app_url)
    refused = [
        "UPDATE audit_events SET actor = 'x'",
        "DELETE FROM audit_events",
        "ALTER TABLE audit_events DISABLE TRIGGER ALL",
        f"UPDATE assessments SET urgency = 'routine' WHERE id = {saved.id}",
        f"DELETE FROM assessments WHERE id = {saved.id}",
        "DROP TABLE audit_events",
        "CREATE TABLE audit_copy (id integer)",
    ]
    for statement in refused:
        with (
            pytest.raises(Exception, match=r"permission denied|must be owner") as error,
            app.begin() as connection,
        ):
            connection.execute(text(statement))
        assert type(error.value).__name__ == "ProgrammingError", statement
    app.dispose()
    # migrating again (a new release) keeps the app's role to the same rights
    assert _migrate(owner_url, app_url).returncode == 0


def test_an_app_role_without_insert_rights_is_not_ready(owner_and_app: tuple[str, str]) -> None:
    owner_url, app_url = owner_and_app
    assert _migrate(owner_url, app_url).returncode == 0
    with _admin(owner_url) as connection:
        connection.execute(f"REVOKE INSERT ON audit_events FROM {make_url(app_url).username}")
    store = Store(app_url)
    with pytest.raises(RecordError, match="may not insert into audit_events: saves would fail"):
        store.check_ready()
    store.close()


# --- the consult page ---------------------------------------------------------------------------


def _consult(case_name: str) -> AppTest:
    data = json.loads(example_cases()[case_name])
    at = AppTest.from_file(str(ROOT / "pages" / "consult.py"), default_timeout=60)
    for path, value in _flatten(data):
        at.session_state[KEY + path] = _to_widget(field_spec(path), value)
    at.session_state["clinician_id"] = "clin-7"
    at.run()
    assert not at.exception
    return at


def _save_button(at: AppTest) -> list[object]:
    return [button for button in at.button if button.label == "Save this assessment to the record"]


def test_the_consult_shows_cannot_save_and_still_the_recommendation_on_a_read_only_file(
    database: Store,
) -> None:
    database.check_ready()
    path = Path(str(database._database.engine.url.database))
    path.chmod(0o444)
    try:
        at = _consult("moderate_dcm")
    finally:
        path.chmod(0o644)
    banners = [e.value for e in at.error if "Cannot save to the record right now" in e.value]
    assert len(banners) == 1
    assert "The record database file is read-only (mode 444)" in banners[0]
    assert "The recommendation on this page is not affected" in banners[0]
    assert not _save_button(at)
    # the recommendation is there as on a healthy server
    assert "Surgical referral" in at.warning[0].value
    assert "EXPEDITED" in at.warning[0].value


def test_the_consult_on_a_replaced_file_still_recommends_and_says_what_it_cannot_do(database: Store) -> None:
    findings = Findings.model_validate(json.loads(example_cases()["moderate_dcm"]))
    database.save_assessment(findings, assess(findings), patient_id=findings.case_id or "", author="clin-7")
    at = _consult("moderate_dcm")  # the page's store opens the file
    assert _save_button(at)
    _replace(Path(str(database._database.engine.url.database)))
    at.session_state["clinician_id"] = "clin-8"  # any rerun
    at.run()
    assert not at.exception
    assert any("Surgical referral" in w.value for w in at.warning)
    assert any("stored visits could not be read" in w.value for w in at.warning)
    banners = [e.value for e in at.error if "Cannot save to the record right now" in e.value]
    assert banners
    assert "replaced or removed" in banners[0]
    assert not _save_button(at)


def test_a_healthy_database_shows_the_save_button_and_no_banner(database: Store) -> None:
    at = _consult("moderate_dcm")
    assert _save_button(at)
    assert not [e for e in at.error if "Cannot save" in e.value]
