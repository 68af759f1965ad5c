"""Issue 14 under AppTest, against a real SQLite record database: a draft link opens nothing of
another user's consult; sign-out and the idle and absolute time limits leave nothing of the
consult in the tab (session state, ``?draft=`` token, the draft itself, download links).

Each test reproduces what the attack did: a resident opened a clinician's ``?draft=`` link; the
next person on a ward computer found the previous clinician's consult; a tab stayed signed in
after 240 s idle.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from myelo_cds.auth import User
from myelo_cds.errors import SettingsError
from myelo_cds.findings import example_cases, field_spec
from myelo_cds.records import Store
from myelo_cds.settings import SessionSettings, auth_settings, session_settings
from myelo_cds.ui.consult_form import KEY, _flatten, _to_widget
from myelo_cds.ui.downloads import audited_file
from myelo_cds.ui.session import LAST_ACTIVE, SIGNED_IN_AT, limit_passed

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long clinic passphrase"
CLINICIAN = User(user_id="dr.lee", role="clinician")
RESIDENT = User(user_id="res.kim", role="resident")
AGE = "f.patient.age_years"
CASE_ID = "f.case_id"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    path = tmp_path / "records.sqlite3"
    monkeypatch.setenv("MYELO_CDS_DB_PATH", str(path))
    monkeypatch.setenv("MYELO_CDS_AUTH", "local")
    for name in ("SESSION_IDLE_MINUTES", "SESSION_MAX_HOURS", "DRAFT_HOURS", "CONFIG"):
        monkeypatch.delenv("MYELO_CDS_" + name, raising=False)
    store = Store(f"sqlite:///{path}")
    store.add_account("dr.lee", "clinician", actor="test", password=PASSWORD)
    store.add_account("res.kim", "resident", actor="test", password=PASSWORD)
    return store


def _app(user: User | None = None, *, draft: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if user is not None:
        at.session_state["myelo_cds.user"] = user
    if draft is not None:
        at.query_params["draft"] = draft
    at.run()
    assert not at.exception
    return at


def _token(at: AppTest) -> str | None:
    token = at.query_params.get("draft")
    return str(token[0] if isinstance(token, list) else token) if token else None


def _form_keys(at: AppTest) -> list[str]:
    return [key for key in at.session_state if isinstance(key, str) and key.startswith(KEY)]


def _fill(at: AppTest, case_id: str = "PT-0042", age: int = 71) -> None:
    at.text_input(key=CASE_ID).input(case_id)
    at.number_input(key=AGE).set_value(age)
    at.run()
    assert not at.exception


def _sign_in(at: AppTest, user_id: str) -> AppTest:
    next(box for box in at.text_input if box.label == "User name").input(user_id)
    next(box for box in at.text_input if box.label == "Password").input(PASSWORD)
    next(button for button in at.button if button.label == "Sign in").click()
    at.run()
    at.run()  # the session's next run draws the signed-in pages
    assert not at.exception
    return at


def _sign_out(at: AppTest) -> AppTest:
    next(button for button in at.sidebar.button if button.label == "Sign out").click()
    at.run()
    assert not at.exception
    return at


def _shown(at: AppTest) -> str:
    kinds = ("markdown", "caption", "title", "info", "warning", "error", "success", "text", "code")
    parts: list[Any] = [element.value for kind in kinds for element in getattr(at, kind)]
    parts += [box.value for box in at.text_input] + [box.value for box in at.number_input]
    return "\n".join(str(part) for part in parts)


# --- a draft URL is not a credential ---------------------------------------------------------


def test_a_resident_opening_a_clinicians_draft_link_gets_an_empty_form(database: Store) -> None:
    clinician = _app(CLINICIAN)
    _fill(clinician)
    token = _token(clinician)
    assert token is not None
    kept = database.load_draft(token, owner="dr.lee")
    assert kept == {"case_id": "PT-0042", "patient": {"age_years": 71}}

    resident = _app(RESIDENT, draft=token)
    assert resident.title[0].value == "Consult"
    assert resident.text_input(key=CASE_ID).value in ("", None)
    assert resident.number_input(key=AGE).value is None
    assert "PT-0042" not in _shown(resident)
    assert _token(resident) not in (None, token), "the resident's tab gets a token of its own"

    _fill(resident, case_id="PT-PLANT", age=30)  # the resident's edits go to the resident's draft
    assert database.load_draft(token, owner="dr.lee") == kept
    assert database.load_draft(token, owner="res.kim") is None


def test_the_clinicians_own_link_restores_their_draft(database: Store) -> None:
    first = _app(CLINICIAN)
    _fill(first)
    token = _token(first)
    reloaded = _app(CLINICIAN, draft=token)
    assert reloaded.text_input(key=CASE_ID).value == "PT-0042"
    assert reloaded.number_input(key=AGE).value == 71
    assert _token(reloaded) == token


@pytest.mark.parametrize("token", ["never-issued-" + "z" * 20, "short", "bad token!"])
def test_an_unknown_or_malformed_draft_link_gets_a_fresh_token(database: Store, token: str) -> None:
    at = _app(CLINICIAN, draft=token)
    assert at.title[0].value == "Consult"
    assert _token(at) not in (None, token)
    assert at.number_input(key=AGE).value is None


def test_an_expired_draft_link_gets_a_fresh_token_and_an_empty_form(
    database: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYELO_CDS_DRAFT_HOURS", "0.0003")  # about a second
    first = _app(CLINICIAN)
    _fill(first)
    token = _token(first)
    time.sleep(1.5)
    reloaded = _app(CLINICIAN, draft=token)
    assert reloaded.number_input(key=AGE).value is None
    assert _token(reloaded) not in (None, token)


def test_saving_the_consult_deletes_its_draft(database: Store) -> None:
    at = AppTest.from_file(str(ROOT / "pages" / "consult.py"), default_timeout=60)
    at.session_state["myelo_cds.user"] = CLINICIAN
    for path, value in _flatten(json.loads(example_cases()["mild_dcm"])):
        at.session_state[KEY + path] = _to_widget(field_spec(path), value)
    at.run()
    token = _token(at)
    assert token is not None
    assert database.load_draft(token, owner="dr.lee") is not None
    next(b for b in at.button if b.label == "Save this assessment to the record").click().run()
    assert not at.exception
    assert at.success, "saved"
    assert database.load_draft(token, owner="dr.lee") is None
    at.run()  # the unchanged form is not written back as a draft
    assert database.load_draft(token, owner="dr.lee") is None


# --- sign-out leaves nothing -----------------------------------------------------------------


def test_sign_out_then_sign_in_shows_an_empty_form(database: Store) -> None:
    at = _sign_in(_app(), "dr.lee")
    assert at.title[0].value == "Consult"
    _fill(at)
    token = _token(at)
    assert token is not None
    assert database.load_draft(token, owner="dr.lee") is not None

    _sign_out(at)
    assert at.title[0].value == "Sign in"
    assert "draft" not in at.query_params
    assert not _form_keys(at)
    assert "myelo_cds.user" not in at.session_state
    assert database.load_draft(token, owner="dr.lee") is None, "the draft went with the sign-in"
    event = database.audit_events(1)[0]
    assert (event.action, event.actor, event.detail) == ("sign_out", "dr.lee", "sign-out")

    _sign_in(at, "res.kim")
    assert at.title[0].value == "Consult"
    assert at.text_input(key=CASE_ID).value in ("", None)
    assert at.number_input(key=AGE).value is None
    assert "PT-0042" not in _shown(at)
    assert _token(at) not in (None, token)


def test_a_download_link_drawn_before_sign_out_is_refused_after(database: Store) -> None:
    at = _app(CLINICIAN)
    live = at.session_state["myelo_cds.sign_in_live"]
    build = audited_file(
        b"%PDF consult", records=database, action="export_pdf", actor="dr.lee", live=lambda: live.live
    )
    assert build() == b"%PDF consult"
    _sign_out(at)
    with pytest.raises(PermissionError, match="export_pdf: the sign-in that offered this file has ended"):
        build()
    assert [e.action for e in database.audit_events() if e.action == "export_pdf"] == ["export_pdf"]


# --- idle and absolute time limits ------------------------------------------------------------


def test_a_tab_idle_past_the_limit_is_signed_out_with_a_notice(database: Store) -> None:
    at = _sign_in(_app(), "dr.lee")
    _fill(at)
    token = _token(at)
    at.session_state[LAST_ACTIVE] = time.time() - 15 * 60 - 5
    at.run()
    assert not at.exception
    assert at.title[0].value == "Sign in"
    assert [i.value for i in at.info] == [
        "Signed out after 15 minutes without activity. Sign in again to continue."
    ]
    assert "myelo_cds.user" not in at.session_state
    assert not _form_keys(at)
    assert "draft" not in at.query_params
    assert token is not None
    assert database.load_draft(token, owner="dr.lee") is None
    event = database.audit_events(1)[0]
    assert (event.action, event.actor, event.detail) == ("sign_out", "dr.lee", "idle limit (15 minutes)")
    at.run()
    assert not at.info, "the notice is shown once"


def test_activity_within_the_idle_limit_keeps_the_sign_in(database: Store) -> None:
    at = _app(CLINICIAN)
    at.session_state[LAST_ACTIVE] = time.time() - 14 * 60
    at.run()
    assert at.title[0].value == "Consult"
    assert time.time() - at.session_state[LAST_ACTIVE] < 60, "the run counts as activity"


def test_the_idle_limit_is_the_configured_one(database: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYELO_CDS_SESSION_IDLE_MINUTES", "0.05")  # 3 seconds
    at = _app(CLINICIAN)
    assert at.title[0].value == "Consult"
    at.session_state[LAST_ACTIVE] = time.time() - 2  # the last run 2 s ago: within the limit
    at.run()
    assert at.title[0].value == "Consult"
    at.session_state[LAST_ACTIVE] = time.time() - 3.5  # idle 3.5 s, past the limit
    at.run()
    assert at.title[0].value == "Sign in"
    assert "Signed out after 0.05 minutes without activity" in at.info[0].value


def test_a_busy_tab_is_signed_out_after_the_absolute_limit(database: Store) -> None:
    at = _app(CLINICIAN)
    at.session_state[SIGNED_IN_AT] = time.time() - 12 * 3600 - 5
    at.run()
    assert at.title[0].value == "Sign in"
    assert "Signed out 12 hours after signing in" in at.info[0].value
    assert database.audit_events(1)[0].detail == "absolute limit (12 hours)"


def test_single_sign_on_is_signed_out_after_the_absolute_limit_from_the_token(
    database: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new tab does not restart the limit: the sign-in time is the identity token's."""
    monkeypatch.setenv("MYELO_CDS_AUTH", "oidc")
    monkeypatch.setenv("MYELO_CDS_OIDC_ROLE_SOURCE", "claim")
    monkeypatch.setenv("MYELO_CDS_OIDC_ROLE_MAP", "spine-consultants=clinician")
    claims = {"is_logged_in": True, "sub": "8f2c1e", "roles": ["spine-consultants"]}
    for signed_in_hours_ago, title in ((1, "Consult"), (13, "Sign in")):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.secrets["auth"] = {"cookie_secret": secrets.token_hex(32)}
        at.user = {**claims, "iat": int(time.time()) - signed_in_hours_ago * 3600}
        at.run()
        assert not at.exception
        assert at.title[0].value == title
    assert "Signed out 12 hours after signing in" in at.info[0].value
    assert not at.user.get("is_logged_in"), "st.logout ended the single sign-on identity"


def test_the_development_mode_has_no_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYELO_CDS_AUTH", "none")
    at = _app()
    at.session_state[LAST_ACTIVE] = time.time() - 24 * 3600
    at.run()
    assert at.title[0].value == "Consult"


# --- the rule and its settings ---------------------------------------------------------------


LIMITS = SessionSettings()


@pytest.mark.parametrize(("idle_seconds", "over"), [(15 * 60, False), (15 * 60 + 1, True)])
def test_the_idle_limit_is_15_minutes_by_default(idle_seconds: int, over: bool) -> None:
    now = 1_000_000.0
    notice = limit_passed(signed_in_at=now - 3600, last_active=now - idle_seconds, now=now, limits=LIMITS)
    assert (notice is not None) is over


@pytest.mark.parametrize(("age_seconds", "over"), [(12 * 3600, False), (12 * 3600 + 1, True)])
def test_the_absolute_limit_is_12_hours_by_default(age_seconds: int, over: bool) -> None:
    now = 1_000_000.0
    notice = limit_passed(signed_in_at=now - age_seconds, last_active=now, now=now, limits=LIMITS)
    assert (notice is not None) is over


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("SESSION_IDLE_MINUTES", "0", "more than 0, at most 1440"),
        ("SESSION_IDLE_MINUTES", "fifteen", "more than 0, at most 1440"),
        ("SESSION_MAX_HOURS", "200", "more than 0, at most 168"),
        ("DRAFT_HOURS", "-1", "more than 0, at most 168"),
    ],
)
def test_a_time_limit_out_of_range_is_refused_naming_the_setting(name: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError) as refused:
        session_settings({"MYELO_CDS_" + name: value})
    assert str(refused.value).startswith(f"MYELO_CDS_{name}: {value!r} is not allowed")
    assert says in str(refused.value)


def test_the_time_limits_come_from_the_config_file_too(tmp_path: Path) -> None:
    config = tmp_path / "myelo.toml"
    config.write_text('auth = "local"\nsession_idle_minutes = 5\nsession_max_hours = 8\ndraft_hours = 4\n')
    environ = {"MYELO_CDS_CONFIG": str(config)}
    assert session_settings(environ) == SessionSettings(
        session_idle_minutes=5, session_max_hours=8, draft_hours=4
    )
    assert auth_settings(environ).auth == "local", "the sign-in settings accept the file"


def test_a_time_limit_out_of_range_stops_every_page_naming_the_setting(
    database: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYELO_CDS_SESSION_IDLE_MINUTES", "0")
    at = _app(CLINICIAN)
    # the start-up refusal (myelo_cds.ui.start_up) and nothing of a page
    assert [title.value for title in at.title] == ["This server is not configured safely"]
    assert "MYELO_CDS_SESSION_IDLE_MINUTES: '0' is not allowed" in at.error[0].value
