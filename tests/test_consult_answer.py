"""The consult's answer is worked out once per change and never outlives the draft or the day."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from myelo_cds import assess
from myelo_cds.ui.consult_answer import assessed

MODERATE: dict[str, Any] = {
    "patient": {"age_years": 58, "symptom_duration_months": 8},
    "symptoms": {"hand_clumsiness": True, "gait_imbalance": True},
    "exam": {"umn": {"hoffmann_tromner": True}},
}


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the engine's runs."""
    counted: list[int] = []

    def counting(findings: Any, on: Any = None) -> Any:
        counted.append(1)
        return assess(findings, on)

    monkeypatch.setattr("myelo_cds.ui.consult_answer.assess", counting)
    return counted


def test_the_parts_of_the_page_share_one_answer_per_change(runs: list[int]) -> None:
    kept: dict[str, Any] = {}
    day = dt.date(2026, 12, 7)
    first = assessed(MODERATE, kept, day)
    assert assessed(MODERATE, kept, day) is first
    assert len(runs) == 1
    changed = {**MODERATE, "symptoms": {"hand_clumsiness": True, "gait_imbalance": True, "falls": True}}
    assert assessed(changed, kept, day) is not first
    assert len(runs) == 2


def test_a_tab_left_open_past_midnight_gets_a_new_answer(runs: list[int]) -> None:
    kept: dict[str, Any] = {}
    before = assessed(MODERATE, kept, dt.date(2026, 12, 7))
    after = assessed(MODERATE, kept, dt.date(2026, 12, 8))
    assert len(runs) == 2
    assert not isinstance(before, str)
    assert not isinstance(after, str)
    # A blank assessment date is the day of the run: the follow-up counts from the new day.
    assert before[2].assessment_date == dt.date(2026, 12, 7)
    assert after[2].assessment_date == dt.date(2026, 12, 8)
    assert before[2].follow_up != after[2].follow_up


def test_an_entered_assessment_date_is_kept_whatever_the_day(runs: list[int]) -> None:
    dated = {**MODERATE, "assessment_date": "2026-06-01"}
    answer = assessed(dated, {}, dt.date(2026, 12, 7))
    assert not isinstance(answer, str)
    assert answer[2].assessment_date == dt.date(2026, 6, 1)
