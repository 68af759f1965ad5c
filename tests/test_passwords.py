"""The password policy of local accounts (NIST SP 800-63B-4, section 3.1.1.2) and its blocklist.

Each refusal reason has a case; a refusal never repeats the password; a phrase of unrelated
words is accepted whatever its characters (no composition rules).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from myelo_cds.auth import MAX_LENGTH, MIN_LENGTH, PasswordError, check_new_password, hash_password, verify
from myelo_cds.auth import _passwords as passwords

ROOT = Path(__file__).resolve().parents[1]
BLOCKLIST = ROOT / "data" / "passwords" / "common-passwords.txt"


@pytest.mark.parametrize(
    "passphrase",
    [
        "a long clinic passphrase",
        "correct horse battery staple",
        "tuesday ward round + coffee",
        "Müller sagt: Kaffee ist fertig",  # any printable character, any script
        "Zq7!kL pR2#mW9vT",  # a generated one: mixed characters are fine, never required
        "plumtractorvelvet",
    ],
)
def test_a_long_uncommon_passphrase_is_accepted(passphrase: str) -> None:
    assert check_new_password(passphrase, user_id="dr.lee") == passphrase


def test_the_minimum_is_15_characters_and_the_maximum_allows_long_passphrases() -> None:
    assert (MIN_LENGTH, MAX_LENGTH) == (15, 1024)
    assert check_new_password("plum tractor ve") == "plum tractor ve"  # exactly 15
    words = "plum tractor velvet harbour "
    long_phrase = (words * 40)[:MAX_LENGTH].strip() + "q"
    assert check_new_password(long_phrase[:MAX_LENGTH]) == long_phrase[:MAX_LENGTH]


# Each reason a password is refused, with words the message must hold.
REFUSALS = [
    ("plum tractor v", "at least 15 characters"),
    ("password1234", "at least 15 characters"),  # the example: 12 characters
    ("plum tractor velvet " * 60, f"at most {MAX_LENGTH} characters"),
    (" plum tractor velvet", "start or end with a space"),
    ("plum tractor velvet ", "start or end with a space"),
    ("my name is dr.lee, hello", "user name"),
    ("MY NAME IS DR.LEE, HELLO", "user name"),
    ("i like myelo-cds very much", "app's name"),
    ("aaaaaaaaaaaaaaaaaaaa", "repeated character or a simple run"),
    ("abababababababab", "repeated character or a simple run"),
    ("123456789012345", "repeated character or a simple run"),
    ("qwertyuiopasdfghjkl", "repeated character or a simple run"),
    ("zyxwvutsrqponmlkj", "repeated character or a simple run"),
    ("baseballbaseball", "commonly used"),  # a listed password, repeated
    ("Password1234567", "commonly used"),  # listed, digits added
    ("p4ssw0rdp4ssw0rd", "commonly used"),  # look-alike digits, repeated
    ("!!!footballfootball!!!", "commonly used"),  # symbols at the ends
    ("1qaz2wsx3edc4rfv", "simple run"),  # a keyboard walk
    ("mailcreated5240", "commonly used"),  # on the list as it is
    ("q1w2e3r4t5y6u7i8", "commonly used"),  # on the list as it is
]


@pytest.mark.parametrize(("password", "reason"), REFUSALS)
def test_each_refusal_says_why_and_never_repeats_the_password(password: str, reason: str) -> None:
    with pytest.raises(PasswordError) as refused:
        check_new_password(password, user_id="dr.lee")
    message = str(refused.value)
    assert reason in message
    assert password not in message
    assert password.strip() not in message


def test_a_short_user_name_is_not_refused_as_a_fragment_of_the_password() -> None:
    # "li" is in many words; only names of 3 characters or more are looked for.
    assert check_new_password("olive lime linen sail", user_id="li")


def test_hashing_applies_the_policy_with_the_user_name() -> None:
    with pytest.raises(PasswordError, match="user name"):
        hash_password("the account res.kim here", user_id="res.kim")
    encoded = hash_password("plum tractor velvet harbour", user_id="res.kim")
    assert verify(encoded, "plum tractor velvet harbour")


def test_a_password_set_under_an_older_policy_can_still_be_rehashed_at_sign_in() -> None:
    # Twelve characters met the old policy: a sign-in must not fail because today's is stricter.
    encoded = passwords.rehash("old12charpwd")
    assert verify(encoded, "old12charpwd")


def test_the_blocklist_names_its_source_and_licence_and_holds_30000_lowercase_passwords() -> None:
    text = BLOCKLIST.read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    header_text = "\n".join(header)
    assert "zxcvbn" in header_text
    assert "MIT" in header_text
    assert "Copyright (c) 2016 Daniel Wolf" in header_text
    words = passwords.common_passwords()
    assert len(words) == 30_000
    assert {"password", "123456", "qwerty", "letmein", "dragon"} <= words
    assert all(word == word.casefold() for word in words)


def test_a_missing_blocklist_fails_closed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from myelo_cds.errors import DataFileError

    monkeypatch.setattr(passwords, "data_dir", lambda: tmp_path)
    passwords.common_passwords.cache_clear()
    try:
        with pytest.raises(DataFileError, match="common-password list is missing"):
            check_new_password("plum tractor velvet harbour")
    finally:
        passwords.common_passwords.cache_clear()
