"""SMART App Launch 2.0, EHR launch: from the EHR's "open myelo-cds" to a prefilled consult.

The flow (SMART App Launch 2.0, "App Launch: Launch and Authorization"):

1. ``GET /smart/launch?iss=&launch=``: the EHR opens the app. ``iss`` is followed only when it
   is on ``MYELO_CDS_SMART_ISSUERS`` exactly. The app reads ``<iss>/.well-known/smart-configuration``
   (it must offer PKCE ``S256``), keeps the launch in the record database under a random
   ``state`` with a PKCE verifier and a nonce (``myelo_cds.records._smart_launches``: the
   ``state`` hashed, the launch sealed with a key derived from it, single use, 10 minutes),
   sets a cookie binding the launch to this browser, and sends the browser to the
   ``authorization_endpoint`` (``response_type=code``, ``client_id``, ``redirect_uri``,
   ``launch``, ``scope``, ``state``, ``aud=<iss>``, ``nonce``, ``code_challenge``, ``S256``).
2. ``GET /smart/callback?code=&state=``: the state must be a pending one, on whichever replica
   the answer lands (taken once from the shared database), and the browser's cookie must match
   it. The code is exchanged at the ``token_endpoint`` with the ``code_verifier``; the token
   response must name the ``patient``. When ``openid`` was granted, its ``id_token`` must pass
   :func:`myelo_cds.ehr.verify_id_token` (signature against the issuer's JWK Set, ``iss``,
   ``aud``, ``exp``, ``nonce``) and its ``fhirUser`` becomes the clinician in the write-back.
   With the access token the app reads that Patient, their Observations,
   QuestionnaireResponses and Conditions (only from ``iss``; a ``next`` link elsewhere is not
   followed: it would receive the token), refuses the record if any resource is about someone
   else, and reads it with the FHIR import (``findings_from_bundle``: status, latest value per
   finding, units, standard codes) and the problem list reader (``myelo_cds.ehr._conditions``).
3. The findings and where each came from are kept in the record database under a random
   hand-off key (sealed with a key derived from it), set in an HttpOnly cookie (5 minutes,
   claimed once); the access token travels with them, for the write-back on request. The browser
   goes to the consult page, where a signed-in user's session claims the hand-off
   (``myelo_cds.ui.smart_launch``). No credential or patient data ever travels in a URL.

Nothing here logs (the package never does; ``asgi.py`` keeps httpx, which logs every URL, to
warnings: a FHIR URL names the patient). The launches in progress and the hand-off are in the
record database, sealed, so the launch, the callback and the consult page may each reach any
replica.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import html
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from myelo_cds.ehr import (
    HANDOFF_COOKIE,
    HANDOFF_SECONDS,
    EhrGrant,
    EhrImport,
    LaunchError,
    fhir_user_reference,
    hand_off,
    import_record,
    public_key_set,
    verify_id_token,
)
from myelo_cds.errors import RecordError, SettingsError
from myelo_cds.records import Store, shared_store
from myelo_cds.settings import SmartSettings, smart_settings

__all__ = ["CALLBACK_PATH", "LAUNCH_PATH", "routes"]

LAUNCH_PATH = "/smart/launch"
CALLBACK_PATH = "/smart/callback"
LAUNCH_COOKIE = "myelo_smart_launch"
#: How long a launch may wait for the EHR's authorization (RFC 6749 recommends codes of at most 10 minutes).
PENDING_SECONDS = 600
#: The consult page's address (app.py: url path "consult").
CONSULT_PATH = "/consult"
_TIMEOUT = httpx.Timeout(10.0)
_MAX_BYTES = 5_000_000
_MAX_PAGES = 10
#: An opaque launch value is an id, not a document: a longer one is refused.
_MAX_LAUNCH_CHARACTERS = 2000
_OK = 200


@dataclass(frozen=True)
class _Pending:
    """A launch waiting for the EHR's answer (kept sealed in the record database)."""

    iss: str
    launch: str
    token_endpoint: str
    verifier: str
    binding: str  # sha256 of the browser cookie's value
    nonce: str
    issuer: str | None  # the OpenID issuer of the SMART configuration, if it names one
    jwks_uri: str | None

    @classmethod
    def from_kept(cls, kept: dict[str, Any] | None) -> _Pending | None:
        if kept is None:
            return None
        try:
            return cls(**{name: kept[name] for name in cls.__dataclass_fields__})
        except (KeyError, TypeError):
            return None


class _Launches:
    """The launches in progress: the record database every replica shares (a store passed in,
    else this process's shared store), called off the event loop."""

    def __init__(self, store: Store | None) -> None:
        self._store = store

    def _opened(self) -> Store:
        return self._store or shared_store()

    async def keep(self, state: str, pending: _Pending) -> None:
        now = dt.datetime.now(dt.UTC)
        expires = now + dt.timedelta(seconds=PENDING_SECONDS)
        try:
            await run_in_threadpool(
                self._opened().keep_smart_launch, state, dataclasses.asdict(pending), expires=expires, now=now
            )
        except RecordError as error:
            raise LaunchError(
                503, f"The launch could not be kept in the record database ({error})."
            ) from None

    async def take(self, state: str) -> _Pending | None:
        now = dt.datetime.now(dt.UTC)
        try:
            kept = await run_in_threadpool(self._opened().take_smart_launch, state, now=now)
        except RecordError as error:
            raise LaunchError(
                503, f"The launch could not be read from the record database ({error})."
            ) from None
        return _Pending.from_kept(kept)

    async def hand_off(self, imported: EhrImport) -> str:
        try:
            return await run_in_threadpool(hand_off, imported, self._opened())
        except RecordError as error:
            raise LaunchError(503, f"The findings could not be kept for the consult page: {error}") from None


def _page(status: int, message: str) -> HTMLResponse:
    text = html.escape(message)
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>myelo-cds: EHR launch</title>"
        f"<h1>The EHR launch did not complete</h1><p>{text}</p>"
        "<p>Nothing was imported. Open myelo-cds again from the EHR, or enter the findings by hand "
        f'on the <a href="{CONSULT_PATH}">consult page</a>.</p></html>'
    )
    response = HTMLResponse(body, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _settings() -> SmartSettings:
    try:
        settings = smart_settings()
    except SettingsError as error:
        raise LaunchError(503, f"The EHR launch is misconfigured: {error}") from None
    if not settings.enabled:
        raise LaunchError(
            503,
            "The EHR launch is not set up on this server (MYELO_CDS_APP_URL, MYELO_CDS_SMART_CLIENT_ID "
            "and MYELO_CDS_SMART_ISSUERS are needed).",
        )
    return settings


def _secure(settings: SmartSettings) -> bool:
    return (settings.app_url or "").startswith("https://")


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _json(response: httpx.Response, what: str) -> Any:
    if len(response.content) > _MAX_BYTES:
        raise LaunchError(502, f"The EHR's {what} answer is larger than {_MAX_BYTES:,} bytes.")
    try:
        return response.json()
    except ValueError:
        raise LaunchError(
            502, f"The EHR's {what} answer is not JSON (HTTP {response.status_code})."
        ) from None


async def _get(client: httpx.AsyncClient, url: str, what: str, token: str | None = None) -> Any:
    headers = {"Accept": "application/fhir+json, application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = await client.get(url, headers=headers)
    except httpx.HTTPError as error:
        raise LaunchError(
            502, f"The EHR's FHIR server did not answer ({what}: {type(error).__name__}). Is it running?"
        ) from None
    if response.status_code != _OK:
        raise LaunchError(502, f"The EHR's FHIR server refused the {what} (HTTP {response.status_code}).")
    return _json(response, what)


def _endpoint(config: Any, name: str, iss: str) -> str:
    from myelo_cds.settings import _web_url  # the same https rule as every configured address

    value = config.get(name) if isinstance(config, dict) else None
    if not isinstance(value, str):
        raise LaunchError(502, f"The EHR's SMART configuration at {iss} names no {name}.")
    try:
        return _web_url(value, name)
    except ValueError as error:
        raise LaunchError(502, f"The EHR's SMART configuration is unsafe: {error}") from None


def _optional_endpoint(config: Any, name: str, iss: str) -> str | None:
    return _endpoint(config, name, iss) if isinstance(config, dict) and config.get(name) else None


def _launch_route(launches: _Launches) -> Any:
    async def launch(request: Request) -> Response:
        """Step 1: check ``iss``, discover, keep the launch, redirect to the EHR's authorization."""
        try:
            settings = _settings()
            iss = (request.query_params.get("iss") or "").strip().rstrip("/")
            launch_value = request.query_params.get("launch") or ""
            if not iss or not launch_value or len(launch_value) > _MAX_LAUNCH_CHARACTERS:
                raise LaunchError(400, "The launch needs both 'iss' and 'launch' (start it from the EHR).")
            if iss not in settings.smart_issuers:
                raise LaunchError(
                    400,
                    f"This server does not launch from {iss[:200]}: it is not on MYELO_CDS_SMART_ISSUERS.",
                )
            async with httpx.AsyncClient(timeout=_TIMEOUT, follow_redirects=False) as client:
                config = await _get(client, f"{iss}/.well-known/smart-configuration", "SMART configuration")
            methods = config.get("code_challenge_methods_supported") if isinstance(config, dict) else None
            if not isinstance(methods, list) or "S256" not in methods:
                raise LaunchError(
                    502, "The EHR does not offer PKCE with S256, which SMART App Launch 2.0 requires."
                )
            authorize = _endpoint(config, "authorization_endpoint", iss)
            token_endpoint = _endpoint(config, "token_endpoint", iss)
            issuer = _optional_endpoint(config, "issuer", iss)
            jwks_uri = _optional_endpoint(config, "jwks_uri", iss)
            state, verifier, binding, nonce = (secrets.token_urlsafe(32) for _ in range(4))
            pending = _Pending(
                iss, launch_value, token_endpoint, verifier, _hash(binding), nonce, issuer, jwks_uri
            )
            await launches.keep(state, pending)
        except LaunchError as error:
            return _page(error.status, str(error))
        params = {
            "response_type": "code",
            "client_id": settings.smart_client_id,
            "redirect_uri": settings.redirect_uri,
            "launch": launch_value,
            "scope": settings.smart_scope,
            "state": state,
            "aud": iss,
            "nonce": nonce,
            "code_challenge": _s256(verifier),
            "code_challenge_method": "S256",
        }
        response = RedirectResponse(f"{authorize}?{urlencode(params)}", status_code=302)
        response.set_cookie(
            LAUNCH_COOKIE, binding, max_age=PENDING_SECONDS, path="/smart", httponly=True,
            samesite="lax", secure=_secure(settings),
        )  # fmt: skip
        response.headers["Cache-Control"] = "no-store"
        return response

    return launch


@dataclass(frozen=True)
class _Granted:
    grant: EhrGrant
    patient: str
    id_token: Any
    openid: bool


async def _token(
    client: httpx.AsyncClient, pending: _Pending, code: str, settings: SmartSettings
) -> _Granted:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": settings.redirect_uri or "",
        "client_id": settings.smart_client_id or "",
        "code_verifier": pending.verifier,
    }
    try:
        response = await client.post(
            pending.token_endpoint, data=form, headers={"Accept": "application/json"}
        )
    except httpx.HTTPError as error:
        raise LaunchError(502, f"The EHR's token endpoint did not answer ({type(error).__name__}).") from None
    body = _json(response, "token")
    if response.status_code != _OK or not isinstance(body, dict):
        reason = body.get("error") if isinstance(body, dict) else None
        raise LaunchError(
            502, f"The EHR refused the access code (HTTP {response.status_code}, {reason!s:.60})."
        )
    token, patient = body.get("access_token"), body.get("patient")
    if not isinstance(token, str) or not token or str(body.get("token_type", "")).lower() != "bearer":
        raise LaunchError(502, "The EHR's token answer holds no bearer access token.")
    if not isinstance(patient, str) or not patient.strip() or "/" in patient:
        raise LaunchError(
            502,
            "The EHR's token answer names no patient (the launch context): nothing is imported "
            "without knowing whose record it is.",
        )
    expires_in = body.get("expires_in")
    lifetime = float(expires_in) if isinstance(expires_in, (int, float)) and expires_in > 0 else 300.0
    # The scopes granted: the answer's, else those requested (RFC 6749 section 5.1).
    granted = str(body.get("scope") or settings.smart_scope)
    return _Granted(
        EhrGrant(token, time.time() + lifetime, granted),
        patient.strip(),
        body.get("id_token"),
        "openid" in granted.split(),
    )


async def _fhir_user(
    client: httpx.AsyncClient, pending: _Pending, granted: _Granted, settings: SmartSettings
) -> str | None:
    """The clinician's ``fhirUser`` reference from a verified ``id_token`` (``None`` when
    ``openid`` was not granted, or granted without ``fhirUser``).

    Raises:
        LaunchError: ``openid`` granted and the id_token missing or failing a check.
    """
    if not granted.openid and granted.id_token is None:
        return None
    if pending.issuer is None:
        raise LaunchError(
            502,
            "The EHR granted openid but its SMART configuration names no issuer: the identity "
            "token (id_token) cannot be checked. Nothing was imported.",
        )
    jwks_uri = pending.jwks_uri
    if jwks_uri is None:
        discovery = await _get(
            client, f"{pending.issuer}/.well-known/openid-configuration", "OpenID configuration"
        )
        if not isinstance(discovery, dict) or discovery.get("issuer") != pending.issuer:
            raise LaunchError(502, "The EHR's OpenID configuration names another issuer than its SMART one.")
        jwks_uri = _endpoint(discovery, "jwks_uri", pending.issuer)
    keys = public_key_set(await _get(client, jwks_uri, "key set (jwks_uri)"))
    claims = verify_id_token(
        granted.id_token,
        keys=keys,
        issuer=pending.issuer,
        client_id=settings.smart_client_id or "",
        nonce=pending.nonce,
    )
    fhir_user = claims.get("fhirUser")
    if fhir_user is None:
        return None
    if not isinstance(fhir_user, str):
        raise LaunchError(502, "The EHR's identity token holds a fhirUser that is not a reference.")
    return fhir_user_reference(fhir_user, pending.iss)


def _entries(bundle: Any) -> list[dict[str, Any]]:
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    return [
        e["resource"] for e in entries or [] if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]


async def _search(
    client: httpx.AsyncClient, iss: str, token: str, url: str, what: str
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for _ in range(_MAX_PAGES):
        bundle = await _get(client, url, what, token)
        found.extend(r for r in _entries(bundle) if r.get("resourceType") != "OperationOutcome")
        links = bundle.get("link") if isinstance(bundle, dict) else None
        following = [
            link.get("url")
            for link in links or []
            if isinstance(link, dict) and link.get("relation") == "next"
        ]
        if not following or not isinstance(following[0], str):
            return found
        url = following[0]
        if not url.startswith(iss + "/"):  # the token goes to the EHR's FHIR server only
            raise LaunchError(
                502, "The EHR's FHIR server sent a next page on another server; it was not followed."
            )
    raise LaunchError(502, f"The EHR's {what} has more than {_MAX_PAGES} pages; nothing was imported.")


async def _read_record(
    client: httpx.AsyncClient, iss: str, token: str, patient: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | str]:
    """The Patient with their Observations and QuestionnaireResponses, and their Conditions (or,
    when the EHR would not give those, why: the problem list is shown, never required)."""
    reference = urlencode({"patient": f"Patient/{patient}", "_count": "200"})
    record = [await _get(client, f"{iss}/Patient/{patient}", "patient's record", token)]
    record += await _search(client, iss, token, f"{iss}/Observation?{reference}", "observations")
    record += await _search(
        client, iss, token, f"{iss}/QuestionnaireResponse?{reference}", "questionnaire responses"
    )
    conditions: list[dict[str, Any]] | str
    try:
        conditions = await _search(client, iss, token, f"{iss}/Condition?{reference}", "problem list")
    except LaunchError as error:
        conditions = str(error)
    return record, conditions


def _callback_route(launches: _Launches) -> Any:
    async def callback(request: Request) -> Response:
        """Step 2: check state and browser, exchange the code, check who the user is, read the
        record, hand it to the consult page."""
        try:
            settings = _settings()
            params = request.query_params
            pending = await launches.take(params.get("state") or "")
            if pending is None:
                raise LaunchError(
                    400,
                    "This sign-in answer does not belong to a launch in progress (unknown, used or "
                    "expired state).",
                )
            cookie = request.cookies.get(LAUNCH_COOKIE) or ""
            if not secrets.compare_digest(_hash(cookie), pending.binding):
                raise LaunchError(
                    400, "This sign-in answer came to another browser than the one that started the launch."
                )
            if params.get("error"):
                raise LaunchError(
                    502, f"The EHR did not authorize the launch ({params.get('error', '')[:60]})."
                )
            code = params.get("code")
            if not code:
                raise LaunchError(400, "The EHR's answer holds no authorization code.")
            async with httpx.AsyncClient(timeout=_TIMEOUT, follow_redirects=False) as client:
                granted = await _token(client, pending, code, settings)
                fhir_user = await _fhir_user(client, pending, granted, settings)
                record, conditions = await _read_record(
                    client, pending.iss, granted.grant.access_token, granted.patient
                )
            imported = dataclasses.replace(
                import_record(pending.iss, granted.patient, record, conditions),
                grant=granted.grant,
                fhir_user=fhir_user,
            )
            key = await launches.hand_off(imported)
        except LaunchError as error:
            return _page(error.status, str(error))
        response = RedirectResponse(f"{settings.app_url}{CONSULT_PATH}", status_code=303)
        response.delete_cookie(LAUNCH_COOKIE, path="/smart")
        response.set_cookie(
            HANDOFF_COOKIE, key, max_age=HANDOFF_SECONDS, path="/", httponly=True, samesite="lax",
            secure=_secure(settings),
        )  # fmt: skip
        response.headers["Cache-Control"] = "no-store"
        return response

    return callback


def routes(store: Store | None = None) -> list[Route]:
    """The EHR launch routes (mount them on ``st.App(..., routes=...)``).

    Args:
        store: where the launches in progress are kept; default this process's shared record
            store (:func:`myelo_cds.records.shared_store`), which every replica's database is.
    """
    launches = _Launches(store)
    return [
        Route(LAUNCH_PATH, _launch_route(launches), methods=["GET"]),
        Route(CALLBACK_PATH, _callback_route(launches), methods=["GET"]),
    ]
