"""SMART App Launch 2.0 (EHR launch): the launch and callback routes against a real test EHR.

The EHR is real servers on loopback (``tests/smart_ehr``): Medplum's FHIR router over its
in-memory repository, holding a patient's record, and Authlib's OAuth 2.0 server issuing the
launch context. The routes run in a Starlette app; every request they make goes to those
servers. The consult page's claim is in ``tests/e2e/test_smart_launch_browser.py``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from starlette.testclient import TestClient

from asgi import quiet_http_client_logs
from myelo_cds import Findings, assess
from myelo_cds.ehr import (
    HANDOFF_COOKIE,
    EhrImport,
    LaunchError,
    WriteBackError,
    claim_handoff,
    import_record,
    write_back,
    write_back_resources,
)
from myelo_cds.exports.fhir import assessment_bundle
from myelo_cds.findings import value_at
from myelo_cds.records import Store
from myelo_cds.service import smart
from myelo_cds.settings import SettingsError, smart_settings
from tests.smart_ehr import (
    APP_URL,
    CLIENT_ID,
    EhrUnderTest,
    authorize,
    ehr_record,
    launch_routes,
    launched,
    running_test_ehr,
)

ROOT = Path(__file__).resolve().parents[1]
PATIENT = "ehr-pt-7391"
CASE = "moderate_dcm"


@pytest.fixture(scope="module")
def record() -> list[dict[str, Any]]:
    record = ehr_record(CASE, PATIENT)
    # A retracted value, newer than the real one: it must not count.
    retracted = next(r for r in record if r["resourceType"] == "Observation")
    record.append(
        {**retracted, "id": "retracted-1", "status": "entered-in-error", "effectiveDateTime": "2099-01-01"}
    )
    return record


@pytest.fixture
def ehr(tmp_path: Path, record: list[dict[str, Any]]) -> Iterator[EhrUnderTest]:
    """A fresh EHR per test (the tests stop its FHIR server or change what it issues)."""
    with running_test_ehr(APP_URL, record, tmp_path) as running:
        yield running


@pytest.fixture
def app(ehr: EhrUnderTest, monkeypatch: pytest.MonkeyPatch, database: Store) -> TestClient:
    """The launch routes on this test's record database (launches in progress are kept there)."""
    return launch_routes(ehr, monkeypatch, database)


def _authorize(app: TestClient, ehr: EhrUnderTest) -> str:
    """The EHR's launch button, then the app's launch route: the EHR's answer (callback query)."""
    return authorize(app, ehr, PATIENT, APP_URL)


def _example(case: str) -> Findings:
    return Findings.model_validate_json((ROOT / "data" / "examples" / f"{case}.json").read_text())


def test_an_ehr_launch_hands_the_patients_findings_to_the_consult(app: TestClient, ehr: EhrUnderTest) -> None:
    response = app.get(f"/smart/callback?{_authorize(app, ehr)}", follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{APP_URL}/consult"
    key = response.cookies[HANDOFF_COOKIE]
    assert key not in response.headers["location"]  # nothing of the hand-off in a URL
    imported = claim_handoff(key)
    assert imported is not None
    assert claim_handoff(key) is None  # claimed once
    assert (imported.iss, imported.patient) == (ehr.iss, PATIENT)
    expected, got = _example(CASE), Findings.model_validate(imported.data)
    paths = [path for path in imported.values() if path != "case_id"]
    assert len(paths) >= 30
    assert {path: value_at(got, path) for path in paths} == {path: value_at(expected, path) for path in paths}
    # Every field names the resource it came from, with its date; the retracted value did not count.
    sources = {source.path: source for source in imported.sources}
    assert sources["patient.age_years"].resource.startswith("Observation/")
    assert sources["patient.age_years"].when == str(expected.assessment_date)
    assert all(source.resource != "Observation/retracted-1" for source in imported.sources)
    assert any("entered-in-error" in note for note in imported.notes)


def test_the_authorization_request_carries_the_launch_the_audience_and_pkce(
    app: TestClient, ehr: EhrUnderTest
) -> None:
    query = _authorize(app, ehr)
    sent = ehr.auth.authorization_requests[-1]
    assert sent["response_type"] == "code"
    assert sent["client_id"] == CLIENT_ID
    assert sent["redirect_uri"] == f"{APP_URL}/smart/callback"
    assert sent["aud"] == ehr.iss
    assert sent["code_challenge_method"] == "S256"
    assert set(sent["scope"].split()) >= {
        "launch",
        "openid",
        "fhirUser",
        "patient/Patient.r",
        "patient/Observation.crs",
        "patient/DocumentReference.cs",
        "patient/Condition.rs",
    }
    assert sent["nonce"]  # checked against the id_token's
    assert parse_qs(query)["state"] == [sent["state"]]
    app.get(f"/smart/callback?{query}", follow_redirects=False)
    assert "code_verifier" in ehr.auth.token_requests[-1]


def test_the_ehr_refuses_a_code_without_its_verifier(app: TestClient, ehr: EhrUnderTest) -> None:
    """The server under test does check PKCE: without the verifier the code is worthless."""
    code = parse_qs(_authorize(app, ehr))["code"][0]
    refused = httpx.post(
        f"{ehr.auth_url}/token",
        data={"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID,
              "redirect_uri": f"{APP_URL}/smart/callback"},
    )  # fmt: skip
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_request"


def test_an_iss_not_on_the_allow_list_is_not_followed(app: TestClient, ehr: EhrUnderTest) -> None:
    response = app.get("/smart/launch?iss=http://127.0.0.1:1/fhir&launch=abc", follow_redirects=False)
    assert response.status_code == 400
    assert "not on MYELO_CDS_SMART_ISSUERS" in response.text
    assert "location" not in response.headers


def test_a_state_that_was_never_issued_is_refused(app: TestClient, ehr: EhrUnderTest) -> None:
    query = parse_qs(_authorize(app, ehr))
    response = app.get(f"/smart/callback?code={query['code'][0]}&state=forged", follow_redirects=False)
    assert response.status_code == 400
    assert "unknown, used or expired state" in response.text
    assert ehr.auth.token_requests == []  # the code was never exchanged


def test_an_answer_arriving_in_another_browser_is_refused(app: TestClient, ehr: EhrUnderTest) -> None:
    query = _authorize(app, ehr)
    other_browser = TestClient(app.app, base_url=APP_URL)
    response = other_browser.get(f"/smart/callback?{query}", follow_redirects=False)
    assert response.status_code == 400
    assert "another browser" in response.text
    assert ehr.auth.token_requests == []
    # ... and the state is spent: the right browser cannot replay it either.
    assert app.get(f"/smart/callback?{query}", follow_redirects=False).status_code == 400


def test_a_token_without_the_patient_context_is_refused(app: TestClient, ehr: EhrUnderTest) -> None:
    ehr.auth.issue_patient = False
    response = app.get(f"/smart/callback?{_authorize(app, ehr)}", follow_redirects=False)
    assert response.status_code == 502
    assert "names no patient" in response.text
    assert HANDOFF_COOKIE not in response.cookies


def test_a_fhir_server_that_is_down_gets_a_clear_message(app: TestClient, ehr: EhrUnderTest) -> None:
    query = _authorize(app, ehr)
    ehr.fhir.terminate()
    ehr.fhir.wait(timeout=10)
    response = app.get(f"/smart/callback?{query}", follow_redirects=False)
    assert response.status_code == 502
    assert "FHIR server did not answer" in response.text
    assert "Nothing was imported" in response.text
    assert HANDOFF_COOKIE not in response.cookies


def test_no_token_code_or_patient_data_reaches_the_logs(
    app: TestClient, ehr: EhrUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    """Everything this process logs at any level during a launch and a failed one, once the
    server entry point has set its log levels (httpx would log each URL: Patient/<id>)."""
    quiet_http_client_logs()
    caplog.set_level(logging.DEBUG)
    query = parse_qs(_authorize(app, ehr))
    app.get(f"/smart/callback?code={query['code'][0]}&state={query['state'][0]}", follow_redirects=False)
    second = _authorize(app, ehr)
    ehr.fhir.terminate()
    ehr.fhir.wait(timeout=10)
    app.get(f"/smart/callback?{second}", follow_redirects=False)  # fails: the FHIR server is down
    # The test EHR's own servers (werkzeug, Authlib) log in this process too: not ours.
    ours = [record for record in caplog.records if record.name.split(".")[0] not in ("werkzeug", "authlib")]
    assert ours  # the HTTP client's and the event loop's debug lines were captured
    logged = "\n".join(f"{record.name} {record.getMessage()}" for record in ours)
    for secret in [*ehr.auth.tokens, query["code"][0], query["state"][0], PATIENT]:
        assert secret not in logged


def _launched(app: TestClient, ehr: EhrUnderTest) -> EhrImport:
    return launched(app, ehr, PATIENT)


def test_a_write_back_creates_the_findings_and_the_consult_note_at_the_ehr(
    app: TestClient, ehr: EhrUnderTest
) -> None:
    launch = _launched(app, ehr)
    assert launch.grant is not None
    assert launch.grant.access_token not in repr(launch)
    findings = Findings.model_validate(launch.data)
    bundle = json.loads(assessment_bundle(findings, assess(findings)).model_dump_json(exclude_none=True))
    created = write_back(launch, write_back_resources(launch, bundle))
    notes = [ref for ref in created if ref.startswith("DocumentReference/")]
    assert len(notes) == 1
    bearer = {"Authorization": f"Bearer {launch.grant.access_token}"}
    found = httpx.get(f"{ehr.iss}/DocumentReference?patient=Patient/{PATIENT}", headers=bearer).json()
    assert [f"DocumentReference/{entry['resource']['id']}" for entry in found["entry"]] == notes
    stored = found["entry"][0]["resource"]
    assert stored["content"][0]["attachment"]["contentType"]
    # What was written reads back as the same findings: the EHR now holds them twice, same values.
    again = import_record(ehr.iss, PATIENT, _record(ehr, launch.grant.access_token))
    assert {
        p: value_at(Findings.model_validate(again.data), p) for p in launch.values() if p != "case_id"
    } == {p: value_at(findings, p) for p in launch.values() if p != "case_id"}
    assert set(created) & {source.resource for source in again.sources}  # newest copies count now


def _record(ehr: EhrUnderTest, token: str) -> list[dict[str, Any]]:
    bearer = {"Authorization": f"Bearer {token}"}
    record = [httpx.get(f"{ehr.iss}/Patient/{PATIENT}", headers=bearer).json()]
    for kind in ("Observation", "QuestionnaireResponse"):
        found = httpx.get(f"{ehr.iss}/{kind}?patient=Patient/{PATIENT}&_count=1000", headers=bearer).json()
        record += [entry["resource"] for entry in found.get("entry", [])]
    return record


def test_a_write_back_the_ehr_refuses_writes_nothing(app: TestClient, ehr: EhrUnderTest) -> None:
    """One transaction: when the EHR refuses one entry (here a resource about another patient,
    outside the launch's compartment), none of the others is written either."""
    launch = _launched(app, ehr)
    assert launch.grant is not None
    findings = Findings.model_validate(launch.data)
    bundle = json.loads(assessment_bundle(findings, assess(findings)).model_dump_json(exclude_none=True))
    resources = write_back_resources(launch, bundle)
    stray = {**resources[0], "subject": {"reference": "Patient/someone-else"}}
    bearer = {"Authorization": f"Bearer {launch.grant.access_token}"}

    def held() -> int:
        found = httpx.get(f"{ehr.iss}/DocumentReference?patient=Patient/{PATIENT}", headers=bearer).json()
        return len(found.get("entry", []))

    before = held()
    with pytest.raises(WriteBackError, match="nothing was written"):
        write_back(launch, [*resources, stray])
    assert held() == before


def test_a_write_back_after_the_access_expired_writes_nothing(app: TestClient, ehr: EhrUnderTest) -> None:
    launch = _launched(app, ehr)
    assert launch.grant is not None
    expired = dataclasses.replace(launch, grant=dataclasses.replace(launch.grant, expires_at=time.time() - 1))
    with pytest.raises(WriteBackError, match="expired"):
        write_back(expired, [{"resourceType": "Observation"}])


def test_a_record_holding_another_patients_observation_is_not_imported(record: list[dict[str, Any]]) -> None:
    stray = next(r for r in record if r["resourceType"] == "Observation")
    mixed = [*record, {**stray, "id": "stray-1", "subject": {"reference": "Patient/someone-else"}}]
    with pytest.raises(LaunchError, match="another patient"):
        import_record("http://127.0.0.1:1", PATIENT, mixed)
    assert import_record("http://127.0.0.1:1", PATIENT, record).patient == PATIENT


def _mapped(key: str, role: str, value: str = "") -> dict[str, str]:
    """One coding from the project's cited mapping table (data/fhir/terminology.csv)."""
    with (ROOT / "data" / "fhir" / "terminology.csv").open(newline="") as table:
        row = next(
            r for r in csv.DictReader(table) if (r["key"], r["role"], r["value"]) == (key, role, value)
        )
    return {"system": row["system"], "code": row["code"], "display": row["display"]}


def test_an_ehr_coded_record_prefills_from_standard_codes_and_the_birth_date(
    app: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record as the EHR itself codes it (LOINC smoking status with a SNOMED CT answer, a birth
    date, no age), not as myelo-cds exports it."""
    subject = {"reference": f"Patient/{PATIENT}"}
    record: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": PATIENT, "gender": "male", "birthDate": "1961-07-15"},
        {"resourceType": "Observation", "id": "smoking-1", "status": "final", "subject": subject,
         "code": {"coding": [_mapped("patient.smoker", "code")]}, "effectiveDateTime": "2026-11-02",
         "valueCodeableConcept": {"coding": [_mapped("patient.smoker", "value", "true")]}},
    ]  # fmt: skip
    with running_test_ehr(APP_URL, record, tmp_path) as ehr:
        monkeypatch.setenv("MYELO_CDS_SMART_ISSUERS", ehr.iss)
        launch = _launched(app, ehr)
    values = launch.values()
    assert values["patient.smoker"] is True
    assert values["patient.sex"] == "male"
    assert values["patient.age_years"] == 65
    sources = {source.path: source for source in launch.sources}
    assert (sources["patient.smoker"].resource, sources["patient.smoker"].when) == (
        "Observation/smoking-1",
        "2026-11-02",
    )
    assert sources["patient.age_years"].resource == f"Patient/{PATIENT}"


def test_the_launch_settings_refuse_plain_http_to_another_machine() -> None:
    with pytest.raises(SettingsError, match="MYELO_CDS_SMART_ISSUERS"):
        smart_settings({"MYELO_CDS_SMART_ISSUERS": "http://ehr.example.org/fhir"})
    settings = smart_settings(
        {"MYELO_CDS_APP_URL": "https://cds.example.org", "MYELO_CDS_SMART_CLIENT_ID": "x",
         "MYELO_CDS_SMART_ISSUERS": "https://ehr.example.org/fhir/, https://other.example.org/r4"}
    )  # fmt: skip
    assert settings.smart_issuers == ("https://ehr.example.org/fhir", "https://other.example.org/r4")
    assert settings.redirect_uri == "https://cds.example.org/smart/callback"
    assert smart.LAUNCH_PATH == "/smart/launch"
