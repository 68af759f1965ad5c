"""Storage failures in Chromium against a real server (issue 14).

A save that the database refuses (a trigger stands in for a full disk or a broken table) shows
"Not saved" with the kind of failure, keeps the recommendation, and leaves no case id,
clinician id, findings or draft token in the server's log; a record file made read-only under
the running server turns the save button into the "cannot save" banner.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page, expect

from myelo_cds.records import Store
from tests.e2e.consult_steps import load_example, press_save
from tests.e2e.live_app import live_app

CASE_ID = "PT-WRITEFAIL-8813"
CLINICIAN = "Dr Ada Traceable"
Server = tuple[str, Path, Path]  # the app's URL, its log file, its record file


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("storage")
    path = folder / "records.sqlite3"
    Store(f"sqlite:///{path}").check_ready()  # the schema, then a trigger that refuses saves
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TRIGGER refuse_saves BEFORE INSERT ON assessments"
            " BEGIN SELECT RAISE(ABORT, 'disk I/O trouble'); END"
        )
    log = folder / "server.log"
    with live_app(path, log, env={"MYELO_CDS_AUTH": "none"}, measured=True) as url:
        yield url, log, path
    path.chmod(0o644)


@pytest.fixture(scope="module")
def read_only_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own: a file made read-only is remembered by its store for a few seconds,
    so the refused-save test must not share it (the tests run in random order)."""
    folder = tmp_path_factory.mktemp("storage-read-only")
    path = folder / "records.sqlite3"
    Store(f"sqlite:///{path}").check_ready()
    log = folder / "server.log"
    with live_app(path, log, env={"MYELO_CDS_AUTH": "none"}, measured=True) as url:
        yield url, log, path
    path.chmod(0o644)


def test_a_refused_save_says_not_saved_and_logs_no_values(page: Page, server: Server) -> None:
    url, log, _ = server
    page.goto(url)
    load_example(page, "mild_dcm")
    expect(page.get_by_test_id("stAlertContentWarning").first).to_contain_text("Surgery or supervised")
    press_save(page, CASE_ID, CLINICIAN)
    refused = page.get_by_test_id("stAlertContentError").filter(has_text="Not saved")
    expect(refused).to_contain_text("the record database could not save, nothing was saved (")
    expect(page.get_by_test_id("stAlertContentWarning").first).to_contain_text("Surgery or supervised")
    token = parse_qs(urlparse(page.url).query).get("draft", [""])[0]
    assert token, "the tab has a draft token to look for"
    text = log.read_text()
    assert text.strip(), "the server wrote its log"
    for value in (CASE_ID, CLINICIAN, token, "age_years", "disk I/O trouble"):
        assert value not in text, value


def test_a_file_made_read_only_turns_the_save_button_into_the_cannot_save_banner(
    page: Page, read_only_server: Server
) -> None:
    url, _, path = read_only_server
    path.chmod(0o444)
    page.goto(url)
    load_example(page, "mild_dcm")
    case_id = page.get_by_role("textbox", name="Pseudonymous case id (no names)")
    case_id.fill(CASE_ID)
    case_id.press("Enter")
    banner = page.get_by_test_id("stAlertContentError").filter(has_text="Cannot save to the record right now")
    expect(banner).to_contain_text("read-only (mode 444)")
    expect(page.get_by_role("button", name="Save this assessment to the record")).to_have_count(0)
    expect(page.get_by_test_id("stAlertContentWarning").first).to_contain_text("Surgery or supervised")
    path.chmod(0o644)
