"""The app works with no internet (issue 16): no page asks the browser for anything outside the
app's own server (before: the favicon, a Material icon, was fetched from an outside font host,
one console error per page on a hospital network), and the favicon is served by the app."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Request

from tests.e2e.conftest import screenshot

FAVICON = Path(__file__).resolve().parents[2] / "static" / "favicon.svg"

#: Every page a clinician opens, by its url path (the consult is the default page).
PAGES = ("", "follow_up", "rules_evidence", "about", "assess_case", "timeline", "worklist", "quiz")


def _outside(app_url: str, request: Request) -> bool:
    scheme = urlsplit(request.url).scheme
    return scheme in ("http", "https", "ws", "wss") and not request.url.startswith(app_url)


@pytest.mark.parametrize("path", PAGES)
def test_no_page_fetches_anything_from_outside_the_app(browser: Browser, app_url: str, path: str) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    outside: list[str] = []
    context.on("request", lambda request: outside.append(request.url) if _outside(app_url, request) else None)
    page = context.new_page()
    page.goto(f"{app_url}/{path}")
    page.get_by_test_id("stMain").wait_for()
    page.wait_for_load_state("networkidle")
    if path == "":
        screenshot(page, "offline-consult")
    context.close()
    assert outside == [], f"/{path} asked for {outside}"


def test_the_favicon_is_the_apps_own(browser: Browser, app_url: str) -> None:
    """The icon is embedded in the page (a data URL of ``static/favicon.svg``) or served by the
    app: either way nothing is fetched from outside."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(app_url)
    page.get_by_test_id("stMain").wait_for()
    # Streamlit's page carries its own default icon (favicon.png) until the script's page
    # configuration arrives and replaces it: wait for the replacement, not only for a link.
    page.wait_for_function(
        "(() => { const link = document.querySelector('link[rel~=\"icon\"]');"
        " return link !== null && !link.href.endsWith('/favicon.png'); })()"
    )
    href: str = page.eval_on_selector('link[rel~="icon"]', "link => link.href")
    if href.startswith("data:"):
        header, payload = href.split(",", 1)
        assert header == "data:image/svg+xml;base64"
        assert base64.b64decode(payload) == FAVICON.read_bytes()
    else:
        assert href.startswith(app_url), href
        response = page.request.get(href)
        assert response.status == 200
        assert response.body() == FAVICON.read_bytes()
    context.close()
