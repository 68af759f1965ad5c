"""Local accounts, password hashes, sign-in settings and the administrator's 'users' commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from myelo_cds.auth import Role, User, may, role_from_claim, user_id_from_subject
from myelo_cds.auth import _passwords as passwords
from myelo_cds.records import RecordError, Store
from myelo_cds.settings import SettingsError, auth_settings

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long clinic passphrase"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'records.sqlite3'}")


def test_password_hashes_are_argon2id_salted_per_hash_and_verify() -> None:
    first, second = passwords.hash_password(PASSWORD), passwords.hash_password(PASSWORD)
    assert first.startswith("$argon2id$")
    assert first != second, "a new random salt each time"
    assert passwords.verify(first, PASSWORD)
    assert not passwords.verify(first, PASSWORD + "x")
    assert not passwords.verify(None, PASSWORD), "no account never signs in"
    assert not passwords.verify("not a hash", PASSWORD)


def test_a_short_padded_or_common_password_is_refused_without_repeating_it() -> None:
    # "password1234" was accepted before issue 14 (NIST SP 800-63B-4: 15+ characters, a blocklist)
    for bad in ("short", "password1234", "password12345678", " " + PASSWORD, "x" * 2000):
        with pytest.raises(passwords.PasswordError) as refused:
            passwords.hash_password(bad)
        assert bad not in str(refused.value)


def test_the_database_holds_the_hash_never_the_password(store: Store, tmp_path: Path) -> None:
    store.add_account("dr.lee", "clinician", actor="test", password=PASSWORD)
    store.close()
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("records.sqlite3*"))
    assert PASSWORD.encode() not in raw
    assert b"$argon2id$" in raw


def test_sign_in_checks_password_and_disabled_flag_and_audits_each_attempt(store: Store) -> None:
    store.add_account("dr.lee", "clinician", actor="admin.ng", password=PASSWORD, supervisor=True)
    assert store.sign_in("dr.lee", PASSWORD) == User(user_id="dr.lee", role="clinician", supervisor=True)
    assert store.sign_in("dr.lee", "wrong password!") is None
    assert store.sign_in("Dr. Jane Doe", PASSWORD) is None
    store.set_disabled("dr.lee", True, actor="admin.ng")
    assert store.sign_in("dr.lee", PASSWORD) is None
    events = [(e.action, e.actor) for e in store.audit_events()][::-1]
    assert events == [
        ("account_create", "admin.ng"),
        ("sign_in", "dr.lee"),
        ("sign_in_refused", "dr.lee"),
        ("sign_in_refused", "unknown"),
        ("account_change", "admin.ng"),
        ("sign_in_refused", "dr.lee"),
    ]
    assert "Jane" not in str(store.audit_events())


def test_an_sso_account_has_no_password_and_cannot_sign_in_locally(store: Store) -> None:
    account = store.add_account("8f2c1e", "resident", actor="admin.ng")
    assert account.sso
    assert store.sign_in("8f2c1e", "") is None


def test_account_ids_roles_and_duplicates_are_refused_with_what_is_allowed(store: Store) -> None:
    with pytest.raises(RecordError, match="letters, digits"):
        store.add_account("Jane Doe", "clinician", actor="t", password=PASSWORD)
    with pytest.raises(RecordError, match="clinician, resident, admin"):
        store.add_account("dr.lee", "surgeon", actor="t", password=PASSWORD)
    store.add_account("dr.lee", "clinician", actor="t", password=PASSWORD)
    with pytest.raises(RecordError, match="exists already"):
        store.add_account("dr.lee", "admin", actor="t", password=PASSWORD)
    with pytest.raises(RecordError, match="no account"):
        store.set_role("nobody", "admin", actor="t")


def test_roles_decide_permissions() -> None:
    clinician, resident, admin = (User(user_id="u", role=r) for r in ("clinician", "resident", "admin"))
    assert may(admin, "view_audit")
    assert not may(clinician, "view_audit")
    assert may(clinician, "save_record")
    assert not may(resident, "save_record")
    assert may(resident, "consult")
    assert not may(None, "consult")


def test_a_role_claim_maps_to_the_highest_mapped_role_or_none() -> None:
    mapping: dict[str, Role] = {"spine-admins": "admin", "spine-trainees": "resident"}
    assert role_from_claim(["spine-trainees", "spine-admins"], mapping) == "admin"
    assert role_from_claim("spine-trainees", mapping) == "resident"
    assert role_from_claim(["admin"], mapping) is None, "only configured values grant a role"
    assert role_from_claim(None, mapping) is None
    assert role_from_claim({"spine-admins": 1}, mapping) is None


def test_a_long_or_unusual_sso_subject_becomes_a_stable_short_id() -> None:
    assert user_id_from_subject("8f2c1e") == "8f2c1e"
    long = "x" * 200 + "|tenant"
    assert user_id_from_subject(long) == user_id_from_subject(long)
    assert len(user_id_from_subject(long)) <= 64
    User(user_id=user_id_from_subject(long), role="clinician")


def test_settings_from_environment_win_over_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "myelo_cds.toml"
    config.write_text(
        'auth = "oidc"\noidc_role_source = "claim"\noidc_role_claim = "groups"\n'
        'oidc_role_map = { spine-consultants = "clinician" }\n'
    )
    settings = auth_settings({"MYELO_CDS_CONFIG": str(config), "MYELO_CDS_OIDC_ROLE_CLAIM": "roles"})
    assert (settings.auth, settings.oidc_role_source, settings.oidc_role_claim) == ("oidc", "claim", "roles")
    assert auth_settings({}).auth == "local", "a server with nothing set asks for sign-in"
    assert auth_settings({"MYELO_CDS_OIDC_ROLE_MAP": "a=admin, b = resident"}).oidc_role_map == {
        "a": "admin",
        "b": "resident",
    }


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"MYELO_CDS_AUTH": "off"}, "MYELO_CDS_AUTH"),
        ({"MYELO_CDS_DEV_ROLE": "root"}, "MYELO_CDS_DEV_ROLE"),
        ({"MYELO_CDS_OIDC_ROLE_MAP": "admins"}, "MYELO_CDS_OIDC_ROLE_MAP"),
        ({"MYELO_CDS_OIDC_ROLE_MAP": "admins=boss"}, "MYELO_CDS_OIDC_ROLE_MAP"),
        ({"MYELO_CDS_CONFIG": "/nonexistent/myelo.toml"}, "MYELO_CDS_CONFIG"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        auth_settings(environ)


def _users(tmp_path: Path, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    environment = {"MYELO_CDS_DB_PATH": str(tmp_path / "records.sqlite3"), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "myelo_cds", "users", *args],
        input=None if password is None else password + "\n",
        capture_output=True, text=True, cwd=ROOT, env=environment, check=False,
    )  # fmt: skip


def test_the_users_command_adds_lists_changes_and_disables_accounts(tmp_path: Path) -> None:
    added = _users(tmp_path, "add", "dr.lee", "--role", "clinician", "--password-stdin", password=PASSWORD)
    assert added.returncode == 0, added.stderr
    assert _users(tmp_path, "add", "8f2c1e", "--role", "admin", "--sso", "--supervisor").returncode == 0
    assert _users(tmp_path, "set-role", "dr.lee", "--role", "resident").returncode == 0
    assert _users(tmp_path, "disable", "8f2c1e").returncode == 0
    listed = _users(tmp_path, "list")
    assert listed.stdout.splitlines() == ["8f2c1e\tadmin\tsupervisor,sso,disabled", "dr.lee\tresident\t"]
    store = Store(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    assert store.sign_in("dr.lee", PASSWORD) == User(user_id="dr.lee", role="resident")
    assert store.audit_events(100)[-1].actor.startswith("cli")


def test_the_users_command_refuses_bad_input_with_exit_2(tmp_path: Path) -> None:
    short = _users(tmp_path, "add", "dr.lee", "--role", "clinician", "--password-stdin", password="short")
    assert short.returncode == 2
    assert "at least 15 characters" in short.stderr
    assert _users(tmp_path, "add", "x", "--role", "boss", "--sso").returncode == 2
    assert _users(tmp_path, "passwd", "nobody", "--password-stdin", password=PASSWORD).returncode == 2


# --- user ids that differ only in case (issue 14: dr.lee / Dr.Lee) ----------------------------


def test_an_account_differing_only_in_case_from_another_is_refused(store: Store) -> None:
    store.add_account("dr.lee", "clinician", actor="t", password=PASSWORD)
    for spelling in ("Dr.Lee", "DR.LEE"):
        with pytest.raises(RecordError, match=r"account dr\.lee exists already .*without regard to case"):
            store.add_account(spelling, "admin", actor="t", password=PASSWORD)
        with pytest.raises(RecordError, match="exists already"):
            store.add_account(spelling, "admin", actor="t")  # an SSO subject too
    assert [account.user_id for account in store.accounts()] == ["dr.lee"]


def test_a_local_sign_in_finds_the_account_by_either_spelling(store: Store) -> None:
    store.add_account("Dr.Lee", "clinician", actor="t", password=PASSWORD)
    for spelling in ("Dr.Lee", "dr.lee", "DR.LEE"):
        assert store.sign_in(spelling, PASSWORD) == User(user_id="Dr.Lee", role="clinician")
    assert {e.actor for e in store.audit_events() if e.action == "sign_in"} == {"Dr.Lee"}
    store.add_account("dr.kim", "clinician", actor="t", password=PASSWORD)
    assert "dr.\u212aim".lower() == "dr.kim"
    assert store.sign_in("dr.\u212aim", PASSWORD) is None, "no Unicode folding (a Kelvin sign for K)"


def test_administrators_change_an_account_by_either_spelling(store: Store) -> None:
    store.add_account("Dr.Lee", "clinician", actor="t", password=PASSWORD)
    assert store.set_role("dr.lee", "admin", actor="t").user_id == "Dr.Lee"
    store.set_disabled("DR.LEE", True, actor="t")
    account = store.account("Dr.Lee")
    assert account is not None
    assert account.disabled
    assert store.audit_events(1)[0].detail == "Dr.Lee: disabled"


def test_a_password_holding_the_user_name_is_refused_for_that_account(store: Store) -> None:
    with pytest.raises(RecordError, match="password refused: a password may not contain the user name"):
        store.add_account("res.kim", "resident", actor="t", password="I am Res.Kim on the ward")
    store.add_account("res.kim", "resident", actor="t", password=PASSWORD)
    with pytest.raises(RecordError, match="user name"):
        store.set_password("res.kim", "res.kim res.kim res.kim", actor="t")


def test_the_users_command_applies_the_policy_with_the_user_name(tmp_path: Path) -> None:
    common = _users(
        tmp_path, "add", "dr.lee", "--role", "clinician", "--password-stdin", password="Password1234567"
    )
    assert common.returncode == 2
    assert "commonly used" in common.stderr
    assert "Password1234567" not in common.stderr
    named = _users(
        tmp_path, "add", "dr.lee", "--role", "clinician", "--password-stdin", password="dr.lee on call today"
    )
    assert named.returncode == 2
    assert "user name" in named.stderr
    assert (
        not (tmp_path / "records.sqlite3").exists()
        or not Store(f"sqlite:///{tmp_path / 'records.sqlite3'}").accounts()
    ), "nothing was created"


def test_the_users_command_unlocks_a_name_after_failed_sign_ins(tmp_path: Path) -> None:
    from myelo_cds.auth import SignInThrottled

    assert (
        _users(
            tmp_path, "add", "dr.lee", "--role", "clinician", "--password-stdin", password=PASSWORD
        ).returncode
        == 0
    )
    store = Store(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    for _ in range(4):
        assert store.sign_in("dr.lee", "not the passphrase at all") is None
    with pytest.raises(SignInThrottled):
        store.sign_in("dr.lee", PASSWORD)
    unlocked = _users(tmp_path, "unlock", "Dr.Lee")
    assert unlocked.returncode == 0, unlocked.stderr
    assert store.sign_in("dr.lee", PASSWORD) == User(user_id="dr.lee", role="clinician")
