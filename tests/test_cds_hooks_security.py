"""CDS Hooks security on a real uvicorn serving ``asgi.py``: who may call, from which origin,
what is recorded, and where the card's link and suggestion point (issue 15).

CDS Hooks 2.0, "Trusting CDS Clients": a Bearer JWT signed asymmetrically by the client (never
``none``, never HMAC), from an allow-listed issuer whose JWK Set holds the key, ``aud`` = the
URL of the endpoint called, ``exp``, ``iat`` and a ``jti`` never used before. The test EHR's
keys are generated here with joserfc; one trusted issuer gives its JWK Set as a file, another as
a URL served on loopback by this test.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.testclient import TestClient

from myelo_cds import Findings, assess
from myelo_cds.errors import RecordError, SettingsError
from myelo_cds.exports.fhir import REQUEST_PRIORITY
from myelo_cds.records import AuditEvent, Store
from myelo_cds.records._database import make_engine
from myelo_cds.service._hook_security import HookAuthError, StoredReplays, Trust, _public_keys, verify_token
from myelo_cds.service.cds_hooks import SERVICE_ID, routes
from myelo_cds.settings import auth_settings, cds_hooks_settings
from tests.cds_hooks_tokens import APP_URL, SERVICE_BASE, ClientKeys, SignedCalls, environment, write_trust
from tests.e2e.live_app import free_port, wait_until_serving
from tests.measured import unmeasured
from tests.test_cds_hooks import _prefetch

ROOT = Path(__file__).resolve().parents[1]
SERVICE = f"/cds-services/{SERVICE_ID}"
FEEDBACK = f"{SERVICE}/feedback"
SANDBOX = "https://sandbox.cds-hooks.org"
SECOND_ISSUER = "https://second-ehr.example/fhir"


class _KeySets(BaseHTTPRequestHandler):
    """Serves JWK Sets on loopback: the second EHR's published set, and an attacker's."""

    sets: ClassVar[dict[str, dict[str, Any]]] = {}

    def do_GET(self) -> None:
        body = json.dumps(self.sets.get(self.path, {})).encode()
        self.send_response(200 if self.path in self.sets else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Service:
    url: str
    keys: ClientKeys  # the first EHR (JWK Set file)
    second: ClientKeys  # the second EHR (JWK Set URL, and an allow-listed jku)
    keys_url: str
    database: Store
    env: dict[str, str]  # the server's environment (its settings)

    def post(self, path: str, body: Any, token: str | None, **headers: str) -> httpx.Response:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.post(self.url + path, json=body, headers=headers, timeout=60)

    def events(self, action: str = "cds_hook_call") -> list[AuditEvent]:
        return [event for event in self.database.audit_events(5000) if event.action == action]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("cds-security")
    keys, second = ClientKeys(), ClientKeys(iss=SECOND_ISSUER)
    key_server = ThreadingHTTPServer(("127.0.0.1", 0), _KeySets)
    keys_url = f"http://127.0.0.1:{key_server.server_address[1]}"
    _KeySets.sets = {"/jwks.json": second.jwks(), "/rotated.json": second.jwks()}
    threading.Thread(target=key_server.serve_forever, daemon=True).start()
    trust = write_trust(
        folder,
        keys,
        **{SECOND_ISSUER: {"jwks_url": f"{keys_url}/jwks.json", "jku": [f"{keys_url}/rotated.json"]}},
    )
    database = folder / "records.sqlite3"
    # Unmeasured: the service's code is measured in process (TestClient) by these modules' other
    # tests and tests/test_cds_hooks.py; this server proves the same code over real HTTP.
    env = unmeasured(
        {**os.environ, **environment(trust, origins=SANDBOX), "MYELO_CDS_DB_PATH": str(database)}
    )
    port = free_port()
    log = folder / "uvicorn.log"
    command = [sys.executable, "-m", "uvicorn", "asgi:app", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(  # urllib: a refused connection is an OSError, which the wait retries
            lambda: json.loads(urllib.request.urlopen(f"{url}/cds-services", timeout=5).read()),
            process,
            log,
            timeout=90,
        )
        yield Service(url, keys, second, keys_url, Store(f"sqlite:///{database}"), env)
    finally:
        process.terminate()
        process.wait(timeout=20)
        key_server.shutdown()


PATIENT = "1288992"


def _call(example: str) -> dict[str, Any]:
    """A patient-view call whose prefetch is the example's exported resources, held by the EHR as
    patient ``PATIENT`` (the EHR's id, and every resource's subject)."""
    prefetch = _prefetch(example)
    prefetch["patient"]["id"] = PATIENT
    for value in prefetch.values():
        for entry in (value or {}).get("entry", []):
            if "subject" in entry["resource"]:
                entry["resource"]["subject"] = {"reference": f"Patient/{PATIENT}"}
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/1", "patientId": PATIENT},
        "prefetch": prefetch,
    }


def _unsigned(claims: dict[str, Any]) -> str:
    """An ``alg: none`` token (RFC 7519 "unsecured JWT"), built by hand as an attacker would."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': 'ec-1'})}.{part(claims)}."


def _claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": "https://ehr.hospital.example/",
        "aud": SERVICE_BASE + SERVICE,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
        **extra,
    }


# --- accepted --------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["ES384", "RS384", "RS256", "PS384"])
def test_a_token_signed_by_the_trusted_ehr_gets_its_card(service: Service, alg: str) -> None:
    response = service.post(SERVICE, _call("moderate_dcm"), service.keys.token(SERVICE, alg=alg))
    assert response.status_code == 200, response.text
    (card,) = response.json()["cards"]
    assert "Surgical referral" in card["summary"]


def test_aud_may_be_a_list_holding_the_service_url(service: Service) -> None:
    token = service.keys.token(SERVICE, aud=["https://elsewhere.example", SERVICE_BASE + SERVICE])
    assert service.post(SERVICE, _call("moderate_dcm"), token).status_code == 200


def test_an_issuer_whose_keys_are_at_a_url_is_checked_against_the_fetched_set(service: Service) -> None:
    response = service.post(SERVICE, _call("red_flag_trauma"), service.second.token(SERVICE))
    assert response.status_code == 200, response.text
    assert response.json()["cards"][0]["indicator"] == "critical"


def test_a_jku_on_the_issuers_allow_list_is_followed(service: Service) -> None:
    token = service.second.token(SERVICE, header={"jku": f"{service.keys_url}/rotated.json"})
    assert service.post(SERVICE, _call("moderate_dcm"), token).status_code == 200


# --- refused -----------------------------------------------------------------------------------


def _refused(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 401, response.text
    assert reason in response.json()["error"]
    assert "cards" not in response.json()
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_no_token_is_refused(service: Service) -> None:
    _refused(service.post(SERVICE, _call("moderate_dcm"), None), "Authorization: Bearer <JWT>")


def test_basic_authentication_is_refused(service: Service) -> None:
    response = service.post(SERVICE, _call("moderate_dcm"), None, Authorization="Basic ZWhyOmVocg==")
    _refused(response, "Authorization: Bearer <JWT>")


def test_a_token_that_is_not_a_jwt_is_refused(service: Service) -> None:
    _refused(service.post(SERVICE, _call("moderate_dcm"), "not-a-token"), "not a signed JWT")


def test_alg_none_is_refused(service: Service) -> None:
    _refused(service.post(SERVICE, _call("moderate_dcm"), _unsigned(_claims())), "alg none")


def test_hmac_signed_with_the_public_key_is_refused(service: Service) -> None:
    """The classic confusion: HS256 "signed" with the client's published key as the secret."""
    secret = OctKey.import_key(json.dumps(service.keys.ec.as_dict(private=False)).encode())
    token = jwt.encode({"alg": "HS256", "kid": "ec-1"}, _claims(), secret, algorithms=["HS256"])
    _refused(service.post(SERVICE, _call("moderate_dcm"), token), "HMAC")


def test_an_unknown_issuer_is_refused(service: Service) -> None:
    stranger = ClientKeys(iss="https://unknown-ehr.example/")
    _refused(
        service.post(SERVICE, _call("moderate_dcm"), stranger.token(SERVICE)), "not a trusted CDS client"
    )


def test_a_key_not_in_the_issuers_set_is_refused(service: Service) -> None:
    other = ECKey.generate_key("P-384", parameters={"kid": "ec-2"})
    token = service.keys.token(SERVICE, key=other)
    _refused(service.post(SERVICE, _call("moderate_dcm"), token), "not in the issuer's key set")


def test_a_forged_key_under_a_known_kid_fails_the_signature(service: Service) -> None:
    forged = ECKey.generate_key("P-384", parameters={"kid": "ec-1"})
    token = service.keys.token(SERVICE, key=forged)
    _refused(service.post(SERVICE, _call("moderate_dcm"), token), "signature does not verify")


def test_a_jku_not_on_the_allow_list_is_not_followed(service: Service) -> None:
    """An attacker's key set named by the token itself: never fetched."""
    attacker = ECKey.generate_key("P-384", parameters={"kid": "ec-1"})
    _KeySets.sets["/attacker.json"] = {"keys": [attacker.as_dict(private=False)]}
    token = service.keys.token(SERVICE, key=attacker, header={"jku": f"{service.keys_url}/attacker.json"})
    _refused(service.post(SERVICE, _call("moderate_dcm"), token), "jku")


@pytest.mark.parametrize(
    "aud",
    [
        SERVICE_BASE + "/cds-services/another-service",
        "https://attacker.example" + SERVICE,
        SERVICE_BASE + "/cds-services",
    ],
)
def test_a_wrong_audience_is_refused(service: Service, aud: str) -> None:
    _refused(service.post(SERVICE, _call("moderate_dcm"), service.keys.token(SERVICE, aud=aud)), "audience")


def test_the_audience_is_the_configured_url_not_the_address_called(service: Service) -> None:
    token = service.keys.token(SERVICE, aud=service.url + SERVICE)
    _refused(service.post(SERVICE, _call("moderate_dcm"), token), "audience")


def test_an_expired_token_is_refused(service: Service) -> None:
    now = int(time.time())
    token = service.keys.token(SERVICE, iat=now - 600, exp=now - 120)  # past the 60 s skew
    _refused(service.post(SERVICE, _call("moderate_dcm"), token), "expired")


def test_a_token_issued_in_the_future_is_refused(service: Service) -> None:
    now = int(time.time())
    token = service.keys.token(SERVICE, iat=now + 120, exp=now + 200)
    _refused(service.post(SERVICE, _call("moderate_dcm"), token), "iat")


def test_a_token_living_longer_than_allowed_is_refused(service: Service) -> None:
    _refused(
        service.post(SERVICE, _call("moderate_dcm"), service.keys.token(SERVICE, lifetime=3600)),
        "MYELO_CDS_HOOKS_MAX_TOKEN_SECONDS",
    )


@pytest.mark.parametrize("claim", ["jti", "exp", "iat", "aud"])
def test_a_token_without_a_required_claim_is_refused(service: Service, claim: str) -> None:
    removed: dict[str, Any] = {claim: None}
    token = service.keys.token(SERVICE, **removed)
    _refused(service.post(SERVICE, _call("moderate_dcm"), token), claim)


def test_a_replayed_token_is_refused(service: Service) -> None:
    token = service.keys.token(SERVICE)
    assert service.post(SERVICE, _call("moderate_dcm"), token).status_code == 200
    _refused(service.post(SERVICE, _call("moderate_dcm"), token), "jti replayed")


def test_a_token_used_on_one_replica_is_refused_on_another(service: Service) -> None:
    """The replay check is kept in the record database: another server process on the same
    database (a second replica) refuses a token the first one accepted."""
    token = service.keys.token(SERVICE)
    assert service.post(SERVICE, _call("moderate_dcm"), token).status_code == 200
    trust = Trust.load(cds_hooks_settings(service.env))
    with pytest.raises(HookAuthError, match="jti replayed"):
        verify_token(
            f"Bearer {token}", (SERVICE_BASE + SERVICE,), trust, replays=StoredReplays(service.database)
        )


def test_the_stored_replay_check_is_per_issuer_and_forgets_expired_tokens(db_url: str) -> None:
    store = Store(db_url)
    replays = StoredReplays(store)
    assert replays.first_use("iss", "a", expires=110, now=100)
    assert not replays.first_use("iss", "a", expires=110, now=105)
    assert replays.first_use("other-iss", "a", expires=110, now=105)  # per issuer
    assert replays.first_use("iss", "a", expires=130, now=111)  # expired, then used anew
    assert not replays.first_use("iss", "a", expires=130, now=112)
    with make_engine(db_url).connect() as connection:
        rows = connection.execute(text("SELECT key_sha256 FROM hook_token_uses")).scalars().all()
    assert len(rows) == 1  # the two expired ones were deleted on the way
    assert all(len(row) == 64 and "iss" not in row for row in rows)  # digests, never the jti
    store.close()


def test_a_key_set_file_yields_public_signing_keys_only() -> None:
    """An HMAC key in a client's set would let anyone holding it sign as the client; a private
    key pasted by mistake is used for its public half only."""
    ec = ECKey.generate_key("P-384", parameters={"kid": "ec-1"})
    secret = OctKey.generate_key(256, parameters={"kid": "hmac-1"})
    keys = _public_keys({"keys": [ec.as_dict(private=True), secret.as_dict()]}, "test set")
    assert [key.kid for key in keys.keys] == ["ec-1"]
    assert not keys.keys[0].is_private
    with pytest.raises(ValueError, match="not a JWK Set"):
        _public_keys({"key": []}, "test set")


# --- CORS ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method"), [(SERVICE, "POST"), ("/cds-services", "GET"), (FEEDBACK, "POST")]
)
def test_the_preflight_from_a_configured_origin_is_answered(service: Service, path: str, method: str) -> None:
    response = httpx.options(
        service.url + path,
        headers={
            "Origin": SANDBOX,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == SANDBOX
    assert method in response.headers["Access-Control-Allow-Methods"]
    allowed = {name.strip().lower() for name in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed >= {"authorization", "content-type"}
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_the_preflight_from_another_origin_gets_no_cors_headers(service: Service) -> None:
    response = httpx.options(
        service.url + SERVICE,
        headers={"Origin": "https://attacker.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers


def test_calls_from_the_configured_origin_carry_the_cors_header_refusals_too(service: Service) -> None:
    ok = service.post(SERVICE, _call("moderate_dcm"), service.keys.token(SERVICE), Origin=SANDBOX)
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == SANDBOX
    refused = service.post(SERVICE, _call("moderate_dcm"), None, Origin=SANDBOX)
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == SANDBOX
    discovery = httpx.get(service.url + "/cds-services", headers={"Origin": SANDBOX})
    assert discovery.headers["Access-Control-Allow-Origin"] == SANDBOX
    other = httpx.get(service.url + "/cds-services", headers={"Origin": "https://attacker.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


# --- audit -----------------------------------------------------------------------------------


def test_every_call_is_audited_with_the_client_and_the_patient_never_the_prefetch(service: Service) -> None:
    before = len(service.events())
    token = service.keys.token(SERVICE, sub="audit-client")
    cards = [service.post(SERVICE, _call("moderate_dcm"), token).json()["cards"][0]]
    cards.append(
        service.post(
            SERVICE, _call("red_flag_trauma"), service.keys.token(SERVICE, sub="audit-client")
        ).json()["cards"][0]
    )
    assert service.post(SERVICE, _call("moderate_dcm"), token).status_code == 401  # replayed
    assert service.post(SERVICE, _call("moderate_dcm"), None).status_code == 401
    events = service.events()[: len(service.events()) - before]
    assert len(events) == 4  # newest first
    refused, accepted = events[:2], events[2:]
    for event in accepted:
        assert event.actor == "cds:test-ehr sub audit-client"
        assert event.patient_id == PATIENT
        assert "iss=https://ehr.hospital.example/" in event.detail
        assert "status 200" in event.detail
    assert {card["uuid"] for card in cards} == {
        next(part.split()[1] for part in e.detail.split("; ") if part.startswith("card ")) for e in accepted
    }
    for event in refused:
        assert event.actor == "cds-client:unauthenticated"
        assert event.patient_id is None
        assert event.detail.startswith("refused: ")
    for event in events:  # the findings the EHR sent are not in the audit log
        assert "Observation" not in event.detail
        assert "exam." not in event.detail
        assert "mjoa" not in event.detail.lower()


def test_a_refused_call_is_audited_with_its_status_and_issue_code_not_its_text(service: Service) -> None:
    body = _call("moderate_dcm")
    body["prefetch"]["findings"]["entry"][0]["resource"]["subject"] = {"reference": "Patient/someone-else"}
    response = service.post(SERVICE, body, service.keys.token(SERVICE))
    assert response.status_code == 400
    assert "subject" in response.json()["error"]
    (event,) = service.events()[:1]
    assert event.patient_id == PATIENT
    assert "status 400; issue invalid" in event.detail
    assert "subject" not in event.detail
    assert "someone-else" not in event.detail


# --- feedback --------------------------------------------------------------------------------


def _feedback(card: str, **item: Any) -> dict[str, Any]:
    return {"feedback": [{"card": card, "outcomeTimestamp": "2026-12-06T10:05:31Z", **item}]}


def test_feedback_accepted_and_overridden_is_recorded_without_the_comment(service: Service) -> None:
    card = service.post(SERVICE, _call("red_flag_trauma"), service.keys.token(SERVICE)).json()["cards"][0]
    suggestion = card["suggestions"][0]["uuid"]
    accepted = _feedback(card["uuid"], outcome="accepted", acceptedSuggestions=[{"id": suggestion}])
    response = service.post(FEEDBACK, accepted, service.keys.token(FEEDBACK))
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 1}
    overridden = _feedback(
        card["uuid"],
        outcome="overridden",
        overrideReason={
            "reason": {"code": "patient-declined", "system": "https://x.example"},
            "userComment": "Mr Smith",
        },
    )
    # The feedback endpoint's own URL, or the service's, as the audience.
    assert service.post(FEEDBACK, overridden, service.keys.token(SERVICE)).status_code == 200
    second, first = service.events("cds_hook_feedback")[:2]
    assert f"card {card['uuid']} accepted suggestions {suggestion}" in first.detail
    assert (
        f"card {card['uuid']} overridden reason patient-declined (with a comment, not recorded)"
        in second.detail
    )
    assert "Smith" not in second.detail
    assert first.actor == "cds:test-ehr sub ehr-client-1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_feedback("c1", outcome="accepted"), "acceptedSuggestions"),
        (_feedback("c1", outcome="dismissed"), "outcome"),
        ({"feedback": [{"card": "c1", "outcome": "overridden"}]}, "outcomeTimestamp"),
        (_feedback("c1", outcome="overridden", outcomeTimestamp="2026-12-06T10:05:31"), "time zone"),
        ({"feedback": []}, "feedback"),
        ({"nothing": 1}, "feedback"),
    ],
)
def test_malformed_feedback_gets_400_naming_the_field(
    service: Service, body: dict[str, Any], field: str
) -> None:
    response = service.post(FEEDBACK, body, service.keys.token(FEEDBACK))
    assert response.status_code == 400
    assert field in response.json()["error"]


def test_feedback_needs_a_token_too(service: Service) -> None:
    _refused(service.post(FEEDBACK, _feedback("c1", outcome="overridden"), None), "Bearer")


# --- the card's link and suggestion ------------------------------------------------------------


def test_a_forged_host_header_does_not_move_the_link(service: Service) -> None:
    response = service.post(
        SERVICE, _call("moderate_dcm"), service.keys.token(SERVICE), Host="attacker.example"
    )
    assert response.status_code == 200, response.text
    (card,) = response.json()["cards"]
    assert [link["url"] for link in card["links"]] == [f"{APP_URL}/"]
    assert "attacker" not in json.dumps(card)


@pytest.mark.parametrize(
    "example", ["red_flag_trauma", "moderate_dcm", "asymptomatic_compression", "mild_dcm"]
)
def test_the_suggestion_is_a_valid_servicerequest_proposal_with_the_urgencys_priority(
    service: Service, example: str
) -> None:
    findings = Findings.model_validate_json((ROOT / "data" / "examples" / f"{example}.json").read_text())
    urgency = assess(findings).urgency
    (card,) = service.post(SERVICE, _call(example), service.keys.token(SERVICE)).json()["cards"]
    assert card["selectionBehavior"] == "at-most-one"
    (suggestion,) = card["suggestions"]
    (action,) = suggestion["actions"]
    assert action["type"] == "create"
    request = ServiceRequest.model_validate(action["resource"])
    assert request.intent == "proposal"
    assert request.status == "draft"
    assert request.priority == REQUEST_PRIORITY[urgency]
    assert request.subject.reference == f"Patient/{PATIENT}"


def test_the_priorities_are_the_fhir_request_priority_codes_one_step_per_tier() -> None:
    assert REQUEST_PRIORITY == {
        "emergency": "stat",
        "urgent": "asap",
        "expedited": "urgent",
        "routine": "routine",
    }


# --- configuration (the routes in-process) -------------------------------------------------------


def _client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **options: Any) -> TestClient:
    keys = ClientKeys()
    for name, value in environment(write_trust(tmp_path, keys), **options).items():
        monkeypatch.setenv(name, value)
    client = TestClient(Starlette(routes=routes()))
    client.auth = SignedCalls(keys)
    return client


def test_without_a_configured_app_url_the_card_has_no_link_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MYELO_CDS_APP_URL", raising=False)
    client = _client(tmp_path, monkeypatch, app_url=None)
    (card,) = client.post(SERVICE, json=_call("moderate_dcm"), headers={"Host": "attacker.example"}).json()[
        "cards"
    ]
    assert "links" not in card
    assert "No link to myelo-cds: its public address is not configured." in card["detail"]


def test_with_the_ehr_launch_configured_the_card_link_launches_the_app_with_the_patient(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CDS Hooks 2.0: a ``smart`` link is opened by the EHR with its ``iss`` and a ``launch``
    for the patient in context, so the consult opens on this patient with the record imported."""
    plain = _client(tmp_path, monkeypatch)
    (card,) = plain.post(SERVICE, json=_call("moderate_dcm")).json()["cards"]
    assert card["links"] == [
        {"label": "Open the consult in myelo-cds", "url": APP_URL.rstrip("/") + "/", "type": "absolute"}
    ]
    monkeypatch.setenv("MYELO_CDS_SMART_CLIENT_ID", "myelo-cds")
    monkeypatch.setenv("MYELO_CDS_SMART_ISSUERS", "https://ehr.hospital.example/fhir")
    (card,) = plain.post(SERVICE, json=_call("moderate_dcm")).json()["cards"]
    assert card["links"] == [
        {
            "label": "Open the consult in myelo-cds",
            "url": APP_URL.rstrip("/") + "/smart/launch",
            "type": "smart",
        }
    ]


def test_a_replay_check_without_its_database_gives_503_and_no_card(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*_: Any) -> bool:
        raise RecordError("the record database could not save, nothing was saved (unreachable)")

    client = _client(tmp_path, monkeypatch)
    monkeypatch.setattr(StoredReplays, "first_use", down)
    response = client.post(SERVICE, json=_call("moderate_dcm"))
    assert response.status_code == 503
    assert "replay check is unavailable" in response.json()["error"]
    assert "cards" not in response.json()


def test_an_incomplete_assessment_proposes_no_referral(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client(tmp_path, monkeypatch)
    body = _call("moderate_dcm")
    findings = body["prefetch"]["findings"]
    findings["entry"] = [
        e for e in findings["entry"] if e["resource"]["code"]["coding"][0]["code"] != "patient.age_years"
    ]
    (card,) = client.post(SERVICE, json=body).json()["cards"]
    assert card["summary"].startswith("DCM: incomplete")
    assert "suggestions" not in card


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("MYELO_CDS_HOOKS_ISSUERS_FILE", "/nonexistent/issuers.toml", "MYELO_CDS_HOOKS_ISSUERS_FILE"),
        ("MYELO_CDS_HOOKS_URL", "http://cds.hospital.example", "MYELO_CDS_HOOKS_URL"),
        ("MYELO_CDS_HOOKS_CORS_ORIGINS", "*", "MYELO_CDS_HOOKS_CORS_ORIGINS"),
        ("MYELO_CDS_HOOKS_MAX_TOKEN_SECONDS", "86400", "MYELO_CDS_HOOKS_MAX_TOKEN_SECONDS"),
    ],
)
def test_a_bad_setting_refuses_every_call_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    client = _client(tmp_path, monkeypatch)
    monkeypatch.setenv(variable, value)
    response = client.post(SERVICE, json=_call("moderate_dcm"))
    assert response.status_code == 503
    assert named in response.json()["error"]


def test_without_a_service_url_every_call_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = _client(tmp_path, monkeypatch, app_url=None)
    monkeypatch.delenv("MYELO_CDS_HOOKS_URL")
    monkeypatch.delenv("MYELO_CDS_APP_URL", raising=False)
    response = client.post(SERVICE, json=_call("moderate_dcm"))
    assert response.status_code == 503
    assert "MYELO_CDS_HOOKS_URL" in response.json()["error"]


# --- key sets fetched from a URL, and the settings (in-process) ----------------------------------


@pytest.fixture
def key_host() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeySets)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def _url_trust(tmp_path: Path, url: str) -> Trust:
    (tmp_path / "issuers.toml").write_text(f'[[issuer]]\niss = "{SECOND_ISSUER}"\njwks_url = "{url}"\n')
    env = {
        "MYELO_CDS_HOOKS_URL": SERVICE_BASE,
        "MYELO_CDS_HOOKS_ISSUERS_FILE": str(tmp_path / "issuers.toml"),
    }
    return Trust.load(cds_hooks_settings(env))


def test_a_rotated_key_is_fetched_again_at_most_every_30_seconds(
    tmp_path: Path, key_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = ClientKeys(iss=SECOND_ISSUER)
    _KeySets.sets["/rotating.json"] = client.jwks()
    trust = _url_trust(tmp_path, f"{key_host}/rotating.json")
    audiences = (SERVICE_BASE + SERVICE,)
    assert verify_token(f"Bearer {client.token(SERVICE)}", audiences, trust).iss == SECOND_ISSUER
    new = ECKey.generate_key("P-384", parameters={"kid": "ec-2"})
    _KeySets.sets["/rotating.json"] = {"keys": [*client.jwks()["keys"], new.as_dict(private=False)]}
    with pytest.raises(HookAuthError, match="not in the issuer's key set"):  # fetched a moment ago
        verify_token(f"Bearer {client.token(SERVICE, key=new)}", audiences, trust)
    monkeypatch.setattr("myelo_cds.service._hook_security._JWKS_REFETCH_SECONDS", 0.0)
    assert verify_token(f"Bearer {client.token(SERVICE, key=new)}", audiences, trust).jti


def test_the_last_good_key_set_serves_while_its_url_is_down_and_none_before(
    tmp_path: Path, key_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = ClientKeys(iss=SECOND_ISSUER)
    _KeySets.sets["/flaky.json"] = client.jwks()
    trust = _url_trust(tmp_path, f"{key_host}/flaky.json")
    audiences = (SERVICE_BASE + SERVICE,)
    verify_token(f"Bearer {client.token(SERVICE)}", audiences, trust)
    del _KeySets.sets["/flaky.json"]  # 404 from now on
    monkeypatch.setattr("myelo_cds.service._hook_security._JWKS_FRESH_SECONDS", 0.0)
    assert verify_token(f"Bearer {client.token(SERVICE)}", audiences, trust).iss == SECOND_ISSUER
    never = _url_trust(tmp_path, f"{key_host}/never.json")
    with pytest.raises(HookAuthError, match="could not be fetched"):
        verify_token(f"Bearer {client.token(SERVICE)}", audiences, never)


def test_the_hook_keys_in_the_config_file_leave_the_sign_in_settings_alone(tmp_path: Path) -> None:
    config = tmp_path / "myelo.toml"
    config.write_text(f'auth = "local"\nhooks_url = "{SERVICE_BASE}/"\nhooks_cors_origins = ["{SANDBOX}"]\n')
    env = {"MYELO_CDS_CONFIG": str(config)}
    assert auth_settings(env).auth == "local"
    settings = cds_hooks_settings(env)
    assert settings.service_base == SERVICE_BASE
    assert settings.hooks_cors_origins == (SANDBOX,)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            'iss = "a"\njwks_file = "k.json"\njwks_url = "https://a.example/k"',
            "exactly one of jwks_file or jwks_url",
        ),
        ('iss = "a"', "exactly one of jwks_file or jwks_url"),
        ('iss = "a"\njwks_url = "http://ehr.example/jwks"', "must use https"),
        ('iss = "a"\njwks_file = "k.json"\njku = ["https://a.example/k?x=1"]', "no query"),
        ('iss = "a"\njwks_file = "k.json"\nkeys = "x"', "keys"),
    ],
)
def test_a_malformed_issuer_is_named_with_what_is_wrong(tmp_path: Path, table: str, message: str) -> None:
    (tmp_path / "issuers.toml").write_text(f"[[issuer]]\n{table}\n")
    with pytest.raises(SettingsError, match="MYELO_CDS_HOOKS_ISSUERS_FILE: issuer 1") as error:
        cds_hooks_settings({"MYELO_CDS_HOOKS_ISSUERS_FILE": str(tmp_path / "issuers.toml")})
    assert message in str(error.value)
