"""Who is using the app, and what their role lets them do.

Pure domain: no Streamlit, no storage. The sign-in surface (``myelo_cds.ui.current_user``) turns a
session into a :class:`User`; pages and the records/teaching rooms ask the functions here
whether an action is allowed, so a permission is decided in one place.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "SUPERVISOR_PERMISSIONS",
    "Permission",
    "Role",
    "User",
    "may",
    "may_view_trainee_results",
    "role_from_claim",
    "user_id_from_subject",
]

Role = Literal["clinician", "resident", "admin"]
ROLES: tuple[Role, ...] = ("clinician", "resident", "admin")

Permission = Literal[
    "consult", "view_records", "save_record", "export_records", "view_audit", "train", "supervise_training"
]
#: Which roles may do what. Residents assess and read records under supervision but do not
#: write to the record or export patient lists; only administrators read the audit log.
PERMISSIONS: Mapping[Permission, frozenset[Role]] = {
    "consult": frozenset(ROLES),
    "view_records": frozenset(ROLES),
    "save_record": frozenset({"clinician", "admin"}),
    "export_records": frozenset({"clinician", "admin"}),
    "view_audit": frozenset({"admin"}),
    # Resident training: everyone may train; residents' results and new teaching cases are for
    # supervisors (a flag on any account) and administrators.
    "train": frozenset(ROLES),
    "supervise_training": frozenset({"admin"}),
}
#: Permissions the supervisor flag grants whatever the role.
SUPERVISOR_PERMISSIONS: frozenset[Permission] = frozenset({"supervise_training"})

_RANK: tuple[Role, ...] = ("admin", "clinician", "resident")
# A user id as records store it (author, actor): short, one line, no spaces or markup.
_USER_ID = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


class User(BaseModel):
    """A signed-in person, known by a stable pseudonymous id (never an e-mail address in records)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=_USER_ID.pattern,
        description="Stable id (SSO subject or local account): letters, digits, '.', '_', '@', '-'.",
    )
    role: Role = Field(description="clinician, resident or admin.")
    display_name: str | None = Field(default=None, max_length=128, description="Shown in the sidebar only.")
    supervisor: bool = Field(default=False, description="May see residents' training results.")


def may(user: User | None, permission: Permission) -> bool:
    """Whether ``user`` may do ``permission``; nobody signed in may do nothing."""
    if user is None:
        return False
    return user.role in PERMISSIONS[permission] or (user.supervisor and permission in SUPERVISOR_PERMISSIONS)


def may_view_trainee_results(viewer: User, trainee_id: str) -> bool:
    """A resident sees only their own training results; supervisors and admins see everyone's."""
    return viewer.user_id == trainee_id or may(viewer, "supervise_training")


def user_id_from_subject(subject: str) -> str:
    """The records' id for an SSO subject (``sub`` claim): itself when short and plain, else a hash.

    OpenID subjects may be up to 255 characters of anything; records keep 64 safe characters,
    so a long or unusual subject is replaced by a stable digest of it.
    """
    # fullmatch: ``$`` alone would also pass a subject ending in a line break
    if _USER_ID.fullmatch(subject):
        return subject
    return "sub-" + hashlib.sha256(subject.encode("utf-8")).hexdigest()[:40]


def role_from_claim(value: object, mapping: Mapping[str, Role]) -> Role | None:
    """The role a claim value grants: the highest of the mapped values (admin > clinician > resident).

    Args:
        value: the claim as the provider sent it: a string, or a list of strings (groups, roles).
        mapping: claim value -> role, e.g. ``{"dcm-admins": "admin"}``.

    Returns:
        The role, or ``None`` when nothing in the claim is mapped (the person gets no access).
    """
    values = [value] if isinstance(value, str) else list(value) if isinstance(value, list | tuple) else []
    granted = {mapping[item] for item in values if isinstance(item, str) and item in mapping}
    for role in _RANK:
        if role in granted:
            return role
    return None
