"""Who may call the CDS Hooks service, from which browser origin, and the record of each call.

CDS Hooks 2.0, "Trusting CDS Clients": every service call carries ``Authorization: Bearer
<JWT>``, signed with the client's private key by an asymmetric algorithm (never ``none``, never
HMAC, whose shared secret would let the service forge the client), with ``iss``, ``aud`` (the
URL of the endpoint called), ``exp``, ``iat`` and ``jti``; the service keeps an allow-list of
issuers and of the ``jku`` URLs it follows. Here:

- the issuers and their keys come from ``MYELO_CDS_HOOKS_ISSUERS_FILE``
  (:class:`myelo_cds.settings.TrustedIssuer`): a JWK Set file given out of band, or a JWK Set
  URL this server fetches (https, no redirects, size-capped, cached for 5 minutes and fetched
  again at most every 30 s for an unknown ``kid``, so a client's key rotation is picked up);
  a token's ``jku`` header is followed only when the issuer lists it;
- the signature is checked by joserfc (a maintained JOSE library) with the one algorithm the
  token names, from the RSA/RSA-PSS/ECDSA families only, against the key of that ``kid``;
- the claims by joserfc's :class:`~joserfc.jwt.JWTClaimsRegistry` (``aud`` must be
  ``MYELO_CDS_HOOKS_URL`` + the path called, ``exp`` and ``iat`` within the clock skew), then a
  lifetime cap and the replay check: a ``jti`` is accepted once per issuer until its token
  expires, recorded in the record database (:class:`StoredReplays`), so a token replayed to
  another replica is refused there too; when the database cannot answer the call gets 503.

Browser clients (the CDS Hooks sandbox) need CORS: the preflight is answered for the origins
in ``MYELO_CDS_HOOKS_CORS_ORIGINS`` only (none by default; ``Authorization`` and
``Content-Type`` allowed, no cookies). Every call is audited in the record store (action
``cds_hook_call`` / ``cds_hook_feedback``): the client (issuer and subject), the pseudonymous
patient id of the hook's context, the outcome and the card ids; never the prefetch. A call
whose audit cannot be written gets no decision support (503). Refused calls are audited without
reading their body.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from joserfc import jws
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwk import ECKey, Key, KeySet, RSAKey
from joserfc.jwt import JWTClaimsRegistry
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from myelo_cds.errors import MyeloCdsError, RecordError, SettingsError
from myelo_cds.records import Store, shared_store
from myelo_cds.settings import CdsHooksSettings, TrustedIssuer, cds_hooks_settings

__all__ = [
    "ALGORITHMS",
    "Caller",
    "HookAuthError",
    "Replays",
    "StoredReplays",
    "Trust",
    "cors_headers",
    "current_trust",
    "guarded",
]

#: Asymmetric signatures only (RFC 7518): RSA PKCS#1, RSA-PSS and ECDSA. CDS Hooks recommends
#: ES384 and RS384; ``none`` and HMAC (HS*) are refused by name.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
_MAX_TOKEN_CHARACTERS = 8192
_MAX_JWKS_BYTES = 256 * 1024
_JWKS_FRESH_SECONDS = 300.0
_JWKS_REFETCH_SECONDS = 30.0
_FETCH_TIMEOUT_SECONDS = 5.0
_MAX_JTI_CHARACTERS = 256
_UNAUTHENTICATED = "cds-client:unauthenticated"
_ACTOR_MAX = 64  # the audit log's staff-id length
_PRIVATE_PARTS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})


class HookAuthError(MyeloCdsError):
    """A service call refused (401): the message says why, never the token."""


@dataclass(frozen=True)
class Caller:
    """The CDS client a verified token names."""

    iss: str
    sub: str | None
    jti: str
    tenant: str | None
    label: str

    @property
    def actor(self) -> str:
        """The audit log's actor (at most 64 characters): the issuer's label, and the subject."""
        actor = f"cds:{self.label}" + (f" sub {self.sub}" if self.sub else "")
        if len(actor) <= _ACTOR_MAX and actor.isprintable():
            return actor
        digest = hashlib.sha256(actor.encode("utf-8")).hexdigest()[:12]
        return f"{''.join(c if c.isprintable() else '?' for c in actor[:50])}~{digest}"


class Replays(Protocol):
    """Where the tokens seen are recorded (:class:`StoredReplays`; the tests may pass another)."""

    def first_use(self, iss: str, jti: str, expires: float, now: float) -> bool:
        """Record the token; ``False`` when this issuer's ``jti`` was seen and has not expired."""
        ...


class StoredReplays:
    """The replay cache every replica shares: the record store's ``hook_token_uses`` table.

    A token replayed to another replica within its lifetime is refused there too. When the
    database cannot answer, :class:`~myelo_cds.errors.RecordError` propagates and the call
    gets 503 (no decision support without the check), never a pass.
    """

    def __init__(self, store: Store | None = None) -> None:
        self._store = store

    def first_use(self, iss: str, jti: str, expires: float, now: float) -> bool:
        store = self._store or shared_store()
        expires_at, now_at = (dt.datetime.fromtimestamp(moment, dt.UTC) for moment in (expires, now))
        return store.first_hook_token_use(iss, jti, expires=expires_at, now=now_at)


def _public_keys(data: Any, where: str) -> KeySet:
    """The RSA and EC public keys of a JWK Set (private parts and symmetric keys dropped)."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError(f"{where} is not a JWK Set (an object with a 'keys' list)")
    keys: list[Key] = []
    for item in data["keys"]:
        if not isinstance(item, dict) or item.get("kty") not in ("RSA", "EC") or not item.get("kid"):
            continue  # an HMAC ("oct") key would let anyone holding it sign as the client
        public = {name: value for name, value in item.items() if name not in _PRIVATE_PARTS}
        keys.append(RSAKey.import_key(public) if item["kty"] == "RSA" else ECKey.import_key(public))
    return KeySet(keys)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a key set served from another address than the one allowed is not followed


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass
class Trust:
    """The settings and the key sets of the trusted issuers, with fetched sets cached."""

    settings: CdsHooksSettings
    issuers: dict[str, TrustedIssuer]
    file_keys: dict[str, KeySet]
    _fetched: dict[str, tuple[float, KeySet]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, settings: CdsHooksSettings) -> Trust:
        """Read every issuer's JWK Set file now, so a bad file is named at the first call."""
        file_keys: dict[str, KeySet] = {}
        for issuer in settings.issuers:
            if issuer.jwks_file is not None:
                where = f"MYELO_CDS_HOOKS_ISSUERS_FILE: jwks_file {issuer.jwks_file} of {issuer.iss}"
                try:
                    data = json.loads(Path(issuer.jwks_file).read_text(encoding="utf-8"))
                    file_keys[issuer.iss] = _public_keys(data, where)
                except (OSError, ValueError, JoseError) as error:
                    raise SettingsError(f"{where}: {error}") from None
        return cls(settings, {issuer.iss: issuer for issuer in settings.issuers}, file_keys)

    def keys_for(self, issuer: TrustedIssuer, jku: str | None, kid: str) -> Key:
        """The key ``kid`` of ``issuer`` (from its file, its URL or an allowed ``jku``)."""
        if jku is not None and jku.rstrip("/") not in {
            url.rstrip("/") for url in (*issuer.jku, issuer.jwks_url) if url
        }:
            raise HookAuthError("the token's jku is not one this issuer's keys may be fetched from")
        url = jku or issuer.jwks_url
        keys = self.file_keys.get(issuer.iss, KeySet([])) if url is None else self._fetch(url, kid)
        found = [key for key in keys.keys if key.kid == kid]
        if len(found) != 1:
            raise HookAuthError("the token's key (kid) is not in the issuer's key set")
        return found[0]

    def _fetch(self, url: str, kid: str) -> KeySet:
        now = time.monotonic()
        with self._lock:
            cached = self._fetched.get(url)
        if cached is not None:
            at, keys = cached
            known = any(key.kid == kid for key in keys.keys)
            if now - at < _JWKS_FRESH_SECONDS and (known or now - at < _JWKS_REFETCH_SECONDS):
                return keys
        try:
            with _OPENER.open(url, timeout=_FETCH_TIMEOUT_SECONDS) as answer:
                body = answer.read(_MAX_JWKS_BYTES + 1)
            if len(body) > _MAX_JWKS_BYTES:
                raise ValueError(f"larger than {_MAX_JWKS_BYTES} bytes")
            keys = _public_keys(json.loads(body), "the key set")
        except (OSError, ValueError, JoseError):
            if cached is not None:  # the last good set rather than no service while the EHR is down
                return cached[1]
            raise HookAuthError("the issuer's key set could not be fetched") from None
        with self._lock:
            self._fetched[url] = (now, keys)
        return keys


_TRUST_LOCK = threading.Lock()
_TRUST: dict[tuple[tuple[str, str], ...], Trust] = {}


def current_trust(environ: Mapping[str, str] | None = None) -> Trust:
    """The trust of the current settings (read again when a ``MYELO_CDS_HOOKS_*``,
    ``MYELO_CDS_APP_URL`` or ``MYELO_CDS_CONFIG`` value changes).

    Raises:
        SettingsError: a setting or an issuer's key file is not allowed (the message names it).
    """
    environ = os.environ if environ is None else environ
    snapshot = tuple(
        sorted(
            (name, value)
            for name, value in environ.items()
            if name.startswith("MYELO_CDS_HOOKS_") or name in ("MYELO_CDS_APP_URL", "MYELO_CDS_CONFIG")
        )
    )
    with _TRUST_LOCK:
        trust = _TRUST.get(snapshot)
        if trust is None:
            trust = Trust.load(cds_hooks_settings(environ))
            _TRUST.clear()
            _TRUST[snapshot] = trust
        return trust


def _unverified(token: str) -> tuple[jws.CompactSignature, dict[str, Any], dict[str, Any]]:
    try:
        signed = jws.extract_compact(token.encode("ascii"))
        claims = json.loads(signed.payload or b"")
    except (UnicodeError, ValueError, JoseError):
        raise HookAuthError("the bearer token is not a signed JWT (header.payload.signature)") from None
    header = signed.headers()
    if not isinstance(claims, dict):
        raise HookAuthError("the token's payload is not a JSON object")
    return signed, dict(header), claims


def verify_token(
    authorization: str | None,
    audiences: tuple[str, ...],
    trust: Trust,
    *,
    now: float | None = None,
    replays: Replays | None = None,
) -> Caller:
    """The caller a bearer token proves, or :class:`HookAuthError` saying why not.

    Args:
        authorization: the ``Authorization`` header as sent.
        audiences: the endpoint URLs this call may name as ``aud`` (any one of them).
        trust: the issuers and keys (:func:`current_trust`).
        now: the time (seconds since the epoch; the tests pass one).
        replays: where the ``jti`` values seen are recorded (default: the record store's,
            shared by every replica).

    Raises:
        HookAuthError: the token is refused (the message says why).
        RecordError: the replay check could not reach the record database.
    """
    now = time.time() if now is None else now
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HookAuthError(
            "an Authorization: Bearer <JWT> header signed by a trusted CDS client is required"
        )
    token = token.strip()
    if len(token) > _MAX_TOKEN_CHARACTERS:
        raise HookAuthError(f"the bearer token is longer than {_MAX_TOKEN_CHARACTERS} characters")
    signed, header, claims = _unverified(token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none":
        raise HookAuthError("unsigned tokens (alg none) are refused")
    if alg.upper().startswith("HS"):
        raise HookAuthError(f"symmetric (HMAC) signatures are refused: alg {alg[:10]}; use ES384 or RS384")
    if alg not in ALGORITHMS:
        raise HookAuthError(f"alg {alg[:20]!r} is not accepted (allowed: {', '.join(ALGORITHMS)})")
    typ = header.get("typ")
    if (typ is not None and str(typ).upper() != "JWT") or header.get("crit"):
        raise HookAuthError("the token's header must have typ JWT and no crit")
    kid, jku, iss = header.get("kid"), header.get("jku"), claims.get("iss")
    if not isinstance(kid, str) or not kid:
        raise HookAuthError("the token's header has no kid")
    if jku is not None and not isinstance(jku, str):
        raise HookAuthError("the token's jku is not a URL")
    issuer = trust.issuers.get(iss) if isinstance(iss, str) else None
    if issuer is None:
        raise HookAuthError("the token's issuer (iss) is not a trusted CDS client")
    key = trust.keys_for(issuer, jku, kid)
    if key.get("use") not in (None, "sig") or key.get("alg") not in (None, alg):
        raise HookAuthError("the token's key is not meant for this algorithm or for signing")
    try:
        valid = jws.validate_compact(signed, key, algorithms=[alg])
    except (JoseError, ValueError):
        valid = False
    if not valid:
        raise HookAuthError("the token's signature does not verify with the issuer's key")

    settings = trust.settings
    registry = JWTClaimsRegistry(
        now=int(now),
        leeway=settings.hooks_clock_skew_seconds,
        iss={"essential": True, "value": issuer.iss},
        aud={"essential": True, "values": list(audiences)},
        exp={"essential": True},
        iat={"essential": True},
        jti={"essential": True},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise HookAuthError("the token has expired (exp)") from None
    except MissingClaimError as error:
        raise HookAuthError(f"the token lacks required claims: {error.description}") from None
    except InvalidClaimError as error:
        claim = str(error.claim) if hasattr(error, "claim") else "?"
        if claim == "aud":
            raise HookAuthError(f"the token's audience (aud) is not {audiences[0]}") from None
        raise HookAuthError(f"the token's {claim} is not allowed: {error.description}") from None
    expires = float(claims["exp"])
    if expires - now > settings.hooks_max_token_seconds + settings.hooks_clock_skew_seconds:
        raise HookAuthError(
            f"the token lives too long: exp must be at most {settings.hooks_max_token_seconds} s away "
            "(MYELO_CDS_HOOKS_MAX_TOKEN_SECONDS)"
        )
    jti, sub, tenant = claims["jti"], claims.get("sub"), claims.get("tenant")
    if not isinstance(jti, str) or not 0 < len(jti) <= _MAX_JTI_CHARACTERS:
        raise HookAuthError(f"the token's jti must be a string of 1-{_MAX_JTI_CHARACTERS} characters")
    replays = StoredReplays() if replays is None else replays
    if not replays.first_use(issuer.iss, jti, expires + settings.hooks_clock_skew_seconds, now):
        raise HookAuthError("the token was used before (jti replayed)")
    return Caller(
        iss=issuer.iss,
        sub=sub if isinstance(sub, str) else None,
        jti=jti,
        tenant=tenant if isinstance(tenant, str) else None,
        label=issuer.name or issuer.iss,
    )


# --- CORS --------------------------------------------------------------------------------------

_ALLOWED_HEADERS = "Authorization, Content-Type"


def cors_headers(origin: str | None, settings: CdsHooksSettings) -> dict[str, str]:
    """The CORS headers of an answer to ``origin``: allowed only for a configured origin."""
    if origin and origin.rstrip("/") in settings.hooks_cors_origins:
        return {"Access-Control-Allow-Origin": origin.rstrip("/"), "Vary": "Origin"}
    return {"Vary": "Origin"}


def _preflight(request: Request, settings: CdsHooksSettings, methods: tuple[str, ...]) -> Response:
    origin = request.headers.get("origin")
    asked = request.headers.get("access-control-request-method", "")
    if not origin or origin.rstrip("/") not in settings.hooks_cors_origins or asked not in methods:
        # no CORS headers: the browser keeps the page from calling
        return Response(status_code=403, headers={"Vary": "Origin"})
    return Response(
        status_code=204,
        headers={
            **cors_headers(origin, settings),
            "Access-Control-Allow-Methods": ", ".join((*methods, "OPTIONS")),
            "Access-Control-Allow-Headers": _ALLOWED_HEADERS,
            "Access-Control-Max-Age": "600",
        },
    )


# --- audit -------------------------------------------------------------------------------------


def _printable(text: object, limit: int) -> str:
    """Untrusted text for the audit detail: printable characters only, cut to ``limit``."""
    return "".join(c if c.isprintable() else "?" for c in str(text))[:limit]


def _audit(action: str, actor: str, patient_id: object, detail: str) -> None:
    store = shared_store()
    if isinstance(patient_id, str):
        try:
            store.record_event(action, actor=actor, patient_id=patient_id, detail=detail[:500])
            return
        except RecordError:  # not a pseudonymous id (letters, digits, '.', '_', '-'): not stored
            detail = "context.patientId refused as a record id (not stored); " + detail
    store.record_event(action, actor=actor, patient_id=None, detail=detail[:500])


def _caller_detail(caller: Caller) -> str:
    detail = f"iss={_printable(caller.iss, 120)}"
    if caller.sub:
        detail += f"; sub={_printable(caller.sub, 64)}"
    if caller.tenant:
        detail += f"; tenant={_printable(caller.tenant, 64)}"
    return detail + f"; jti={_printable(caller.jti, 64)}"


def _outcome(response: Response) -> str:
    outcome = f"status {response.status_code}"
    try:
        body = json.loads(bytes(response.body))
    except (AttributeError, ValueError):
        return outcome
    if isinstance(body, dict) and isinstance(body.get("cards"), list):
        cards = [card for card in body["cards"] if isinstance(card, dict)]
        outcome += f"; {len(cards)} card(s)"
        outcome += "".join(
            f"; card {_printable(c.get('uuid'), 40)} {_printable(c.get('indicator'), 10)}" for c in cards
        )
    elif isinstance(body, dict) and isinstance(body.get("outcome"), dict):
        # The issue code only (invalid, not-found, too-costly...): an error's text may quote
        # what the client sent, and the audit log never holds the prefetch.
        issues = body["outcome"].get("issue")
        if isinstance(issues, list) and issues and isinstance(issues[0], dict):
            outcome += f"; issue {_printable(issues[0].get('code'), 30)}"
    return outcome


# --- the guard around a route ------------------------------------------------------------------

Endpoint = Callable[[Request], Awaitable[Response]]


def guarded(
    handler: Endpoint,
    *,
    paths: tuple[str, ...] | None,
    action: str = "cds_hook_call",
    methods: tuple[str, ...] = ("POST",),
) -> Endpoint:
    """``handler`` behind CORS, the bearer token check (``paths``: the endpoint paths a token's
    ``aud`` may name, after ``MYELO_CDS_HOOKS_URL``; ``None`` for open discovery) and the audit.

    The handler may set ``request.state.patient_id`` (the hook context's patient) and
    ``request.state.audit_details`` (lines: one audit event each, else one event) for the audit,
    and reads the verified client from ``request.state.cds_caller``.
    """

    async def endpoint(request: Request) -> Response:
        try:
            trust = current_trust()
        except SettingsError as error:
            return JSONResponse({"error": f"the service is not configured: {error}"}, status_code=503)
        settings = trust.settings
        if request.method == "OPTIONS":
            return _preflight(request, settings, methods)
        cors = cors_headers(request.headers.get("origin"), settings)
        if paths is None:
            response = await handler(request)
            response.headers.update(cors)
            return response
        base = settings.service_base
        if base is None:
            return JSONResponse(
                {"error": "the service has no public URL to check tokens against: set MYELO_CDS_HOOKS_URL"},
                status_code=503,
                headers=cors,
            )
        audiences = tuple(base + path for path in paths)
        try:
            caller = await run_in_threadpool(
                verify_token, request.headers.get("authorization"), audiences, trust
            )
        except RecordError:  # the replay check could not reach the database: no pass, no card
            return JSONResponse(
                {"error": "the token's replay check is unavailable (record database): try again shortly"},
                status_code=503,
                headers=cors,
            )
        except HookAuthError as error:
            with contextlib.suppress(Exception):  # a refusal stays a refusal when the audit log is down
                await run_in_threadpool(
                    _audit, action, _UNAUTHENTICATED, None, f"refused: {_printable(error, 300)}"
                )
            return JSONResponse(
                {"error": f"unauthorized: {error}"},
                status_code=401,
                headers={**cors, "WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        request.state.cds_caller = caller
        response = await handler(request)
        patient_id = getattr(request.state, "patient_id", None)
        detail = f"{_caller_detail(caller)}; {request.url.path}; {_outcome(response)}"
        lines = getattr(request.state, "audit_details", None) or [""]
        try:
            for line in lines:
                await run_in_threadpool(
                    _audit, action, caller.actor, patient_id, f"{line}; {detail}" if line else detail
                )
        except Exception:  # the database down or refusing: no decision support without its record
            return JSONResponse(
                {"error": "the audit log is unavailable: no decision support without a record of the call"},
                status_code=503,
                headers=cors,
            )
        response.headers.update(cors)
        return response

    return endpoint
