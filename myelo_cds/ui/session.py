"""How a sign-in ends: the sign-out button, and the idle and absolute time limits.

Ward computers are left unattended, so a sign-in lasts while it is used: a run after more than
``MYELO_CDS_SESSION_IDLE_MINUTES`` without interaction, or more than
``MYELO_CDS_SESSION_MAX_HOURS`` after signing in, signs the tab out
(:func:`myelo_cds.settings.session_settings`). The time of sign-in and of the last run are kept
in the session state; with single sign-on the sign-in time is the identity token's
``auth_time`` (or ``iat``), so a new tab does not restart the absolute limit.

Every ending (:func:`end_session`) is the same: the tab's draft is deleted and its token leaves
the URL, the whole session state is cleared (case id, findings, draft token, anything a page
kept), download links of the ended sign-in stop working, and with single sign-on the identity
cookie is deleted too (``st.logout``). The next person to sign in on the tab starts empty.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import streamlit as st

from myelo_cds.errors import RecordError, SettingsError
from myelo_cds.settings import SessionSettings, auth_settings, session_settings
from myelo_cds.ui.records import end_draft, store

__all__ = [
    "end_session",
    "limit_passed",
    "sign_in_is_live",
    "signed_out_notice",
    "start_session",
    "within_limits",
]

SIGNED_IN_AT = "myelo_cds.signed_in_at"
LAST_ACTIVE = "myelo_cds.last_active"
_NOTICE = "myelo_cds.signed_out_notice"
_LIVE = "myelo_cds.sign_in_live"


class _SignIn:
    """One sign-in of one session; its download links work only while ``live``.

    The download builders hold this object, not the session state, so they can still ask after
    the state was cleared (they run outside the script, when the browser fetches a file).
    """

    __slots__ = ("live",)

    def __init__(self) -> None:
        self.live = True


def _amount(value: float, unit: str) -> str:
    number = f"{value:g}"
    return f"{number} {unit}" if number == "1" else f"{number} {unit}s"


def limit_passed(
    *, signed_in_at: float, last_active: float | None, now: float, limits: SessionSettings
) -> str | None:
    """Why a sign-in is over at ``now`` (seconds since the epoch), or ``None`` while it lasts.

    Args:
        signed_in_at: when the user signed in.
        last_active: the last run of the session (``None`` before its first).
        now: the time of this run.
        limits: the idle and absolute limits.

    Returns:
        The notice for the sign-in page, e.g. "Signed out after 15 minutes without activity."
    """
    passed = _limit_passed(signed_in_at=signed_in_at, last_active=last_active, now=now, limits=limits)
    return passed[1] if passed else None


def _limit_passed(
    *, signed_in_at: float, last_active: float | None, now: float, limits: SessionSettings
) -> tuple[str, str] | None:
    # (the audit log's reason, the notice for the sign-in page)
    if last_active is not None and now - last_active > limits.session_idle_minutes * 60:
        idle = _amount(limits.session_idle_minutes, "minute")
        return f"idle limit ({idle})", f"Signed out after {idle} without activity. Sign in again to continue."
    if now - signed_in_at > limits.session_max_hours * 3600:
        longest = _amount(limits.session_max_hours, "hour")
        return (
            f"absolute limit ({longest})",
            f"Signed out {longest} after signing in (the longest a sign-in lasts). "
            "Sign in again to continue.",
        )
    return None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _identity_signed_in_at() -> float | None:
    # Single sign-on: the provider's sign-in time travels in the identity cookie, so it holds for
    # every tab of the browser; auth_time is when the person authenticated, iat when the token
    # was issued.
    if auth_settings().auth != "oidc":
        return None
    claims = st.user.to_dict()
    return _number(claims.get("auth_time")) or _number(claims.get("iat"))


def _limits() -> SessionSettings:
    try:
        return session_settings()
    except SettingsError as error:  # no page runs on limits nobody can know: say which setting
        st.error(f"This server is not configured safely: {error}", icon=":material/block:")
        st.stop()


def start_session(now: float | None = None) -> None:
    """A sign-in begins in this session now (local sign-in; single sign-on starts on first sight)."""
    moment = time.time() if now is None else now
    st.session_state[SIGNED_IN_AT] = moment
    st.session_state[LAST_ACTIVE] = moment
    st.session_state[_LIVE] = _SignIn()


def within_limits(owner: str) -> bool:
    """Whether the sign-in of ``owner`` in this session is still within its limits.

    Called on every run (full or fragment) that finds a signed-in user. Inside the limits the
    run counts as activity; past one, the session is ended (:func:`end_session`) with a notice
    for the sign-in page and the script reruns at once to draw it; with single sign-on it
    returns ``False`` instead (``st.logout`` sends the browser to the provider and back). The
    development mode (no sign-in) has no limits.
    """
    if auth_settings().auth == "none":
        return True
    limits = _limits()
    now = time.time()
    state = st.session_state
    started = _identity_signed_in_at() or _number(state.get(SIGNED_IN_AT))
    if started is None:  # signed in before this session kept times (or by a test): from now
        start_session(now)
        return True
    passed = _limit_passed(
        signed_in_at=started, last_active=_number(state.get(LAST_ACTIVE)), now=now, limits=limits
    )
    if passed is not None:
        reason, notice = passed
        end_session(owner, notice=notice, reason=reason)
        if auth_settings().auth == "oidc":
            return False  # st.logout sends the browser away (a rerun would cancel that)
        # Nothing more of this run is drawn (a run can pass a limit between two checks, after
        # the form was drawn): the rerun draws the sign-in page with the notice.
        st.rerun()
    state[SIGNED_IN_AT] = started
    state[LAST_ACTIVE] = now
    if not isinstance(state.get(_LIVE), _SignIn):
        state[_LIVE] = _SignIn()
    return True


def end_session(owner: str | None, *, notice: str | None = None, reason: str = "sign-out") -> None:
    """Sign this tab out and leave nothing of the consult behind.

    Records a ``sign_out`` audit event for ``owner`` with ``reason`` (``sign-out``, ``idle
    limit (15 minutes)``, ...), deletes ``owner``'s draft of this tab and its ``?draft=`` token,
    ends the download links, clears the whole session state, keeps only ``notice`` for the
    sign-in page, and with single sign-on deletes the identity cookie. Works as a button callback
    and inside a run; a database that cannot be written does not stop the sign-out.
    """
    mark = st.session_state.get(_LIVE)
    if isinstance(mark, _SignIn):
        mark.live = False
    if owner is not None:
        with contextlib.suppress(RecordError):
            store().record_event("sign_out", actor=owner, detail=reason)
    end_draft(owner)
    st.session_state.clear()
    if notice:
        st.session_state[_NOTICE] = notice
    if auth_settings().auth == "oidc":
        st.logout()


def signed_out_notice() -> str | None:
    """Why this tab was signed out (shown once on the sign-in page), or ``None``."""
    notice = st.session_state.pop(_NOTICE, None)
    return str(notice) if notice else None


def sign_in_is_live() -> Callable[[], bool]:
    """A check, usable outside the script run, that the current sign-in has not ended."""
    held = st.session_state.get(_LIVE)
    mark = held if isinstance(held, _SignIn) else _SignIn()
    st.session_state[_LIVE] = mark
    return lambda: mark.live
