"""The sign-in form, the account box in the sidebar, and the role-filtered page list."""

from __future__ import annotations

from typing import Any

import streamlit as st

from myelo_cds.auth import Permission, SignInThrottled, User, may
from myelo_cds.settings import auth_settings
from myelo_cds.ui.current_user import ensure_router, oidc_claims, sign_in_local, sign_out
from myelo_cds.ui.session import signed_out_notice
from myelo_cds.ui.text import plain

__all__ = ["allowed_pages", "client_address", "render_account", "render_sign_in"]


def allowed_pages(user: User, pages: list[tuple[str, str, str, str, Permission]]) -> dict[str, list[Any]]:
    """The pages (section, path, title, icon, permission) whose permission the user's role has.

    The navigation holds only these, grouped by section, so a page the role may not open has no
    URL in the session; the first allowed page is the default.
    """
    allowed = [page for page in pages if may(user, page[4])]
    sections: dict[str, list[Any]] = {}
    for index, (section, path, title, icon, _) in enumerate(allowed):
        sections.setdefault(section, []).append(st.Page(path, title=title, icon=icon, default=index == 0))
    return sections


def render_account(user: User) -> None:
    """Who is signed in, with which role, and a way to sign out."""
    with st.sidebar:
        name = plain(user.display_name or user.user_id)
        st.markdown(f"Signed in: {name} ({user.role}{', supervisor' if user.supervisor else ''})")
        if auth_settings().auth != "none":
            st.button("Sign out", icon=":material/logout:", on_click=sign_out)


_NAME, _PASSWORD, _REFUSED = "sign_in.user_name", "sign_in.password", "sign_in.refused"
_THROTTLED = "sign_in.throttled"


def client_address() -> str:
    """The client's address for the per-client back-off.

    Behind the shipped nginx the server's peer is the proxy on loopback (Streamlit then gives
    no address) and nginx sets ``X-Real-IP`` to the client it saw, overwriting any the client
    sent; a direct connection from another machine is known by its own address.
    """
    direct = st.context.ip_address
    if direct:
        return direct
    forwarded = str(st.context.headers.get("X-Real-IP") or "").strip()
    return forwarded[:64] or "loopback"


def _check_password() -> None:
    # A callback runs before the script, so the run that follows already has the user and
    # draws their pages; the password is dropped from the session state at once.
    user_id = str(st.session_state.get(_NAME) or "")
    password = str(st.session_state.pop(_PASSWORD, "") or "")
    try:
        if sign_in_local(user_id, password, client=client_address()) is None:
            st.session_state[_REFUSED] = True
    except SignInThrottled as throttled:
        st.session_state[_THROTTLED] = throttled.retry_after_seconds


def render_sign_in() -> None:
    """Sign in: a user name and password (local accounts) or the hospital's single sign-on."""
    ensure_router()
    settings = auth_settings()
    st.title("Sign in")
    notice = signed_out_notice()
    if notice:
        st.info(notice, icon=":material/timer_off:")
    st.caption("myelo-cds holds patient records: sign in to continue.")
    if settings.auth == "oidc":
        claims = oidc_claims()
        if claims is not None:
            st.error(
                "You are signed in with single sign-on, but myelo-cds gives you no access: no role is"
                " assigned to you in myelo-cds, or your account here is disabled. Ask an"
                " administrator.",
                icon=":material/block:",
            )
            st.button("Sign out", on_click=sign_out)
            return
        if st.button("Sign in with the hospital's single sign-on", icon=":material/login:", type="primary"):
            if settings.oidc_provider:
                st.login(settings.oidc_provider)
            else:
                st.login()
        return
    with st.form("sign_in", clear_on_submit=True):
        st.text_input("User name", key=_NAME, max_chars=64, autocomplete="username")
        st.text_input(
            "Password", key=_PASSWORD, type="password", max_chars=1024, autocomplete="current-password"
        )
        st.form_submit_button("Sign in", type="primary", on_click=_check_password)
    if st.session_state.pop(_REFUSED, False):
        st.error("Wrong user name or password, or the account is disabled.", icon=":material/error:")
    wait = st.session_state.pop(_THROTTLED, None)
    if wait is not None:
        st.error(
            f"Too many failed sign-in attempts for this user name or from this computer: wait {wait} s,"
            " then try again. The password was not checked. If you have forgotten it, ask an"
            " administrator to set a new one.",
            icon=":material/hourglass_top:",
        )
    st.caption("No account? An administrator creates one with `python -m myelo_cds users add`.")
