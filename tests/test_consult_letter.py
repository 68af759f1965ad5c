"""The consult note reads as a clinic letter (issue 16): one A4 page in letter order, in clinical
words, then an appendix with every rule fired, its source and strength, the "not recorded" list
and the rule-set hash.

The PDF is read back with poppler (``pdfinfo``, ``pdftotext``), one page at a time.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from myelo_cds import Findings, assess
from myelo_cds._grammar import count
from myelo_cds.course import course_alerts
from myelo_cds.exports import consult_note_pdf, consult_note_text
from myelo_cds.exports._document import PAGE_RULE
from myelo_cds.exports.consult_note import note_sections
from myelo_cds.rules.engine import PATHWAY_LABELS
from myelo_cds.rules.result import ToConfirm

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "data" / "examples").glob("*.json"))
VALIDATION = sorted((ROOT / "data" / "validation").glob("*.json"))

#: The letter's sections, in clinic-letter order.
LETTER_ORDER = [
    "History",
    "Examination",
    "mJOA and Nurick",
    "MRI",
    "Impression",
    "Plan",
    "Course since the last visit",
]
APPENDIX = "Appendix: basis, provenance and what was not recorded"

# An input path (patient.history.optic_neuritis) or a raw id (new_acute, surgical_referral);
# a web address in a citation (myelopathy.org) is neither.
FIELD_PATH = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)*(?:\.[a-z][a-z0-9_]*)+\b")
SNAKE_ID = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")
WEB_ADDRESS = re.compile(r"\.(?:org|com|net|gov|nhs\.uk)$")


def _findings(path: Path) -> Findings:
    data = json.loads(path.read_text())
    return Findings.model_validate(data.get("findings", data))


def standard_moderate_case() -> Findings:
    """The issue's standard moderate case: 58 y, 8 months of clumsy hands and imbalance,
    Hoffmann +, brisk reflexes, mJOA 13 = 3/5/2/3, Kang 2 at C5-C6 and C6-C7, no T2 signal."""
    brisk = {"left": 3, "right": 3}
    level = {"kang": 2, "t2_signal": "none"}
    return Findings.model_validate(
        {
            "case_id": "STD-moderate",
            "assessment_date": "2026-12-01",
            "patient": {"age_years": 58, "symptom_duration_months": 8},
            "symptoms": {"hand_clumsiness": True, "gait_imbalance": True},
            "exam": {
                "umn": {"hoffmann_tromner": True},
                "reflexes": dict.fromkeys(("biceps", "triceps", "brachioradialis", "patellar"), brisk),
            },
            "mjoa": {"ue_motor": 3, "le_motor": 5, "ue_sensation": 2, "sphincter": 3},
            "mri": {"available": True, "levels": {"C5-C6": level, "C6-C7": level}},
        }
    )


def _pages(pdf: bytes, tmp_path: Path) -> list[str]:
    """The text of each page, whitespace collapsed."""
    pdftotext = shutil.which("pdftotext") or pytest.fail("pdftotext not found: apt-get install poppler-utils")
    pdfinfo = shutil.which("pdfinfo") or pytest.fail("pdfinfo not found: apt-get install poppler-utils")
    source = tmp_path / "note.pdf"
    source.write_bytes(pdf)
    info = subprocess.run([pdfinfo, str(source)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))  # type: ignore[union-attr]
    return [
        " ".join(
            subprocess.run(
                [pdftotext, "-f", str(page), "-l", str(page), str(source), "-"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
        )
        for page in range(1, pages + 1)
    ]


def _in_order(text: str, parts: list[str]) -> bool:
    positions = [text.find(part) for part in parts]
    return -1 not in positions and positions == sorted(positions)


CASES: dict[str, Any] = {"standard moderate case": standard_moderate_case} | {
    path.stem: (lambda path=path: _findings(path)) for path in EXAMPLES
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_letter_fits_on_page_one_and_the_appendix_starts_on_page_two(name: str, tmp_path: Path) -> None:
    findings = CASES[name]()
    rec = assess(findings)
    pages = _pages(consult_note_pdf(rec, findings, clinician_id="clin-42"), tmp_path)
    letter = pages[0]
    assert _in_order(letter, LETTER_ORDER), letter
    assert "Appendix" not in letter
    assert pages[1].split("Clinician clin-42 ", 1)[1].startswith(APPENDIX)
    assert f"{PATHWAY_LABELS[rec.pathway]} [" in letter
    assert f"Page 1 of {len(pages)}" in letter


def test_the_standard_moderate_case_reads_as_a_letter(tmp_path: Path) -> None:
    findings = standard_moderate_case()
    rec = assess(findings)
    letter = _pages(consult_note_pdf(rec, findings), tmp_path)[0]
    assert "Age 58; myelopathic symptoms for 8 months" in letter
    assert "Symptoms - present: hand clumsiness, gait imbalance" in letter
    assert (
        "Reflexes (NINDS 0-4, left/right): biceps 3/3, triceps 3/3, brachioradialis 3/3, patellar 3/3"
        in letter
    )
    assert "Upper-motor-neuron signs - present: Hoffmann/Tromner" in letter
    assert "mJOA 13/18 (moderate)" in letter
    assert "C5-C6: Kang 2, T2 signal none" in letter
    assert "C6-C7: Kang 2, T2 signal none" in letter
    assert "Surgical referral [! EXPEDITED]" in letter or rec.urgency != "expedited"
    # blanks are never printed as findings: no sex, no Nurick grade, no management, no absent signs
    assert "Nurick grade not recorded" in letter
    assert "Babinski" not in letter.split("Impression")[0]
    assert "Management" not in letter
    assert "absent" not in letter.split("Impression")[0]


def test_the_text_note_has_the_same_order_letter_first() -> None:
    findings = standard_moderate_case()
    rec = assess(findings)
    note = consult_note_text(rec, findings)
    headings = [f"\n{title}:\n" for title in LETTER_ORDER]
    assert _in_order(note, [*headings, PAGE_RULE, f"\n{APPENDIX}:\n", "\nRules fired:\n", "\nProvenance:\n"])
    letter = note.split(PAGE_RULE)[0]
    assert rec.rule_set.sha256 not in letter  # provenance lives in the appendix
    assert rec.rule_set.sha256 in note.split(PAGE_RULE)[1]


def test_the_pdf_and_the_text_are_built_from_the_same_sections() -> None:
    findings = standard_moderate_case()
    rec = assess(findings)
    sections = note_sections(rec, findings)
    titles = [section.title for section in sections]
    assert titles[: len(LETTER_ORDER)] == LETTER_ORDER
    assert [section.new_page for section in sections].count(True) == 1
    assert sections[len(LETTER_ORDER)].new_page
    assert sections[len(LETTER_ORDER)].title == APPENDIX


@pytest.mark.parametrize("path", EXAMPLES + VALIDATION, ids=lambda path: path.stem)
def test_no_field_path_or_raw_id_in_the_note(path: Path) -> None:
    findings = _findings(path)
    note = consult_note_text(assess(findings), findings)
    paths = [hit for hit in FIELD_PATH.findall(note) if not WEB_ADDRESS.search(hit)]
    assert not paths, paths
    assert not SNAKE_ID.findall(note)


@pytest.mark.parametrize("path", EXAMPLES + VALIDATION, ids=lambda path: path.stem)
def test_the_appendix_keeps_every_rule_with_its_source_and_strength(path: Path) -> None:
    findings = _findings(path)
    rec = assess(findings)
    appendix = consult_note_text(rec, findings).split(PAGE_RULE)[1]
    for rule in rec.rules_fired:
        assert f"{rule.id} v{rule.version}" in appendix
        assert rule.citation in appendix
        assert f"strength {rule.strength}, quality {rule.quality}" in appendix
    for unknown in rec.unknowns:  # the "not recorded" list
        assert f"{unknown.input}: " in appendix
    assert f"sha256 {rec.rule_set.sha256}" in appendix


@pytest.mark.parametrize("path", EXAMPLES + VALIDATION, ids=lambda path: path.stem)
def test_the_letter_names_the_pathway_urgency_and_main_basis(path: Path) -> None:
    findings = _findings(path)
    rec = assess(findings)
    letter = consult_note_text(rec, findings).split(PAGE_RULE)[0]
    impression = letter.split("\nImpression:\n")[1].split("\nPlan:\n")[0]
    assert f"{PATHWAY_LABELS[rec.pathway]} [" in impression
    assert "Urgency: " in impression
    deciding = [rule for rule in rec.rules_fired if rule.kind in ("red_flag", "pathway")]
    assert any(f"Basis ({rule.id}," in impression for rule in deciding) or not deciding


def test_a_red_flag_not_excluded_stands_on_the_letter_page(tmp_path: Path) -> None:
    """A blank question that raised the urgency has a line of its own on page 1; the others are
    grouped there by what a yes would mean, and listed one per line in the appendix."""
    findings = standard_moderate_case()  # fever, cancer, trauma ... were not asked
    shipped = assess(findings)
    open_questions = [item for item in shipped.to_confirm if not item.escalated]
    assert open_questions
    raised = ToConfirm(
        input="Onset tempo", fields=("symptoms.onset_tempo",), red_flags=("RF-X",),
        urgency_if_positive="emergency", escalated=True,
    )  # fmt: skip
    rec = shipped.model_copy(
        update={"urgency": "emergency", "provisional": True, "to_confirm": (raised, *open_questions)}
    )
    pages = _pages(consult_note_pdf(rec, findings), tmp_path)
    impression = pages[0].split("Impression")[1].split("Plan")[0]
    assert "PROVISIONAL" in impression
    assert "Emergency not excluded: ask Onset tempo" in impression
    waiting = f"{count(len(open_questions), 'red-flag question')} not yet asked (a yes could mean emergency)"
    assert waiting in impression
    for item in open_questions:
        assert " ".join(item.input.split()) in impression
    appendix = " ".join(pages[1:])
    assert "Not yet asked: Current or past cancer (the answer could mean emergency)" in appendix


def test_a_settled_red_flag_screen_says_so_on_the_letter() -> None:
    findings = standard_moderate_case()
    rec = assess(findings).model_copy(update={"to_confirm": ()})
    letter = consult_note_text(rec, findings).split(PAGE_RULE)[0]
    assert "Red flags: none present, none left unanswered" in letter


def test_the_course_since_the_last_visit_and_its_alert_are_on_the_letter(tmp_path: Path) -> None:
    earlier = standard_moderate_case().model_copy(update={"assessment_date": dt.date(2026, 6, 1)})
    mjoa = earlier.mjoa.model_copy(update={"ue_motor": 2, "le_motor": 4})  # type: ignore[union-attr]
    latest = standard_moderate_case().model_copy(update={"mjoa": mjoa})  # 13 -> 11
    alerts = course_alerts([earlier, latest])
    assert alerts
    assert alerts[0].level == "deterioration"
    rec = assess(latest)
    letter = _pages(consult_note_pdf(rec, latest, course=alerts), tmp_path)[0]
    course = letter.split("Course since the last visit")[1]
    assert "DETERIORATION compared with the visit of 2026-06-01: mJOA 13 on 2026-06-01 -> 11" in course
    text = consult_note_text(rec, latest, course=alerts)
    assert "DETERIORATION compared with the visit of 2026-06-01" in text.split(PAGE_RULE)[0]


def test_without_an_earlier_visit_the_course_says_so() -> None:
    findings = standard_moderate_case()
    note = consult_note_text(assess(findings), findings)
    assert "Course since the last visit:\n  No earlier visit compared (no earlier mJOA recorded)" in note


def test_an_earlier_mjoa_is_the_course_with_its_mcid() -> None:
    data = standard_moderate_case().model_dump(mode="json")
    data["earlier_mjoa"] = {
        "date": "2026-06-01",
        "ue_motor": 4,
        "le_motor": 5,
        "ue_sensation": 2,
        "sphincter": 3,
    }
    findings = Findings.model_validate(data)
    rec = assess(findings)
    course = consult_note_text(rec, findings).split("Course since the last visit:")[1].split(PAGE_RULE)[0]
    change = rec.scores.mjoa_change
    assert change is not None
    assert f"mJOA 14 ({change.earlier_band}) on 2026-06-01 -> 13 ({change.current_band}) now, -1" in course
    assert f"MCID for {change.earlier_band}: {count(change.mcid, 'point')}" in course


@pytest.mark.parametrize(("number", "expected"), [(0, "0 items"), (1, "1 item"), (2, "2 items")])
def test_counts_are_in_correct_grammar(number: int, expected: str) -> None:
    assert count(number, "item") == expected
    assert count(number, "child", "children").endswith("child" if number == 1 else "children")


@pytest.mark.parametrize(("normal", "words"), [(True, "reviewed, normal"), (False, "not normal")])
def test_the_letter_writes_the_rest_of_the_mri_read(normal: bool, words: str) -> None:
    """Whether the levels not listed were normal, the K-line and the cord diameters."""
    data = standard_moderate_case().model_dump(mode="json", exclude_none=True)
    data["mri"] |= {
        "unlisted_levels_normal": normal,
        "k_line": "negative",
        "cord_diameters": {"di_mm": 5.5, "da_mm": 7, "db_mm": 7.5},
    }
    findings = Findings.model_validate(data)
    letter = consult_note_text(assess(findings), findings).split(PAGE_RULE)[0]
    assert f"Levels not listed: {words}" in letter
    assert "K-line: negative" in letter
    assert "Cord AP diameters: 5.5 mm at maximal compression, 7 mm above, 7.5 mm below" in letter
