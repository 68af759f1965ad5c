"""Who may do what: roles, permissions, local-account passwords (policy and hashing) and the
back-off after failed sign-ins (no Streamlit, no storage)."""

from myelo_cds.auth._backoff import ACCOUNT_BACKOFF, CLIENT_BACKOFF, Backoff, SignInThrottled
from myelo_cds.auth._passwords import (
    MAX_LENGTH,
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
    "ACCOUNT_BACKOFF",
    "CLIENT_BACKOFF",
    "MAX_LENGTH",
    "MIN_LENGTH",
    "PERMISSIONS",
    "ROLES",
    "SUPERVISOR_PERMISSIONS",
    "Backoff",
    "PasswordError",
    "Permission",
    "Role",
    "SignInThrottled",
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
