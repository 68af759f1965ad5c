"""Scales against their published definitions: both sides of every cut-off."""

from __future__ import annotations

import datetime as dt

import pytest

from myelo_cds import assess
from myelo_cds.findings import MJOA, EarlierMJOA, Findings, MJOAItem, Patient
from myelo_cds.scales import cook_cluster, mjoa_change, mjoa_score, mscc, nurick_grade, severity_band


def _mjoa(ue: int, le: int, sens: int, sph: int, **kw: object) -> MJOA:
    return MJOA(ue_motor=ue, le_motor=le, ue_sensation=sens, sphincter=sph, **kw)


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "severe"),
        (8, "severe"),
        (11, "severe"),
        (12, "moderate"),
        (14, "moderate"),
        (15, "mild"),
        (17, "mild"),
        (18, "normal"),
    ],
)
def test_mjoa_band_on_both_sides_of_each_cut_off(total: int, band: str) -> None:
    """Tetreault 2017: severe 0-11, moderate 12-14, mild 15-17; 18 has no deficit."""
    assert severity_band(total) == band


def test_mjoa_14_is_moderate_and_15_is_mild() -> None:
    assert severity_band(14) == "moderate"
    assert severity_band(15) == "mild"


@pytest.mark.parametrize("total", [-1, 19])
def test_mjoa_total_outside_0_18_is_refused(total: int) -> None:
    with pytest.raises(ValueError, match="outside 0-18"):
        severity_band(total)


def test_mjoa_maximum_is_18_with_ue_motor_5_not_4() -> None:
    """A known calculator error drops UE level 5 and reports a 17-point total."""
    score = mjoa_score(_mjoa(5, 7, 3, 3))
    assert score.total == 18
    assert score.item_wording["ue_motor"] == "No dysfunction"


def test_mjoa_item_wording_matches_the_level() -> None:
    score = mjoa_score(_mjoa(2, 3, 1, 2))
    assert score.total == 8
    assert score.band == "severe"
    assert score.very_severe is True
    assert score.item_wording["ue_motor"] == "Can eat with a spoon but cannot button a shirt"
    assert score.item_wording["le_motor"].startswith("Walks on level ground only with a walking aid")
    assert score.item_wording["ue_sensation"] == "Severe sensory loss or pain"
    assert score.item_wording["sphincter"] == "Mild-to-moderate difficulty with micturition"


def test_very_severe_is_8_or_less() -> None:
    assert mjoa_score(_mjoa(2, 3, 1, 2)).very_severe is True  # 8
    assert mjoa_score(_mjoa(3, 3, 1, 2)).very_severe is False  # 9


def test_attributed_total_counts_non_myelopathic_items_as_normal() -> None:
    score = mjoa_score(_mjoa(5, 6, 2, 1, not_due_to_myelopathy=frozenset({MJOAItem.sphincter})))
    assert score.total == 14
    assert score.band == "moderate"
    assert score.attributed_total == 16
    assert score.attributed_band == "mild"


@pytest.mark.parametrize(
    ("field", "value"), [("ue_motor", 6), ("le_motor", 8), ("ue_sensation", 4), ("sphincter", -1)]
)
def test_mjoa_item_out_of_range_is_refused(field: str, value: int) -> None:
    items = {"ue_motor": 5, "le_motor": 7, "ue_sensation": 3, "sphincter": 3, field: value}
    with pytest.raises(ValueError, match=field):
        MJOA.model_validate(items)


def test_every_score_carries_scale_id_version_and_citation() -> None:
    score = mjoa_score(_mjoa(5, 7, 3, 3))
    assert score.scale.id == "mjoa"
    assert score.scale.version
    assert "Benzel" in score.scale.citation
    assert nurick_grade(2).scale.id == "nurick"
    assert "Nurick" in nurick_grade(2).scale.citation


def _earlier(total_le: int, days_ago: int = 180) -> EarlierMJOA:
    return EarlierMJOA(
        date=dt.date(2026, 1, 1) - dt.timedelta(days=days_ago),
        ue_motor=5,
        le_motor=total_le,
        ue_sensation=3,
        sphincter=3,
    )


@pytest.mark.parametrize(
    ("earlier_le", "current_le", "band", "mcid", "reaches"),
    [
        (6, 7, "mild", 1, True),  # mild: MCID 1 point (17 -> 18)
        (6, 6, "mild", 1, False),
        (3, 5, "moderate", 2, True),  # moderate: MCID 2 points (14 -> 16)
        (3, 4, "moderate", 2, False),
    ],
)
def test_mcid_depends_on_baseline_severity(
    earlier_le: int, current_le: int, band: str, mcid: int, reaches: bool
) -> None:
    """Tetreault 2015: MCID 1 (mild), 2 (moderate), 3 (severe)."""
    change = mjoa_change(_mjoa(5, current_le, 3, 3), _earlier(earlier_le), on=dt.date(2026, 1, 1))
    assert change.earlier_band == band
    assert change.mcid == mcid
    assert change.reaches_mcid is reaches
    assert change.days == 180


def test_severe_mcid_is_3() -> None:
    earlier = EarlierMJOA(date=dt.date(2025, 1, 1), ue_motor=2, le_motor=3, ue_sensation=2, sphincter=3)
    change = mjoa_change(_mjoa(3, 4, 2, 3), earlier)
    assert (change.earlier_band, change.mcid, change.delta, change.reaches_mcid) == ("severe", 3, 2, False)


def test_band_worsened_when_crossing_15_to_14() -> None:
    change = mjoa_change(_mjoa(5, 4, 2, 3), _earlier(4))
    assert (change.earlier_total, change.current_total, change.band_worsened) == (15, 14, True)


@pytest.mark.parametrize(
    ("grade", "start"),
    [(0, "Root signs"), (1, "Signs of spinal cord disease"), (4, "Walks only"), (5, "Chair-bound")],
)
def test_nurick_wording(grade: int, start: str) -> None:
    assert nurick_grade(grade).wording.startswith(start)


def test_nurick_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="outside 0-5"):
        nurick_grade(6)


def test_mscc_worked_example() -> None:
    """MSCC = (1 - di / ((da + db) / 2)) x 100: di 4 mm, da 8 mm, db 8 mm -> 50 %."""
    assert mscc(4.0, 8.0, 8.0).percent == 50.0
    assert mscc(6.0, 8.0, 7.0).percent == 20.0
    assert mscc(8.0, 8.0, 8.0).percent == 0.0


def _cook(age: int, **umn: bool | None) -> Findings:
    gait = umn.pop("gait", None)
    return Findings.model_validate(
        {
            "patient": {"age_years": age},
            "exam": {"umn": umn, "coordination": {"gait_deviation": gait}},
        }
    )


def test_cook_cluster_three_of_five_rules_in() -> None:
    result = cook_cluster(
        _cook(60, hoffmann_tromner=True, babinski=True, inverted_brachioradialis=False, gait=False)
    )
    assert (result.positive, result.unknown) == (3, 0)
    assert "rule in" in result.interpretation


def test_cook_cluster_one_of_five_rules_out() -> None:
    result = cook_cluster(
        _cook(60, hoffmann_tromner=False, babinski=False, inverted_brachioradialis=False, gait=False)
    )
    assert result.positive == 1  # age > 45 only
    assert "rule out" in result.interpretation


def test_cook_cluster_age_45_is_not_over_45() -> None:
    assert cook_cluster(_cook(45)).items["age > 45"] is False
    assert cook_cluster(_cook(46)).items["age > 45"] is True


def test_cook_cluster_unknown_items_are_not_counted_as_negative() -> None:
    result = cook_cluster(_cook(60, hoffmann_tromner=True))
    assert (result.positive, result.unknown) == (2, 3)
    assert "not examined" in result.interpretation
    assert "rule out" not in result.interpretation


def test_patient_age_may_be_left_blank_and_then_the_pathway_is_incomplete() -> None:
    patient = Patient.model_validate({})
    assert patient.age_years is None
    rec = assess(Findings.model_validate({"patient": {}, "symptoms": {"hand_clumsiness": True}}))
    assert rec.incomplete == ("patient.age_years",)
    assert rec.provisional
    with pytest.raises(ValueError, match="age_years"):
        Patient.model_validate({"age_years": 121})
