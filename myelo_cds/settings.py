"""Deployment settings of myelo-cds itself (Streamlit's own come from ``.streamlit/``).

Read from environment variables ``MYELO_CDS_*``, which win over an optional TOML file named by
``MYELO_CDS_CONFIG`` (keys without the prefix, lower case: ``auth = "local"``). Pure: no
Streamlit, no storage.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from myelo_cds.auth import ROLES, Role
from myelo_cds.errors import SettingsError

__all__ = [
    "MIN_SECRET_BYTES",
    "AuthMode",
    "AuthSettings",
    "CdsHooksSettings",
    "SessionSettings",
    "SettingsError",
    "SmartSettings",
    "TrustedIssuer",
    "auth_settings",
    "cds_hooks_settings",
    "deployment_problems",
    "is_loopback",
    "secret_problem",
    "session_settings",
    "smart_settings",
]

AuthMode = Literal["oidc", "local", "none"]
_PREFIX = "MYELO_CDS_"
_KEYS = (
    "auth",
    "oidc_provider",
    "oidc_role_source",
    "oidc_role_claim",
    "oidc_role_map",
    "dev_user",
    "dev_role",
)


class AuthSettings(BaseModel):
    """How people sign in and how they get their role."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    auth: AuthMode = Field(
        default="local",
        description="oidc: hospital single sign-on (Streamlit's st.login, [auth] in secrets.toml); "
        "local: accounts in the record database; none: development only, announced on every page.",
    )
    oidc_provider: str | None = Field(
        default=None, description="Name of an [auth.NAME] provider in secrets.toml (default: [auth] itself)."
    )
    oidc_role_source: Literal["claim", "table"] = Field(
        default="table",
        description="claim: the role comes from an ID-token claim; table: from the accounts table "
        "(python -m myelo_cds users add SUBJECT --sso --role ROLE).",
    )
    oidc_role_claim: str = Field(default="roles", description="The claim holding roles or groups.")
    oidc_role_map: dict[str, Role] = Field(
        default_factory=dict,
        description="Claim value -> role, written 'group=role,group=role' in the environment; "
        "required when the role comes from a claim (no default: an identity provider's own group "
        "names must never grant a role by accident).",
    )
    dev_user: str = Field(default="dev", description="The user of the 'none' mode.")
    # The least privileged role: a development server left open grants nothing it need not.
    dev_role: Role = Field(default="resident", description="The role of the 'none' mode.")


def _role_map(text: str) -> dict[str, str]:
    pairs = [item.strip() for item in text.split(",") if item.strip()]
    result: dict[str, str] = {}
    for pair in pairs:
        value, separator, role = pair.rpartition("=")
        if not separator or not value.strip():
            raise SettingsError(
                f"{_PREFIX}OIDC_ROLE_MAP: {pair!r} is not 'claim-value=role' (roles: {', '.join(ROLES)})"
            )
        result[value.strip()] = role.strip()
    return result


def _config_file(environ: Mapping[str, str]) -> dict[str, Any]:
    """The keys of the TOML file named by ``MYELO_CDS_CONFIG`` (empty when none is named).

    Raises:
        SettingsError: the file cannot be read or is not TOML, naming the setting.
    """
    config_file = environ.get(_PREFIX + "CONFIG", "").strip()
    if not config_file:
        return {}
    try:
        return tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"{_PREFIX}CONFIG: cannot read {config_file}: {error}") from None


def auth_settings(environ: Mapping[str, str] | None = None) -> AuthSettings:
    """The sign-in settings from the environment (and the ``MYELO_CDS_CONFIG`` file, if named).

    Raises:
        SettingsError: an unknown mode or role, a malformed role map or config file; the message
            names the setting and the allowed values.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    values.update(_config_file(environ))
    for key in (*SessionSettings.model_fields, *CdsHooksSettings.model_fields, *SmartSettings.model_fields):
        values.pop(key, None)
    for key in _KEYS:
        text = environ.get(_PREFIX + key.upper(), "").strip()
        if text:
            values[key] = _role_map(text) if key == "oidc_role_map" else text
    try:
        settings = AuthSettings.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        raise SettingsError(
            f"{_PREFIX}{name.upper()}: {first['msg']} ({AuthSettings.model_fields[name].description})"
            if name in AuthSettings.model_fields
            else f"{_PREFIX}CONFIG: {first['msg']} ({name}; allowed: {', '.join(_KEYS)})"
        ) from None
    if settings.auth == "oidc" and settings.oidc_role_source == "claim" and not settings.oidc_role_map:
        # No default map: an identity provider's own group named "admin" must not make an admin.
        raise SettingsError(
            f"{_PREFIX}OIDC_ROLE_MAP: required when {_PREFIX}OIDC_ROLE_SOURCE=claim; map your "
            "identity provider's group names to roles, e.g. "
            "'spine-consultants=clinician,spine-trainees=resident,it-admins=admin'"
        )
    return settings


class SessionSettings(BaseModel):
    """How long a sign-in and a consult being entered last (unattended ward computers)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    session_idle_minutes: float = Field(
        default=15,
        gt=0,
        le=24 * 60,
        description="Minutes without interaction after which a tab is signed out (more than 0, "
        "at most 1440).",
    )
    session_max_hours: float = Field(
        default=12,
        gt=0,
        le=7 * 24,
        description="Hours after sign-in after which a tab is signed out however busy (more than 0, "
        "at most 168).",
    )
    draft_hours: float = Field(
        default=24,
        gt=0,
        le=7 * 24,
        description="Hours a consult being entered is kept after its last change (more than 0, at most 168).",
    )


def session_settings(environ: Mapping[str, str] | None = None) -> SessionSettings:
    """The session time limits from the environment (``MYELO_CDS_SESSION_IDLE_MINUTES``,
    ``MYELO_CDS_SESSION_MAX_HOURS``, ``MYELO_CDS_DRAFT_HOURS``) or the ``MYELO_CDS_CONFIG`` file.

    Raises:
        SettingsError: a value that is not a number in its range, or an unreadable config file;
            the message names the setting and its range.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    values.update(_config_file(environ))
    for key in SessionSettings.model_fields:
        text = environ.get(_PREFIX + key.upper(), "").strip()
        if text:
            values[key] = text
    try:
        return SessionSettings.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0])
        raise SettingsError(
            f"{_PREFIX}{name.upper()}: {values.get(name)!r} is not allowed "
            f"({SessionSettings.model_fields[name].description})"
        ) from None


#: Signing keys shorter than this are refused (Streamlit's own warning starts at 14 bytes;
#: 32 bytes is what ``secrets.token_hex(32)`` gives as 64 characters).
MIN_SECRET_BYTES = 32
# What examples and tutorials put where a secret belongs, compared without case or punctuation:
# words too long to occur by chance in a random key, or a whole value.
_PLACEHOLDER_WORDS = re.compile(r"changeme|replaceme|secret|example|placeholder|password")
_PLACEHOLDER_VALUES = re.compile(r"x+|todo|fixme|test|none|null|default")
#: A random key of 32 bytes or more uses many different characters; a typed phrase of one
#: repeated character or two does not.
_MIN_DISTINCT_CHARACTERS = 8


def secret_problem(name: str, value: str | None) -> str | None:
    """Why ``value`` cannot sign identity cookies, or ``None`` when it can.

    Refused: missing or empty, a placeholder (``CHANGE-ME``, ``xxx``, anything with "secret",
    "example" or "change me" in it), fewer than 8 different characters, or shorter than
    :data:`MIN_SECRET_BYTES`. The message names the setting and never repeats the value.
    """
    make = 'make one with: python3 -c "import secrets; print(secrets.token_hex(32))"'
    if not value or not value.strip():
        return f"{name} is empty: set a random secret of at least {MIN_SECRET_BYTES} bytes ({make})"
    plain = re.sub(r"[^a-z0-9]", "", value.lower())
    if (
        _PLACEHOLDER_WORDS.search(plain)
        or _PLACEHOLDER_VALUES.fullmatch(plain)
        or len(set(value)) < _MIN_DISTINCT_CHARACTERS
    ):
        return f"{name} is a placeholder, not a secret: replace it ({make})"
    if len(value.encode("utf-8")) < MIN_SECRET_BYTES:
        return f"{name} is shorter than {MIN_SECRET_BYTES} bytes: use a longer random secret ({make})"
    return None


def is_loopback(address: str | None) -> bool:
    """Whether a server bound to ``address`` is reachable from this machine only.

    ``None`` or empty is how Streamlit spells "every interface", so it is not loopback.
    """
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def deployment_problems(
    settings: AuthSettings,
    *,
    auth_cookie_secret: str | None,
    server_cookie_secret: str | None,
    bind_address: str | None,
    bind_address_known: bool = True,
    database_url: str | None = None,
) -> list[str]:
    """Why this server must not start with these settings (empty when it may), one line each.

    Args:
        settings: the sign-in settings (:func:`auth_settings`).
        auth_cookie_secret: ``[auth] cookie_secret`` from Streamlit's secrets (``None`` if absent):
            it signs the single-sign-on identity cookie (and, when present, Streamlit's XSRF
            cookie in every mode), so it is checked in every mode where it is set.
        server_cookie_secret: ``server.cookieSecret`` when it was set explicitly (an environment
            variable, a flag, a config file), else ``None`` (Streamlit then draws a random one).
        bind_address: the address the server listens on (``None`` = every interface).
        bind_address_known: ``False`` when nothing serves on an address (AppTest, a script), so
            the address cannot be checked.
        database_url: ``MYELO_CDS_DATABASE_URL`` when set: a database on another machine is
            shared, so the server is a deployment, never a developer's machine.

    Returns:
        One message per problem, each naming the setting; never a secret's value.
    """
    problems: list[str] = []
    if settings.auth == "oidc" or auth_cookie_secret is not None:
        # A forged identity cookie signed with a known key is a sign-in as anyone. In the other
        # modes Streamlit still signs its XSRF cookie with this key when it is there.
        problem = secret_problem("auth.cookie_secret in .streamlit/secrets.toml", auth_cookie_secret)
        if problem:
            problems.append(problem)
    if server_cookie_secret is not None:
        problem = secret_problem("server.cookieSecret (STREAMLIT_SERVER_COOKIE_SECRET)", server_cookie_secret)
        if problem:
            problems.append(problem)
    if settings.auth == "none" and bind_address_known and not is_loopback(bind_address):
        where = bind_address or "every interface"
        problems.append(
            f"{_PREFIX}AUTH=none (development mode: no sign-in) is refused on a server listening on "
            f"{where}: listen on 127.0.0.1 (--server.address 127.0.0.1), or set {_PREFIX}AUTH to "
            "'local' or 'oidc'"
        )
    if settings.auth == "none" and database_url and not _on_this_machine(database_url):
        problems.append(
            f"{_PREFIX}AUTH=none (development mode: no sign-in) is refused with a shared database "
            f"({_PREFIX}DATABASE_URL names a {_backend(database_url)} database on another machine): "
            f"develop on a SQLite file or a database on 127.0.0.1, or set {_PREFIX}AUTH to 'local' "
            "or 'oidc'"
        )
    return problems


def _backend(url: str) -> str:
    """The database kind of a URL (``postgresql+psycopg://...`` -> ``postgresql``), never more."""
    return re.split(r"[+:]", url.strip(), maxsplit=1)[0].lower() or "unknown"


def _on_this_machine(url: str) -> bool:
    """A SQLite file, or a database server reached over loopback or a local socket.

    A database on another machine is shared with other servers: a deployment, never a
    developer's own machine.
    """
    if _backend(url) == "sqlite":
        return True
    parts = urlsplit(url.strip())
    try:
        hosts = [parts.hostname or ""] + [
            host for value in parse_qs(parts.query).get("host", []) for host in value.split(",")
        ]
    except ValueError:  # a malformed URL: not known to be local
        return False
    # An empty host or a socket folder ("/run/postgresql") is a local socket.
    return all(not host or host.startswith("/") or is_loopback(host) for host in hosts)


# --- CDS Hooks: who may call the service, and the addresses it names (issue 15) ---------------


def _web_url(value: str, setting: str, *, path: bool = True) -> str:
    """An absolute http(s) URL without query or fragment, with no trailing slash.

    Plain http is allowed for a loopback host only (a test, or a proxy on this machine): a key
    set or a link fetched over the network without TLS could be swapped on the way.
    """
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{setting}: {value!r} is not an absolute http(s) URL")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{setting}: {value!r} must have no query, fragment or user name")
    if not path and parts.path not in ("", "/"):
        raise ValueError(f"{setting}: {value!r} must be an origin (scheme://host[:port]), without a path")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(f"{setting}: {value!r} must use https (plain http only on 127.0.0.1 or localhost)")
    return value.strip().rstrip("/")


class TrustedIssuer(BaseModel):
    """One CDS client (an EHR) whose signed calls the service accepts.

    Its public keys come from a JWK Set file given by the EHR out of band (``jwks_file``), or a
    JWK Set URL this server fetches (``jwks_url``); a token's ``jku`` header is followed only
    when it is one of ``jku`` (or ``jwks_url``) here, never to an address the token names alone.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    iss: str = Field(min_length=1, max_length=300, description="The token's iss, exactly.")
    jwks_file: Path | None = Field(default=None, description="A JWK Set file of the client's public keys.")
    jwks_url: str | None = Field(default=None, description="A JWK Set URL (https) of the client's keys.")
    jku: tuple[str, ...] = Field(default=(), description="JWK Set URLs a token's jku header may name.")
    name: str = Field(default="", max_length=40, description="A short label for the audit log (else iss).")


class CdsHooksSettings(BaseModel):
    """Who may call the CDS Hooks service and the addresses it names.

    ``MYELO_CDS_APP_URL`` is the app's public address for the card's link (never the request's
    Host header: a forged Host would send the clinician elsewhere); ``MYELO_CDS_HOOKS_URL`` the
    public base address of the service, which the tokens' ``aud`` must name (default: the app's,
    as one server serves both); ``MYELO_CDS_HOOKS_ISSUERS_FILE`` a TOML file of
    ``[[issuer]]`` tables (:class:`TrustedIssuer`).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    app_url: str | None = Field(
        default=None, description="The app's public https URL, for the card's link (none without it)."
    )
    hooks_url: str | None = Field(
        default=None,
        description="The public https base URL of the service; a token's aud must be "
        "<this>/cds-services/<service id> (default: MYELO_CDS_APP_URL).",
    )
    hooks_issuers_file: Path | None = Field(
        default=None,
        description="A TOML file of [[issuer]] tables: iss, and jwks_file or jwks_url, optional jku.",
    )
    hooks_cors_origins: tuple[str, ...] = Field(
        default=(),
        description="Browser origins (scheme://host[:port]) allowed to call the service, comma-separated; "
        "none by default, never '*'.",
    )
    hooks_max_token_seconds: int = Field(
        default=300, ge=30, le=3600, description="Longest token lifetime accepted, exp - now (30-3600 s)."
    )
    hooks_clock_skew_seconds: int = Field(
        default=60, ge=0, le=300, description="Clock difference allowed for exp and iat (0-300 s)."
    )
    issuers: tuple[TrustedIssuer, ...] = Field(default=(), description="Read from hooks_issuers_file.")

    @property
    def service_base(self) -> str | None:
        """The base URL a token's audience is checked against, or ``None`` (every call refused)."""
        return self.hooks_url or self.app_url


_HOOK_KEYS = (
    "app_url",
    "hooks_url",
    "hooks_issuers_file",
    "hooks_cors_origins",
    "hooks_max_token_seconds",
    "hooks_clock_skew_seconds",
)


def _issuers(path: Path) -> tuple[TrustedIssuer, ...]:
    setting = f"{_PREFIX}HOOKS_ISSUERS_FILE"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SettingsError(f"{setting}: cannot read {path}: {error}") from None
    tables = data.get("issuer", [])
    if set(data) - {"issuer"} or not isinstance(tables, list):
        raise SettingsError(f"{setting}: {path} must hold [[issuer]] tables only")
    issuers: list[TrustedIssuer] = []
    for number, table in enumerate(tables, start=1):
        where = f"{setting}: issuer {number} in {path}"
        try:
            issuer = TrustedIssuer.model_validate(table)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(map(str, first["loc"])) or "?"
            raise SettingsError(f"{where}: {field}: {first['msg']}") from None
        if (issuer.jwks_file is None) == (issuer.jwks_url is None):
            raise SettingsError(f"{where}: give exactly one of jwks_file or jwks_url")
        try:
            urls = [_web_url(url, f"{where}: jwks_url/jku") for url in (issuer.jwks_url, *issuer.jku) if url]
        except ValueError as error:
            raise SettingsError(str(error)) from None
        jwks_file = path.parent / issuer.jwks_file if issuer.jwks_file else None
        issuers.append(
            issuer.model_copy(
                update={"jwks_file": jwks_file, "jwks_url": urls[0] if issuer.jwks_url else None}
            )
        )
    if len({issuer.iss for issuer in issuers}) != len(issuers):
        raise SettingsError(f"{setting}: {path} names an issuer twice")
    return tuple(issuers)


def cds_hooks_settings(environ: Mapping[str, str] | None = None) -> CdsHooksSettings:
    """The CDS Hooks settings from ``MYELO_CDS_APP_URL``, ``MYELO_CDS_HOOKS_*`` (or the
    ``MYELO_CDS_CONFIG`` file, same keys in lower case), with the issuers file read.

    Raises:
        SettingsError: a URL that is not https (http only on loopback), an origin with a path or
            ``*``, a number out of range, an unreadable or malformed issuers file; the message
            names the setting.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    config = _config_file(environ)
    values.update({key: config[key] for key in _HOOK_KEYS if key in config})
    for key in _HOOK_KEYS:
        text = environ.get(_PREFIX + key.upper(), "").strip()
        if text:
            values[key] = text
    origins = values.get("hooks_cors_origins")
    if isinstance(origins, str):
        values["hooks_cors_origins"] = tuple(item.strip() for item in origins.split(",") if item.strip())
    try:
        for key in ("app_url", "hooks_url"):
            if values.get(key):
                values[key] = _web_url(str(values[key]), f"{_PREFIX}{key.upper()}")
        origins = values.get("hooks_cors_origins")
        if isinstance(origins, (list, tuple)):
            values["hooks_cors_origins"] = tuple(
                _web_url(str(origin), f"{_PREFIX}HOOKS_CORS_ORIGINS", path=False) for origin in origins
            )
        settings = CdsHooksSettings.model_validate(values)
    except ValueError as error:  # pydantic's ValidationError is a ValueError too
        if not isinstance(error, ValidationError):
            raise SettingsError(str(error)) from None
        first = error.errors()[0]
        name = str(first["loc"][0])
        raise SettingsError(
            f"{_PREFIX}{name.upper()}: {values.get(name)!r} is not allowed "
            f"({CdsHooksSettings.model_fields[name].description})"
        ) from None
    if settings.hooks_issuers_file is not None:
        settings = settings.model_copy(update={"issuers": _issuers(settings.hooks_issuers_file)})
    return settings


# --- SMART App Launch (EHR launch, issue 15) ---------------------------------------------------

_SMART_KEYS = ("app_url", "smart_client_id", "smart_issuers", "smart_scope")
#: SMART App Launch 2.0 scopes: the launch context, who the user is, read access to the patient
#: in context (and their problem list), and creating the findings and the consult note for the
#: write-back on request, the note searched first so that a consult is not written twice
#: (SMART v2 permissions: ``c`` create, ``r`` read, ``s`` search).
DEFAULT_SMART_SCOPE = (
    "launch openid fhirUser patient/Patient.r patient/Observation.crs "
    "patient/QuestionnaireResponse.crs patient/DocumentReference.cs patient/Condition.rs"
)


class SmartSettings(BaseModel):
    """The EHR launch: this app's client id at the EHR, and the only FHIR servers it will follow.

    An ``iss`` in a launch is followed only when it is one of ``smart_issuers`` exactly (never an
    address a link names alone: the app would hand an access code to it). The redirect URI is
    ``<MYELO_CDS_APP_URL>/smart/callback``, registered at the EHR with the client id.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    app_url: str | None = Field(
        default=None, description="The app's public https URL (the redirect URI's base)."
    )
    smart_client_id: str | None = Field(
        default=None, max_length=200, description="The client id the EHR registered for this app."
    )
    smart_issuers: tuple[str, ...] = Field(
        default=(),
        description="FHIR base URLs (https) an EHR launch may name as iss, comma-separated; none by default.",
    )
    smart_scope: str = Field(
        default=DEFAULT_SMART_SCOPE, max_length=1000, description="The scopes requested."
    )

    @property
    def redirect_uri(self) -> str | None:
        return f"{self.app_url}/smart/callback" if self.app_url else None

    @property
    def enabled(self) -> bool:
        return bool(self.app_url and self.smart_client_id and self.smart_issuers)


def smart_settings(environ: Mapping[str, str] | None = None) -> SmartSettings:
    """The EHR launch settings from ``MYELO_CDS_APP_URL`` and ``MYELO_CDS_SMART_*`` (or the
    ``MYELO_CDS_CONFIG`` file, same keys in lower case).

    Raises:
        SettingsError: a URL that is not https (http only on loopback), naming the setting.
    """
    environ = os.environ if environ is None else environ
    config = _config_file(environ)
    values: dict[str, Any] = {key: config[key] for key in _SMART_KEYS if key in config}
    for key in _SMART_KEYS:
        text = environ.get(_PREFIX + key.upper(), "").strip()
        if text:
            values[key] = text
    issuers = values.get("smart_issuers", ())
    if isinstance(issuers, str):
        issuers = [item.strip() for item in issuers.split(",") if item.strip()]
    try:
        if values.get("app_url"):
            values["app_url"] = _web_url(str(values["app_url"]), f"{_PREFIX}APP_URL")
        values["smart_issuers"] = tuple(_web_url(str(url), f"{_PREFIX}SMART_ISSUERS") for url in issuers)
        return SmartSettings.model_validate(values)
    except ValueError as error:  # pydantic's ValidationError is a ValueError too
        if not isinstance(error, ValidationError):
            raise SettingsError(str(error)) from None
        first = error.errors()[0]
        name = str(first["loc"][0])
        raise SettingsError(f"{_PREFIX}{name.upper()}: {first['msg']}") from None
