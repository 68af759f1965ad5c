"""Safety invariants over the full findings model, proved by property-based tests.

Together with the static verification of the decision tables (``test_verify.py``) these
show: any red flag gives the emergency pathway; worsening any single finding never makes
the recommendation less urgent; the engine is deterministic and total.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myelo_cds import Engine, Findings, assess, default_engine
from myelo_cds.rules.ruleset import PATHWAYS, URGENCIES
from tests.strategies import ASSESSED_ON, any_findings_dicts, worsenings

EXAMPLES = settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
RANK = {urgency: len(URGENCIES) - i for i, urgency in enumerate(URGENCIES)}


def _decision(data: dict[str, Any]) -> tuple[str, str, tuple[str, ...]]:
    evaluation = default_engine().decide(Findings.model_validate(data))
    return evaluation.decision.pathway, evaluation.decision.urgency, evaluation.red_flags


@pytest.mark.no_cover  # repeats measured code many times: see the no_cover hook in conftest
@EXAMPLES
@given(any_findings_dicts())
def test_engine_is_total_on_every_valid_input(data: dict[str, Any]) -> None:
    recommendation = assess(Findings.model_validate(data))
    assert recommendation.pathway in PATHWAYS
    assert recommendation.urgency in URGENCIES
    assert sum(1 for rule in recommendation.rules_fired if rule.kind == "pathway") >= 1
    assert recommendation.follow_up.visits, "every recommendation comes with a schedule"


@pytest.mark.no_cover  # repeats measured code many times: see the no_cover hook in conftest
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_findings_dicts())
def test_engine_is_deterministic(data: dict[str, Any]) -> None:
    findings = Findings.model_validate(data)
    first = assess(findings).model_dump()
    again = assess(Findings.model_validate(copy.deepcopy(data))).model_dump()
    fresh_engine = Engine().assess(findings).model_dump()
    assert first == again == fresh_engine


@EXAMPLES
@given(any_findings_dicts())
def test_any_red_flag_gives_emergency_referral(data: dict[str, Any]) -> None:
    pathway, urgency, red_flags = _decision(data)
    if red_flags:
        assert (pathway, urgency) == ("emergency_referral", "emergency"), red_flags


def _deficit(data: dict[str, Any]) -> None:
    data.setdefault("symptoms", {})["hand_clumsiness"] = True


def _scanned(data: dict[str, Any]) -> dict[str, Any]:
    """The MRI section, made available (a drawn MRI keeps its findings)."""
    mri: dict[str, Any] = data["mri"]
    if not mri.get("available"):
        data["mri"] = mri = {"available": True}
    return mri


def _early_postoperative(data: dict[str, Any]) -> None:
    """Operated on within the early post-operative weeks before the assessment (dates in order)."""
    days = default_engine().params["early_postoperative_days"] // 2
    patient = data["patient"]
    patient["management"] = "postoperative"
    patient["management_since"] = (ASSESSED_ON - dt.timedelta(days=days)).isoformat()


def _inject(red_flag: str, data: dict[str, Any]) -> None:
    symptoms = data.setdefault("symptoms", {})
    history = data["patient"].setdefault("history", {})
    if red_flag == "RF-TRAUMA":
        symptoms["deficit_after_trauma"] = True  # the yes implies the trauma (recent_trauma as drawn)
    elif red_flag == "RF-RAPID-AMBULATION":
        symptoms["rapid_loss_of_ambulation"] = True
    elif red_flag == "RF-RAPID-MJOA":
        data["mjoa"] = {"ue_motor": 3, "le_motor": 5, "ue_sensation": 2, "sphincter": 3}
        data["earlier_mjoa"] = {
            "ue_motor": 5,
            "le_motor": 6,
            "ue_sensation": 2,
            "sphincter": 3,
            "date": (ASSESSED_ON - dt.timedelta(days=14)).isoformat(),
        }
    elif red_flag == "RF-ACUTE-DEFICIT":
        symptoms["onset_tempo"] = "acute"
        _deficit(data)
    elif red_flag == "RF-INFARCTION":
        symptoms["onset_tempo"] = "hyperacute"
        _deficit(data)
    elif red_flag == "RF-SPHINCTER":
        symptoms["sphincter_change"] = "new_acute"
        symptoms["sphincter_other_cause"] = False
    elif red_flag == "RF-RESPIRATORY":
        symptoms["breathing_difficulty"] = True  # at any level, with or without an MRI
        _deficit(data)
    elif red_flag == "RF-INFECTION-FEVER":
        symptoms["fever"] = True
        _deficit(data)
    elif red_flag == "RF-INFECTION-RISK":
        history["renal_failure"] = True
        symptoms["onset_tempo"] = "subacute"  # a deficit that is new or progressing, fever as drawn
        _deficit(data)
    elif red_flag == "RF-EPIDURAL":
        _scanned(data)["epidural_collection"] = True  # with or without a deficit
    elif red_flag == "RF-CANCER":
        history["cancer"] = True  # whatever the onset tempo
        _deficit(data)
    elif red_flag == "RF-POSTOP-AIRWAY":
        _early_postoperative(data)
        symptoms["breathing_difficulty"] = True
    elif red_flag == "RF-POSTOP-DEFICIT":
        _early_postoperative(data)
        data["exam"].setdefault("umn", {})["new_since_last_visit"] = True
    elif red_flag == "RF-POSTOP-INFECTION":
        _early_postoperative(data)
        symptoms["wound_problem"] = True
        symptoms["fever"] = True
    else:  # pragma: no cover - a new red flag needs an injector here
        raise AssertionError(f"no injector for {red_flag}")


RED_FLAG_IDS = [row.id for row in default_engine().rule_set.red_flags]


@pytest.mark.parametrize("red_flag", RED_FLAG_IDS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=any_findings_dicts())
def test_each_red_flag_gives_emergency_whatever_else_is_found(red_flag: str, data: dict[str, Any]) -> None:
    _inject(red_flag, data)
    pathway, urgency, fired = _decision(data)
    assert red_flag in fired
    assert (pathway, urgency) == ("emergency_referral", "emergency")


@pytest.mark.no_cover  # repeats measured code many times: see the no_cover hook in conftest
@EXAMPLES
@given(any_findings_dicts(), st.data())
def test_worsening_any_single_finding_never_lowers_urgency(data: dict[str, Any], pick: st.DataObject) -> None:
    options = worsenings(data)
    if not options:
        return
    text, worse = pick.draw(st.sampled_from(options), label="worsening")
    before_pathway, before, _ = _decision(data)
    after_pathway, after, _ = _decision(worse)
    assert RANK[after] >= RANK[before], f"{text}: {before_pathway}/{before} -> {after_pathway}/{after}"


@pytest.mark.no_cover  # repeats measured code many times: see the no_cover hook in conftest
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_findings_dicts())
def test_every_worsening_of_a_case_is_at_least_as_urgent(data: dict[str, Any]) -> None:
    """Exhaustive over one case's single-field worsenings (complements the sampled test)."""
    _, before, _ = _decision(data)
    for text, worse in worsenings(data):
        _, after, _ = _decision(worse)
        assert RANK[after] >= RANK[before], text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_findings_dicts())
def test_rule_set_version_and_hash_travel_with_every_result(data: dict[str, Any]) -> None:
    recommendation = assess(Findings.model_validate(data))
    rule_set = default_engine().rule_set
    assert recommendation.rule_set.version == rule_set.version
    assert recommendation.rule_set.sha256 == rule_set.sha256
    assert len(recommendation.rule_set.sha256) == 64
