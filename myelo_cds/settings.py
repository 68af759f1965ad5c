"""Deployment settings of myelo-cds itself (Streamlit's own come from ``.streamlit/``).

Read from environment variables ``MYELO_CDS_*``, which win over an optional TOML file named by
``MYELO_CDS_CONFIG`` (keys without the prefix, lower case: ``auth = "local"``). Pure: no
Streamlit, no storage.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from myelo_cds.auth import ROLES, Role
from myelo_cds.errors import SettingsError

__all__ = ["AuthMode", "AuthSettings", "SettingsError", "auth_settings"]

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
        default_factory=lambda: {str(role): role for role in ROLES},
        description="Claim value -> role, written 'group=role,group=role' in the environment.",
    )
    dev_user: str = Field(default="dev", description="The user of the 'none' mode.")
    dev_role: Role = Field(default="admin", description="The role of the 'none' mode.")


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


def auth_settings(environ: Mapping[str, str] | None = None) -> AuthSettings:
    """The sign-in settings from the environment (and the ``MYELO_CDS_CONFIG`` file, if named).

    Raises:
        SettingsError: an unknown mode or role, a malformed role map or config file; the message
            names the setting and the allowed values.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    config_file = environ.get(_PREFIX + "CONFIG", "").strip()
    if config_file:
        try:
            values.update(tomllib.loads(Path(config_file).read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise SettingsError(f"{_PREFIX}CONFIG: cannot read {config_file}: {error}") from None
    for key in _KEYS:
        text = environ.get(_PREFIX + key.upper(), "").strip()
        if text:
            values[key] = _role_map(text) if key == "oidc_role_map" else text
    try:
        return AuthSettings.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        raise SettingsError(
            f"{_PREFIX}{name.upper()}: {first['msg']} ({AuthSettings.model_fields[name].description})"
            if name in AuthSettings.model_fields
            else f"{_PREFIX}CONFIG: {first['msg']} ({name}; allowed: {', '.join(_KEYS)})"
        ) from None
