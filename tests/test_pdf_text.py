"""Ids and text print as typed (issue 14, Low): bidi overrides, zero-width characters and
characters the embedded font cannot draw never reorder, hide or silently drop what was stored.

The ids that reach the exports are refused at entry when they hold such characters; whatever
text reaches a PDF, the plain-text note, the handout or the calendar shows each one as
``<U+XXXX>``. The PDF tests read the printed text back with ``pdftotext``.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path

import pytest
from icalendar import Calendar
from pydantic import ValidationError

from myelo_cds import Findings, Recommendation, assess
from myelo_cds.auth import User
from myelo_cds.auth._roles import user_id_from_subject
from myelo_cds.errors import InputError, RecordError
from myelo_cds.exports import consult_note_pdf, consult_note_text, handout_pdf, handout_text, schedule_ics
from myelo_cds.exports._document import Entry, Paragraph, Section, Table, render_plain, sections_shown
from myelo_cds.exports._pdf import PageFrame, _new_pdf, render_pdf
from myelo_cds.exports.consult_note import consult_summary, note_sections
from myelo_cds.exports.handout import handout_sections
from myelo_cds.findings._characters import hidden_characters
from myelo_cds.records import Store
from myelo_cds.records._models import check_patient_id, check_person

ROOT = Path(__file__).resolve().parents[1]

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "PT-\u202e4321" is shown as "PT-1234"
ZWJ = "\u200d"  # ZERO WIDTH JOINER
ZWSP = "\u200b"  # ZERO WIDTH SPACE
BOM = "\ufeff"  # ZERO WIDTH NO-BREAK SPACE (byte-order mark)
LRI, PDI = "\u2066", "\u2069"  # LEFT-TO-RIGHT ISOLATE ... POP DIRECTIONAL ISOLATE
BRAIN = "\U0001f9e0"  # no glyph in DejaVu Sans
CJK = "\u674e"  # 李, no glyph in DejaVu Sans

# (hostile id, the character a message names, how an export shows the id)
HOSTILE_IDS = {
    "right-to-left override": (f"PT-{RLO}4321", "U+202E", "PT-<U+202E>4321"),
    "zero-width joiner": (f"PT-12{ZWJ}34", "U+200D", "PT-12<U+200D>34"),
    "zero-width space": (f"PT-12{ZWSP}34", "U+200B", "PT-12<U+200B>34"),
    "byte-order mark": (f"{BOM}PT-1234", "U+FEFF", "<U+FEFF>PT-1234"),
    "isolates": (f"{LRI}PT-1234{PDI}", "U+2066", "<U+2066>PT-1234<U+2069>"),
    "trailing line break": ("PT-1234\n", "U+000A", "PT-1234<U+000A>"),
}


def _example(name: str) -> tuple[Findings, Recommendation]:
    data = json.loads((ROOT / "data" / "examples" / f"{name}.json").read_text())
    findings = Findings.model_validate(data.get("findings", data))
    return findings, assess(findings)


@pytest.fixture(scope="module")
def moderate() -> tuple[Findings, Recommendation]:
    return _example("moderate_dcm")


def _pdf_text(pdf: bytes, tmp_path: Path, name: str = "out") -> str:
    pdftotext = shutil.which("pdftotext") or pytest.fail("pdftotext not found: apt-get install poppler-utils")
    source = tmp_path / f"{name}.pdf"
    source.write_bytes(pdf)
    return subprocess.run(
        [pdftotext, "-enc", "UTF-8", str(source), "-"], capture_output=True, text=True, check=True
    ).stdout


def _ics_texts(ics: bytes) -> list[str]:
    calendar = Calendar.from_ical(ics)
    texts = [str(calendar["x-wr-calname"])]
    for event in calendar.walk("VEVENT"):
        texts += [str(event["summary"]), str(event["description"])]
    return texts


# --- ids are refused at entry, the message naming the field and the character -----------------


@pytest.mark.parametrize("case_id", [value for value, _, _ in HOSTILE_IDS.values()], ids=list(HOSTILE_IDS))
def test_case_id_with_a_hidden_character_is_refused(case_id: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Findings.model_validate({"case_id": case_id, "patient": {"age": 60}})
    assert refused.value.errors()[0]["loc"] == ("case_id",)


@pytest.mark.parametrize(
    ("patient_id", "named"),
    [(value, named) for value, named, _ in HOSTILE_IDS.values()],
    ids=list(HOSTILE_IDS),
)
def test_patient_id_with_a_hidden_character_is_refused_naming_it(patient_id: str, named: str) -> None:
    with pytest.raises(RecordError, match="patient id refused") as refused:
        check_patient_id(patient_id)
    assert named in str(refused.value)


def test_patient_id_names_the_override_it_refuses() -> None:
    with pytest.raises(RecordError, match="U\\+202E RIGHT-TO-LEFT OVERRIDE"):
        check_patient_id(f"PT-{RLO}4321")


@pytest.mark.parametrize(
    ("staff_id", "named"),
    [
        (f"dr.{RLO}eel", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        (f"dr.le{ZWJ}e", "U+200D ZERO WIDTH JOINER"),
        (f"dr.{BOM}lee", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
        (f"dr.{LRI}lee{PDI}", "U+2066 LEFT-TO-RIGHT ISOLATE"),
        ("dr.lee\u00adx", "U+00AD SOFT HYPHEN"),
    ],
)
def test_staff_id_with_a_hidden_character_is_refused_naming_it(staff_id: str, named: str) -> None:
    with pytest.raises(RecordError, match="author refused") as refused:
        check_person(staff_id, "author")
    assert named in str(refused.value)


def test_staff_ids_with_visible_letters_of_any_script_are_kept() -> None:
    for staff_id in ("O'Neil", "Müller", "李 Lee", "Dr 🧠"):
        assert check_person(staff_id, "author") == staff_id


def test_the_record_store_refuses_an_author_with_a_zero_width_joiner(
    database: Store, moderate: tuple[Findings, Recommendation]
) -> None:
    findings, rec = moderate
    with pytest.raises(RecordError, match="U\\+200D"):
        database.save_assessment(findings, rec, patient_id="PT-1234", author=f"dr.le{ZWJ}e")
    assert database.assessments("PT-1234") == []


@pytest.mark.parametrize("user_id", [f"dr.{RLO}lee", f"dr.le{ZWJ}e", f"{BOM}dr.lee", "dr.lee\n"])
def test_user_id_with_a_hidden_character_is_refused(user_id: str) -> None:
    with pytest.raises(ValidationError) as refused:
        User(user_id=user_id, role="clinician")
    assert refused.value.errors()[0]["loc"] == ("user_id",)


def test_sso_subject_ending_in_a_line_break_becomes_a_digest_not_an_id() -> None:
    assert user_id_from_subject("8f2c1e") == "8f2c1e"
    hashed = user_id_from_subject("8f2c1e\n")
    assert hashed.startswith("sub-")
    assert User(user_id=hashed, role="clinician").user_id == hashed


@pytest.mark.parametrize(
    ("clinician_id", "named"),
    [
        (f"dr.{RLO}eel", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        (f"dr.le{ZWJ}e", "U+200D ZERO WIDTH JOINER"),
        (f"{BOM}dr.lee", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
        (f"{LRI}dr.lee{PDI}", "U+2066 LEFT-TO-RIGHT ISOLATE"),
    ],
)
def test_clinician_id_with_a_hidden_character_is_refused_naming_it(
    moderate: tuple[Findings, Recommendation], clinician_id: str, named: str
) -> None:
    findings, rec = moderate
    for export in (consult_note_text, consult_note_pdf, note_sections):
        with pytest.raises(InputError, match="clinician id refused") as refused:
            export(rec, findings, clinician_id)
        assert named in str(refused.value)


# --- what reaches a PDF prints as typed ---------------------------------------------------------


@pytest.mark.parametrize(
    ("hostile", "shown"), [(value, shown) for value, _, shown in HOSTILE_IDS.values()], ids=list(HOSTILE_IDS)
)
def test_pdf_shows_a_hidden_character_by_its_code_point(tmp_path: Path, hostile: str, shown: str) -> None:
    frame = PageFrame(title="Note", meta=f"Case {hostile}", footer="f", footer_note="n")
    section = Section(
        f"Title {hostile}",
        (
            Entry(f"entry {hostile}", details=(f"detail {hostile}",)),
            Paragraph(f"paragraph {hostile}"),
            Table(header=("Id",), rows=((f"cell {hostile}",),), widths=(20,)),
        ),
    )
    text = _pdf_text(render_pdf([section], frame), tmp_path)
    for place in ("Case", "Title", "entry", "detail", "paragraph", "cell"):
        assert f"{place} {shown}" in text, (place, text)
    assert not hidden_characters(text.replace("\n", "").replace("\f", ""))


def test_pdf_keeps_an_overridden_id_in_the_order_it_was_typed(tmp_path: Path) -> None:
    frame = PageFrame(title="Note", meta=f"Case PT-{RLO}4321", footer="f", footer_note="n")
    text = _pdf_text(render_pdf([Section("S", (Entry(f"Case PT-{RLO}4321"),))], frame), tmp_path)
    assert text.count("Case PT-<U+202E>4321") == 2
    assert "1234" not in text


@pytest.mark.parametrize(("character", "named"), [(BRAIN, "U+1F9E0"), (CJK, "U+674E")])
def test_pdf_shows_a_character_the_font_cannot_draw_instead_of_dropping_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, character: str, named: str
) -> None:
    frame = PageFrame(title="Note", meta=f"Clinician {character} Lee", footer="f", footer_note="n")
    with caplog.at_level(logging.WARNING):
        pdf = render_pdf([Section("S", (Entry(f"clinician {character} Lee", bullet=False),))], frame)
    text = _pdf_text(pdf, tmp_path)
    assert f"Clinician <{named}> Lee" in text
    assert f"clinician <{named}> Lee" in text
    assert not [r for r in caplog.records if "missing" in r.getMessage()]  # fpdf2 dropped nothing


def test_pdf_prints_letters_the_font_has_as_themselves(tmp_path: Path) -> None:
    frame = PageFrame(title="Note", meta="Clinician Müller O'Neil Ωμέγα", footer="f", footer_note="n")
    text = _pdf_text(render_pdf([Section("S", (Entry("mJOA ≥ 15 — Ødegård"),))], frame), tmp_path)
    assert "Clinician Müller O'Neil Ωμέγα" in text
    assert "mJOA ≥ 15 — Ødegård" in text
    assert "<U+" not in text


def test_a_line_break_in_a_pdf_text_cannot_forge_a_line(tmp_path: Path) -> None:
    forged = "PT-1\nClinician: dr.admin"
    text = _pdf_text(render_pdf([Section("S", (Entry(forged),))], PageFrame("t", "m", "f", "n")), tmp_path)
    assert "PT-1<U+000A>Clinician: dr.admin" in text


def test_consult_note_pdf_shows_a_clinician_id_in_a_script_the_font_lacks(
    tmp_path: Path, moderate: tuple[Findings, Recommendation]
) -> None:
    findings, rec = moderate
    text = _pdf_text(consult_note_pdf(rec, findings, clinician_id=f"{CJK} Lee"), tmp_path)
    assert "Clinician <U+674E> Lee" in text  # the header of every page
    assert "clinician <U+674E> Lee" in text  # provenance
    # the copyable text has no font: it keeps the name as typed
    assert f"Clinician {CJK} Lee" in consult_note_text(rec, findings, clinician_id=f"{CJK} Lee")


def test_consult_note_pdf_reads_a_plain_clinician_id_unchanged(
    tmp_path: Path, moderate: tuple[Findings, Recommendation]
) -> None:
    findings, rec = moderate
    text = _pdf_text(consult_note_pdf(rec, findings, clinician_id="Dr Müller"), tmp_path)
    assert "Clinician Dr Müller" in text
    assert "<U+" not in text


def test_handout_pdf_shows_a_case_id_that_bypassed_validation_as_typed(
    tmp_path: Path, moderate: tuple[Findings, Recommendation]
) -> None:
    _, rec = moderate
    forged = rec.model_copy(update={"case_id": f"PT-{RLO}4321"})
    text = _pdf_text(handout_pdf(forged), tmp_path)
    assert "Reference PT-<U+202E>4321" in text
    assert "Reference PT-<U+202E>4321" in handout_text(forged)


def test_shipped_notes_and_handouts_print_unchanged() -> None:
    """No shipped word needs revealing: the PDF prints the data files' text as written."""
    _, show = _new_pdf(PageFrame("t", "m", "f", "n"))
    examples = sorted((ROOT / "data" / "examples").glob("*.json"))
    assert len(examples) >= 5
    for path in examples:
        findings, rec = _example(path.stem)
        for sections in (note_sections(rec, findings, "Dr Müller"), handout_sections(rec)):
            assert sections_shown(sections, show) == sections, path.stem


# --- the plain-text note, the summary and the calendar ------------------------------------------


def test_plain_text_shows_hidden_characters_by_code_point() -> None:
    text = render_plain([Section(f"T{ZWJ}", (Entry(f"PT-{RLO}4321", details=(f"x{BOM}y",)),))])
    assert text == "T<U+200D>:\n  - PT-<U+202E>4321\n      x<U+FEFF>y"


def test_consult_summary_and_note_show_a_forged_case_id_as_typed(
    moderate: tuple[Findings, Recommendation],
) -> None:
    findings, rec = moderate
    forged = rec.model_copy(update={"case_id": f"PT-{RLO}4321"})
    assert consult_summary(forged).splitlines()[0].startswith("myelo-cds assessment PT-<U+202E>4321 on ")
    forged_findings = findings.model_copy(update={"case_id": forged.case_id})
    note = consult_note_text(forged, forged_findings)
    assert "Case PT-<U+202E>4321 | Assessment date" in note
    assert "Case PT-<U+202E>4321; clinician (not given)" in note
    assert RLO not in note


def test_calendar_shows_a_forged_case_id_as_typed(moderate: tuple[Findings, Recommendation]) -> None:
    _, rec = moderate
    texts = _ics_texts(schedule_ics(rec.follow_up, f"PT-{RLO}4321", urgency=rec.urgency))
    assert texts[0] == "DCM follow-up PT-<U+202E>4321"
    descriptions = texts[2::2]
    assert descriptions
    assert all("Case id (pseudonymous): PT-<U+202E>4321" in d for d in descriptions)
    assert not any(RLO in text for text in texts)
    # the description keeps its own line breaks
    assert all(d.count("\n") >= 5 for d in descriptions)


# --- the consult page -----------------------------------------------------------------------------


def test_consult_page_names_the_override_in_a_typed_clinician_id() -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / "consult.py"), default_timeout=30)
    at.run()
    at.number_input(key="f.patient.age_years").set_value(64)
    at.run()
    at.text_input(key="clinician_id").input(f"dr.{RLO}eel").run()
    assert not at.exception
    errors = [error.value for error in at.error if "Clinician id" in error.value]
    assert errors
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in errors[0]
    assert RLO not in errors[0]  # the message shows the code point, never the override itself


def test_a_clinician_id_over_64_characters_is_refused_with_its_length(
    moderate: tuple[Findings, Recommendation],
) -> None:
    findings, rec = moderate
    with pytest.raises(InputError, match=r"clinician id refused: it has 65 characters\. Use up to 64"):
        consult_note_text(rec, findings, "x" * 65)
