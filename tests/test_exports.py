"""Exports read like the clinical reference: the note shows its basis, unknown is never absent,
the handout follows the pathway in plain words, the calendar and JSON round-trip."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from icalendar import Calendar

import myelo_cds.exports
from myelo_cds import Findings, Recommendation, assess
from myelo_cds.cli import main as cli_main
from myelo_cds.exports import (
    FontsMissingError,
    assessment_json,
    consult_note_pdf,
    consult_note_text,
    handout_pdf,
    handout_text,
    schedule_ics,
)
from myelo_cds.exports._document import PAGE_RULE
from myelo_cds.exports.handout import load_handout, long_date, suggested_day
from myelo_cds.followup import load_protocol
from myelo_cds.rules.engine import PATHWAY_LABELS

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "data" / "examples").glob("*.json"))
VALIDATION = sorted((ROOT / "data" / "validation").glob("*.json"))
CASES = EXAMPLES + VALIDATION
HANDOUT_TOML = ROOT / "data" / "handout" / "handout.toml"


def _findings(path: Path) -> Findings:
    data = json.loads(path.read_text())
    return Findings.model_validate(data.get("findings", data) if "findings" in data else data)


def _example(name: str) -> tuple[Findings, Recommendation]:
    findings = _findings(ROOT / "data" / "examples" / f"{name}.json")
    return findings, assess(findings)


@pytest.fixture(scope="module")
def moderate() -> tuple[Findings, Recommendation]:
    return _example("moderate_dcm")


# --- consult note --------------------------------------------------------------------------


def test_note_shows_pathway_urgency_rules_sources_and_rule_set_hash(
    moderate: tuple[Findings, Recommendation],
) -> None:
    findings, rec = moderate
    note = consult_note_text(rec, findings, clinician_id="clin-42")
    assert "Surgical referral [! EXPEDITED]" in note
    assert "Urgency: EXPEDITED - specialist assessment within weeks" in note
    for rule in rec.rules_fired:
        assert f"{rule.id} v{rule.version}" in note
        assert rule.citation in note
    assert "strength strong, quality moderate" in note
    assert rec.rule_set.sha256 in note
    assert f"Rule set {rec.rule_set.id} {rec.rule_set.version}" in note
    assert "Case EX-moderate-dcm | Assessment date 2025-03-04 | Clinician clin-42" in note
    assert "the clinician decides" in note


def test_note_lists_the_findings_entered_with_scale_versions(
    moderate: tuple[Findings, Recommendation],
) -> None:
    findings, rec = moderate
    note = consult_note_text(rec, findings)
    letter, appendix = note.split(PAGE_RULE)
    assert "Symptoms - present: hand clumsiness, gait imbalance, non-dermatomal numbness, neck pain" in letter
    assert "Upper-motor-neuron signs - present: Hoffmann/Tromner; absent: Babinski" in letter
    assert "upper-extremity motor 3/5 (Can button a shirt, with great difficulty)" in letter  # mJOA wording
    assert "mJOA 13/18 (moderate): " in letter
    assert "Nurick 3: Difficulty in walking that prevents full-time work" in letter
    assert "C5-C6: Kang 2, T2 signal none" in letter  # MRI per level
    assert "grip-and-release 14 in 10 s" in letter
    # the scale versions are provenance: in the appendix
    assert "mJOA total 13/18 (moderate) [mjoa 1.0.0]" in appendix
    assert "[nurick 1.0.0]" in appendix
    assert "[cook cluster " in appendix


def test_unknown_findings_are_never_listed_as_absent() -> None:
    """Only hand clumsiness (yes) and fever (no) were asked; nothing else may read as 'no'."""
    findings = Findings.model_validate(
        {
            "patient": {"age_years": 61},
            "symptoms": {"hand_clumsiness": True, "fever": False},
            "mri": {"available": True, "levels": {"C4-C5": {"kang": 2}}},
        }
    )
    note = consult_note_text(assess(findings, dt.date(2025, 1, 6)), findings)
    absent_lines = [line for line in note.splitlines() if re.search(r"absent: ", line, re.IGNORECASE)]
    assert absent_lines == ["  - Symptoms - present: hand clumsiness; absent: fever"]
    assert "C4-C5: Kang 2, T2 signal not recorded" in note
    assert "snake eyes" not in note.split(PAGE_RULE)[0]  # not examined, so not written at all
    assert "gait imbalance" not in note.split(PAGE_RULE)[0]
    assert "Nurick grade not recorded" in note  # not scored: said so, never a grade
    assert "Nurick 0" not in note


def test_note_refuses_findings_of_another_case(moderate: tuple[Findings, Recommendation]) -> None:
    _, rec = moderate
    other, _ = _example("mild_dcm")
    with pytest.raises(ValueError, match="not the ones assessed"):
        consult_note_text(rec, other)


def test_clinician_id_cannot_inject_lines(moderate: tuple[Findings, Recommendation]) -> None:
    findings, rec = moderate
    with pytest.raises(ValueError, match="clinician id"):
        consult_note_text(rec, findings, clinician_id="clin-42\nRECOMMENDATION: none")


def test_report_module_still_exports_the_consult_summary(moderate: tuple[Findings, Recommendation]) -> None:
    from myelo_cds.exports.consult_note import consult_summary

    _, rec = moderate
    assert consult_summary is myelo_cds.exports.consult_summary
    assert f"RECOMMENDATION: {PATHWAY_LABELS[rec.pathway]}" in consult_summary(rec)


# --- findings JSON ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_assessment_json_validates_back_to_equal_findings(path: Path) -> None:
    findings = _findings(path)
    out = assessment_json(findings)
    assert Findings.model_validate(json.loads(out)) == findings
    assert "null" not in out  # unknowns are left out, never written as values


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_assessment_json_through_the_command_line_gives_the_same_pathway(path: Path) -> None:
    findings = _findings(path)
    result = subprocess.run(
        [sys.executable, "-m", "myelo_cds", "assess", "-"],
        cwd=ROOT,
        input=assessment_json(findings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    rec = assess(findings)
    assert (out["pathway"], out["urgency"]) == (rec.pathway, rec.urgency)


def test_assessment_json_of_every_validation_case_is_accepted_by_assess_minus(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same `assess -` entry point, in-process: 53 subprocesses would take most of a minute."""
    for path in VALIDATION:
        findings = _findings(path)
        monkeypatch.setattr(sys, "stdin", io.StringIO(assessment_json(findings)))
        assert cli_main(["assess", "-"]) == 0
        out = json.loads(capsys.readouterr().out)
        expected = json.loads(path.read_text())["expected"]
        assert (out["pathway"], out["urgency"]) == (expected["pathway"], expected["urgency"]), path.name


# --- calendar --------------------------------------------------------------------------------


def test_ics_has_one_all_day_event_per_visit_on_its_due_date() -> None:
    _, rec = _example("mild_dcm")
    plan = rec.follow_up
    calendar = Calendar.from_ical(schedule_ics(plan, rec.case_id))
    assert "myelo-cds" in str(calendar["PRODID"])
    events = calendar.walk("VEVENT")
    assert len(events) == len(plan.visits)
    for event, visit in zip(events, plan.visits, strict=True):
        assert event.decoded("DTSTART") == visit.due
        assert event.decoded("DTEND") == visit.due + dt.timedelta(days=1)
        description = str(event["DESCRIPTION"])
        assert f"Window: {visit.window_start} to {visit.window_end}" in description
        assert f"MRI due: {'yes' if visit.mri_due else 'no'}" in description
        assert all(measure in description for measure in visit.measures)
        alarms = event.walk("VALARM")
        assert len(alarms) == 1
        assert alarms[0].decoded("TRIGGER") < dt.timedelta(0)
    assert any("MRI due: yes" in str(event["DESCRIPTION"]) for event in events)


def test_ics_uids_are_stable_per_case_schedule_and_visit() -> None:
    _, rec = _example("moderate_dcm")

    def uids(case_id: str | None) -> list[str]:
        return [
            str(e["UID"]) for e in Calendar.from_ical(schedule_ics(rec.follow_up, case_id)).walk("VEVENT")
        ]

    first = uids("EX-1")
    assert first == uids("EX-1")
    assert len(set(first)) == len(first)
    assert not set(first) & set(uids("EX-2"))
    assert not set(uids(None)) & set(uids(None)), "anonymous cases must never merge in one calendar"
    assert all("EX-1" not in uid for uid in first)


# --- handout ---------------------------------------------------------------------------------


def test_handout_content_has_one_plan_section_for_every_pathway_and_a_source_for_each_section() -> None:
    content = tomllib.loads(HANDOUT_TOML.read_text())
    plans = [section["pathway"] for section in content["sections"] if section["kind"] == "plan"]
    assert sorted(plans) == sorted(PATHWAY_LABELS)
    sourced = [*content["sections"], *content["misconceptions"], *content["schedules"].values()]
    assert all(
        re.search(r"\bs\d+(\.\d+)?\b", item["source"]) or "protocol" in item["source"] for item in sourced
    )
    assert set(content["schedules"]) == {schedule["id"] for schedule in load_protocol()["schedules"]}


@pytest.mark.parametrize("pathway", sorted(PATHWAY_LABELS))
def test_handout_explains_the_plan_for_each_pathway(
    pathway: str, moderate: tuple[Findings, Recommendation]
) -> None:
    _, rec = moderate
    text = handout_text(rec.model_copy(update={"pathway": pathway}))
    titles = {s["pathway"]: s["title"] for s in load_handout()["sections"] if s["kind"] == "plan"}
    assert f"## {titles[pathway]}" in text
    others = [title for other, title in titles.items() if other != pathway]
    assert not any(title in text for title in others)


def test_handout_lists_the_red_flags_and_the_visit_dates(moderate: tuple[Findings, Recommendation]) -> None:
    _, rec = moderate
    text = handout_text(rec)
    red_flags = text.split("## Get help the same day")[1].split("\n## ")[0].lower()
    for warning in ("bladder or bowels", "no longer walk", "short of breath", "after a fall", "fever"):
        assert warning in red_flags
    for visit in rec.follow_up.visits:
        assert long_date(suggested_day(visit)) in text
    assert "Reference EX-moderate-dcm" in text


def test_handout_corrects_the_common_misconceptions(moderate: tuple[Findings, Recommendation]) -> None:
    _, rec = moderate
    text = handout_text(rec)
    assert "Myelomalacia always needs an urgent operation." in text
    assert "On its own, it does not decide if or how soon you need an operation." in text
    for belief in ("change on my MRI scan", "MRI scan stays the same", "carpal tunnel syndrome"):
        assert belief in text


def test_handout_shows_no_reference_without_a_case_id(moderate: tuple[Findings, Recommendation]) -> None:
    _, rec = moderate
    assert "Reference" not in handout_text(rec.model_copy(update={"case_id": None}))


def _syllables(word: str) -> int:
    word = re.sub(r"[^a-z]", "", word.lower())
    count = len(re.findall(r"[aeiouy]+", word))
    if word.endswith("e") and not word.endswith("le") and count > 1:
        count -= 1
    return max(count, 1)


def test_handout_reads_at_about_age_12() -> None:
    """Flesch-Kincaid grade of all handout prose at most 7 (US grade 7 is about age 12-13)."""
    content = tomllib.loads(HANDOUT_TOML.read_text())
    texts = [
        text
        for section in content["sections"]
        for key in ("paragraphs", "bullets", "closing")
        for text in section.get(key, ())
    ]
    texts += [item[key] for item in content["misconceptions"] for key in ("belief", "truth")]
    words = [w for text in texts for w in re.findall(r"[A-Za-z][A-Za-z'-]*", text)]
    sentences = sum(max(1, len(re.findall(r"[.!?](\s|$)", text))) for text in texts)
    grade = 0.39 * len(words) / sentences + 11.8 * sum(map(_syllables, words)) / len(words) - 15.59
    assert grade <= 7.0, f"reading grade {grade:.1f}"


# --- PDFs --------------------------------------------------------------------------------------


def _png_of_first_page(pdf: bytes, tmp_path: Path, stem: str) -> Path:
    pdftoppm = shutil.which("pdftoppm") or pytest.fail("pdftoppm not found: apt-get install poppler-utils")
    source = tmp_path / f"{stem}.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [pdftoppm, "-png", "-r", "60", "-f", "1", "-l", "1", str(source), str(tmp_path / stem)], check=True
    )
    return next(tmp_path.glob(f"{stem}-*1.png"))


def test_consult_note_pdf_renders(tmp_path: Path) -> None:
    findings, rec = _example("red_flag_trauma")
    pdf = consult_note_pdf(rec, findings, clinician_id="clin-42")
    assert pdf.startswith(b"%PDF")
    png = _png_of_first_page(pdf, tmp_path, "note")
    assert png.stat().st_size > 10_000


def test_handout_pdf_renders(tmp_path: Path, moderate: tuple[Findings, Recommendation]) -> None:
    _, rec = moderate
    pdf = handout_pdf(rec)
    assert pdf.startswith(b"%PDF")
    png = _png_of_first_page(pdf, tmp_path, "handout")
    assert png.stat().st_size > 10_000


def test_every_page_of_the_note_carries_the_disclaimer_and_rule_set_hash(
    tmp_path: Path, moderate: tuple[Findings, Recommendation]
) -> None:
    findings, rec = moderate
    pdftotext = shutil.which("pdftotext") or pytest.fail("pdftotext not found: apt-get install poppler-utils")
    source = tmp_path / "note.pdf"
    source.write_bytes(consult_note_pdf(rec, findings))
    text = subprocess.run(
        [pdftotext, "-layout", str(source), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = [page for page in text.split("\f") if page.strip()]
    assert len(pages) > 1
    for number, page in enumerate(pages, start=1):
        assert "Decision support - the clinician decides" in page
        assert rec.rule_set.sha256 in page
        assert f"Page {number} of {len(pages)}" in page
        assert "Case EX-moderate-dcm" in page


def test_missing_fonts_give_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moderate: tuple[Findings, Recommendation]
) -> None:
    findings, rec = moderate
    monkeypatch.setenv("MYELO_CDS_FONT_DIR", str(tmp_path))
    with pytest.raises(FontsMissingError, match="fonts-dejavu-core"):
        consult_note_pdf(rec, findings)


def test_exports_surface_is_exactly_the_intended_names() -> None:
    assert sorted(myelo_cds.exports.__all__) == [
        "FontsMissingError",
        "FromEhr",
        "ImportedFindings",
        "NotUnderstood",
        "assessment_json",
        "consult_note_pdf",
        "consult_note_text",
        "consult_summary",
        "findings_from_bundle",
        "handout_pdf",
        "handout_text",
        "schedule_ics",
    ]
