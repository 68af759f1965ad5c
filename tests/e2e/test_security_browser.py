"""Security in Chromium: markup in free text stays text, exports are spreadsheet-safe, uploads
are checked, sessions are kept apart, and the server log holds no identifying data.

One server in the announced development mode (admin, so every page is reachable), its log
captured to a file that the last test searches.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from myelo_cds import Findings, assess
from myelo_cds.findings import example_cases
from myelo_cds.records import Store
from myelo_cds.ui.text import WORD_JOINER
from tests.e2e.conftest import screenshot
from tests.e2e.consult_steps import choose_option, load_example, save_to_record
from tests.e2e.live_app import live_app
from tests.e2e.script_runs import wait_until_idle, watch_runs

IMG = '<img src=x onerror="alert(1);window.__xss=1">'  # fits the 64-character fields
SCRIPT = "<script>window.__xss=2;alert(2)</script>"
LINKS = "![t](http://127.0.0.1:9/t.png)[go](http://evil.example/)"
CLINICIAN = "Dr Jane Identifiable"
CASE_ID = "PT-LOGCHECK-5521"
FORMULA_ACTOR = '=HYPERLINK("http://evil.example","open")'
FORMULA_PATIENT = "-1-PT"
Server = tuple[str, Path, Store]  # the app's URL, its log file, its records


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("security")
    store = Store(f"sqlite:///{folder / 'records.sqlite3'}")
    findings = Findings.model_validate(
        {**json.loads(example_cases()["mild_dcm"]), "case_id": FORMULA_PATIENT}
    )
    store.save_assessment(findings, assess(findings), patient_id=FORMULA_PATIENT, author="dr.lee")
    store.record_event("export", actor=FORMULA_ACTOR, detail="+SUM(A1:A9)")
    log = folder / "server.log"
    with live_app(folder / "records.sqlite3", log, env={"MYELO_CDS_AUTH": "none"}, measured=True) as url:
        yield url, log, store


def _no_script_ran(page: Page, dialogs: list[str]) -> None:
    wait_until_idle(page)  # everything the last run sends is on the page
    assert page.evaluate("window.__xss") is None
    assert dialogs == []
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator("script", has_text="__xss").count() == 0
    injected = page.locator('a[href*="evil.example"], img[src*="127.0.0.1:9"]')
    assert injected.count() == 0, [
        injected.nth(i).evaluate("e => e.outerHTML") for i in range(injected.count())
    ]


def _watch_dialogs(page: Page) -> list[str]:
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return dialogs


def test_markup_typed_in_the_consult_is_shown_as_text_and_never_runs(page: Page, server: Server) -> None:
    url, _, _ = server
    dialogs = _watch_dialogs(page)
    page.goto(url)
    expect(page.get_by_text("DEVELOPMENT MODE - no sign-in")).to_be_visible()
    load_example(page, "mild_dcm")
    expect(page.get_by_test_id("stAlertContentWarning").first).to_contain_text("Surgery or supervised")
    clinician = page.get_by_role("textbox", name="Clinician id for the note (initials or staff number)")
    clinician.fill(IMG)
    clinician.press("Enter")
    page.get_by_text("Consult note as text (to copy into the record)").click()
    expect(page.get_by_test_id("stCode").filter(has_text=IMG)).to_be_visible()
    case_id = page.get_by_role("textbox", name="Pseudonymous case id (no names)")
    case_id.fill(SCRIPT)
    case_id.press("Enter")
    # Entries left out of the answer are amber (red is kept for an emergency).
    error = page.get_by_test_id("stAlertContentWarning").filter(has_text="case_id")
    expect(error).to_contain_text(SCRIPT)
    case_id.fill(LINKS)
    case_id.press("Enter")
    shown = page.get_by_test_id("stAlertContentWarning").filter(has_text="case_id")
    expect(shown).to_contain_text("evil.example")
    assert LINKS in shown.inner_text().replace(WORD_JOINER, ""), "the text reads as typed"
    screenshot(page, "security_markup_shown_as_text")
    _no_script_ran(page, dialogs)


def test_markup_in_the_case_file_and_audit_filter_is_shown_as_text(page: Page, server: Server) -> None:
    url, _, _ = server
    dialogs = _watch_dialogs(page)
    page.goto(url + "/assess_case")
    area = page.get_by_role("textbox", name="Findings (JSON, as `python -m myelo_cds schema` describes)")
    area.fill(json.dumps({"patient": {"age_years": 60}, "case_id": IMG}))
    area.press("Control+Enter")
    expect(page.get_by_test_id("stAlertContentWarning").filter(has_text="case_id")).to_contain_text(IMG)
    page.goto(url + "/audit")
    patient = page.get_by_role("textbox", name="Only this patient (pseudonymous id)")
    patient.fill(IMG[:64])
    patient.press("Enter")
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("patient id refused")
    _no_script_ran(page, dialogs)


def _download(page: Page, button: str) -> list[list[str]]:
    with page.expect_download() as download:
        page.get_by_role("button", name=button).click()
    return list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))


def test_csv_exports_neutralise_spreadsheet_formulas(page: Page, server: Server) -> None:
    url, _, _ = server
    page.goto(url + "/audit")
    rows = _download(page, "Export (CSV)")
    cells = [cell for row in rows[1:] for cell in row]
    assert "'" + FORMULA_ACTOR in cells
    assert "'+SUM(A1:A9)" in cells
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]
    page.goto(url + "/worklist")
    page.get_by_text("Show").first.wait_for()
    rows = _download(page, "Export the worklist (CSV)")
    cells = [cell for row in rows[1:] for cell in row]
    assert "'" + FORMULA_PATIENT in cells
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]


def test_oversized_and_malformed_case_files_are_refused_with_a_clear_message(
    page: Page, server: Server, tmp_path: Path
) -> None:
    url, _, _ = server
    page.goto(url)
    page.get_by_text("Start from an example or a saved case file").click()
    uploader = page.get_by_test_id("stFileUploaderDropzoneInput")
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"patient": {"age_years": 60}, "padding": "x" * 1_500_000}))
    uploader.set_input_files(str(big))
    expect(page.get_by_text("File must be 1.0MB or smaller.")).to_be_visible()
    assert page.get_by_role("button", name="Load file").count() == 0
    page.goto(url)  # a new session, an empty uploader
    page.get_by_text("Start from an example or a saved case file").click()
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"patient": {"age_years": 6')
    uploader.set_input_files(str(bad))
    page.get_by_role("button", name="Load file").click()
    message = page.get_by_test_id("stAlertContentError").filter(has_text="the case file is not valid JSON")
    expect(message).to_contain_text("line 1, column")
    screenshot(page, "security_malformed_upload")
    page.goto(url)  # a key written twice is refused naming it, never read as its last value
    page.get_by_text("Start from an example or a saved case file").click()
    twice = tmp_path / "twice.json"
    twice.write_bytes(b'{"patient": {"age_years": 70, "age_years": 15}}')
    uploader.set_input_files(str(twice))
    page.get_by_role("button", name="Load file").click()
    message = page.get_by_test_id("stAlertContentError").filter(has_text="written more than once")
    expect(message).to_contain_text("patient.age_years")
    wrong = tmp_path / "notes.txt"
    wrong.write_text("not a case")
    page.goto(url)
    page.get_by_text("Start from an example or a saved case file").click()
    uploader.set_input_files(str(wrong))
    expect(page.get_by_text("text/plain files are not allowed.")).to_be_visible()


def test_one_session_never_shows_another_sessions_consult(browser: Browser, server: Server) -> None:
    url, _, _ = server
    first = watch_runs(browser.new_context(viewport={"width": 1366, "height": 1400}).new_page())
    second = watch_runs(browser.new_context(viewport={"width": 1366, "height": 1400}).new_page())
    try:
        first.goto(url)
        load_example(first, "moderate_dcm")
        moderate_id = json.loads(example_cases()["moderate_dcm"])["case_id"]
        case_label = "Pseudonymous case id (no names)"
        expect(first.get_by_role("textbox", name=case_label)).to_have_value(moderate_id)
        second.goto(url)
        expect(second.get_by_role("heading", name="Recommendation")).to_be_visible()
        wait_until_idle(second)
        expect(second.get_by_role("textbox", name=case_label)).to_have_value("")
        assert moderate_id not in second.locator("body").inner_text()
        second.reload()  # a new session in the same place still starts empty
        expect(second.get_by_role("heading", name="Recommendation")).to_be_visible()
        expect(second.get_by_role("textbox", name=case_label)).to_have_value("")
    finally:
        first.context.close()
        second.context.close()


def test_the_server_log_holds_no_identifying_data_after_a_consult(page: Page, server: Server) -> None:
    url, log, store = server
    page.goto(url)
    load_example(page, "mild_dcm")
    expect(page.get_by_test_id("stAlertContentWarning").first).to_contain_text("Surgery or supervised")
    save_to_record(page, CASE_ID, CLINICIAN)
    with page.expect_download():
        page.get_by_role("button", name="Consult note (PDF)").click()
    page.goto(url + "/timeline")
    choose_option(page, "Patient (pseudonymous id)", CASE_ID)
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible()
    assert [r.patient_id for r in store.assessments(CASE_ID)] == [CASE_ID], "the consult really ran"
    text = log.read_text()
    assert text.strip(), "the server wrote its log"
    for identifier in (CASE_ID, CLINICIAN, "Jane", FORMULA_ACTOR, "__xss"):
        assert identifier not in text, identifier
