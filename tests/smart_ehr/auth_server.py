"""The test EHR's authorization server: Authlib's OAuth 2.0 server with SMART's launch context.

Authlib (a kept library; it already comes with ``streamlit[auth]``) does the OAuth work: client
and redirect URI checks, single-use codes, PKCE (RFC 7636), bearer tokens, RFC 7662
introspection for the FHIR server. What SMART App Launch 2.0 adds for an EHR launch is here:

* ``GET /ehr/launch?patient=ID`` is the EHR's "open the app" button: it makes an opaque
  ``launch`` value bound to the patient and sends the browser to ``<app>/smart/launch?iss=&launch=``;
* the authorization request must carry that ``launch``, ``aud`` = the FHIR base URL, and a PKCE
  ``S256`` challenge (SMART 2.0: "code_challenge_method ... S256"; ``plain`` is refused);
* the token response carries ``patient`` (the launch context), unless a test turns it off;
* with ``openid`` in the scope, an OpenID Connect ``id_token`` (Authlib's ``OpenIDCode``
  extension, signed RS256 by the key published at ``/jwks``) naming the user's ``fhirUser``,
  with the ``nonce`` of the authorization request; tests may change its claims or its key.

The EHR's user is taken as signed in already (an EHR launch starts inside the EHR), so the
authorization is granted without a form.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlencode

import flask
from authlib.integrations.flask_oauth2 import AuthorizationServer  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749 import InvalidRequestError, grants  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import CodeChallenge  # type: ignore[import-untyped]
from authlib.oauth2.rfc7662 import IntrospectionEndpoint  # type: ignore[import-untyped]
from authlib.oidc.core.grants import OpenIDCode  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

#: The resource server's own credentials for introspection (loopback, test only).
FHIR_SERVER_CLIENT = ("ehr-fhir-server", secrets.token_urlsafe(16))


@dataclass
class Client:
    client_id: str
    redirect_uris: tuple[str, ...] = ()
    secret: str | None = None

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return self.secret is not None and secrets.compare_digest(self.secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == ("none" if self.secret is None else "client_secret_basic")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and self.secret is None

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code" and self.secret is None


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    patient: str
    challenge: str
    challenge_method: str
    nonce: str | None = None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int | None:
        return None

    def get_acr(self) -> str | None:
        return None

    def get_amr(self) -> list[str] | None:
        return None


@dataclass
class Token:
    access_token: str
    client: Client
    scope: str
    patient: str
    expires_at: float

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int(self.expires_at - time.time())

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return False

    def get_user(self) -> str:
        return "ehr-clinician"

    def get_client(self) -> Client:
        return self.client


@dataclass
class EhrAuthState:
    """The server's state, which the tests read and set."""

    fhir_base: str
    app_launch_url: str
    clients: dict[str, Client] = field(default_factory=dict)
    launches: dict[str, str] = field(default_factory=dict)
    codes: dict[str, Code] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    #: False: the token response leaves out ``patient`` (a misconfigured EHR).
    issue_patient: bool = True
    #: The names (never the values) of the parameters of every token request received.
    token_requests: list[list[str]] = field(default_factory=list)
    #: Every authorization request's parameters (the values are not secrets: the code is not issued yet).
    authorization_requests: list[dict[str, str]] = field(default_factory=list)
    #: The OpenID issuer (this server's URL, set once it listens) and its signing key (at /jwks).
    issuer: str = ""
    signing_key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "ehr-1"}))
    #: The signed-in EHR user's FHIR resource, named in the id_token (None: no fhirUser claim).
    fhir_user: str | None = None
    #: Claims that replace the id_token's own (a test's wrong audience, expiry, nonce...).
    id_token_claims: dict[str, Any] = field(default_factory=dict)
    #: Signs the id_token instead of ``signing_key`` (a test's forger): claims, header -> token.
    id_token_signer: Callable[[dict[str, Any], dict[str, Any]], str] | None = None


def build_app(state: EhrAuthState) -> flask.Flask:
    app = flask.Flask("test-ehr-auth")
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"authorization_code": 600}
    server = AuthorizationServer(
        app,
        query_client=state.clients.get,
        save_token=lambda token, request: state.tokens.__setitem__(
            token["access_token"],
            Token(
                token["access_token"],
                request.client,
                token.get("scope", ""),
                request.authorization_code.patient,
                time.time() + token["expires_in"],
            ),
        ),
    )

    class LaunchChallenge(CodeChallenge):  # type: ignore[misc]
        def get_authorization_code_challenge(self, authorization_code: Code) -> str:
            return authorization_code.challenge

        def get_authorization_code_challenge_method(self, authorization_code: Code) -> str:
            return authorization_code.challenge_method

    class LaunchCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["none"]  # a public app: PKCE instead of a secret

        def validate_authorization_request(self) -> str:
            redirect_uri: str = super().validate_authorization_request()
            data = self.request.payload.data
            if data.get("launch") not in state.launches:
                raise InvalidRequestError("Unknown or missing 'launch'")
            if data.get("aud") != state.fhir_base:
                raise InvalidRequestError("'aud' is not this EHR's FHIR server")
            if data.get("code_challenge_method") != "S256" or not data.get("code_challenge"):
                raise InvalidRequestError("PKCE with S256 is required")
            return redirect_uri

        def save_authorization_code(self, code: str, request: Any) -> None:
            data = request.payload.data
            state.codes[code] = Code(
                code,
                request.client.client_id,
                request.payload.redirect_uri,
                request.payload.scope,
                state.launches.pop(data["launch"]),  # a launch value is used once
                data["code_challenge"],
                data["code_challenge_method"],
                data.get("nonce"),
            )

        def query_authorization_code(self, code: str, client: Client) -> Code | None:
            found = state.codes.get(code)
            return found if found and found.client_id == client.client_id else None

        def delete_authorization_code(self, authorization_code: Code) -> None:
            state.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: Code) -> str:
            return "ehr-clinician"

        def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
            patient = self.request.authorization_code.patient
            status, token, headers = super().create_token_response()
            if state.issue_patient:
                token["patient"] = patient
            return status, token, headers

    class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
        CLIENT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic"]

        def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
            return state.tokens.get(token_string)

        def introspect_token(self, token: Token) -> dict[str, Any]:
            return {
                "active": True,
                "scope": token.scope,
                "client_id": token.client.client_id,
                "patient": token.patient,
            }

        def check_permission(self, token: Token, client: Client, request: Any) -> bool:
            return client.client_id == FHIR_SERVER_CLIENT[0]

    class SmartOpenId(OpenIDCode):  # type: ignore[misc]
        """OpenID Connect on the launch's code grant: the id_token with SMART's ``fhirUser``."""

        def exists_nonce(self, nonce: str, request: Any) -> bool:
            return False  # each launch's nonce is fresh; a reused one would be refused here

        def encode_id_token(self, token: dict[str, Any], request: Any) -> str:
            now = int(time.time())
            claims: dict[str, Any] = {
                "iss": state.issuer,
                "sub": "ehr-clinician",
                "aud": request.client.get_client_id(),
                "iat": now,
                "exp": now + 300,
                "nonce": request.authorization_code.get_nonce(),
                "fhirUser": state.fhir_user,
            }
            claims.update(state.id_token_claims)
            claims = {name: value for name, value in claims.items() if value is not None}
            header = {"alg": "RS256", "kid": state.signing_key.kid, "typ": "JWT"}
            if state.id_token_signer is not None:
                return state.id_token_signer(claims, header)
            return jwt.encode(header, claims, state.signing_key)

    server.register_grant(LaunchCodeGrant, [LaunchChallenge(required=True), SmartOpenId()])
    server.register_endpoint(Introspection)

    @app.get("/ehr/launch")
    def ehr_launch() -> Any:
        launch = secrets.token_urlsafe(16)
        state.launches[launch] = flask.request.args["patient"]
        target = f"{state.app_launch_url}?{urlencode({'iss': state.fhir_base, 'launch': launch})}"
        return flask.redirect(target)

    @app.get("/authorize")
    def authorize() -> Any:
        state.authorization_requests.append(dict(flask.request.args))
        return server.create_authorization_response(grant_user="ehr-clinician")

    @app.post("/token")
    def token() -> Any:
        state.token_requests.append(sorted(flask.request.form))
        return server.create_token_response()

    @app.get("/jwks")
    def jwks() -> Any:
        return flask.jsonify({"keys": [state.signing_key.as_dict(private=False)]})

    @app.get("/.well-known/openid-configuration")
    def openid_configuration() -> Any:
        return flask.jsonify(
            {
                "issuer": state.issuer,
                "authorization_endpoint": state.issuer + "/authorize",
                "token_endpoint": state.issuer + "/token",
                "jwks_uri": state.issuer + "/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    @app.post("/introspect")
    def introspect() -> Any:
        return server.create_endpoint_response(IntrospectionEndpoint.ENDPOINT_NAME)

    return app


class ServerThread:
    """A werkzeug server for ``app`` on a loopback port, in a daemon thread."""

    def __init__(self, app: flask.Flask) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
