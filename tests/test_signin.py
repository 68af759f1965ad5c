"""Sign-in and roles under AppTest: local accounts, single sign-on claims, the development mode.

Against a real SQLite record database; the single-sign-on identity is given the way Streamlit
gives it to a page (``st.user``), the browser flow is in ``tests/e2e/test_login_browser.py``.
"""

from __future__ import annotations

import ast
import json
import secrets
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from myelo_cds import Findings, assess
from myelo_cds.auth import User
from myelo_cds.findings import example_cases, field_spec
from myelo_cds.records import Store
from myelo_cds.ui.consult_form import KEY, _flatten, _to_widget

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long clinic passphrase"
PATIENT_PAGES = ("consult", "follow_up", "timeline", "worklist", "assess_case", "audit", "registry_audit")


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    path = tmp_path / "records.sqlite3"
    monkeypatch.setenv("MYELO_CDS_DB_PATH", str(path))
    monkeypatch.setenv("MYELO_CDS_AUTH", "local")
    store = Store(f"sqlite:///{path}")
    store.add_account("dr.lee", "clinician", actor="test", password=PASSWORD)
    store.add_account("res.kim", "resident", actor="test", password=PASSWORD)
    store.add_account("admin.ng", "admin", actor="test", password=PASSWORD)
    findings = Findings.model_validate(json.loads(example_cases()["mild_dcm"]))
    store.save_assessment(findings, assess(findings), patient_id="PT-SECRET-0042", author="dr.lee")
    return store


def _app(user: User | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if user is not None:
        at.session_state["myelo_cds.user"] = user
    at.run()
    assert not at.exception
    return at


def _everything_shown(at: AppTest) -> str:
    parts = [element.value for kind in ("markdown", "caption", "title", "info", "warning", "error",
                                        "success", "text", "code") for element in getattr(at, kind)]  # fmt: skip
    parts += [str(frame.value.to_dict()) for frame in at.dataframe]
    parts += [str(box.options) for box in at.selectbox]
    return "\n".join(str(part) for part in parts)


def _sign_in(at: AppTest, user_id: str, password: str) -> AppTest:
    next(box for box in at.text_input if box.label == "User name").input(user_id)
    next(box for box in at.text_input if box.label == "Password").input(password)
    next(button for button in at.button if button.label == "Sign in").click()
    at.run()
    assert not at.exception
    return at


def test_nobody_signed_in_sees_only_the_sign_in_page(database: Store) -> None:
    at = _app()
    assert at.title[0].value == "Sign in"
    assert "PT-SECRET-0042" not in _everything_shown(at)
    assert not at.dataframe


@pytest.mark.parametrize("name", PATIENT_PAGES)
def test_a_patient_page_run_without_sign_in_stops_before_any_patient_data(database: Store, name: str) -> None:
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert [w.value for w in at.warning] == ["Sign in to continue."]
    assert not at.title, "the page stopped before drawing anything"
    assert "PT-SECRET-0042" not in _everything_shown(at)


def _signed_in(at: AppTest) -> User:
    user = at.session_state["myelo_cds.user"]
    assert isinstance(user, User)
    return user


def test_local_sign_in_with_the_right_password_opens_the_consult(database: Store) -> None:
    at = _sign_in(_app(), "dr.lee", PASSWORD)
    assert _signed_in(at).user_id == "dr.lee"
    kept = [key for key in at.session_state if PASSWORD in str(at.session_state[key])]
    assert not kept, "the password is not kept in the session"
    assert database.audit_events(1)[0].action == "sign_in"
    at.run()  # the session's next run
    assert at.title[0].value == "Consult"
    assert any("Signed in: dr.lee (clinician)" in c.value for c in at.sidebar.markdown)


@pytest.mark.parametrize(("user_id", "password"), [("dr.lee", "wrong password!!"), ("nobody", PASSWORD)])
def test_a_wrong_password_or_name_is_refused_without_saying_which(
    database: Store, user_id: str, password: str
) -> None:
    at = _sign_in(_app(), user_id, password)
    assert "myelo_cds.user" not in at.session_state
    assert at.title[0].value == "Sign in"
    assert at.error[0].value == "Wrong user name or password, or the account is disabled."
    event = database.audit_events(1)[0]
    assert (event.action, event.actor) == ("sign_in_refused", user_id if user_id == "dr.lee" else "unknown")


def test_repeated_failures_make_the_sign_in_page_ask_for_a_wait(database: Store) -> None:
    at = _app()
    for _ in range(4):
        at = _sign_in(at, "dr.lee", "wrong password!!")
        assert at.error[0].value == "Wrong user name or password, or the account is disabled."
    at = _sign_in(at, "dr.lee", PASSWORD)  # the right password, during the wait
    assert "myelo_cds.user" not in at.session_state
    assert at.title[0].value == "Sign in"
    assert [e.value for e in at.error] == [
        "Too many failed sign-in attempts for this user name or from this computer: wait 1 s, then try"
        " again. The password was not checked. If you have forgotten it, ask an administrator to set a"
        " new one."
    ]
    kept = [key for key in at.session_state if PASSWORD in str(at.session_state[key])]
    assert not kept, "the password is not kept in the session"
    refused = [e for e in database.audit_events(20) if e.action == "sign_in_refused"]
    assert [e.detail for e in refused] == ["1 failed attempt (a new streak)"], "one row for the streak"


def test_a_user_name_signs_in_whatever_its_case(database: Store) -> None:
    at = _sign_in(_app(), "DR.Lee", PASSWORD)
    assert _signed_in(at).user_id == "dr.lee"


def test_sign_out_ends_the_sign_in(database: Store) -> None:
    at = _app(User(user_id="dr.lee", role="clinician"))
    next(button for button in at.sidebar.button if button.label == "Sign out").click()
    at.run()
    assert not at.exception
    assert "myelo_cds.user" not in at.session_state
    assert at.title[0].value == "Sign in"


def test_disabling_an_account_ends_its_running_session(database: Store) -> None:
    at = _app(User(user_id="dr.lee", role="clinician"))
    assert at.title[0].value == "Consult"
    database.set_disabled("dr.lee", True, actor="admin.ng")
    at.run()
    assert not at.exception
    assert at.title[0].value == "Sign in"
    assert "myelo_cds.user" not in at.session_state
    at = _sign_in(_app(), "dr.lee", PASSWORD)
    assert "myelo_cds.user" not in at.session_state


def test_the_audit_log_is_for_admins_only(database: Store) -> None:
    for user_id, role in (("dr.lee", "clinician"), ("res.kim", "resident")):
        at = AppTest.from_file(str(ROOT / "pages" / "audit.py"), default_timeout=60)
        at.session_state["myelo_cds.user"] = User(user_id=user_id, role=role)
        at.run()
        assert not at.exception
        assert "may not read the audit log" in at.error[0].value
        assert not at.dataframe
    at = AppTest.from_file(str(ROOT / "pages" / "audit.py"), default_timeout=60)
    at.session_state["myelo_cds.user"] = User(user_id="admin.ng", role="admin")
    at.run()
    assert not at.exception
    assert "PT-SECRET-0042" in set(at.dataframe[0].value["patient_id"])


def test_the_navigation_offers_each_role_only_its_pages(database: Store) -> None:
    for user_id, role in (("dr.lee", "clinician"), ("res.kim", "resident")):
        at = _app(User(user_id=user_id, role=role))
        assert at.title[0].value == "Consult"
        with pytest.raises(ValueError, match="registered"):
            at.switch_page("pages/audit.py")  # not a page of this session
        at.switch_page("pages/worklist.py").run()
        assert not at.exception
    at = _app(User(user_id="admin.ng", role="admin"))
    at.switch_page("pages/audit.py").run()
    assert not at.exception
    assert at.title[0].value == "Audit log"


def test_residents_train_but_neither_supervise_nor_audit_registries(database: Store) -> None:
    at = _app(User(user_id="res.kim", role="resident"))
    at.switch_page("pages/quiz.py").run()
    assert not at.exception
    assert at.title[0].value == "Training quiz"
    for page in ("pages/supervisor.py", "pages/registry_audit.py"):
        with pytest.raises(ValueError, match="registered"):
            at.switch_page(page)
    # the supervisor flag, not the role, opens the supervisor view
    database.add_account("res.lead", "resident", actor="test", password=PASSWORD, supervisor=True)
    at = _app(User(user_id="res.lead", role="resident", supervisor=True))
    at.switch_page("pages/supervisor.py").run()
    assert not at.exception
    assert at.title[0].value == "Supervisor view"
    at = _app(User(user_id="dr.lee", role="clinician"))
    at.switch_page("pages/registry_audit.py").run()
    assert not at.exception
    assert at.title[0].value == "Registry audit"


def _consult_as(user: User) -> AppTest:
    data = json.loads(example_cases()["mild_dcm"])
    at = AppTest.from_file(str(ROOT / "pages" / "consult.py"), default_timeout=60)
    at.session_state["myelo_cds.user"] = user
    for path, value in _flatten(data):
        at.session_state[KEY + path] = _to_widget(field_spec(path), value)
    at.run()
    assert not at.exception
    return at


def test_a_resident_assesses_but_does_not_save_to_the_record(database: Store) -> None:
    at = _consult_as(User(user_id="res.kim", role="resident"))
    # Mild DCM, untreated: an expedited answer (amber), shown to the resident.
    assert at.warning, "the recommendation is shown"
    assert not [b for b in at.button if b.label == "Save this assessment to the record"]
    assert any("does not save to the record" in c.value for c in at.caption)


def test_a_clinician_saves_and_the_record_names_the_signed_in_author(database: Store) -> None:
    at = _consult_as(User(user_id="dr.lee", role="clinician"))
    next(b for b in at.button if b.label == "Save this assessment to the record").click().run()
    assert not at.exception
    case_id = json.loads(example_cases()["mild_dcm"])["case_id"]
    assert [r.author for r in database.assessments(case_id)] == ["dr.lee"]


def test_a_resident_reads_the_worklist_but_cannot_export_it(database: Store) -> None:
    at = AppTest.from_file(str(ROOT / "pages" / "worklist.py"), default_timeout=60)
    at.session_state["myelo_cds.user"] = User(user_id="res.kim", role="resident")
    at.run()
    assert not at.exception
    assert not at.get("download_button")
    assert any("does not export" in c.value for c in at.caption)


def test_a_user_shaped_dict_in_the_session_key_is_not_a_sign_in(database: Store) -> None:
    """A browser can only send widget values (plain data); only a server-made User object counts."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["myelo_cds.user"] = {"user_id": "admin.ng", "role": "admin"}
    at.run()
    assert not at.exception
    assert at.title[0].value == "Sign in"


def test_no_widget_uses_the_sign_in_session_key() -> None:
    """Widget keys are values a browser sends back: none may be the key holding the signed-in user."""
    offenders = []
    for path in [*ROOT.glob("pages/*.py"), *ROOT.glob("myelo_cds/ui/*.py"), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.keyword) and node.arg == "key"):
                continue
            first = node.value.values[0] if isinstance(node.value, ast.JoinedStr) else node.value
            if isinstance(first, ast.Constant) and str(first.value).startswith("myelo_cds"):
                offenders.append(f"{path.name}: {first.value!s}")
    assert not offenders


def _sso_app() -> AppTest:
    """The router in single-sign-on mode with a random identity-cookie secret (a placeholder or
    a missing one is refused before any page: tests/test_start_up.py)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.secrets["auth"] = {"cookie_secret": secrets.token_hex(32)}
    return at


def test_single_sign_on_role_from_a_claim(database: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYELO_CDS_AUTH", "oidc")
    monkeypatch.setenv("MYELO_CDS_OIDC_ROLE_SOURCE", "claim")
    monkeypatch.setenv("MYELO_CDS_OIDC_ROLE_CLAIM", "groups")
    monkeypatch.setenv("MYELO_CDS_OIDC_ROLE_MAP", "spine-consultants=clinician,spine-trainees=resident")
    at = _sso_app()
    at.user = {"is_logged_in": True, "sub": "8f2c1e", "name": "Dr Lee", "groups": ["staff", "spine-trainees"]}
    at.run()
    assert not at.exception
    assert at.title[0].value == "Consult"
    assert any("Signed in: Dr Lee (resident)" in c.value for c in at.sidebar.markdown)


def test_single_sign_on_with_a_role_claim_honours_a_disabled_account(
    database: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: in claim mode a disabled account row still blocks the person, whatever the
    provider's claim says (the provider is often the last to hear that someone left)."""
    monkeypatch.setenv("MYELO_CDS_AUTH", "oidc")
    monkeypatch.setenv("MYELO_CDS_OIDC_ROLE_SOURCE", "claim")
    monkeypatch.setenv("MYELO_CDS_OIDC_ROLE_MAP", "it-admins=admin")
    claims = {"is_logged_in": True, "sub": "8f2c1e", "name": "Dr Gone", "roles": ["it-admins"]}
    database.add_account("8f2c1e", "clinician", actor="admin.ng")
    at = _sso_app()
    at.user = claims
    at.run()
    assert not at.exception
    assert at.title[0].value == "Consult"  # an enabled row does not change the claimed role
    assert any("Signed in: Dr Gone (admin)" in c.value for c in at.sidebar.markdown)
    database.set_disabled("8f2c1e", True, actor="admin.ng")
    at.run()
    assert not at.exception
    assert at.title[0].value == "Sign in"
    assert "PT-SECRET-0042" not in _everything_shown(at)


def test_single_sign_on_without_a_mapped_role_gets_no_page(
    database: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYELO_CDS_AUTH", "oidc")
    monkeypatch.setenv("MYELO_CDS_OIDC_ROLE_SOURCE", "claim")
    monkeypatch.setenv("MYELO_CDS_OIDC_ROLE_MAP", "spine-consultants=clinician")
    at = _sso_app()
    at.user = {"is_logged_in": True, "sub": "8f2c1e", "roles": ["visitor", "admin"]}  # neither is mapped
    at.run()
    assert not at.exception
    assert at.title[0].value == "Sign in"
    assert "no role is assigned to you" in at.error[0].value
    assert "PT-SECRET-0042" not in _everything_shown(at)


def test_single_sign_on_role_from_the_accounts_table(
    database: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYELO_CDS_AUTH", "oidc")
    for account, title in ((False, "Sign in"), (True, "Consult")):
        if account:
            database.add_account("8f2c1e", "clinician", actor="admin.ng")
        at = _sso_app()
        at.user = {"is_logged_in": True, "sub": "8f2c1e", "roles": ["admin"]}  # the claim is not used
        at.run()
        assert not at.exception
        assert at.title[0].value == title
    assert any("(clinician)" in c.value for c in at.sidebar.markdown)


def test_single_sign_on_ignores_a_local_account_and_the_session_key(
    database: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYELO_CDS_AUTH", "oidc")
    at = _sso_app()
    at.user = {"is_logged_in": False}
    at.session_state["myelo_cds.user"] = User(user_id="admin.ng", role="admin")
    at.run()
    assert not at.exception
    assert at.title[0].value == "Sign in"
    assert [b.label for b in at.button] == ["Sign in with the hospital's single sign-on"]


def test_the_development_mode_is_announced_on_every_page(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import PAGES

    monkeypatch.setenv("MYELO_CDS_AUTH", "none")
    for _section, path, *_ in PAGES:
        at = AppTest.from_file(str(ROOT / path), default_timeout=60)
        at.run()
        assert not at.exception, path
        # A page's own html elements (layout rules, the consult's keyboard legend) are not the banner.
        (banner,) = [
            body
            for element in at.get("html")
            if 'data-testid="myelo-dev-mode"' in (body := element.proto.body)
        ]
        assert "DEVELOPMENT MODE - no sign-in" in banner, path
