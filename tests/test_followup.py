"""Follow-up schedules: dates, windows and the choice of protocol."""

from __future__ import annotations

import datetime as dt

import pytest

from myelo_cds import default_rule_set, follow_up_schedule
from myelo_cds._dates import add_months
from myelo_cds.followup import load_protocol

START = dt.date(2026, 1, 31)


def test_add_months_clamps_to_the_end_of_the_month() -> None:
    assert add_months(START, 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2027, 12, 15), 3) == dt.date(2028, 3, 15)
    assert add_months(dt.date(2027, 11, 30), 3) == dt.date(2028, 2, 29)  # leap year


def test_mild_dcm_rehabilitation_schedule_has_the_failure_to_improve_check_at_3_months() -> None:
    plan = follow_up_schedule(dt.date(2026, 3, 1), ["R8"], "routine")
    assert plan.schedule_id == "mild_rehabilitation"
    dues = [visit.due for visit in plan.visits]
    assert dues[:4] == [dt.date(2026, 3, 1), dt.date(2026, 4, 12), dt.date(2026, 6, 1), dt.date(2026, 9, 1)]
    three_months = plan.visits[2]
    assert "Failure-to-improve" in three_months.label
    assert plan.visits[3].mri_due is True
    assert any("2 or more points" in trigger for trigger in plan.escalation)


def test_visit_windows_surround_the_due_date_and_never_start_before_the_assessment() -> None:
    plan = follow_up_schedule(START, ["R14"], "routine")
    for visit in plan.visits:
        assert visit.window_start <= visit.due <= visit.window_end
        assert visit.window_start >= START
    assert [v.due for v in plan.visits][:2] == [dt.date(2026, 7, 31), dt.date(2027, 1, 31)]


def test_radiculopathy_or_abnormal_sep_gets_the_closer_surveillance() -> None:
    assert follow_up_schedule(START, ["R13"], "routine").schedule_id == "surveillance_high_risk"
    risky = follow_up_schedule(START, ["R14"], "routine", ["FL-ASCC-RISK"])
    assert risky.schedule_id == "surveillance_high_risk"
    assert risky.visits[0].due == dt.date(2026, 4, 30)


def test_expedited_work_up_is_reviewed_sooner_than_routine() -> None:
    routine = follow_up_schedule(START, ["R5"], "routine")
    expedited = follow_up_schedule(START, ["R5"], "expedited")
    assert expedited.visits[0].due < routine.visits[0].due


def test_possible_deterioration_adds_an_early_review_when_none_is_due() -> None:
    plan = follow_up_schedule(START, ["R14"], "routine", ["FL-POSSIBLE-DETERIORATION"])
    assert plan.visits[0].due == START + dt.timedelta(weeks=6)
    assert "possible deterioration" in plan.visits[0].label
    assert plan.notes


def test_emergency_has_a_same_day_item_only() -> None:
    plan = follow_up_schedule(START, ["R1"], "emergency")
    assert [visit.due for visit in plan.visits] == [START]


def test_postoperative_schedule_matches_the_reference_points() -> None:
    plan = follow_up_schedule(START, ["R-POSTOP"], "routine")
    assert [visit.due for visit in plan.visits] == [
        START + dt.timedelta(weeks=2),
        START + dt.timedelta(weeks=6),
        dt.date(2026, 4, 30),
        dt.date(2026, 7, 31),
        dt.date(2027, 1, 31),
        dt.date(2028, 1, 31),
    ]


@pytest.mark.parametrize("rule", [row.id for row in default_rule_set().pathway])
def test_every_pathway_rule_has_a_schedule(rule: str) -> None:
    for urgency in ("routine", "expedited", "emergency"):
        assert follow_up_schedule(START, [rule], urgency).visits


def test_protocol_is_labelled_as_a_design_default_with_version_and_hash() -> None:
    protocol = load_protocol()
    assert protocol["protocol"]["evidence"] == "design"
    plan = follow_up_schedule(START, ["R8"], "routine")
    assert plan.protocol_version == protocol["protocol"]["version"]
    assert len(plan.protocol_sha256) == 64
