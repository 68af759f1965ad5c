"""Tables offer no export of their own (issue 14), in Chromium.

A table's built-in toolbar ("Download as CSV") handed the worklist to any role, without the role
check, the audit event or formula neutralisation of the app's own export button. The shipped
``.streamlit/config.toml`` sets ``client.disableDataExport``; the same page on a server started
with it turned off shows the button, so the check below can see it when it is there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from myelo_cds import Findings, assess
from myelo_cds.findings import example_cases
from myelo_cds.records import Store
from tests.e2e.conftest import screenshot
from tests.e2e.live_app import live_app


def _records(folder: Path) -> Path:
    path = folder / "records.sqlite3"
    findings = Findings.model_validate(json.loads(example_cases()["mild_dcm"]))
    Store(f"sqlite:///{path}").save_assessment(
        findings, assess(findings), patient_id="PT-EXPORT-1", author="dr.lee"
    )
    return path


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("export-shipped")
    with live_app(_records(folder), folder / "server.log", env={"MYELO_CDS_AUTH": "none"}) as url:
        yield url


def _toolbar(page: Page, url: str) -> None:
    """Open the worklist and show its table's toolbar (it appears on hover)."""
    page.goto(url + "/worklist")
    expect(page.get_by_role("heading", name="Clinic worklist")).to_be_visible()
    table = page.get_by_test_id("stDataFrame").first
    expect(table).to_be_visible()
    table.hover()
    expect(page.get_by_test_id("stElementToolbar").first).to_be_visible()


def test_the_worklist_table_has_no_download_of_its_own(page: Page, shipped: str) -> None:
    _toolbar(page, shipped)
    toolbar = page.get_by_test_id("stElementToolbar").first
    expect(toolbar.get_by_role("button", name="Search")).to_be_visible()  # the toolbar is there
    expect(toolbar.get_by_role("button", name="Download as CSV")).to_have_count(0)
    screenshot(page, "worklist_toolbar_without_export")


def test_the_check_sees_the_download_when_export_is_left_on(page: Page, tmp_path: Path) -> None:
    with live_app(
        _records(tmp_path), tmp_path / "server.log", env={"MYELO_CDS_AUTH": "none"},
        options=["--client.disableDataExport", "false"],
    ) as url:  # fmt: skip
        _toolbar(page, url)
        toolbar = page.get_by_test_id("stElementToolbar").first
        expect(toolbar.get_by_role("button", name="Download as CSV")).to_be_visible()
