"""SMART launches in progress live in the record database: a launch started on one replica
finishes on another, once, and never after its ten minutes (issue 15, SMART launch).

The replicas are two Starlette apps with the launch routes, each with its own record store
(its own connection pool) on one database; the EHR is the real test EHR on loopback
(``tests/smart_ehr``: Medplum's FHIR router, Authlib's authorization server).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import create_engine, text
from starlette.applications import Starlette
from starlette.testclient import TestClient

from myelo_cds.ehr import HANDOFF_COOKIE, claim_handoff
from myelo_cds.records import Store
from myelo_cds.service.smart import LAUNCH_COOKIE, routes
from tests.smart_ehr import APP_URL, CLIENT_ID, EhrUnderTest, authorize, ehr_record, running_test_ehr

PATIENT = "ehr-pt-5512"
NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def ehr(tmp_path: Path) -> Iterator[EhrUnderTest]:
    with running_test_ehr(APP_URL, ehr_record("moderate_dcm", PATIENT), tmp_path) as running:
        yield running


def _replica(url: str) -> TestClient:
    """One replica: the launch routes with a record store of its own on the shared database
    (both replicas answer at one address, as behind nginx)."""
    return TestClient(Starlette(routes=routes(Store(url))), base_url=APP_URL)


def _rows(url: str) -> list[dict[str, Any]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(text("SELECT * FROM smart_launches"))]
    engine.dispose()
    return rows


def test_a_launch_started_on_one_replica_finishes_on_another(
    ehr: EhrUnderTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYELO_CDS_APP_URL", APP_URL)
    monkeypatch.setenv("MYELO_CDS_SMART_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("MYELO_CDS_SMART_ISSUERS", ehr.iss)
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    first, second = _replica(url), _replica(url)
    query = authorize(first, ehr, PATIENT, APP_URL)
    state = parse_qs(query)["state"][0]
    challenge = ehr.auth.authorization_requests[-1]["code_challenge"]
    # The database holds the launch under a digest, sealed: no state, verifier or issuer in clear.
    [row] = _rows(url)
    stored = json.dumps(row, default=str)
    for secret in (state, ehr.iss, challenge, ehr.auth.authorization_requests[-1]["launch"]):
        assert secret not in stored
    # The browser (its launch cookie) comes back through the load balancer to the other replica.
    second.cookies.set(LAUNCH_COOKIE, first.cookies[LAUNCH_COOKIE], path="/smart")
    finished = second.get(f"/smart/callback?{query}", follow_redirects=False)
    assert finished.status_code == 303, finished.text
    # The hand-off too is in the shared database (the consult page may be on either replica),
    # sealed: neither the patient nor the EHR's access token in clear.
    [handed] = _rows(url)
    for secret in (PATIENT, ehr.iss, *ehr.auth.tokens):
        assert secret not in json.dumps(handed, default=str)
    imported = claim_handoff(finished.cookies[HANDOFF_COOKIE], Store(url))
    assert imported is not None
    assert (imported.iss, imported.patient) == (ehr.iss, PATIENT)
    assert "code_verifier" in ehr.auth.token_requests[-1]  # the verifier kept by the first replica
    # Single use across replicas: the first replica cannot take the same state again.
    assert _rows(url) == []
    again = first.get(f"/smart/callback?{query}", follow_redirects=False)
    assert again.status_code == 400
    assert "unknown, used or expired state" in again.text
    assert len(ehr.auth.token_requests) == 1


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_kept_launch_is_taken_once_and_never_after_it_expires(db_url: str) -> None:
    store = Store(db_url)
    state, other = "s" * 43, "t" * 43
    content = {"iss": "https://ehr.example.org/fhir", "verifier": "v" * 43}
    store.keep_smart_launch(state, content, expires=NOW + dt.timedelta(minutes=10), now=NOW)
    store.keep_smart_launch(other, content, expires=NOW + dt.timedelta(minutes=10), now=NOW)
    assert store.take_smart_launch("s" * 42 + "x", now=NOW) is None  # a near miss finds nothing
    assert store.take_smart_launch(state, now=NOW) == content
    assert store.take_smart_launch(state, now=NOW) is None  # used
    # Past its expiry a launch is never returned, and the next launch kept clears it away.
    assert store.take_smart_launch(other, now=NOW + dt.timedelta(minutes=10)) is None
    store.keep_smart_launch(state, content, expires=NOW + dt.timedelta(minutes=30), now=NOW)
    later = NOW + dt.timedelta(minutes=20)
    store.keep_smart_launch("u" * 43, content, expires=later + dt.timedelta(minutes=10), now=later)
    assert store.take_smart_launch(state, now=later) == content  # not yet expired: kept
    store.close()


def test_a_state_too_short_to_be_unguessable_is_not_kept(tmp_path: Path) -> None:
    from myelo_cds.records import RecordError

    store = Store(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    with pytest.raises(RecordError, match="at least 32 characters"):
        store.keep_smart_launch("short", {}, expires=NOW + dt.timedelta(minutes=10), now=NOW)
    store.close()


def test_a_launch_whose_sealed_content_was_altered_is_refused(tmp_path: Path) -> None:
    """Someone who can write the database cannot plant a launch: the content is sealed with a
    key derived from the state, which the database never holds."""
    url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    store = Store(url)
    state = "k" * 43
    store.keep_smart_launch(
        state, {"iss": "https://ehr.example.org/fhir"}, expires=NOW + dt.timedelta(hours=1), now=NOW
    )
    engine = create_engine(url)
    with engine.begin() as connection:
        sealed = connection.execute(text("SELECT sealed FROM smart_launches")).scalar_one()
        flipped = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
        connection.execute(text("UPDATE smart_launches SET sealed = :s"), {"s": flipped})
    engine.dispose()
    assert store.take_smart_launch(state, now=NOW) is None
    store.close()


def test_a_launch_the_database_cannot_keep_is_stopped_with_a_clear_page(
    ehr: EhrUnderTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No database, no launch: the EHR's authorization is never asked for a launch that no
    replica could finish."""
    monkeypatch.setenv("MYELO_CDS_APP_URL", APP_URL)
    monkeypatch.setenv("MYELO_CDS_SMART_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("MYELO_CDS_SMART_ISSUERS", ehr.iss)
    app = _replica(f"sqlite:///{tmp_path / 'no-such-folder' / 'records.sqlite3'}")
    to_app = httpx.get(ehr.launch_url(PATIENT))
    response = app.get(f"/smart/launch?{urlsplit(to_app.headers['location']).query}", follow_redirects=False)
    assert response.status_code == 503
    assert "could not be kept in the record database" in response.text
    assert "location" not in response.headers
    assert ehr.auth.authorization_requests == []
