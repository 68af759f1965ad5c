"""The urgent tier (seen within days) on every surface that shows or orders urgency.

The rule set decides when an answer is urgent; these tests build an urgent recommendation with
``model_copy`` and check that each surface says so in words, orders it between emergency and
expedited, and never colours it as an emergency.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from icalendar import Calendar

from myelo_cds import Findings, Recommendation, assess
from myelo_cds.exports.calendar import PRIORITY, schedule_ics
from myelo_cds.exports.consult_note import URGENCY_WORDS, consult_note_pdf, consult_summary
from myelo_cds.exports.fhir import REQUEST_PRIORITY, bundle_json
from myelo_cds.exports.handout import handout_text
from myelo_cds.findings import example_cases
from myelo_cds.followup import follow_up_schedule
from myelo_cds.records import WorklistRow
from myelo_cds.rules.result import ToConfirm
from myelo_cds.rules.ruleset import URGENCIES
from myelo_cds.service.cds_hooks import card_for
from myelo_cds.teaching import QuizAnswer, case_library, score_answer
from myelo_cds.ui.records import worklist_table

DAY = dt.date(2025, 4, 1)


def _moderate() -> tuple[Findings, Recommendation]:
    findings = Findings.model_validate(json.loads(example_cases()["moderate_dcm"]))
    return findings, assess(findings)


def _as(rec: Recommendation, urgency: str) -> Recommendation:
    """The same answer at another tier, with the schedule the protocol gives that tier."""
    deciding = [rule.id for rule in rec.rules_fired if rule.kind == "pathway"]
    plan = follow_up_schedule(rec.assessment_date, deciding, urgency)
    return rec.model_copy(update={"urgency": urgency, "follow_up": plan})


def test_the_urgency_order_puts_urgent_between_emergency_and_expedited() -> None:
    assert URGENCIES == ("emergency", "urgent", "expedited", "routine")


# --- follow-up ----------------------------------------------------------------------------------


def test_an_urgent_surgical_referral_is_assessed_within_days_then_reviewed_every_few_weeks() -> None:
    plan = follow_up_schedule(DAY, ["R11"], "urgent")
    assert plan.schedule_id == "awaiting_surgery_urgent"
    first = plan.visits[0]
    assert (first.due - DAY).days <= 5
    assert (first.window_end - DAY).days <= 5
    assert "within days" in first.label
    assert (plan.visits[0].due - DAY) < (follow_up_schedule(DAY, ["R11"], "expedited").visits[0].due - DAY)


@pytest.mark.parametrize("rule", ["R4", "R14", "R-POSTOP", "R7"])
def test_an_urgent_answer_on_any_other_pathway_is_reviewed_within_days(rule: str) -> None:
    plan = follow_up_schedule(DAY, [rule], "urgent")
    assert plan.schedule_id == "urgent_review"
    assert (plan.visits[0].due - DAY).days <= 5


def test_an_emergency_on_a_pathway_other_than_emergency_referral_still_gets_the_same_day_item() -> None:
    plan = follow_up_schedule(DAY, ["R4"], "emergency")
    assert plan.schedule_id == "emergency"
    assert plan.visits[0].due == DAY


def test_every_tier_is_reviewed_no_later_than_the_tier_below_it() -> None:
    firsts = [follow_up_schedule(DAY, ["R4"], urgency).visits[0].due for urgency in URGENCIES]
    assert firsts == sorted(firsts)


# --- exports ------------------------------------------------------------------------------------


def test_the_ics_events_of_an_urgent_plan_carry_its_priority_and_say_urgent() -> None:
    findings, rec = _moderate()
    urgent = _as(rec, "urgent")
    calendar = Calendar.from_ical(schedule_ics(urgent.follow_up, findings.case_id, urgency="urgent"))
    events = list(calendar.walk("VEVENT"))
    assert events
    assert {str(event["PRIORITY"]) for event in events} == {str(PRIORITY["urgent"])}
    assert all("Urgency of the assessment: URGENT" in str(event["DESCRIPTION"]) for event in events)
    assert "within days" in str(events[0]["SUMMARY"])


def test_ics_priorities_keep_the_four_tiers_apart_and_in_order() -> None:
    assert [PRIORITY[urgency] for urgency in URGENCIES] == sorted({PRIORITY[u] for u in URGENCIES})


def test_the_pdf_note_of_an_urgent_answer_says_urgent_within_days(tmp_path: Path) -> None:
    findings, rec = _moderate()
    pdftotext = shutil.which("pdftotext") or pytest.fail("pdftotext not found: apt-get install poppler-utils")
    source = tmp_path / "note.pdf"
    source.write_bytes(consult_note_pdf(_as(rec, "urgent"), findings))
    text = subprocess.run([pdftotext, str(source), "-"], capture_output=True, text=True, check=True).stdout
    assert "!! URGENT" in text
    assert URGENCY_WORDS["urgent"] in " ".join(text.split())
    assert "Urgent surgical assessment (within days)" in text


def test_the_text_summary_marks_urgent_between_emergency_and_expedited() -> None:
    _, rec = _moderate()
    marks = [consult_summary(_as(rec, u)).split("RECOMMENDATION: ")[1].split("\n")[0] for u in URGENCIES]
    assert [mark.count("!") for mark in marks] == [3, 2, 1, 0]
    assert "URGENT" in marks[1]


@pytest.mark.parametrize(
    ("urgency", "priority"),
    [("emergency", "stat"), ("urgent", "asap"), ("expedited", "urgent"), ("routine", "routine")],
)
def test_the_fhir_referral_priority_follows_the_urgency(urgency: str, priority: str) -> None:
    findings, rec = _moderate()
    bundle = json.loads(bundle_json(findings, _as(rec, urgency)))
    (request,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ServiceRequest"]
    assert request["priority"] == priority == REQUEST_PRIORITY[urgency]
    assert request["intent"] == "proposal"


def test_the_fhir_referral_lists_the_questions_to_confirm() -> None:
    findings, rec = _moderate()
    question = ToConfirm(
        input="Onset tempo",
        fields=("symptoms.onset_tempo",),
        red_flags=("RF-ACUTE-DEFICIT",),
        urgency_if_positive="emergency",
        escalated=True,
    )
    provisional = rec.model_copy(update={"provisional": True, "to_confirm": (question,)})
    bundle = json.loads(bundle_json(findings, provisional))
    (request,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ServiceRequest"]
    notes = [note["text"] for note in request["note"]]
    assert any(note.startswith("Provisional") for note in notes)
    assert "To confirm (emergency if positive): Onset tempo" in notes


def test_the_handout_of_an_urgent_answer_says_within_days_in_plain_words() -> None:
    _, rec = _moderate()
    text = handout_text(_as(rec, "urgent"))
    assert "within the next few days" in text
    assert "Urgent: today" not in text  # the emergency words are kept for emergencies


# --- CDS Hooks ----------------------------------------------------------------------------------


def test_an_urgent_card_is_a_warning_not_critical_and_says_urgent() -> None:
    _, rec = _moderate()
    card = card_for(_as(rec, "urgent"), "http://127.0.0.1/consult")
    assert card["indicator"] == "warning"
    assert "URGENT" in card["summary"]
    assert card_for(_as(rec, "emergency"), "http://127.0.0.1/consult")["indicator"] == "critical"
    assert card_for(_as(rec, "routine"), "http://127.0.0.1/consult")["indicator"] == "info"


# --- training quiz ------------------------------------------------------------------------------


def test_quiz_urgency_credit_falls_a_third_per_tier_and_names_under_triage() -> None:
    case = case_library()[0]
    rec = assess(case.findings).model_copy(update={"urgency": "urgent"})
    scored = {
        urgency: score_answer(case, QuizAnswer(pathway=case.expected.pathway, urgency=urgency), rec)
        for urgency in URGENCIES
    }
    assert [scored[u].urgency_credit for u in URGENCIES] == pytest.approx([2 / 3, 1.0, 2 / 3, 1 / 3])
    assert scored["routine"].urgency_distance == -2
    assert any("under-triage: less urgent by 2 tiers" in line for line in scored["routine"].differences)
    assert any("over-triage" in line for line in scored["emergency"].differences)
    assert not [line for line in scored["urgent"].differences if line.startswith("Urgency")]


def test_a_quiz_answer_without_an_urgency_is_scored_as_before() -> None:
    case = case_library()[0]
    result = score_answer(case, QuizAnswer(pathway=case.expected.pathway))
    assert result.urgency_credit is None
    assert result.urgency_expected == assess(case.findings).urgency


# --- worklist -----------------------------------------------------------------------------------


def _row(patient: str, status: str, urgency: str, due: dt.date) -> WorklistRow:
    return WorklistRow(
        status=status,
        patient_id=patient,
        due=due,
        window_start=due,
        window_end=due,
        label="Follow-up visit",
        mri_due=False,
        last_assessment_date=DAY,
        last_pathway="further_workup",
        last_urgency=urgency,
        course_alert=None,
    )


def test_the_worklist_puts_patients_to_see_now_first_then_the_more_urgent() -> None:
    rows = [
        _row("P-routine-overdue", "overdue", "routine", DAY - dt.timedelta(days=7)),
        _row("P-expedited-due", "due", "expedited", DAY),
        _row("P-urgent-due", "due", "urgent", DAY + dt.timedelta(days=2)),
        _row("P-emergency-scheduled", "scheduled", "emergency", DAY + dt.timedelta(days=30)),
        _row("P-urgent-overdue", "overdue", "urgent", DAY - dt.timedelta(days=1)),
    ]
    order = [row["patient"] for row in worklist_table(rows)]
    assert order == [
        "P-urgent-overdue",
        "P-urgent-due",
        "P-expedited-due",
        "P-routine-overdue",
        "P-emergency-scheduled",
    ]
