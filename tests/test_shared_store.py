"""One record store per database for the pages and readiness, and pages that survive a failure
of the record database (issue 14).

Readiness and the pages hold the same store (one pool, one recorded SQLite file identity),
opened when the server starts: a file replaced before ``/readyz`` was first asked is refused by
both, never passed by one and refused by the other. A page other than the consult whose record
database was replaced, made read-only or cannot be reached shows one message naming the
failure's kind and that the consult still recommends, never Streamlit's error trace.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from myelo_cds.auth import User
from myelo_cds.findings import example_cases, field_spec
from myelo_cds.records import Store, database_url, open_shared_store, shared_store
from myelo_cds.service import health, warmup
from myelo_cds.ui import records as ui_records
from myelo_cds.ui.consult_form import KEY, _flatten, _to_widget
from tests.test_readiness import _readyz, _replace
from tests.test_records import case

ROOT = Path(__file__).resolve().parents[1]
MESSAGE = "The record database cannot be read or written right now"
STILL_RECOMMENDS = "The consult still gives recommendations"


@pytest.fixture
def ready_state(monkeypatch: pytest.MonkeyPatch) -> None:
    state = warmup.WarmUp()
    state.start([])
    assert state.wait(10)
    monkeypatch.setattr(warmup, "STATE", state)


def _file(store: Store) -> Path:
    return Path(str(store._database.engine.url.database))


# --- one store ------------------------------------------------------------------------------------


def test_the_pages_and_readiness_get_the_same_store_for_a_database(database: Store) -> None:
    shared = shared_store()
    assert shared is shared_store(database_url())
    assert ui_records.store() is shared
    other = shared_store(f"sqlite:///{_file(database).with_name('other.sqlite3')}")
    assert other is not shared


def test_a_file_replaced_before_readiness_first_asks_is_not_ready(database: Store, ready_state: None) -> None:
    """Before: readiness opened a store of its own at its first probe, took the new file for
    its own and answered ready while the pages refused it."""
    assert health.open_record_store() is None  # the server starts: the store opens the file
    _replace(_file(database))
    status, answer = _readyz()  # the first probe comes after the replacement
    assert status == 503
    assert "replaced or removed since this server opened it" in answer["reason"]
    assert shared_store().save_problem() == answer["reason"]  # the pages' answer is the same


def test_a_file_the_pages_opened_then_replaced_is_not_ready(database: Store, ready_state: None) -> None:
    findings, rec = case("mild_dcm", dt.date(2025, 3, 4))
    ui_records.store().save_assessment(findings, rec, patient_id="PT-1", author="dr.lee")
    _replace(_file(database))
    status, answer = _readyz()
    assert status == 503
    assert "replaced or removed" in answer["reason"]


def test_readiness_and_a_page_save_share_one_answer(database: Store, ready_state: None) -> None:
    assert open_shared_store() is None
    assert _readyz()[0] == 200
    _file(database).chmod(0o444)
    try:
        assert _readyz()[0] == 503
        # the page asks within the probe's few seconds: the readiness probe already answered it
        problem = ui_records.store().save_problem()
        assert problem is not None
        assert problem.startswith("the record database file is read-only (mode 444)")
    finally:
        _file(database).chmod(0o644)


def test_opening_at_start_reports_an_unreachable_database_without_failing_the_start() -> None:
    url = "postgresql+psycopg://app:secret-pw@127.0.0.1:9/myelo_cds"
    problem = open_shared_store(url, timeout=20)
    assert problem is not None
    assert problem.startswith("database not reachable (")
    assert "secret-pw" not in problem
    shared_store(url).close()


def test_the_server_start_opens_the_store_so_a_file_replaced_before_any_probe_is_refused(
    tmp_path: Path,
) -> None:
    """The entry point's own start (``asgi.warm_up``), in a fresh interpreter: once the warm-up
    is done the file is replaced, and the very first readiness probe refuses it."""
    path = tmp_path / "records.sqlite3"
    script = (
        "import asyncio, json, sqlite3\n"
        "from pathlib import Path\n"
        "from starlette.applications import Starlette\n"
        "from starlette.testclient import TestClient\n"
        "import asgi\n"
        "from myelo_cds.service import health, warmup\n"
        "async def start():\n"
        "    async with asgi.warm_up(None):\n"
        "        pass\n"
        "asyncio.run(start())\n"
        "assert warmup.STATE.wait(180) and warmup.STATE.error is None, warmup.STATE.error\n"
        f"path = Path({str(path)!r})\n"
        "assert path.exists()  # opened (and migrated) by the warm-up, before any request\n"
        "for name in (path, path.with_name(path.name + '-wal'), path.with_name(path.name + '-shm')):\n"
        "    name.unlink(missing_ok=True)\n"
        "with sqlite3.connect(path) as connection:\n"
        "    connection.execute('CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)')\n"
        "answer = TestClient(Starlette(routes=health.routes)).get(health.READINESS_PATH)\n"
        "print(json.dumps([answer.status_code, answer.json()]))\n"
    )
    environment = {
        **os.environ,
        "MYELO_CDS_DB_PATH": str(path),
        "MYELO_CDS_AUTH": "none",
        "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(32),
    }
    environment.pop("MYELO_CDS_DATABASE_URL", None)
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    status, answer = json.loads(run.stdout.strip().splitlines()[-1])
    assert status == 503, answer
    assert "replaced or removed since this server opened it" in answer["reason"]


# --- pages survive a record database failure ------------------------------------------------------

# Pages that read or write the records, with their permission's role (the development mode's
# role in these tests is admin: every page is allowed).
RECORD_PAGES = [
    "pages/timeline.py",
    "pages/worklist.py",
    "pages/audit.py",
    "pages/quiz.py",
    "pages/training_progress.py",
    "pages/supervisor.py",
]


def _app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    return at


def _stored_visit(database: Store) -> None:
    findings, rec = case("mild_dcm", dt.date(2025, 3, 4))
    database.save_assessment(findings, rec, patient_id="PT-1", author="dr.lee")


def _failure_messages(at: AppTest) -> list[str]:
    return [error.value for error in at.error if MESSAGE in error.value]


@pytest.mark.parametrize("page", RECORD_PAGES)
def test_a_record_page_on_a_replaced_file_says_what_failed_not_a_trace(database: Store, page: str) -> None:
    _stored_visit(database)
    at = _app()
    at.switch_page(page).run()  # the page works and its store recorded the file
    assert not at.exception
    assert not _failure_messages(at)
    _replace(_file(database))
    at.switch_page(page).run()
    assert not at.exception, at.exception
    [message] = [error.value for error in at.error if "replaced or removed" in error.value]
    assert "since this server opened it" in message
    assert str(_file(database)) not in message
    if page != "pages/audit.py":  # the audit log shows a failed query itself, as a field error
        assert MESSAGE in message
        assert STILL_RECOMMENDS in message


@pytest.mark.parametrize("page", ["pages/timeline.py", "pages/worklist.py", "pages/audit.py"])
def test_a_record_page_on_an_unreadable_file_says_what_failed(database: Store, page: str) -> None:
    """A file that is not a database at all (a half-copied restore): the page says the records
    could not be read, with the error's kind."""
    path = _file(database)
    path.write_bytes(b"this is not a database" * 100)
    at = _app()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    [message] = [error.value for error in at.error if "could not be read" in error.value]
    assert "Error)" in message  # the failure's kind, e.g. (DatabaseError)
    if page != "pages/audit.py":
        assert STILL_RECOMMENDS in message


def test_the_consult_still_recommends_on_a_replaced_file(database: Store) -> None:
    _stored_visit(database)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for path, value in _flatten(json.loads(example_cases()["moderate_dcm"])):
        at.session_state[KEY + path] = _to_widget(field_spec(path), value)
    at.run()
    assert not at.exception
    _replace(_file(database))
    at.run()
    assert not at.exception
    assert any("Surgical referral" in warning.value for warning in at.warning)
    assert not _failure_messages(at)  # the consult says itself what it cannot do


def test_with_local_sign_in_an_unreadable_account_table_signs_nobody_in(
    database: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The accounts cannot be read: the session's sign-in cannot be checked (a disabled account
    would go unnoticed), so no patient page is shown, with a message instead of a trace; the
    sign-in holds again once the database answers."""
    monkeypatch.setenv("MYELO_CDS_AUTH", "local")
    database.add_account("dr.lee", "clinician", actor="test", password="a long passphrase for lee 42")
    _stored_visit(database)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["myelo_cds.user"] = User(user_id="dr.lee", role="clinician")
    at.run()
    assert not at.exception
    at.switch_page("pages/timeline.py").run()
    assert not at.exception
    assert at.selectbox[0].options == ["PT-1"]
    _replace(_file(database))
    at.run()
    assert not at.exception, at.exception
    messages = [error.value for error in at.error if "Signing in is not possible right now" in error.value]
    assert len(messages) == 1
    assert "replaced or removed" in messages[0]
    assert at.title[0].value == "Sign in"  # no patient page
    assert not at.selectbox
