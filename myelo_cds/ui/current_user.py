"""The current user of this browser session (the only place pages learn who is signed in).

Three modes, chosen by ``MYELO_CDS_AUTH`` (see :mod:`myelo_cds.settings`):

- ``oidc``: hospital single sign-on through Streamlit's ``st.login``; the identity is the ID
  token's ``sub`` claim, the role a configured claim or the accounts table.
- ``local``: accounts in the record database; a successful sign-in keeps the :class:`User` in
  this session's state, and every run re-reads the account, so disabling it ends the session.
- ``none``: development only; one user from ``MYELO_CDS_DEV_USER``/``MYELO_CDS_DEV_ROLE``,
  announced on every page.

Tests sign a session in by putting a :class:`User` *object* in
``st.session_state["myelo_cds.user"]`` (local and none modes). A browser cannot do the same: it
can only send widget values, which are never ``User`` objects, and no widget uses that key
(``tests/test_signin.py`` checks both).
"""

from __future__ import annotations

import html
from typing import Any

import streamlit as st

from myelo_cds.auth import Permission, User, may, role_from_claim, user_id_from_subject
from myelo_cds.settings import AuthSettings, auth_settings
from myelo_cds.ui.records import store
from myelo_cds.ui.session import end_session, start_session, within_limits

__all__ = [
    "ACTION_TEXT",
    "announce_mode",
    "current_user",
    "ensure_router",
    "oidc_claims",
    "require",
    "sign_in_local",
    "sign_out",
    "signed_in_user",
]

_SESSION_KEY = "myelo_cds.user"
ACTION_TEXT: dict[Permission, str] = {
    "consult": "use the consult",
    "view_records": "read patient records",
    "save_record": "save to the patient record",
    "export_records": "export patient lists",
    "view_audit": "read the audit log",
    "train": "use the training pages",
    "supervise_training": "see residents' training results or add teaching cases",
}


def oidc_claims() -> dict[str, Any] | None:
    """The ID-token claims of a single-sign-on session, or ``None`` when nobody signed in."""
    claims = st.user.to_dict()
    return claims if claims.get("is_logged_in") is True and claims.get("sub") else None


def _oidc_user(settings: AuthSettings) -> User | None:
    claims = oidc_claims()
    if claims is None:
        return None
    user_id = user_id_from_subject(str(claims["sub"]))
    name = claims.get("name")
    display = str(name)[:128] if name else None
    account = store().account(user_id)
    if settings.oidc_role_source == "claim":
        # A disabled account row blocks the person whatever the provider's claim still says
        # (the provider is often the last to hear that someone left).
        if account is not None and account.disabled:
            return None
        role = role_from_claim(claims.get(settings.oidc_role_claim), settings.oidc_role_map)
        return User(user_id=user_id, role=role, display_name=display) if role else None
    if account is None or account.disabled or not account.sso:
        return None
    return account.user().model_copy(update={"display_name": account.display_name or display})


def signed_in_user() -> User | None:
    """The signed-in user of this session, or ``None`` (then only the sign-in page is shown).

    A sign-in past its idle or absolute time limit ends here (:mod:`myelo_cds.ui.session`):
    every run that finds a user checks the limits and counts as activity.
    """
    settings = auth_settings()
    user = _session_user(settings)
    if user is not None and not within_limits(user.user_id):
        return None
    return user


def _session_user(settings: AuthSettings) -> User | None:
    if settings.auth == "oidc":
        return _oidc_user(settings)
    held = st.session_state.get(_SESSION_KEY)
    if settings.auth == "none":
        if isinstance(held, User):
            return held
        return User(
            user_id=settings.dev_user, role=settings.dev_role, supervisor=settings.dev_role != "resident"
        )
    if not isinstance(held, User):
        return None
    account = store().account(held.user_id)
    if account is None or account.disabled or account.sso:
        st.session_state.pop(_SESSION_KEY, None)
        return None
    return account.user()


def current_user() -> User:
    """The user of this session; a page that asks and finds nobody signed in stops here."""
    user = signed_in_user()
    if user is None:
        st.warning("Sign in to continue.", icon=":material/lock:")
        st.stop()
    return user


def ensure_router() -> None:
    """Send a page that was run without the router (app.py) back through it.

    Until ``st.navigation`` has run once in a server process, Streamlit treats ``pages/`` as an
    old-style pages folder and runs a deep link such as ``/audit`` as that file alone, without
    app.py's sign-in and role filter. Leaving that mode (as ``st.navigation`` itself does) and
    rerunning makes the request go through app.py.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def require(permission: Permission) -> User:
    """The current user if their role may do ``permission``; otherwise the page stops, saying why.

    Every page calls this first, so it is also where a page run without the router is sent
    through it and where the development mode announces itself.
    """
    ensure_router()
    announce_mode()
    user = current_user()
    if not may(user, permission):
        st.error(
            f"Your role ({user.role}) may not {ACTION_TEXT[permission]}."
            " Ask an administrator if you need to.",
            icon=":material/block:",
        )
        st.stop()
    return user


def sign_in_local(user_id: str, password: str, *, client: str | None = None) -> User | None:
    """Check a local account's password; on success this session is signed in as that user.

    Raises:
        SignInThrottled: too many recent failures for this name or from ``client``.
    """
    user = store().sign_in(user_id.strip(), password, client=client)
    if user is not None:
        st.session_state[_SESSION_KEY] = user
        start_session()
    return user


def sign_out() -> None:
    """End the sign-in of this session: its draft, the whole session state, the ``?draft=``
    token and (single sign-on) the identity cookie (:func:`myelo_cds.ui.session.end_session`).

    A button callback: it runs before the next run, which then finds nobody signed in and
    nothing of the previous consult.
    """
    user = _session_user(auth_settings())
    end_session(user.user_id if user is not None else None)


def announce_mode() -> None:
    """On every page in the development mode: nobody is signed in and anyone acts as the dev user."""
    settings = auth_settings()
    if settings.auth == "none":
        # A banner of its own (not st.warning), so it is never mistaken for a clinical warning.
        st.html(
            '<div role="alert" data-testid="myelo-dev-mode" style="background:#fff3cd;color:#5c3c00;'
            'border:2px solid #b8860b;border-radius:0.5rem;padding:0.6rem 1rem;margin-bottom:0.5rem">'
            "<strong>DEVELOPMENT MODE - no sign-in.</strong> Anyone who can reach this server acts as "
            f"'{html.escape(settings.dev_user)}' ({settings.dev_role}). Do not use with real patient "
            "data; set MYELO_CDS_AUTH to 'local' or 'oidc' on a server.</div>"
        )
