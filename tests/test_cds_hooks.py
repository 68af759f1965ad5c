"""CDS Hooks patient-view service: contract tests against the specification's JSON shapes.

Shapes from CDS Hooks 2.0: discovery ``{"services": [{hook, id, description, prefetch?...}]}``;
a card has ``summary`` (< 140 characters), ``indicator`` (info | warning | critical),
``source.label``, optional ``detail`` (markdown), ``uuid`` and ``links`` ({label, url, type
absolute|smart}). A record without DCM findings gives ``{"cards": []}``; missing prefetch
that cannot be fetched gives 412. One test runs the real ASGI app
(``asgi.py``: st.App with the routes) under uvicorn on loopback. Every service call carries a
token signed by a trusted test EHR (``tests/cds_hooks_tokens.py``); the refusals, CORS, feedback
and audit are in ``tests/test_cds_hooks_security.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from myelo_cds import Findings, assess
from myelo_cds.exports.fhir import assessment_bundle
from myelo_cds.service.cds_hooks import SERVICE_ID, routes
from tests.cds_hooks_tokens import APP_URL, ClientKeys, SignedCalls, environment, write_trust
from tests.e2e.live_app import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The routes, trusting one test EHR whose every call is signed."""
    keys = ClientKeys()
    trust = environment(write_trust(tmp_path_factory.mktemp("trust"), keys))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in trust.items():
            patch.setenv(name, value)
        test_client = TestClient(Starlette(routes=routes()))
        test_client.auth = SignedCalls(keys)
        yield test_client


def _prefetch(example: str, search: bool = True) -> dict[str, Any]:
    """What an EHR holding our exported resources would prefetch for the patient: the Patient
    with the context's id, every subject ``Patient/<id>`` (a resource about anyone else refuses
    the call: tests/test_cds_hooks_prefetch.py)."""
    findings = Findings.model_validate_json((ROOT / "data" / "examples" / f"{example}.json").read_text())
    bundle = json.loads(assessment_bundle(findings, assess(findings)).model_dump_json())
    resources = [entry["resource"] for entry in bundle["entry"]]
    for resource in resources:
        if "subject" in resource:
            resource["subject"] = {"reference": "Patient/1288992"}

    def searchset(kind: str) -> dict[str, Any]:
        found = [r for r in resources if r["resourceType"] == kind]
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "entry": [{"resource": r} for r in found],
        }

    patient = {**next(r for r in resources if r["resourceType"] == "Patient"), "id": "1288992"}
    return {
        "patient": patient,
        "findings": searchset("Observation") if search else None,
        "mjoa": searchset("QuestionnaireResponse"),
    }


def _call(example: str | None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "fhirServer": "https://ehr.example/fhir",
        "context": {"userId": "Practitioner/1", "patientId": "1288992"},
    }
    if example:
        body["prefetch"] = _prefetch(example)
    body.update(extra)
    return body


def _check_card(card: dict[str, Any]) -> None:
    assert isinstance(card["summary"], str)
    assert 0 < len(card["summary"]) < 140
    assert card["indicator"] in {"info", "warning", "critical"}
    assert isinstance(card["source"]["label"], str)
    assert card["source"]["label"]
    for link in card.get("links", []):
        assert set(link) >= {"label", "url", "type"}
        assert link["type"] in {"absolute", "smart"}


def test_discovery_lists_the_patient_view_service(client: TestClient) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    services = response.json()["services"]
    assert len(services) == 1
    service = services[0]
    assert service["hook"] == "patient-view"
    assert service["id"] == SERVICE_ID
    assert service["description"]
    assert all("{{context.patientId}}" in template for template in service["prefetch"].values())


@pytest.mark.parametrize(
    ("example", "pathway", "indicator"),
    [
        ("moderate_dcm", "Surgical referral", "warning"),
        ("red_flag_trauma", "Emergency referral", "critical"),
        ("asymptomatic_compression", "Surveillance", "info"),
    ],
)
def test_one_card_with_the_pathway_basis_source_and_link(
    client: TestClient, example: str, pathway: str, indicator: str
) -> None:
    response = client.post(f"/cds-services/{SERVICE_ID}", json=_call(example))
    assert response.status_code == 200
    cards = response.json()["cards"]
    assert len(cards) == 1
    card = cards[0]
    _check_card(card)
    assert pathway in card["summary"]
    assert card["indicator"] == indicator
    assert "Basis (rules fired)" in card["detail"]
    assert "Source:" in card["detail"]
    assert "clinician decides" in card["detail"]
    assert card["links"][0]["url"].startswith("http")


def test_the_card_gives_the_same_pathway_as_the_engine(client: TestClient) -> None:
    for example in ("mild_dcm", "als_mimic", "postoperative"):
        findings = Findings.model_validate_json((ROOT / "data" / "examples" / f"{example}.json").read_text())
        expected = assess(findings)
        card = client.post(f"/cds-services/{SERVICE_ID}", json=_call(example)).json()["cards"][0]
        assert expected.headline.split(" (")[0] in card["summary"]
        assert all(rule.id in card["detail"] for rule in expected.rules_fired)


_EMPTY = {"resourceType": "Bundle", "type": "searchset", "entry": []}


@pytest.mark.parametrize(
    "body",
    [
        _call(None, prefetch={"patient": None, "findings": None, "mjoa": None}),  # the EHR has no such data
        _call(None, prefetch={"patient": None, "findings": _EMPTY, "mjoa": _EMPTY}),
    ],
)
def test_a_record_without_dcm_findings_gives_no_cards(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post(f"/cds-services/{SERVICE_ID}", json=body)
    assert response.status_code == 200
    assert response.json() == {"cards": []}


@pytest.mark.parametrize(
    "body",
    [
        _call(None),  # no prefetch at all
        _call(None, prefetch={"findings": _EMPTY}),  # patient and mjoa left out
    ],
)
def test_missing_prefetch_with_no_fhir_access_is_412_never_no_cards(
    client: TestClient, body: dict[str, Any]
) -> None:
    """CDS Hooks 2.0: unable to obtain required data -> 412 Precondition Failed."""
    response = client.post(f"/cds-services/{SERVICE_ID}", json=body)
    assert response.status_code == 412
    assert "not prefetched" in response.json()["error"]


def test_an_assessment_without_the_age_says_incomplete_rather_than_give_a_pathway(client: TestClient) -> None:
    prefetch = _prefetch("moderate_dcm")
    entries = prefetch["findings"]["entry"]
    prefetch["findings"]["entry"] = [
        e for e in entries if e["resource"]["code"]["coding"][0]["code"] != "patient.age_years"
    ]
    response = client.post(f"/cds-services/{SERVICE_ID}", json=_call(None, prefetch=prefetch))
    (card,) = response.json()["cards"]
    _check_card(card)
    assert card["summary"] == "DCM: incomplete - enter patient.age_years to get a pathway"
    assert "Surgical referral" not in card["summary"]
    assert "**Incomplete** - enter: patient.age_years" in card["detail"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"hook": "order-select", "hookInstance": "x", "context": {"patientId": "1"}}, "patient-view"),
        ({"hook": "patient-view", "context": {"patientId": "1"}}, "hookInstance"),
        ({"hook": "patient-view", "hookInstance": "x", "context": {}}, "patientId"),
    ],
)
def test_malformed_requests_get_400_with_the_reason(
    client: TestClient, body: dict[str, Any], message: str
) -> None:
    response = client.post(f"/cds-services/{SERVICE_ID}", json=body)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_not_json_gets_400(client: TestClient) -> None:
    response = client.post(f"/cds-services/{SERVICE_ID}", content=b"{not json")
    assert response.status_code == 400


def test_the_deployment_serves_the_app_and_the_service_together(tmp_path: Path) -> None:
    """asgi.py (st.App with the routes) under a real uvicorn: pages and hooks on one port."""
    port = free_port()
    log = tmp_path / "uvicorn.log"
    keys = ClientKeys()
    trust = environment(write_trust(tmp_path, keys))
    env = {**os.environ, **trust, "MYELO_CDS_DB_PATH": str(tmp_path / "records.sqlite3")}
    command = [sys.executable, "-m", "uvicorn", "asgi:app", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        discovery = wait_until_serving(
            lambda: json.loads(urllib.request.urlopen(f"{base}/cds-services", timeout=5).read()),
            process,
            log,
            timeout=90,
        )
        assert discovery["services"][0]["id"] == SERVICE_ID
        request = urllib.request.Request(
            f"{base}/cds-services/{SERVICE_ID}",
            data=json.dumps(_call("moderate_dcm")).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {keys.token(f'/cds-services/{SERVICE_ID}')}",
            },
        )
        card = json.loads(urllib.request.urlopen(request, timeout=30).read())["cards"][0]
        _check_card(card)
        assert card["links"][0]["url"] == f"{APP_URL}/"  # the configured address, not the server's
        assert urllib.request.urlopen(f"{base}/_stcore/health", timeout=10).read() == b"ok"
        assert b"<html" in urllib.request.urlopen(f"{base}/", timeout=10).read().lower()
        # uvicorn runs the entry point's start-up hook too: the warm-up ends and readiness follows.
        ready = wait_until_serving(
            lambda: json.loads(urllib.request.urlopen(f"{base}/readyz", timeout=10).read()),
            process,
            log,
            timeout=90,
        )
        assert ready == {"status": "ready", "database": "sqlite"}
    finally:
        process.terminate()
        process.wait(timeout=20)
