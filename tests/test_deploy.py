"""The deployment in ``deploy/``: nginx in front of two replicas on one PostgreSQL, for real.

PostgreSQL and nginx come from the Debian packages and run on loopback (tests/pg_fixture.py,
tests/nginx_fixture.py); the replicas are ``streamlit run asgi.py``; sessions are driven over
the websocket as the browser does (tests/streamlit_ws.py). Under CI=true nothing here skips.
The ``postgres_server`` and ``deploy_stack`` fixtures are registered in ``tests/conftest.py``;
the stack's database has an owner role (it migrates) and the app's role (the replicas).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import json
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Coroutine
from email.message import Message
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import ProgrammingError

from myelo_cds.records import Store
from tests.deploy_stack import DeployStack, replicas
from tests.pg_fixture import find_postgres_bin, temporary_postgres
from tests.streamlit_ws import RunResult, StreamlitSession, insecure_tls
from tests.ws_consult import full_consult

TLS = insecure_tls()
T = TypeVar("T")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a thread of its own, so the test does not depend on what ran before on
    this worker: Playwright's sync API (a browser test) leaves an event loop running on the main
    thread, and ``asyncio.run`` refuses to start inside a running loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def _get(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Message, bytes]:
    """(status, headers, body) of one request; HTTP errors are answers too."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    handlers = [urllib.request.HTTPSHandler(context=TLS)]

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *_args: object, **_kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(*handlers, NoRedirect)
    try:
        with opener.open(request, timeout=30) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _saved(results: list[RunResult], case_id: str) -> bool:
    return any(f"Saved for {case_id}" in text for text in results[-1].texts)


def test_readiness_answers_ready_on_each_replica_and_through_the_proxy(deploy_stack: DeployStack) -> None:
    for url in [*(replica.url for replica in deploy_stack.replicas), deploy_stack.proxy.url]:
        status, headers, body = _get(f"{url}/readyz")
        assert status == 200, body
        assert json.loads(body) == {"status": "ready", "database": "postgresql"}
        assert headers["Cache-Control"] == "no-store"
        assert _get(f"{url}/_stcore/health")[2] == b"ok"


def test_an_assessment_saved_through_replica_a_is_read_through_replica_b(deploy_stack: DeployStack) -> None:
    replica_a, replica_b = deploy_stack.replicas

    async def consult_on_a_then_timeline_on_b() -> tuple[list[RunResult], list[str]]:
        async with StreamlitSession(replica_a.url) as on_a:
            results = await full_consult(on_a, "DEPLOY-A-1", "clin-a")
        async with StreamlitSession(replica_b.url, "/timeline") as on_b:
            await on_b.open()
            _id, patients = on_b.labelled("Patient (pseudonymous id)")
            return results, list(patients.options)

    results, patients_on_b = _run(consult_on_a_then_timeline_on_b())
    assert not [error for result in results for error in result.exceptions]
    # Tempo, duration and cancer left blank: moderate DCM is urgent until the cancer question is
    # answered (rule set 2: a red flag not excluded), expedited after.
    assert any("Surgical referral** - urgency **URGENT - " in text for text in results[-1].texts)
    assert _saved(results, "DEPLOY-A-1")
    assert "DEPLOY-A-1" in patients_on_b  # replica B's timeline page lists the patient A saved
    store = Store(deploy_stack.database_url)
    try:
        [record] = store.assessments("DEPLOY-A-1")
    finally:
        store.close()
    # The record's author is the signed-in user (the stack runs the announced development mode,
    # user "dev"); the clinician id typed on the form only names the clinician on the note.
    assert (record.pathway, record.urgency, record.author) == ("surgical_referral", "urgent", "dev")
    assert record.findings.mjoa is not None
    assert record.recommendation.scores.mjoa is not None
    assert record.recommendation.scores.mjoa.total == 13


def test_the_replicas_run_as_an_app_role_that_saves_but_cannot_change_the_record(
    deploy_stack: DeployStack,
) -> None:
    """Role separation on the deployment (issue 14): the owner migrated, the replicas connect as
    the app's role, save a consult through nginx, and that role can neither rewrite nor delete
    the audit log or an assessment, nor switch off the audit table's triggers."""

    async def consult() -> list[RunResult]:
        async with StreamlitSession(deploy_stack.proxy.url, tls=TLS) as session:
            return await full_consult(session, "DEPLOY-ROLE-1", "clin-r")

    results = _run(consult())
    assert not [error for result in results for error in result.exceptions]
    assert _saved(results, "DEPLOY-ROLE-1")
    app_role = make_url(deploy_stack.database_url).username
    owner_role = make_url(deploy_stack.owner_url).username
    assert app_role != owner_role
    owner = create_engine(deploy_stack.owner_url)
    try:
        with owner.connect() as connection:
            # every connection of the replicas to this database is the app's role's
            connected = set(
                connection.execute(
                    text(
                        "SELECT DISTINCT usename FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalars()
            )
            owners = set(
                connection.execute(
                    text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
                ).scalars()
            )
    finally:
        owner.dispose()
    assert connected == {app_role}
    assert owners == {owner_role}
    store = Store(deploy_stack.database_url)
    try:
        [record] = store.assessments("DEPLOY-ROLE-1")
        assert store.verify_audit().intact
    finally:
        store.close()
    app = create_engine(deploy_stack.database_url)
    refused = [
        "UPDATE audit_events SET actor = 'someone else'",
        "DELETE FROM audit_events",
        "ALTER TABLE audit_events DISABLE TRIGGER ALL",
        f"UPDATE assessments SET urgency = 'routine' WHERE id = {record.id}",
        f"DELETE FROM assessments WHERE id = {record.id}",
        "TRUNCATE audit_events",
        "DROP TABLE assessments",
    ]
    try:
        for statement in refused:
            with (
                pytest.raises(ProgrammingError, match=r"permission denied|must be owner"),
                app.begin() as connection,
            ):
                connection.execute(text(statement))
    finally:
        app.dispose()
    store = Store(deploy_stack.database_url)
    try:
        [still] = store.assessments("DEPLOY-ROLE-1")
        assert (still.urgency, still.pathway) == (record.urgency, record.pathway)
        assert store.verify_audit().intact
    finally:
        store.close()


def test_a_full_consult_works_over_the_websocket_through_nginx(deploy_stack: DeployStack) -> None:
    proxy = deploy_stack.proxy

    async def consult() -> tuple[list[RunResult], str | None]:
        async with StreamlitSession(proxy.url, tls=TLS) as session:
            return await full_consult(session, "DEPLOY-P-1", "clin-p"), session.cookie("myelo_route")

    results, route = _run(consult())
    assert route, "nginx gave the browser its routing cookie"
    assert not [error for result in results for error in result.exceptions]
    assert _saved(results, "DEPLOY-P-1")
    # Every request of this browser (page, websocket) reached one replica.
    upstreams = {
        re.search(r"upstream=(\S+)", line).group(1)  # type: ignore[union-attr]
        for line in proxy.access_log()
        if f"route={route}" in line
    }
    assert len(upstreams) == 1, upstreams
    assert any("/_stcore/stream" in line and f"route={route}" in line for line in proxy.access_log())


def test_sticky_sessions_keep_a_browser_on_one_replica_and_spread_browsers(deploy_stack: DeployStack) -> None:
    proxy = deploy_stack.proxy
    routes = []
    for _ in range(16):
        status, headers, _body = _get(proxy.url + "/")
        assert status == 200
        cookie = headers["Set-Cookie"]
        route = re.search(r"myelo_route=([^;]+)", cookie).group(1)  # type: ignore[union-attr]
        for attribute in ("Secure", "HttpOnly", "SameSite=Lax"):
            assert attribute in cookie
        routes.append(route)
        for _ in range(3):  # the same browser again: no new cookie, same replica
            again = _get(proxy.url + "/_stcore/health", headers={"Cookie": f"myelo_route={route}"})
            assert again[0] == 200
            assert "myelo_route" not in (again[1].get("Set-Cookie") or "")
    served_by = collections.defaultdict(set)
    for line in proxy.access_log():
        found = re.search(r"upstream=(\S+) route=(\S+)", line)
        if found and found.group(2) in routes:
            served_by[found.group(2)].add(found.group(1))
    assert all(len(upstreams) == 1 for upstreams in served_by.values()), served_by
    assert len(set().union(*served_by.values())) == 2, "16 browsers all landed on one replica"


def test_security_headers_and_plain_http_redirects_to_https(deploy_stack: DeployStack) -> None:
    status, headers, _body = _get(deploy_stack.proxy.url + "/")
    assert status == 200
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert "frame-ancestors 'self'" in headers["Content-Security-Policy"]
    assert "object-src 'none'" in headers["Content-Security-Policy"]
    assert "nginx/" not in (headers.get("Server") or "")  # no version disclosed
    status, headers, _body = _get(deploy_stack.proxy.http_url + "/consult?x=1")
    assert status == 301
    assert headers["Location"].startswith("https://127.0.0.1")
    assert headers["Location"].endswith("/consult?x=1")


def test_uploads_over_the_limit_are_refused_by_nginx_and_smaller_ones_pass_on(
    deploy_stack: DeployStack,
) -> None:
    url = deploy_stack.proxy.url + "/_stcore/upload_file/no-session/no-file"
    too_big = _get(url, data=b"x" * (7 * 1024 * 1024), headers={"Content-Type": "application/octet-stream"})
    assert too_big[0] == 413
    within = _get(url, data=b"x" * (1024 * 1024), headers={"Content-Type": "application/octet-stream"})
    assert within[0] != 413  # reached the app, which refuses it for its own reasons (no session, no XSRF)
    assert b"nginx" not in within[2]


def test_readiness_fails_and_liveness_stays_when_the_database_goes_away() -> None:
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL binaries")  # the postgres_server fixture fails first under CI
    folder = Path(tempfile.mkdtemp(prefix="myelo-cds-ready-"))
    with contextlib.ExitStack() as database_stack:
        database = database_stack.enter_context(temporary_postgres(bin_dir))
        with replicas(database.create_database(), 1, folder) as [replica]:
            assert _get(f"{replica.url}/readyz")[0] == 200
            database_stack.close()  # the database server stops; the replica keeps running
            status, headers, body = _get(f"{replica.url}/readyz")
            assert status == 503
            answer = json.loads(body)
            assert answer["status"] == "not ready"
            assert answer["reason"].startswith("database not reachable ("), answer
            assert database.password not in body.decode()
            assert headers["Cache-Control"] == "no-store"
            assert _get(f"{replica.url}/_stcore/health")[2] == b"ok"  # alive, only not ready
