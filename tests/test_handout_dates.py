"""Handout dates avoid weekends (issue 16): a visit due on a Saturday or Sunday is suggested on
the nearest weekday inside its window, never outside it."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from myelo_cds import Findings, assess
from myelo_cds.exports import handout_text
from myelo_cds.exports.handout import long_date, suggested_day
from myelo_cds.followup import Visit

SATURDAY = dt.date(2027, 1, 30)
SUNDAY = dt.date(2027, 1, 31)


def _visit(due: dt.date, before: int, after: int) -> Visit:
    return Visit(
        number=1,
        label="Follow-up visit",
        due=due,
        window_start=due - dt.timedelta(days=before),
        window_end=due + dt.timedelta(days=after),
        measures=(),
        mri_due=False,
    )


def test_a_saturday_visit_is_suggested_on_the_friday_before() -> None:
    assert suggested_day(_visit(SATURDAY, 14, 14)) == dt.date(2027, 1, 29)


def test_a_sunday_visit_is_suggested_on_the_monday_after() -> None:
    assert suggested_day(_visit(SUNDAY, 14, 14)) == dt.date(2027, 2, 1)


def test_a_window_opening_on_the_saturday_moves_the_visit_to_the_monday() -> None:
    assert suggested_day(_visit(SATURDAY, 0, 14)) == dt.date(2027, 2, 1)


def test_a_same_day_visit_on_a_weekend_keeps_its_day() -> None:
    """An emergency referral is today, whatever the day."""
    assert suggested_day(_visit(SUNDAY, 0, 0)) == SUNDAY


@given(
    due=st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2030, 12, 31)),
    before=st.integers(0, 30),
    after=st.integers(0, 30),
)
def test_the_suggested_day_is_always_inside_the_window_and_a_weekday_when_one_is_near(
    due: dt.date, before: int, after: int
) -> None:
    visit = _visit(due, before, after)
    day = suggested_day(visit)
    assert visit.window_start <= day <= visit.window_end
    assert abs((day - due).days) <= 2
    if due.weekday() < 5:
        assert day == due  # a weekday is never moved
    elif before + after >= 2 and (before >= 1 or after >= 2) and (after >= 1 or before >= 2):
        assert day.weekday() < 5


def test_the_handout_suggests_the_weekday_for_a_visit_due_on_a_weekend() -> None:
    """Mild DCM assessed on each day of one week: some visits fall due on a weekend."""
    weekend_visits = 0
    for offset in range(7):
        findings = Findings.model_validate(
            {
                "assessment_date": (dt.date(2026, 7, 27) + dt.timedelta(days=offset)).isoformat(),
                "patient": {"age_years": 50},
                "symptoms": {"hand_clumsiness": True, "gait_imbalance": True},
                "exam": {"umn": {"hoffmann_tromner": True}},
                "mjoa": {"ue_motor": 5, "le_motor": 6, "ue_sensation": 2, "sphincter": 3},
                "mri": {"available": True, "levels": {"C5-C6": {"kang": 2}}},
            }
        )
        rec = assess(findings)
        text = handout_text(rec)
        for visit in rec.follow_up.visits:
            if visit.window_start == visit.window_end:
                continue
            assert f"around {long_date(suggested_day(visit))}" in text
            if visit.due.weekday() >= 5:
                weekend_visits += 1
                assert f"around {long_date(visit.due)}" not in text
                assert "Saturday" not in long_date(suggested_day(visit))
                assert "Sunday" not in long_date(suggested_day(visit))
    assert weekend_visits
