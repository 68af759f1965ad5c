"""The current user of this browser session (the only place pages learn who is signed in).

Until sign-in exists this is the development mode: one user from ``MYELO_CDS_DEV_USER`` /
``MYELO_CDS_DEV_ROLE`` (default ``dev`` / ``admin``), overridable per session by tests through
``st.session_state["myelo_cds.user"]``.
"""

from __future__ import annotations

import os

import streamlit as st

from myelo_cds.identity import ROLES, User

__all__ = ["current_user"]

_SESSION_KEY = "myelo_cds.user"


def current_user() -> User:
    """The user of this session."""
    override = st.session_state.get(_SESSION_KEY)
    if isinstance(override, User):
        return override
    wanted = os.environ.get("MYELO_CDS_DEV_ROLE", "admin")
    role = next((role for role in ROLES if role == wanted), "clinician")
    return User(user_id=os.environ.get("MYELO_CDS_DEV_USER", "dev"), role=role, supervisor=role != "resident")
