"""A live `streamlit run` and the system Chromium driven by Playwright.

Browser tests never skip under CI: if Chromium is missing they fail with the reason.
Screenshots go to ``test-artifacts/`` (kept by CI, ignored by git).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.live_app import live_app
from tests.e2e.script_runs import watch_runs

ROOT = Path(__file__).resolve().parents[2]
# Two cores shared by test workers, a server and a browser: allow slow reruns.
expect.set_options(timeout=30_000)
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = next(
    (path for path in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if Path(path).exists()),
    "/usr/bin/chromium",
)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("streamlit")
    with live_app(folder / "records.sqlite3", folder / "server.log") as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install the Debian package 'chromium'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 1400}, accept_downloads=True)
    opened = watch_runs(context.new_page())
    opened.set_default_timeout(30_000)
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


if os.environ.get("CI") == "true" and not Path(CHROMIUM).exists():  # pragma: no cover
    raise RuntimeError("CI=true: browser tests must run, and Chromium is not installed")
