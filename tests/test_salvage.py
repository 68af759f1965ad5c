"""Salvage: the findings built from every valid value entered; each invalid value left out and named."""

from __future__ import annotations

from typing import Any

import pytest

from myelo_cds import assess
from myelo_cds.findings import FieldProblem, Findings, salvage

FEVER_AND_CLUMSY = {"fever": True, "hand_clumsiness": True}


def _fields(problems: tuple[FieldProblem, ...]) -> list[str]:
    return [problem.field for problem in problems]


def test_valid_findings_come_back_as_entered_with_no_problem() -> None:
    data = {"patient": {"age_years": 64}, "symptoms": FEVER_AND_CLUMSY, "nurick": 2}
    findings, problems = salvage(data)
    assert problems == ()
    assert findings == Findings.model_validate(data)


def test_rehabilitation_chosen_before_its_date_is_left_out_and_the_red_flag_still_fires() -> None:
    data = {
        "patient": {
            "age_years": 60,
            "management": "supervised_rehabilitation",
            "history": {"recent_trauma": True},
        },
        "symptoms": {"deficit_after_trauma": True},
    }
    findings, problems = salvage(data)
    assert _fields(problems) == ["patient.management"]
    assert "management_since is required" in problems[0].problem
    assert findings.symptoms.deficit_after_trauma is True
    rec = assess(findings)
    assert rec.urgency == "emergency"
    assert "RF-TRAUMA" in [rule.id for rule in rec.rules_fired if rule.kind == "red_flag"]


def test_value_out_of_range_is_dropped_and_named_with_its_allowed_range() -> None:
    findings, problems = salvage({"patient": {"age_years": 70}, "nurick": 7, "symptoms": FEVER_AND_CLUMSY})
    (problem,) = problems
    assert problem.field == "nurick"
    assert problem.value == "7"
    assert problem.problem == "outside the range this field allows"
    assert problem.allowed == "0-5, whole numbers"
    assert problem.message.startswith("Nurick grade (0-5) [nurick]: 7 - outside the range")
    assert findings.nurick is None
    assert findings.symptoms.fever is True


def test_unknown_field_is_dropped_with_the_nearest_field_suggested() -> None:
    findings, problems = salvage(
        {"patient": {"age_years": 70}, "symptoms": {"fevr": True, "hand_clumsiness": True}}
    )
    (problem,) = problems
    assert problem.field == "symptoms.fevr"
    assert "did you mean 'fever'" in problem.problem
    assert findings.symptoms.hand_clumsiness is True


@pytest.mark.parametrize(
    ("name", "suggested"),
    [
        ("age_yaers", "did you mean 'patient.age_years'?"),  # a field of another section
        ("qxzwv_salvage_only", "allowed fields here: hand_clumsiness, "),  # near no field at all
    ],
)
def test_an_unknown_field_near_none_of_its_section_is_suggested_from_elsewhere_or_listed(
    name: str, suggested: str
) -> None:
    # Names met by no other test: the suggestions are remembered per (section, name).
    _, problems = salvage({"patient": {"age_years": 70}, "symptoms": {name: True}})
    (problem,) = problems
    assert problem.field == f"symptoms.{name}"
    assert suggested in problem.problem


def test_an_mjoa_scored_on_some_items_only_is_left_out_as_incomplete() -> None:
    findings, problems = salvage({"patient": {"age_years": 70}, "mjoa": {"ue_motor": 3, "le_motor": 5}})
    assert _fields(problems) == ["mjoa"]
    assert problems[0].problem.startswith("incomplete: ")
    assert findings.mjoa is None


def test_mri_findings_without_a_scan_are_left_out_not_the_rest_of_the_mri() -> None:
    findings, problems = salvage({"patient": {"age_years": 70}, "mri": {"available": False, "opll": True}})
    assert _fields(problems) == ["mri.opll"]
    assert findings.mri.available is False


def test_dates_after_the_assessment_drop_the_earlier_score_and_the_management_that_needs_its_date() -> None:
    findings, problems = salvage(
        {
            "assessment_date": "2025-01-01",
            "patient": {"age_years": 60, "management": "postoperative", "management_since": "2026-01-01"},
            "earlier_mjoa": {
                "date": "2025-06-01",
                "ue_motor": 4,
                "le_motor": 6,
                "ue_sensation": 2,
                "sphincter": 3,
            },
        }
    )
    assert _fields(problems) == ["earlier_mjoa", "patient.management_since", "patient.management"]
    assert str(findings.assessment_date) == "2025-01-01"
    assert findings.earlier_mjoa is None


HOSTILE: list[tuple[str, dict[str, Any], str]] = [
    ("text in a number", {"nurick": "three"}, "nurick"),
    ("a fraction of a grade", {"exam": {"strength": {"C5": {"left": 3.5}}}}, "exam.strength.C5.left"),
    ("a huge number", {"nurick": 10**40}, "nurick"),
    (
        "not a number at all",
        {"exam": {"coordination": {"walk_30m_seconds": float("nan")}}},
        "exam.coordination.walk_30m_seconds",
    ),
    ("a list for a yes/no", {"exam": {"umn": {"babinski": [True]}}}, "exam.umn.babinski"),
    ("a word for yes/no", {"exam": {"umn": {"babinski": "perhaps"}}}, "exam.umn.babinski"),
    ("a section that is not a section", {"exam": {"umn": 5}}, "exam.umn"),
    (
        "a made-up choice",
        {"symptoms": {"onset_tempo": "yesterday", **FEVER_AND_CLUMSY}},
        "symptoms.onset_tempo",
    ),
    ("a name in the case id", {"case_id": "Jane Doe, 12 High St"}, "case_id"),
    ("a line break in the case id", {"case_id": "case-1\nRECOMMENDATION: routine"}, "case_id"),
    (
        "a level that does not exist",
        {"mri": {"available": True, "levels": {"C9-C10": {"kang": 2}}}},
        "mri.levels.C9-C10",
    ),
    ("an impossible date", {"assessment_date": "2025-02-30"}, "assessment_date"),
    ("a script for a date", {"assessment_date": "<script>alert(1)</script>"}, "assessment_date"),
    ("a long pasted note", {"symptoms": {"notes": "x" * 10_000}}, "symptoms.notes"),
    (
        "an unknown member of a set",
        {
            "mjoa": {
                "ue_motor": 5,
                "le_motor": 7,
                "ue_sensation": 3,
                "sphincter": 3,
                "not_due_to_myelopathy": ["knee"],
            }
        },
        "mjoa.not_due_to_myelopathy",
    ),
    ("a future schema", {"schema_version": 99}, "schema_version"),
]


@pytest.mark.parametrize(("name", "bad", "field"), HOSTILE, ids=[case[0] for case in HOSTILE])
def test_a_hostile_value_is_dropped_named_and_the_red_flag_kept(
    name: str, bad: dict[str, Any], field: str
) -> None:
    data: dict[str, Any] = {"patient": {"age_years": 70}, "symptoms": dict(FEVER_AND_CLUMSY)}
    for section, value in bad.items():
        if isinstance(value, dict) and isinstance(data.get(section), dict):
            data[section] = {**data[section], **value}
        else:
            data[section] = value
    findings, problems = salvage(data)
    assert field in _fields(problems), name
    assert all(len(problem.value) <= 60 for problem in problems)
    assert all("\n" not in problem.message for problem in problems)
    assert findings.symptoms.fever is True
    assert assess(findings).urgency == "emergency"


def test_salvage_does_not_change_what_was_entered() -> None:
    data = {"patient": {"age_years": 60, "management": "postoperative"}, "nurick": 9}
    salvage(data)
    assert data == {"patient": {"age_years": 60, "management": "postoperative"}, "nurick": 9}


def test_a_blank_age_is_no_problem_the_red_flag_fires_and_the_pathway_is_marked_incomplete() -> None:
    findings, problems = salvage({"symptoms": FEVER_AND_CLUMSY})
    assert problems == ()
    assert findings.patient.age_years is None
    rec = assess(findings)
    assert rec.urgency == "emergency"
    assert rec.incomplete == ("patient.age_years",)


def test_an_age_out_of_range_is_left_out_and_the_answer_waits_for_a_valid_one() -> None:
    findings, problems = salvage({"patient": {"age_years": 300}, "symptoms": FEVER_AND_CLUMSY})
    assert _fields(problems) == ["patient.age_years"]
    assert problems[0].allowed == "0-120, whole numbers"
    rec = assess(findings)
    assert rec.urgency == "emergency"
    assert rec.incomplete == ("patient.age_years",)


@pytest.mark.parametrize("hostile", [["not", "findings"], "findings", 42, None], ids=repr)
def test_input_that_is_not_a_set_of_findings_is_named_and_nothing_is_invented(hostile: Any) -> None:
    findings, problems = salvage(hostile)
    assert _fields(problems) == ["input"]
    assert findings == Findings.model_validate({"patient": {}})


def test_a_patient_section_that_is_not_a_section_is_left_out_and_the_rest_kept() -> None:
    findings, problems = salvage({"patient": "Jane Doe, 71", "symptoms": FEVER_AND_CLUMSY})
    assert _fields(problems) == ["patient"]
    assert findings.symptoms.fever is True
