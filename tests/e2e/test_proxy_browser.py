"""Chromium through the shipped nginx (TLS, websockets, stickiness, CSP) to two replicas.

A clinician's whole consult goes through the proxy: the page loads under the Content Security
Policy without a violation, the findings update the recommendation over the proxied websocket,
the assessment is saved, and the patient timeline (Vega charts) draws it. When the replica
serving a consult stops, the page reconnects through nginx to the other one and goes on.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.deploy_stack import DeployStack, deploy_stack
from tests.e2e.conftest import screenshot
from tests.e2e.consult_steps import (
    _number,
    _widget,
    _yes_no,
    choose_option,
    enter_moderate_dcm,
    save_to_record,
    watch_runs,
)
from tests.e2e.script_runs import rerun_after
from tests.nginx_fixture import nginx_or_fail
from tests.pg_fixture import PostgresServer


@pytest.fixture
def proxied_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A tab that accepts the test proxy's self-signed certificate; yields it and its console."""
    context = browser.new_context(viewport={"width": 1366, "height": 1400}, ignore_https_errors=True)
    page = watch_runs(context.new_page())
    page.set_default_timeout(30_000)
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    yield page, console
    context.close()


def test_a_consult_through_nginx_shows_the_recommendation_and_saves(
    proxied_page: tuple[Page, list[str]], deploy_stack: DeployStack
) -> None:
    page, console = proxied_page
    page.goto(deploy_stack.proxy.url + "/")
    enter_moderate_dcm(page)
    expect(page.get_by_text("R11 - Moderate DCM (mJOA 12-14)")).to_be_visible()
    screenshot(page, "proxy_consult_moderate_dcm")
    save_to_record(page, "PROXY-B-1", "clin-proxy")

    with rerun_after(page):
        page.get_by_test_id("stSidebarNav").get_by_text("Patient timeline").click()
    choose_option(page, "Patient (pseudonymous id)", "PROXY-B-1")
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible()
    # The mJOA chart of the visit saved a moment ago (Vega's accessible description of the SVG).
    expect(page.get_by_role("img").filter(has_text="Surgical referral").first).to_be_visible()
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    screenshot(page, "proxy_timeline")

    violations = [line for line in console if "Content Security Policy" in line or "Refused to" in line]
    # Nothing is blocked: every asset, the favicon included, is the app's own (the policy keeps
    # clinicians' browsers from calling outside, and the app asks for nothing outside).
    assert violations == [], violations
    routes = {cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "myelo_route"}
    assert len(routes) == 1


def test_a_consult_carries_on_when_its_replica_stops(
    proxied_page: tuple[Page, list[str]], postgres_server: PostgresServer
) -> None:
    nginx_or_fail()
    page, _console = proxied_page
    with deploy_stack(postgres_server.create_database()) as stack:
        page.goto(stack.proxy.url + "/")
        _number(page, "f.patient.age_years", 64)
        _yes_no(page, "f.symptoms.fever", "No")
        [route] = [cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "myelo_route"]
        # "-": answered by nginx itself (the host configuration), not by a replica.
        [serving] = {
            line.split("upstream=")[1].split()[0] for line in stack.proxy.access_log() if route in line
        } - {"-"}
        [replica] = [server for server in stack.replicas if server.url.endswith(serving.rsplit(":", 1)[1])]
        before = len(stack.proxy.access_log())
        replica.process.terminate()
        replica.process.wait(timeout=20)

        # The page reconnects through nginx to the other replica and the consult goes on, on the
        # quick consult (its key symptoms and UMN signs; no switch of view, which a new session
        # on the other replica could undo while the page reconnects).
        _yes_no(page, "f.symptoms.hand_clumsiness", "Yes")
        _yes_no(page, "f.symptoms.gait_imbalance", "Yes")
        _yes_no(page, "f.exam.umn.hoffmann_tromner", "Yes")
        expect(page.get_by_text("myelopathy: present").first).to_be_visible()
        screenshot(page, "proxy_consult_after_failover")
        expect(_widget(page, "f.patient.age_years").get_by_role("spinbutton")).to_have_value("64")
        # Requests after the stop (health polls, reconnects) were answered by the other replica.
        after = [line for line in stack.proxy.access_log()[before:] if route in line]
        answered = {line.split("upstream=")[1].split()[-1] for line in after if line.startswith("200")} - {
            "-"
        }
        assert answered, after
        assert serving not in answered, after
