"""Who is using the app, and what their role lets them see.

Pure domain: no Streamlit, no storage. The sign-in surface (``myelo_cds.ui.identity``) turns a
session into a :class:`User`; pages and the records/teaching rooms ask the functions here
whether an action is allowed, so a permission is decided in one place.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ROLES", "Role", "User", "may_view_trainee_results"]

Role = Literal["clinician", "resident", "admin"]
ROLES: tuple[Role, ...] = ("clinician", "resident", "admin")


class User(BaseModel):
    """A signed-in person, known by a stable pseudonymous id (never an e-mail address in records)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str = Field(min_length=1, max_length=64, description="Stable id (SSO subject or local account).")
    role: Role = Field(description="clinician, resident or admin.")
    display_name: str | None = Field(default=None, max_length=128, description="Shown in the sidebar only.")
    supervisor: bool = Field(default=False, description="May see residents' training results.")


def may_view_trainee_results(viewer: User, trainee_id: str) -> bool:
    """A resident sees only their own training results; supervisors and admins see everyone's."""
    return viewer.user_id == trainee_id or viewer.supervisor or viewer.role == "admin"
