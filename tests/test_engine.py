"""Engine behaviour a clinician relies on: precedence, unknowns, basis, scope."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

from myelo_cds import Findings, assess, default_engine

ROOT = Path(__file__).resolve().parents[1]
ON = dt.date(2026, 11, 24)

NEGATIVE_SCREEN = {
    "fever": False,
    "rapid_loss_of_ambulation": False,
    "deficit_after_trauma": False,
    "breathing_difficulty": False,
    "onset_tempo": "chronic",
    "sphincter_change": "none",
}


def moderate_dcm() -> dict[str, Any]:
    """Chronic hand clumsiness, Hoffmann positive, mJOA 13, C5-C6 compression."""
    return {
        "case_id": "T-1",
        "assessment_date": ON.isoformat(),
        "patient": {"age_years": 64, "history": {"cancer": False, "recent_trauma": False}},
        "symptoms": {"hand_clumsiness": True, "gait_imbalance": True, **NEGATIVE_SCREEN},
        "exam": {
            "umn": {"hoffmann_tromner": True, "jaw_jerk_brisk": False},
            "fasciculations_widespread": False,
            "tongue_signs": False,
            "sensation": {"sensory_level": "none"},
        },
        "mjoa": {"ue_motor": 3, "le_motor": 5, "ue_sensation": 2, "sphincter": 3},
        "mri": {
            "available": True,
            "unlisted_levels_normal": True,
            "levels": {"C5-C6": {"kang": 2, "t2_signal": "faint"}},
            "thoracic_cord_compression": False,
        },
    }


def run(data: dict[str, Any]) -> Any:
    return assess(Findings.model_validate(data))


def test_moderate_dcm_with_compression_gets_expedited_surgical_referral() -> None:
    rec = run(moderate_dcm())
    assert (rec.pathway, rec.urgency) == ("surgical_referral", "expedited")
    pathway_rule = next(rule for rule in rec.rules_fired if rule.kind == "pathway")
    assert pathway_rule.id == "R11"
    assert pathway_rule.strength == "strong"
    assert "Fehlings" in pathway_rule.citation
    assert pathway_rule.inputs == {"compression": "yes", "myelopathy": "yes", "band": "moderate"}


def test_red_flag_beats_severity() -> None:
    data = moderate_dcm()
    data["symptoms"]["fever"] = True
    rec = run(data)
    assert (rec.pathway, rec.urgency) == ("emergency_referral", "emergency")
    assert [r.id for r in rec.rules_fired if r.kind == "red_flag"] == ["RF-INFECTION-FEVER"]
    assert "R11" in rec.superseded


def test_alternative_diagnosis_beats_surgical_pathway() -> None:
    data = moderate_dcm()
    data["exam"]["fasciculations_widespread"] = True
    rec = run(data)
    assert rec.pathway == "further_workup"
    # Suspected motor neuron disease is referred without delay (NICE NG42): seen within days.
    assert rec.urgency == "urgent"
    assert "DX-MND" in [dx.id for dx in rec.differentials]


def test_unknown_is_not_absent_and_is_reported_when_it_matters() -> None:
    data = moderate_dcm()
    del data["symptoms"]["fever"]
    rec = run(data)
    assert rec.pathway == "surgical_referral"  # unknown fever does not fire a red flag ...
    fever = next(u for u in rec.unknowns if u.fields == ("symptoms.fever",))
    # ... but the engine says that a fever would change the answer.
    assert [(s.value, s.pathway) for s in fever.scenarios] == [("present", "emergency_referral")]


def test_missing_exam_signs_leave_myelopathy_undetermined_not_absent() -> None:
    data = moderate_dcm()
    data["exam"] = {}
    del data["mjoa"]
    rec = run(data)
    assert rec.features["myelopathy"] == "unknown"
    assert rec.pathway == "further_workup"
    assert rec.clinical_picture["myelopathy"].startswith("undetermined")


def test_one_mjoa_point_higher_is_offered_as_a_counterfactual() -> None:
    data = moderate_dcm()
    data["mjoa"]["ue_motor"] = 4  # total 14, moderate
    rec = run(data)
    changes = {cf.change: cf.pathway for cf in rec.counterfactuals}
    assert changes["one mJOA point higher (15)"] == "surgery_or_structured_rehab"


def test_myelomalacia_on_imaging_is_kept_apart_from_myelopathy() -> None:
    data = moderate_dcm()
    data["mri"]["levels"]["C5-C6"].update(t1_hypointensity=True, t2_signal="sharp")
    rec = run(data)
    assert rec.clinical_picture["myelomalacia_on_imaging"].startswith("yes")
    assert rec.clinical_picture["myelopathy"].startswith("present")
    assert "FL-MYELOMALACIA" in [flag.id for flag in rec.flags]
    assert rec.pathway == "surgical_referral"  # a prognostic flag never changes the pathway


def test_compression_at_c3_c5_with_breathing_difficulty_is_an_emergency() -> None:
    data = moderate_dcm()
    data["mri"]["levels"] = {"C3-C4": {"kang": 2}}
    data["symptoms"]["breathing_difficulty"] = True
    rec = run(data)
    assert rec.pathway == "emergency_referral"
    assert "RF-RESPIRATORY" in [r.id for r in rec.rules_fired]
    assert "level_note" in rec.clinical_picture


def test_child_is_outside_the_adult_guideline() -> None:
    data = moderate_dcm()
    data["patient"]["age_years"] = 12
    rec = run(data)
    assert rec.pathway == "further_workup"
    assert "age under 18" in rec.clinical_picture["scope"]


def test_thoracic_compression_is_outside_the_cervical_guideline() -> None:
    data = moderate_dcm()
    data["mri"]["thoracic_cord_compression"] = True
    rec = run(data)
    assert rec.pathway == "further_workup"
    assert "thoracic" in rec.clinical_picture["scope"]


def test_non_compressive_myelopathy_is_not_dcm() -> None:
    data = moderate_dcm()
    data["mri"]["levels"] = {"C5-C6": {"kang": 1}}
    rec = run(data)
    assert [r.id for r in rec.rules_fired if r.kind == "pathway"] == ["R5"]
    assert "non-compressive" in rec.clinical_picture["scope"]


def test_mild_dcm_after_3_months_rehab_without_gain_is_failure_to_improve() -> None:
    data = moderate_dcm()
    data["mjoa"] = {"ue_motor": 4, "le_motor": 6, "ue_sensation": 3, "sphincter": 3}  # 16
    data["earlier_mjoa"] = {
        "date": "2026-08-01",
        "ue_motor": 4,
        "le_motor": 6,
        "ue_sensation": 3,
        "sphincter": 3,
    }
    data["patient"].update(management="supervised_rehabilitation", management_since="2026-08-24")
    rec = run(data)
    assert [r.id for r in rec.rules_fired if r.kind == "pathway"] == ["R10"]
    data["patient"]["management_since"] = "2026-08-25"  # one day short of 3 calendar months
    assert [r.id for r in run(data).rules_fired if r.kind == "pathway"] == ["R8"]


def test_one_point_drop_is_possible_deterioration_and_two_points_is_deterioration() -> None:
    data = moderate_dcm()
    data["earlier_mjoa"] = {
        "date": "2026-05-01",
        "ue_motor": 5,
        "le_motor": 6,
        "ue_sensation": 3,
        "sphincter": 3,
    }
    data["mjoa"] = {"ue_motor": 5, "le_motor": 5, "ue_sensation": 3, "sphincter": 3}  # 17 -> 16
    rec = run(data)
    assert rec.pathway == "surgery_or_structured_rehab"
    assert "FL-POSSIBLE-DETERIORATION" in [flag.id for flag in rec.flags]
    six_weeks = ON + dt.timedelta(weeks=6)
    assert any(ON < visit.due <= six_weeks for visit in rec.follow_up.visits), "review within 6 weeks"
    data["mjoa"]["le_motor"] = 4  # 17 -> 15
    rec = run(data)
    assert (rec.pathway, rec.urgency) == ("surgical_referral", "expedited")
    assert [r.id for r in rec.rules_fired if r.kind == "pathway"] == ["R9"]


def test_every_result_carries_the_rule_set_version_and_hash() -> None:
    rec = run(moderate_dcm())
    rule_set = default_engine().rule_set
    assert rec.rule_set.version == rule_set.version
    assert rec.rule_set.sha256 == rule_set.sha256
    assert rec.disclaimer.startswith("Decision support")


def test_assessment_does_not_mutate_its_input() -> None:
    data = moderate_dcm()
    before = copy.deepcopy(data)
    run(data)
    assert data == before


def test_every_example_file_assesses() -> None:
    for path in sorted((ROOT / "data" / "examples").glob("*.json")):
        rec = run(json.loads(path.read_text()))
        assert rec.pathway, path.name
