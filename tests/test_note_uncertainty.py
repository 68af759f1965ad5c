"""The consult note (text, PDF and the command line's summary) says when an answer is uncertain.

Built against the result contract of issue 13 with ``model_copy``: an incomplete entry, a
provisional answer with the red-flag questions still open (most dangerous first) and the
consistency warnings all appear in words, beside the recommendation.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from myelo_cds import Findings, Recommendation, assess
from myelo_cds.exports.consult_note import consult_note_pdf, consult_note_text, consult_summary
from myelo_cds.findings import example_cases
from myelo_cds.rules.result import ConsistencyWarning, ToConfirm


def _question(text: str, field: str, urgency: str, escalated: bool) -> ToConfirm:
    return ToConfirm(
        input=text, fields=(field,), red_flags=("RF-X",), urgency_if_positive=urgency, escalated=escalated
    )


@pytest.fixture(scope="module")
def uncertain() -> tuple[Findings, Recommendation]:
    findings = Findings.model_validate(json.loads(example_cases()["moderate_dcm"]))
    rec = assess(findings).model_copy(
        update={
            "urgency": "emergency",
            "provisional": True,
            "incomplete": ("patient.age_years",),
            "to_confirm": (
                _question(
                    "Lost the ability to walk within days",
                    "symptoms.rapid_loss_of_ambulation",
                    "urgent",
                    True,
                ),
                _question("Current or past cancer", "patient.history.cancer", "emergency", False),
                _question("Onset tempo", "symptoms.onset_tempo", "emergency", True),
            ),
            "warnings": (
                ConsistencyWarning(
                    code="W-NURICK-MJOA", message="Nurick 5 with mJOA 17", fields=("nurick", "mjoa.le_motor")
                ),
            ),
        }
    )
    return findings, rec


EXPECTED_ORDER = [
    "Emergency not excluded: ask Onset tempo [symptoms.onset_tempo]",
    "Not yet asked: Current or past cancer (the answer could mean emergency) [patient.history.cancer]",
    "Urgent review not excluded: ask Lost the ability to walk within days [symptoms.rapid_loss_of_ambulation]",
]


def _in_order(text: str, lines: list[str]) -> bool:
    positions = [text.find(line) for line in lines]
    return -1 not in positions and positions == sorted(positions)


def test_the_text_note_marks_incomplete_and_provisional_and_lists_questions_most_dangerous_first(
    uncertain: tuple[Findings, Recommendation],
) -> None:
    findings, rec = uncertain
    note = consult_note_text(rec, findings)
    impression = note.split("Impression:")[1].split("\n\n")[0]
    assert "Incomplete - enter age in whole years (0-120) to get a pathway" in impression
    assert "PROVISIONAL" in impression
    # the questions that raised the urgency stand on the letter, most dangerous first, in words;
    # the one that cannot change it (already an emergency) is counted there, listed in the appendix
    assert _in_order(impression, [EXPECTED_ORDER[0].split(" [")[0], EXPECTED_ORDER[2].split(" [")[0]])
    assert (
        "1 red-flag question not yet asked (a yes could mean emergency): Current or past cancer" in impression
    )
    assert _in_order(note.split("To confirm")[1], [line.split(" [")[0] for line in EXPECTED_ORDER])
    assert "Check: Nurick 5 with mJOA 17" in impression
    assert "To confirm (most dangerous first):" in note
    assert "W-NURICK-MJOA; entries: Nurick grade (0-5); Lower-extremity motor (0-7)" in note
    assert "patient.age_years" not in note


def test_the_command_line_summary_carries_the_same_caveats_under_the_recommendation(
    uncertain: tuple[Findings, Recommendation],
) -> None:
    _, rec = uncertain
    summary = consult_summary(rec)
    head = summary.split("Clinical picture:")[0]
    assert "RECOMMENDATION: " in head
    assert "Incomplete - enter age in whole years" in head
    assert "PROVISIONAL - the answer changes once these are answered:" in head
    assert _in_order(head, EXPECTED_ORDER)
    assert "Check: Nurick 5 with mJOA 17 [nurick, mjoa.le_motor]" in head


def test_the_pdf_note_prints_the_caveats_in_words(
    uncertain: tuple[Findings, Recommendation], tmp_path: Path
) -> None:
    findings, rec = uncertain
    pdftotext = shutil.which("pdftotext") or pytest.fail("pdftotext not found: apt-get install poppler-utils")
    source = tmp_path / "note.pdf"
    source.write_bytes(consult_note_pdf(rec, findings))
    text = " ".join(
        subprocess.run(
            [pdftotext, str(source), "-"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert "Incomplete - enter age in whole years (0-120)" in text
    assert "PROVISIONAL" in text
    assert _in_order(
        text, ["Emergency not excluded: ask Onset tempo", "Urgent review not excluded: ask Lost"]
    )
    assert "Nurick 5 with mJOA 17" in text


def test_a_settled_complete_answer_carries_no_caveat() -> None:
    findings = Findings.model_validate(json.loads(example_cases()["moderate_dcm"]))
    rec = assess(findings).model_copy(
        update={"provisional": False, "to_confirm": (), "warnings": (), "incomplete": ()}
    )
    note = consult_note_text(rec, findings)
    assert "PROVISIONAL" not in note
    assert "Incomplete" not in note
    assert "To confirm" not in note
