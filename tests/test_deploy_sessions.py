"""Draft ownership and the idle limit on the deployment's shape: two replicas of ``asgi.py`` with
local sign-in on one real PostgreSQL database, driven over the websocket as a browser does
(issue 14, Checks). A clinician's draft link, opened on the other replica by a resident, shows
nothing of it; a tab idle past the limit is signed out and its draft deleted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import tempfile
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

import pytest

from myelo_cds.records import Store
from tests.deploy_stack import replicas
from tests.e2e.live_app import LiveServer
from tests.pg_fixture import PostgresServer
from tests.streamlit_ws import RunResult, StreamlitSession

PASSWORD = "a long clinic passphrase"
IDLE_SECONDS = 15
T = TypeVar("T")
Stack = tuple[list[LiveServer], Store]


@pytest.fixture(scope="module")
def stack(postgres_server: PostgresServer) -> Iterator[Stack]:
    url = postgres_server.create_database()
    store = Store(url)
    store.add_account("dr.lee", "clinician", actor="test", password=PASSWORD)
    store.add_account("res.kim", "resident", actor="test", password=PASSWORD)
    environment = {"MYELO_CDS_AUTH": "local", "MYELO_CDS_SESSION_IDLE_MINUTES": str(IDLE_SECONDS / 60)}
    folder = Path(tempfile.mkdtemp(prefix="myelo-cds-sessions-"))
    with replicas(url, 2, folder, env=environment) as started:
        yield started, store
    store.close()


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a thread of its own: a browser test that ran before on this worker may
    leave Playwright's event loop running in the main thread, where ``asyncio.run`` refuses."""
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


async def _sign_in(session: StreamlitSession, user_id: str) -> RunResult:
    await session.open()
    await session.change("sign_in.user_name", user_id)
    await session.change("sign_in.password", PASSWORD)
    result = await session.click("Sign in")
    assert "Consult" in result.texts, result.texts
    return result


def _token(session: StreamlitSession) -> str:
    [token] = parse_qs(session.query_string)["draft"]
    return token


def _clean(results: list[RunResult]) -> None:
    assert not [error for result in results for error in result.exceptions]


def test_a_clinicians_draft_link_shows_nothing_to_a_resident_on_the_other_replica(stack: Stack) -> None:
    (replica_a, replica_b), store = stack

    async def clinician_then_resident() -> tuple[str, str, list[RunResult]]:
        async with StreamlitSession(replica_a.url) as clinician:
            results = [await _sign_in(clinician, "dr.lee")]
            results.append(await clinician.change("f.case_id", "PT-STACK-0001"))
            results.append(await clinician.change("f.patient.age_years", 71))
            token = _token(clinician)
        async with StreamlitSession(replica_b.url, f"/?draft={token}") as resident:
            results.append(await _sign_in(resident, "res.kim"))
            results.append(await resident.change("f.patient.age_years", 30))
            return token, _token(resident), results

    token, resident_token, results = _run(clinician_then_resident())
    _clean(results)
    assert not [text for result in results[3:] for text in result.texts if "PT-STACK-0001" in text]
    assert resident_token != token, "the resident's tab drew a token of its own"
    assert store.load_draft(token, owner="dr.lee") == {
        "case_id": "PT-STACK-0001",
        "patient": {"age_years": 71},
    }
    assert store.load_draft(token, owner="res.kim") is None
    resident_draft = store.load_draft(resident_token, owner="res.kim")
    assert resident_draft == {"patient": {"age_years": 30}}, "the resident's edits went to their own draft"


def test_a_tab_idle_past_the_limit_is_signed_out_and_its_draft_deleted(stack: Stack) -> None:
    (replica_a, _), store = stack

    async def idle_then_change() -> tuple[str, list[RunResult]]:
        async with StreamlitSession(replica_a.url) as clinician:
            results = [await _sign_in(clinician, "dr.lee")]
            results.append(await clinician.change("f.case_id", "PT-STACK-0002"))
            token = _token(clinician)
            await asyncio.sleep(IDLE_SECONDS + 2)
            results.append(await clinician.change("f.patient.age_years", 64))  # a fragment rerun
            return token, results

    token, results = _run(idle_then_change())
    _clean(results)
    after = results[-1].texts
    assert "Sign in" in after
    assert any("Signed out after 0.25 minutes without activity" in text for text in after)
    assert not [text for text in after if "PT-STACK-0002" in text]
    assert store.load_draft(token, owner="dr.lee") is None
