"""Consistency warnings: entered values that do not fit together.

A warning is shown beside the answer and never refuses the input: the clinician may be
right and the form wrong, or the other way round. Every number comes from the rule
parameters or the scale data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from annotated_types import Le

from myelo_cds.findings import Findings, LevelFinding, SphincterChange, T2Signal
from myelo_cds.rules.result import ConsistencyWarning
from myelo_cds.scales import mjoa_scale, nurick_grade

__all__ = ["consistency_warnings"]


def _bladder(findings: Findings) -> Iterator[ConsistencyWarning]:
    mjoa = findings.mjoa
    if mjoa is None or mjoa.sphincter != 0:
        return
    change = findings.symptoms.sphincter_change
    if change in (None, SphincterChange.none):
        lowest = _item_levels("sphincter")[0].lower()
        recorded = "no bladder change is recorded" if change is None else "bladder change is 'none'"
        yield ConsistencyWarning(
            code="bladder_item_without_sphincter_change",
            message=f"mJOA bladder item 0 ({lowest}) but {recorded}: possible acute urinary "
            "retention. Ask, and check a bladder scan.",
            fields=("mjoa.sphincter", "symptoms.sphincter_change"),
        )


def _item_levels(item_id: str) -> list[str]:
    return next(list(item["levels"]) for item in mjoa_scale()["items"] if item["id"] == item_id)


def _gait(findings: Findings, params: Mapping[str, Any]) -> Iterator[ConsistencyWarning]:
    if findings.nurick is None or findings.mjoa is None:
        return
    walks = findings.mjoa.le_motor > params["non_ambulant_max_le_motor"]
    chair_bound = findings.nurick == params["nurick_non_ambulant_grade"]
    normal_gait = findings.nurick <= params["nurick_normal_gait_max"]
    if (chair_bound and walks) or (normal_gait and not walks):
        wording = nurick_grade(findings.nurick).wording.lower()
        yield ConsistencyWarning(
            code="nurick_mjoa_mismatch",
            message=f"Nurick {findings.nurick} ({wording}) does not fit the "
            f"mJOA lower-extremity item {findings.mjoa.le_motor} "
            f"({_item_levels('le_motor')[findings.mjoa.le_motor].lower()}): check both.",
            fields=("nurick", "mjoa.le_motor"),
        )


def _highest_kang() -> int:
    """The highest Kang grade (cord signal change), from the model's own range."""
    bounds = [item.le for item in LevelFinding.model_fields["kang"].metadata if isinstance(item, Le)]
    return int(str(bounds[0]))


def _kang_three(findings: Findings) -> Iterator[ConsistencyWarning]:
    highest = _highest_kang()
    for level, finding in findings.mri.levels.items():
        if (
            finding.kang is not None
            and finding.kang == highest
            and finding.t2_signal in (None, T2Signal.none)
        ):
            recorded = "not recorded" if finding.t2_signal is None else "recorded as none"
            yield ConsistencyWarning(
                code="kang3_without_t2",
                message=f"Kang {finding.kang} at {level.value} means a T2 signal change in the cord, "
                f"but the T2 signal there is {recorded}: check the report.",
                fields=(f"mri.levels.{level.value}.kang", f"mri.levels.{level.value}.t2_signal"),
            )


def _mri_report(findings: Findings) -> Iterator[ConsistencyWarning]:
    mri = findings.mri
    if mri.available and not mri.levels and mri.unlisted_levels_normal is not True:
        yield ConsistencyWarning(
            code="mri_report_incomplete",
            message="MRI marked as done but no cervical level is entered: the MRI report is "
            "incomplete (this is not 'not yet imaged'). Enter the Kang grade per level, or mark "
            "the unlisted levels as normal.",
            fields=("mri.levels", "mri.unlisted_levels_normal"),
        )


def _age(findings: Findings, params: Mapping[str, Any]) -> Iterator[ConsistencyWarning]:
    age = findings.patient.age_years
    if age is not None and age < params["adult_min_age"]:
        yield ConsistencyWarning(
            code="paediatric_adult_guideline",
            message=f"Age {age}: the adult DCM guideline (from {params['adult_min_age']} years) does "
            "not apply; refer to paediatric spine or neurology services.",
            fields=("patient.age_years",),
        )


def _course(facts: Mapping[str, Any], params: Mapping[str, Any]) -> Iterator[ConsistencyWarning]:
    delta = facts.get("mjoa_delta")
    drop = int(params["deterioration_drop_points"])
    if delta is not None and 0 < delta < drop and facts["features"]["course"] == "improved":
        yield ConsistencyWarning(
            code="course_one_point_asymmetry",
            message=f"A rise of {delta} mJOA point counts as improvement (the MCID for mild DCM), "
            f"while a fall counts as deterioration only from {drop} points: a change this small may "
            "be within measurement error.",
            fields=("mjoa", "earlier_mjoa"),
        )


def consistency_warnings(
    findings: Findings, facts: Mapping[str, Any], params: Mapping[str, Any]
) -> tuple[ConsistencyWarning, ...]:
    """Every consistency warning for one assessment, in form order."""
    return (
        *_age(findings, params),
        *_bladder(findings),
        *_gait(findings, params),
        *_course(facts, params),
        *_kang_three(findings),
        *_mri_report(findings),
    )
