"""A disabled account stays out with single sign-on roles from a claim (issue 14), in Chromium.

The identity provider (``oidc-provider-mock`` on loopback) keeps saying the person is a clinician;
the accounts table says the account is disabled. The claim gives the role, the table still has
the last word on whether the person may sign in at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from oidc_provider_mock import User as ProviderUser
from oidc_provider_mock import run_server_in_thread
from playwright.sync_api import Page, expect

from myelo_cds.records import Store
from tests.e2e.conftest import screenshot
from tests.e2e.live_app import free_port, live_app, sso_secrets

SUBJECT = "8f2c1e"
SSO_BUTTON = "Sign in with the hospital's single sign-on"


@pytest.fixture(scope="module")
def sso_claim_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Store]]:
    folder = tmp_path_factory.mktemp("sso-disabled")
    users = [ProviderUser(sub=SUBJECT, claims={"name": "Dr Gone", "groups": ["spine-consultants"]})]
    store = Store(f"sqlite:///{folder / 'records.sqlite3'}")
    store.add_account(SUBJECT, "clinician", actor="test")  # an SSO account row, enabled for now
    with run_server_in_thread(free_port(), user_claims=users) as provider:
        port = free_port()
        options = sso_secrets(
            folder, app_port=port, provider_port=provider.server_port, scope="openid profile groups"
        )
        environment = {
            "MYELO_CDS_AUTH": "oidc",
            "MYELO_CDS_OIDC_ROLE_SOURCE": "claim",
            "MYELO_CDS_OIDC_ROLE_CLAIM": "groups",
            "MYELO_CDS_OIDC_ROLE_MAP": "spine-consultants=clinician",
        }
        with live_app(
            folder / "records.sqlite3", folder / "server.log", port=port,
            options=options, env=environment,
        ) as url:  # fmt: skip
            yield url, store


def _sign_in_with_sso(page: Page, url: str) -> None:
    page.goto(url)
    page.get_by_role("button", name=SSO_BUTTON).click()
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()
    page.get_by_role("button", name=SUBJECT).click()


def test_a_disabled_account_is_signed_out_and_stays_out_whatever_the_claim_says(
    page: Page, sso_claim_app: tuple[str, Store], tmp_path: Path
) -> None:
    url, store = sso_claim_app
    _sign_in_with_sso(page, url)
    expect(page.get_by_role("heading", name="Consult")).to_be_visible()
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Signed in: Dr Gone (clinician)")

    store.set_disabled(SUBJECT, True, actor="admin.ng")
    page.reload()  # the next run re-reads the account
    _refused(page)

    # Signed out, then a fresh sign-in with the provider, which still says "clinician": refused.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="End Session")).to_be_visible()
    page.get_by_role("button", name="End session").click()
    _sign_in_with_sso(page, url)
    _refused(page)
    screenshot(page, "sso_claim_disabled_account")


def _refused(page: Page) -> None:
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("no role is assigned to you in myelo-cds")).to_be_visible()
    expect(page.get_by_text("or your account here is disabled")).to_be_visible()
    expect(page.get_by_role("heading", name="Consult")).to_have_count(0)
    expect(page.get_by_test_id("stSidebar")).to_have_count(0)
