"""Who may do what: roles, permissions and local-account password hashing (no Streamlit, no storage)."""

from myelo_cds.auth._passwords import (
    MIN_LENGTH,
    PasswordError,
    check_new_password,
    hash_password,
    needs_rehash,
    verify,
)
from myelo_cds.auth._roles import (
    PERMISSIONS,
    ROLES,
    SUPERVISOR_PERMISSIONS,
    Permission,
    Role,
    User,
    may,
    may_view_trainee_results,
    role_from_claim,
    user_id_from_subject,
)

__all__ = [
    "MIN_LENGTH",
    "PERMISSIONS",
    "ROLES",
    "SUPERVISOR_PERMISSIONS",
    "PasswordError",
    "Permission",
    "Role",
    "User",
    "check_new_password",
    "hash_password",
    "may",
    "may_view_trainee_results",
    "needs_rehash",
    "role_from_claim",
    "user_id_from_subject",
    "verify",
]
