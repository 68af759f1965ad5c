"""Password hashes and the password policy for local accounts: Argon2id with a random salt per
hash (argon2-cffi), and the rules of NIST SP 800-63B-4 (August 2025) for a new password.

Pure: no storage. The encoded hash carries its own salt and cost parameters, so a later change
of parameters is picked up by :func:`needs_rehash` at the next successful sign-in.

The policy follows NIST SP 800-63B-4, section 3.1.1.2 (passwords), for a password that is the
only factor of a sign-in (local accounts have no second factor):

- at least 15 characters; at most 1,024 (the standard asks to allow at least 64);
- every printable character is allowed, spaces included; no composition rules (no "one digit,
  one capital");
- refused when it is on a blocklist of commonly used or compromised passwords
  (``data/passwords/common-passwords.txt``), also after digits or symbols are stripped from its
  ends, look-alike digits are read as letters or a repeated part is reduced to one copy
  ("Password1234567", "p4ssw0rdp4ssw0rd");
- refused when it holds a context-specific word: the user name or the app's name;
- refused when it is one repeated or sequential run of characters ("aaaaaaaaaaaaaaa",
  "123456789012345", "qwertyuiopasdfg");
- the message says why a password was refused and never repeats it.
"""

from __future__ import annotations

import functools
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from myelo_cds._paths import data_dir
from myelo_cds.errors import DataFileError, PasswordError

__all__ = [
    "MAX_LENGTH",
    "MIN_LENGTH",
    "PasswordError",
    "check_new_password",
    "common_passwords",
    "hash_password",
    "needs_rehash",
    "rehash",
    "verify",
]

#: NIST SP 800-63B-4 section 3.1.1.2: at least 15 characters for a single-factor password.
MIN_LENGTH = 15
#: NIST asks to allow at least 64; this is long enough for any passphrase and short enough
#: not to make hashing a way to tie up the server.
MAX_LENGTH = 1024
_APP_NAMES = ("myelo-cds", "myelocds", "myelo cds", "myelo_cds")
_BLOCKLIST = ("passwords", "common-passwords.txt")
# Runs that are easy to type and easy to guess: digits, the alphabet, the keyboard rows.
_RUNS = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm", "1qaz2wsx3edc4rfv5tgb6yhn")
_LOOK_ALIKES = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_ENDS = re.compile(r"^[\W\d_]+|[\W\d_]+$")
_MIN_DISTINCT = 5
# A user name shorter than this is too common a fragment to refuse in a password ("li").
_MIN_NAME_IN_PASSWORD = 3
# Argon2id at the OWASP Password Storage Cheat Sheet's baseline (19 MiB, 2 passes, 1 lane):
# about 50 ms a sign-in on one core, so sign-ins from many clinicians do not starve the server.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
# Verified when an account does not exist, so a wrong user id costs the same time as a wrong
# password and sign-in does not reveal which ids exist.
_DUMMY = _HASHER.hash("not-a-password-of-anyone")


@functools.cache
def common_passwords() -> frozenset[str]:
    """The blocklist of common passwords (lower case), read once from ``data/passwords``.

    Raises:
        DataFileError: the file is missing or empty (then no password can be set: fail closed).
    """
    path = data_dir().joinpath(*_BLOCKLIST)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        raise DataFileError(
            f"{path}: the common-password list is missing; reinstall data/passwords"
        ) from None
    words = frozenset(line.strip().casefold() for line in lines if line.strip() and not line.startswith("#"))
    if not words:
        raise DataFileError(f"{path}: the common-password list is empty")
    return words


def _unrepeated(text: str) -> str:
    """``text`` reduced to its repeated unit: ``abcabcabc`` -> ``abc``."""
    for size in range(1, len(text) // 2 + 1):
        if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
            return text[:size]
    return text


def _candidates(password: str) -> set[str]:
    """The forms of a password an attacker's list would also try."""
    folded = password.casefold()
    forms = {folded, _ENDS.sub("", folded), folded.translate(_LOOK_ALIKES), re.sub(r"[\W\d_]+", "", folded)}
    forms |= {_unrepeated(form) for form in list(forms)}
    forms |= {_ENDS.sub("", form) for form in list(forms)}
    return {form for form in forms if form}


def _is_run(password: str) -> bool:
    folded = password.casefold().replace(" ", "")
    if len(set(folded)) < _MIN_DISTINCT:
        return True
    return any(folded in run * 4 or folded in run[::-1] * 4 for run in _RUNS)


def check_new_password(password: str, *, user_id: str | None = None) -> str:
    """The password if it may be set, else :class:`PasswordError` saying why (never repeating it).

    Args:
        password: the new password as typed.
        user_id: the account's user name; a password holding it is refused.

    Raises:
        PasswordError: too short or long, spaces at an end, common, a simple run of
            characters, or holding the user name or the app's name.
        DataFileError: the common-password list is missing.
    """
    if len(password) < MIN_LENGTH:
        raise PasswordError(
            f"a password needs at least {MIN_LENGTH} characters (NIST SP 800-63B-4);"
            " a phrase of a few unrelated words is long and easy to remember"
        )
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"a password has at most {MAX_LENGTH} characters")
    if password.strip() != password:
        raise PasswordError("a password may not start or end with a space")
    folded = password.casefold()
    if user_id and len(user_id) >= _MIN_NAME_IN_PASSWORD and user_id.casefold() in folded:
        raise PasswordError("a password may not contain the user name")
    if any(name in folded for name in _APP_NAMES):
        raise PasswordError("a password may not contain the app's name (myelo-cds)")
    if _is_run(password):
        raise PasswordError(
            "a password may not be one repeated character or a simple run such as 123456... or qwerty..."
        )
    if _candidates(password) & common_passwords():
        raise PasswordError(
            "this is a commonly used password (or one with only digits, symbols or a repeat added):"
            " choose another, e.g. a phrase of a few unrelated words"
        )
    return password


def hash_password(password: str, *, user_id: str | None = None) -> str:
    """An Argon2id hash of a checked new password (salt and parameters included)."""
    return _HASHER.hash(check_new_password(password, user_id=user_id))


def rehash(password: str) -> str:
    """A new Argon2id hash (today's parameters) of a password that has just verified.

    Not checked against today's policy: the password met the policy when it was set, and a
    sign-in must not fail because the policy grew stricter since (the administrator asks for a
    new password with ``users passwd`` instead).
    """
    return _HASHER.hash(password)


def verify(encoded: str | None, password: str) -> bool:
    """Whether ``password`` matches ``encoded``; ``None`` (no such account) costs the same and fails."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(encoded or _DUMMY, password) and encoded is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(encoded: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(encoded)
