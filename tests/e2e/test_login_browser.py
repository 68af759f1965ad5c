"""Sign-in in Chromium: local accounts, and single sign-on against a local OpenID provider.

The provider is ``oidc-provider-mock`` on loopback; Streamlit's own ``st.login``/``st.logout``
run the whole authorization-code flow through the browser.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from oidc_provider_mock import User as ProviderUser
from oidc_provider_mock import run_server_in_thread
from playwright.sync_api import Page, expect

from myelo_cds import Findings, assess
from myelo_cds.findings import example_cases
from myelo_cds.records import Store
from tests.e2e.conftest import screenshot
from tests.e2e.consult_steps import load_example
from tests.e2e.live_app import free_port, live_app, sso_secrets
from tests.e2e.script_runs import wait_until_idle

PASSWORD = "a long clinic passphrase"
PATIENT = "PT-SECRET-0042"


@pytest.fixture(scope="module")
def local_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("local-sign-in")
    store = Store(f"sqlite:///{folder / 'records.sqlite3'}")
    store.add_account("dr.lee", "clinician", actor="test", password=PASSWORD, display_name="Dr Lee")
    store.add_account("res.kim", "resident", actor="test", password=PASSWORD)
    findings = Findings.model_validate(json.loads(example_cases()["mild_dcm"]))
    store.save_assessment(findings, assess(findings), patient_id=PATIENT, author="dr.lee")
    store.close()
    with live_app(folder / "records.sqlite3", folder / "server.log", env={"MYELO_CDS_AUTH": "local"}) as url:
        yield url


def _sign_in(page: Page, user_id: str, password: str) -> None:
    page.get_by_label("User name").fill(user_id)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.parametrize("path", ["/", "/timeline", "/worklist", "/audit", "/consult"])
def test_an_unauthenticated_browser_never_reaches_a_patient_page(
    page: Page, local_app: str, path: str
) -> None:
    page.goto(local_app + path)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    wait_until_idle(page)  # the run drew all it will draw
    body = page.locator("body").inner_text()
    assert PATIENT not in body
    for heading in ("Patient timeline", "Clinic worklist", "Audit log", "Consult"):
        assert page.get_by_role("heading", name=heading).count() == 0
    if path == "/timeline":
        screenshot(page, "sign_in_instead_of_timeline")


def test_a_deep_link_as_the_first_request_to_a_fresh_server_gets_the_sign_in_page(
    page: Page, tmp_path: Path
) -> None:
    """Before the router has run once, Streamlit would run pages/audit.py alone (its old pages
    folder mode); the page sends the request back through the router."""
    Store(f"sqlite:///{tmp_path / 'records.sqlite3'}").add_account(
        "admin.ng", "admin", actor="test", password=PASSWORD
    )
    with live_app(
        tmp_path / "records.sqlite3", tmp_path / "server.log", env={"MYELO_CDS_AUTH": "local"}
    ) as url:
        page.goto(url + "/audit")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        wait_until_idle(page)
        assert page.get_by_role("heading", name="Audit log").count() == 0
        nav = page.get_by_test_id("stSidebarNav")
        assert nav.count() == 0 or "audit" not in nav.inner_text().lower()


def test_local_sign_in_then_pages_by_role_then_sign_out(page: Page, local_app: str) -> None:
    page.goto(local_app)
    _sign_in(page, "dr.lee", "not the password")
    expect(page.get_by_text("Wrong user name or password, or the account is disabled.")).to_be_visible()
    _sign_in(page, "dr.lee", PASSWORD)
    expect(page.get_by_role("heading", name="Consult")).to_be_visible()
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar).to_contain_text("Signed in: Dr Lee (clinician)")
    expect(sidebar.get_by_text("Audit log")).to_have_count(0)
    sidebar.get_by_text("Patient timeline").click()
    expect(page.get_by_role("heading", name="Patient timeline")).to_be_visible()
    screenshot(page, "signed_in_clinician_timeline")
    sidebar.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_test_id("stSidebar").get_by_text("Patient timeline")).to_have_count(0)


def test_a_resident_signed_in_has_no_save_button(page: Page, local_app: str) -> None:
    page.goto(local_app)
    _sign_in(page, "res.kim", PASSWORD)
    expect(page.get_by_role("heading", name="Consult")).to_be_visible()
    load_example(page, "mild_dcm")
    expect(page.get_by_text("does not save to the record: a clinician saves it")).to_be_visible()
    assert page.get_by_role("button", name="Save this assessment to the record").count() == 0


@pytest.fixture(scope="module")
def sso_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("sso")
    users = [ProviderUser(sub="8f2c1e", claims={"name": "Dr Lee", "email": "lee@hospital.example",
                                                "roles": ["clinician"]})]  # fmt: skip
    with run_server_in_thread(free_port(), user_claims=users) as provider:
        port = free_port()
        options = sso_secrets(folder, app_port=port, provider_port=provider.server_port)
        environment = {"MYELO_CDS_AUTH": "oidc", "MYELO_CDS_OIDC_ROLE_SOURCE": "claim",
                       "MYELO_CDS_OIDC_ROLE_MAP": "clinician=clinician"}  # fmt: skip
        with live_app(
            folder / "records.sqlite3", folder / "server.log", port=port,
            options=options, env=environment, measured=True,
        ) as url:  # fmt: skip
            yield url


def test_single_sign_on_login_and_logout_in_the_browser(page: Page, sso_app: str) -> None:
    page.goto(sso_app)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_role("button", name="Sign in with the hospital's single sign-on").click()
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()
    asked = parse_qs(urlparse(page.url).query)
    assert asked["scope"] == ["openid profile"], "only the claims the app uses"
    screenshot(page, "sso_provider_authorize")
    page.get_by_role("button", name="8f2c1e").click()
    expect(page.get_by_role("heading", name="Consult")).to_be_visible()
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Signed in: Dr Lee (clinician)")
    screenshot(page, "sso_signed_in_consult")
    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    # Streamlit sends the browser to the provider's end-session endpoint, which comes back.
    expect(page.get_by_role("heading", name="End Session")).to_be_visible()
    page.get_by_role("button", name="End session").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in with the hospital's single sign-on")).to_be_visible()


def test_the_sso_login_path_without_the_provider_session_stays_signed_out(page: Page, sso_app: str) -> None:
    page.goto(sso_app + "/timeline")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.get_by_role("heading", name="Patient timeline").count() == 0
