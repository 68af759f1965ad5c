"""Deterioration over a stored course uses the clinical core's own rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

from myelo_cds import Findings
from myelo_cds.course import course_alerts, with_earlier_visit


def visit(on: str, le_motor: int, **extra: Any) -> Findings:
    """Mild-to-moderate DCM with C5-C6 compression; only the date and LE motor item vary."""
    data: dict[str, Any] = {
        "case_id": "P-1",
        "assessment_date": on,
        "patient": {"age_years": 61, "history": {"recent_trauma": False, "cancer": False}},
        "symptoms": {
            "hand_clumsiness": True,
            "onset_tempo": "chronic",
            "fever": False,
            "rapid_loss_of_ambulation": False,
            "sphincter_change": "none",
        },
        "exam": {"umn": {"hoffmann_tromner": True, "babinski": False}},
        "mjoa": {"ue_motor": 5, "le_motor": le_motor, "ue_sensation": 2, "sphincter": 3},
        "mri": {"available": True, "unlisted_levels_normal": True, "levels": {"C5-C6": {"kang": 2}}},
    }
    for path, value in extra.items():
        node = data
        *parents, last = path.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return Findings.model_validate(data)


def test_a_single_visit_has_no_course_alert() -> None:
    assert course_alerts([visit("2026-01-10", 7)]) == []


def test_two_point_fall_between_visits_is_deterioration_with_its_basis() -> None:
    alerts = course_alerts([visit("2026-01-10", 7), visit("2026-06-10", 5)])  # 17 -> 15
    assert alerts[0].level == "deterioration"
    assert alerts[0].pathway == "surgical_referral"
    assert alerts[0].rules == ("R9",)
    assert "mJOA 17 on 2026-01-10 -> 15 on 2026-06-10" in alerts[0].basis


def test_one_point_fall_is_possible_deterioration_only() -> None:
    alerts = course_alerts([visit("2026-01-10", 7), visit("2026-06-10", 6)])  # 17 -> 16
    assert [alert.level for alert in alerts] == ["possible_deterioration"]
    assert alerts[0].pathway == "surgery_or_structured_rehab"


def test_slow_decline_over_several_visits_is_caught_against_the_baseline() -> None:
    course = [visit("2026-01-10", 7), visit("2026-04-10", 6), visit("2026-07-10", 5)]  # 17, 16, 15
    assert course_alerts(course)[0].level == "deterioration"


def test_sign_absent_before_and_present_now_is_a_new_umn_sign() -> None:
    later = visit("2026-06-10", 7, exam__umn__babinski=True)
    alerts = course_alerts([visit("2026-01-10", 7), later])
    assert alerts[0].level == "deterioration"
    assert any("babinski" in line for line in alerts[0].basis)


def test_no_gain_after_three_months_of_rehabilitation_is_failure_to_improve() -> None:
    rehab = {"patient__management": "supervised_rehabilitation", "patient__management_since": "2026-01-10"}
    course = [visit("2026-01-10", 6, **rehab), visit("2026-04-20", 6, **rehab)]  # 16 -> 16
    alerts = course_alerts(course)
    assert alerts[0].level == "failure_to_improve"
    assert alerts[0].rules == ("R10",)


def test_gain_since_the_trial_began_is_not_failure_to_improve() -> None:
    rehab = {"patient__management": "supervised_rehabilitation", "patient__management_since": "2026-01-10"}
    course = [
        visit("2026-01-10", 5, **rehab),
        visit("2026-02-21", 6, **rehab),
        visit("2026-04-20", 6, **rehab),
    ]
    assert course_alerts(course) == []


def test_what_the_clinician_entered_is_never_overwritten() -> None:
    earlier = visit("2026-01-10", 7)
    entered = visit(
        "2026-06-10",
        6,
        earlier_mjoa={"date": "2026-05-01", "ue_motor": 5, "le_motor": 6, "ue_sensation": 2, "sphincter": 3},
    )
    assert with_earlier_visit(entered, earlier).earlier_mjoa == entered.earlier_mjoa
    filled = with_earlier_visit(visit("2026-06-10", 6), earlier)
    assert filled.earlier_mjoa is not None
    assert filled.earlier_mjoa.date == dt.date(2026, 1, 10)


def test_timeline_rows_bands_and_events() -> None:
    from myelo_cds.course import timeline

    rehab = {"patient__management": "supervised_rehabilitation", "patient__management_since": "2026-02-01"}
    visits = [
        (visit("2026-01-10", 7), "surgery_or_structured_rehab", "routine"),
        (visit("2026-06-10", 5, symptoms__falls=True, **rehab), "surgical_referral", "expedited"),
    ]
    course = timeline(visits)
    assert [row["mjoa"] for row in course.visits] == [17, 15]
    assert course.mcid_band == {"low": 16, "high": 18, "label": "baseline 17 +/- MCID 1 (mild)"}
    assert {event["label"] for event in course.annotations} == {"rehabilitation start", "falls reported"}
    measures = {row["measure"] for row in course.subdomains}
    assert "LE motor (0-7)" in measures


def _rehab_case(**extra: object) -> dict[str, object]:
    """Mild DCM (mJOA 16 now), four months into supervised rehabilitation, compression at C5-C6."""
    return {
        "assessment_date": "2025-06-01",
        "patient": {
            "age_years": 60,
            "management": "supervised_rehabilitation",
            "management_since": "2025-02-01",
            **extra,
        },
        "symptoms": {"hand_clumsiness": True, "onset_tempo": "chronic"},
        "exam": {"umn": {"hoffmann_tromner": True}},
        "mjoa": {"ue_motor": 4, "le_motor": 6, "ue_sensation": 3, "sphincter": 3},
        "earlier_mjoa": {
            "date": "2025-04-01",
            "ue_motor": 4,
            "le_motor": 6,
            "ue_sensation": 3,
            "sphincter": 3,
        },
        "mri": {"available": True, "levels": {"C5-C6": {"kang": 2}}, "unlisted_levels_normal": True},
    }


def test_failure_to_improve_is_judged_against_the_mjoa_at_the_start_of_rehabilitation() -> None:
    from myelo_cds import assess

    # Against the last visit (16 -> 16) this is "not improved": surgery is suggested.
    without = assess(Findings.model_validate(_rehab_case()))
    assert (without.features["course"], without.pathway) == ("not_improved", "surgical_referral")
    # The rehabilitation started at 15: 16 is a gain of the mild band's MCID (1 point).
    baseline = assess(Findings.model_validate(_rehab_case(rehabilitation_start_mjoa=15)))
    assert (baseline.features["course"], baseline.pathway) == ("improved", "surgery_or_structured_rehab")
    # Started at 18 (no deficit): 16 is a 2-point fall from the start, deterioration.
    fallen = assess(Findings.model_validate(_rehab_case(rehabilitation_start_mjoa=18)))
    assert fallen.features["course"] == "deteriorated"


def test_the_course_follows_the_total_attributed_to_myelopathy() -> None:
    from myelo_cds import assess

    data = _rehab_case()
    # Sensation worse by 2 points, attributed by the clinician to a neuropathy.
    data["mjoa"] = {
        "ue_motor": 4,
        "le_motor": 6,
        "ue_sensation": 1,
        "sphincter": 3,
        "not_due_to_myelopathy": ["ue_sensation"],
    }
    rec = assess(Findings.model_validate(data))
    assert rec.features["course"] != "deteriorated"
    data["mjoa"] = {"ue_motor": 4, "le_motor": 6, "ue_sensation": 1, "sphincter": 3}
    assert assess(Findings.model_validate(data)).features["course"] == "deteriorated"
