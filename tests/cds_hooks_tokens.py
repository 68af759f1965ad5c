"""A CDS client's signing keys and tokens for the CDS Hooks tests (CDS Hooks 2.0, "Trusting
CDS Clients"): keys generated here with joserfc, their public JWK Set written to a file the
service trusts, and a JWT per call with iss, aud, exp, iat and jti.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, Key, RSAKey

#: Where the tests say the service is published (a token's aud) and the app (the card's link):
#: not the address the test server listens on, so a check that used the request's own address
#: would fail.
SERVICE_BASE = "https://cds.hospital.example"
APP_URL = "https://myelo.hospital.example"
ISSUER = "https://ehr.hospital.example/"


@dataclass
class ClientKeys:
    """One EHR: an ES384 key and an RS384 key, both in its published JWK Set."""

    iss: str = ISSUER
    ec: ECKey = field(default_factory=lambda: ECKey.generate_key("P-384", parameters={"kid": "ec-1"}))
    rsa: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}))

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.ec.as_dict(private=False), self.rsa.as_dict(private=False)]}

    def token(
        self,
        path: str,
        *,
        key: Key | None = None,
        alg: str = "ES384",
        header: dict[str, Any] | None = None,
        lifetime: float = 120,
        **claims: Any,
    ) -> str:
        """A signed token for ``SERVICE_BASE + path``; ``claims`` override (``None`` removes)."""
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.iss,
            "sub": "ehr-client-1",
            "aud": SERVICE_BASE + path,
            "iat": now,
            "exp": now + int(lifetime),
            "jti": str(uuid.uuid4()),
            "tenant": "hospital-a",
        }
        body.update(claims)
        body = {name: value for name, value in body.items() if value is not None}
        signing = key if key is not None else (self.rsa if alg.startswith(("RS", "PS")) else self.ec)
        return jwt.encode({"alg": alg, "kid": signing.kid, **(header or {})}, body, signing, algorithms=[alg])


def write_trust(folder: Path, client: ClientKeys, **extra_issuers: Any) -> Path:
    """The issuers file (and the client's JWK Set file beside it) the service is told to trust."""
    (folder / "ehr-jwks.json").write_text(json.dumps(client.jwks()))
    lines = ["[[issuer]]", f'iss = "{client.iss}"', 'jwks_file = "ehr-jwks.json"', 'name = "test-ehr"']
    for iss, table in extra_issuers.items():
        lines += ["", "[[issuer]]", f'iss = "{iss}"'] + [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    path = folder / "issuers.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def environment(issuers: Path, *, app_url: str | None = APP_URL, origins: str = "") -> dict[str, str]:
    values = {"MYELO_CDS_HOOKS_URL": SERVICE_BASE, "MYELO_CDS_HOOKS_ISSUERS_FILE": str(issuers)}
    if app_url:
        values["MYELO_CDS_APP_URL"] = app_url
    if origins:
        values["MYELO_CDS_HOOKS_CORS_ORIGINS"] = origins
    return values


class SignedCalls(httpx.Auth):
    """httpx authentication that signs a fresh token for every request's own path."""

    def __init__(self, client: ClientKeys) -> None:
        self.client = client

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.client.token(request.url.path)}"
        yield request
