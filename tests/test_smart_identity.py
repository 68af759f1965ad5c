"""The EHR's id_token in a SMART launch: checked before its ``fhirUser`` is believed (issue 15).

Against the real test EHR (``tests/smart_ehr``): Authlib's OpenID Connect extension issues the
id_token, signed RS256 with the key the authorization server publishes at its ``jwks_uri``;
each test changes one thing about it (a claim, the signing key, the algorithm) and the launch
must be refused with a message naming the check, nothing imported.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.testclient import TestClient

from myelo_cds.ehr import HANDOFF_COOKIE, LaunchError, fhir_user_reference
from myelo_cds.records import Store
from tests.smart_ehr import (
    APP_URL,
    CLIENT_ID,
    EHR_USER,
    EhrUnderTest,
    authorize,
    ehr_record,
    launch_routes,
    launched,
    running_test_ehr,
)

PATIENT = "ehr-pt-6620"


@pytest.fixture(scope="module")
def record() -> list[dict[str, Any]]:
    return ehr_record("mild_dcm", PATIENT)


@pytest.fixture(scope="module")
def ehr(tmp_path_factory: pytest.TempPathFactory, record: list[dict[str, Any]]) -> Iterator[EhrUnderTest]:
    """One test EHR for the module (its FHIR server only read here); a test that changes the
    id_token it issues does so with ``monkeypatch``, which puts it back after the test."""
    with running_test_ehr(APP_URL, record, tmp_path_factory.mktemp("ehr")) as running:
        yield running


@pytest.fixture
def app(ehr: EhrUnderTest, monkeypatch: pytest.MonkeyPatch, database: Store) -> TestClient:
    return launch_routes(ehr, monkeypatch, database)


def test_the_verified_id_token_names_the_clinician(app: TestClient, ehr: EhrUnderTest) -> None:
    imported = launched(app, ehr, PATIENT)
    # The absolute fhirUser on the launch's FHIR server becomes a reference the EHR resolves.
    assert imported.fhir_user == f"Practitioner/{EHR_USER}"


def _unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _signed_by_someone_else(claims: dict[str, Any], header: dict[str, Any]) -> str:
    forger = RSAKey.generate_key(2048, {"kid": header["kid"]})  # same kid, another key
    return jwt.encode(header, claims, forger)


def _hmac_with_the_public_key(claims: dict[str, Any], header: dict[str, Any]) -> str:
    from joserfc.jwk import OctKey

    return jwt.encode({**header, "alg": "HS256"}, claims, OctKey.import_key("x" * 32))


Signer = Callable[[dict[str, Any], dict[str, Any]], str]
REFUSED: list[tuple[str, dict[str, Any], Signer | None, str]] = [
    ("another audience", {"aud": "some-other-app"}, None, "not issued to this app"),
    ("expired", {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, None, "expired"),
    (
        "another nonce",
        {"nonce": "replayed-from-another-launch"},
        None,
        "nonce is not the one this launch sent",
    ),
    ("no nonce", {"nonce": None}, None, "lacks required claims"),
    ("another issuer", {"iss": "https://idp.example.org"}, None, "issuer (iss) is not"),
    ("unsigned", {}, _unsigned, "not an asymmetric signature"),
    ("forged signature", {}, _signed_by_someone_else, "signature does not verify"),
    ("hmac", {}, _hmac_with_the_public_key, "not an asymmetric signature"),
    ("several audiences, no azp", {"aud": [CLIENT_ID, "another"]}, None, "several audiences"),
]


@pytest.mark.parametrize("refusal", REFUSED, ids=[c[0] for c in REFUSED])
def test_a_bad_id_token_refuses_the_launch(
    app: TestClient,
    ehr: EhrUnderTest,
    monkeypatch: pytest.MonkeyPatch,
    refusal: tuple[str, dict[str, Any], Signer | None, str],
) -> None:
    _, claims, signer, message = refusal
    monkeypatch.setattr(ehr.auth, "id_token_claims", claims)
    monkeypatch.setattr(ehr.auth, "id_token_signer", signer)
    response = app.get(f"/smart/callback?{authorize(app, ehr, PATIENT, APP_URL)}", follow_redirects=False)
    assert response.status_code == 502
    assert "identity token (id_token) was refused" in response.text
    assert message in response.text
    assert "Nothing was imported" in response.text
    assert HANDOFF_COOKIE not in response.cookies


def test_openid_granted_without_an_id_token_is_refused(
    app: TestClient, ehr: EhrUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the token answer's id_token is empty
    monkeypatch.setattr(ehr.auth, "id_token_signer", lambda claims, header: "")
    response = app.get(f"/smart/callback?{authorize(app, ehr, PATIENT, APP_URL)}", follow_redirects=False)
    assert response.status_code == 502
    assert "holds no id_token although openid was granted" in response.text


def test_a_fhir_user_that_is_not_a_user_reference_is_refused() -> None:
    iss = "https://ehr.example.org/fhir"
    assert fhir_user_reference(f"{iss}/Practitioner/123", iss) == "Practitioner/123"
    assert fhir_user_reference("PractitionerRole/abc", iss) == "PractitionerRole/abc"
    assert fhir_user_reference("https://other.example.org/r4/Practitioner/9", iss) == (
        "https://other.example.org/r4/Practitioner/9"
    )
    for bad in (
        "Observation/1",
        "javascript:alert(1)",
        f"{iss}/Practitioner/../Patient/1",
        "http://x/Practitioner/1",
    ):
        with pytest.raises(LaunchError, match="fhirUser is not a reference"):
            fhir_user_reference(bad, iss)


def test_the_keys_are_found_through_the_openid_configuration_when_smart_names_none(
    tmp_path: Path, record: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, database: Store
) -> None:
    """No ``jwks_uri`` in the SMART configuration: the issuer's OpenID configuration names it."""
    with running_test_ehr(APP_URL, record, tmp_path, without=("jwks_uri",)) as ehr:
        imported = launched(launch_routes(ehr, monkeypatch, database), ehr, PATIENT)
    assert imported.fhir_user == f"Practitioner/{EHR_USER}"


def test_openid_granted_by_an_ehr_that_names_no_issuer_is_refused(
    tmp_path: Path, record: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, database: Store
) -> None:
    with running_test_ehr(APP_URL, record, tmp_path, without=("issuer", "jwks_uri")) as ehr:
        app = launch_routes(ehr, monkeypatch, database)
        response = app.get(f"/smart/callback?{authorize(app, ehr, PATIENT, APP_URL)}", follow_redirects=False)
    assert response.status_code == 502
    assert "names no issuer" in response.text
    assert HANDOFF_COOKIE not in response.cookies
