"""Password hashes for local accounts: Argon2id with a random salt per hash (argon2-cffi).

Pure: no storage. The encoded hash carries its own salt and cost parameters, so a later change
of parameters is picked up by :func:`needs_rehash` at the next successful sign-in.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from myelo_cds.errors import PasswordError

__all__ = ["MIN_LENGTH", "PasswordError", "check_new_password", "hash_password", "needs_rehash", "verify"]

#: NCSC/NIST SP 800-63B: at least 8 characters for a memorised secret; we ask 12 for staff.
MIN_LENGTH = 12
_MAX_LENGTH = 1024  # long enough for any passphrase, short enough not to be a hashing DoS
# Argon2id at the OWASP Password Storage Cheat Sheet's baseline (19 MiB, 2 passes, 1 lane):
# about 50 ms a sign-in on one core, so sign-ins from many clinicians do not starve the server.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
# Verified when an account does not exist, so a wrong user id costs the same time as a wrong
# password and sign-in does not reveal which ids exist.
_DUMMY = _HASHER.hash("not-a-password-of-anyone")


def check_new_password(password: str) -> str:
    """The password if it may be set, else :class:`PasswordError` saying what is needed."""
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > _MAX_LENGTH:
        raise PasswordError(f"a password has at most {_MAX_LENGTH} characters")
    if password.strip() != password:
        raise PasswordError("a password may not start or end with a space")
    return password


def hash_password(password: str) -> str:
    """An Argon2id hash of a checked new password (salt and parameters included)."""
    return _HASHER.hash(check_new_password(password))


def verify(encoded: str | None, password: str) -> bool:
    """Whether ``password`` matches ``encoded``; ``None`` (no such account) costs the same and fails."""
    if len(password) > _MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(encoded or _DUMMY, password) and encoded is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(encoded: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(encoded)
