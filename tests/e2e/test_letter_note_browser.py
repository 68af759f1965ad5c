"""End to end in Chromium (issue 16): the consult note downloaded from the consult page is a
letter on page 1 (history to course, in letter order) and the appendix from page 2; page 1 is
rendered to a PNG in test-artifacts/ to look at."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.consult_steps import enter_moderate_dcm

LETTER_ORDER = ("History", "Examination", "mJOA and Nurick", "MRI", "Impression", "Plan", "Course since")


def _tool(name: str) -> str:
    return shutil.which(name) or pytest.fail(f"{name} not found: apt-get install poppler-utils")


def test_the_downloaded_consult_note_is_a_one_page_letter_then_the_appendix(page: Page, app_url: str) -> None:
    page.goto(app_url)
    enter_moderate_dcm(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Consult note (PDF)").click()
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = ARTIFACTS / "consult-note-letter.pdf"
    pdf.write_bytes(Path(download.value.path()).read_bytes())

    info = subprocess.run([_tool("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert pages >= 2

    def text(number: int) -> str:
        command = [_tool("pdftotext"), "-f", str(number), "-l", str(number), str(pdf), "-"]
        return " ".join(subprocess.run(command, capture_output=True, text=True, check=True).stdout.split())

    letter, appendix = text(1), text(2)
    positions = [letter.find(title) for title in LETTER_ORDER]
    assert -1 not in positions, letter
    assert positions == sorted(positions)
    assert "Surgical referral [! EXPEDITED]" in letter
    assert "Appendix" not in letter
    assert "Appendix: basis, provenance and what was not recorded" in appendix
    subprocess.run(
        [_tool("pdftoppm"), "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf),
         str(ARTIFACTS / "consult-note-letter-page-1")],
        check=True,
    )  # fmt: skip
    assert (ARTIFACTS / "consult-note-letter-page-1.png").stat().st_size > 20_000
