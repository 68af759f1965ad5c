"""The hand-written baseline (bench/baseline.py) and the engine agree on pathway and urgency.

The baseline is written from the rule set by hand, without the engine's tables, so agreement
on every validation vignette and on thousands of generated inputs is a cross-check of both:
a disagreement is adjudicated against ``data/rules/dcm_rules.toml``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.baseline import baseline_pathway
from bench.generate import flatten, generate_cases
from myelo_cds import Findings, default_engine
from myelo_cds.batch import row_to_findings
from myelo_cds.rules.ruleset import PATHWAYS
from tests.strategies import ASSESSED_ON, any_findings_dicts

ROOT = Path(__file__).resolve().parents[1]
VALIDATION = sorted((ROOT / "data" / "validation").glob("*.json"))
EXAMPLES = sorted((ROOT / "data" / "examples").glob("*.json"))
FALLBACK_DATE = dt.date(2025, 6, 1)


def _both(findings: Findings, on: dt.date) -> tuple[tuple[str, str], tuple[str, str]]:
    decision = default_engine().decide(findings, on).decision
    return (decision.pathway, decision.urgency), baseline_pathway(findings, on)


@pytest.mark.parametrize("path", VALIDATION, ids=lambda p: p.stem)
def test_baseline_matches_engine_on_validation_cases(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    findings = Findings.model_validate(case["findings"])
    engine, baseline = _both(findings, findings.assessment_date or FALLBACK_DATE)
    assert baseline == engine
    assert baseline == (case["expected"]["pathway"], case["expected"]["urgency"])


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_baseline_matches_engine_on_examples(path: Path) -> None:
    findings = Findings.model_validate(json.loads(path.read_text(encoding="utf-8")))
    engine, baseline = _both(findings, findings.assessment_date or FALLBACK_DATE)
    assert baseline == engine


@pytest.mark.no_cover  # repeats measured code many times: see the no_cover hook in conftest
@settings(
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(any_findings_dicts())
def test_baseline_matches_engine_on_generated_findings(data: dict[str, Any]) -> None:
    findings = Findings.model_validate(data)
    engine, baseline = _both(findings, ASSESSED_ON)
    assert baseline == engine, data


tri = st.sampled_from([None, True, False])
rare = st.sampled_from([False] * 8 + [True, None])  # usually absent when examined
# A red-flag finding in a wild draw: present often, but seldom together with another one, so that
# each row is seen firing alone (and its absence seen not firing) rather than behind another.
wild_flag = st.sampled_from([False] * 4 + [True, None])
calm = st.sampled_from([False, False, False, None])  # unknown at worst, never present


def _one_true_or_all(names: tuple[str, ...]) -> st.SearchStrategy[dict[str, bool | None]]:
    """All of ``names`` false, one true, or one unknown (the rest false): the edges of an OR."""
    none_true = dict.fromkeys(names, False)
    return st.one_of(
        st.just(none_true),
        st.sampled_from(names).map(lambda name: {**none_true, name: True}),
        st.sampled_from(names).map(lambda name: {**none_true, name: None}),
    )


def _drop_none(section: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in section.items() if value is not None}


_LEG_FIRST = (("le_motor", 1), ("ue_motor", 0), ("ue_sensation", 0), ("sphincter", 0))
# Arms first: a low total that still walks (the leg item above the non-ambulant edge).
_ARMS_FIRST = (("ue_motor", 0), ("ue_sensation", 0), ("sphincter", 1), ("le_motor", 1))
# The leg item stops at 2, the last grade that counts as unable to walk.
_LEG_TO_TWO = (("le_motor", 2), ("ue_motor", 0), ("ue_sensation", 0), ("sphincter", 0))


def _mjoa_items(total: int, order: tuple[tuple[str, int], ...] = _LEG_FIRST) -> dict[str, int]:
    """Items adding up to ``total`` (1-18): the deficit taken item by item in ``order``."""
    items = {"ue_motor": 5, "le_motor": 7, "ue_sensation": 3, "sphincter": 3}
    deficit = 18 - total
    for item, floor in order:
        take = min(deficit, items[item] - floor)
        items[item] -= take
        deficit -= take
    return items


# Risk factors for spinal infection (RF-INFECTION-RISK); diabetes is a patient field, the rest history.
_INFECTION_RISKS = (
    "iv_drug_use",
    "immunosuppression",
    "renal_failure",
    "recent_spinal_procedure",
    "diabetes",
)


@st.composite
def edge_findings(draw: st.DrawFn) -> dict[str, Any]:
    """Inputs built knob by knob at the edges of each fact the tables read.

    ``any_findings_dicts`` rarely combines several edges at once (e.g. a thoracic sensory
    level with myelopathy known absent and compression present); here each fact is drawn
    directly at true / false / unknown and independently of the others. One draw in four is
    "wild" (red-flag findings free); the rest are "calm" (red-flag findings absent or unknown,
    never present), so the rows below the red-flag screen are reached as often as the screen.
    Dates sit on both sides of each window: the rehabilitation trial, the early post-operative
    weeks and the rapid and subacute rates of mJOA decline.
    """
    on = ASSESSED_ON
    wild = draw(st.sampled_from([True, False, False, False]))
    flag = wild_flag if wild else calm
    patient: dict[str, Any] = {
        "management": draw(
            st.sampled_from(["untreated"] * 3 + ["supervised_rehabilitation"] * 2 + ["postoperative"] * 3)
        ),
    }
    age = draw(st.sampled_from([None, 17, 18, 60, 60, 60, 60, 60]))  # the age may be left blank
    if age is not None:
        patient["age_years"] = age
    if patient["management"] != "untreated":
        # The rehabilitation trial is complete on 2026-11-24 exactly when it began on 2026-08-24
        # (92 days before); the early post-operative weeks (42 days) include 2026-10-13, not the 12th.
        days = draw(st.sampled_from([92, 91, 43, 42, 42, 0]))
        patient["management_since"] = (on - dt.timedelta(days=days)).isoformat()
        if patient["management"] == "supervised_rehabilitation":
            # The mJOA at the start of rehabilitation: the baseline for failure to improve.
            start = draw(st.sampled_from([None, None, 12, 14, 15, 16, 17, 18]))
            if start is not None:
                patient["rehabilitation_start_mjoa"] = start
        if patient["management"] == "postoperative":
            approach = draw(st.sampled_from([None, "anterior", "posterior", "combined"]))
            if approach:
                patient["surgical_approach"] = approach
    risks = draw(_one_true_or_all(_INFECTION_RISKS))
    if risks["diabetes"] is not None:
        patient["diabetes"] = risks["diabetes"]
    patient["history"] = _drop_none(
        {
            **{name: value for name, value in risks.items() if name != "diabetes"},
            "cancer": draw(flag),
            "recent_trauma": draw(tri),  # fires nothing without a deficit since the trauma
            "optic_neuritis": draw(rare),
        }
    )
    myelopathic = ("hand_clumsiness", "gait_imbalance", "falls", "nondermatomal_numbness")
    tempos = [None, "chronic", "subacute", "acute", "hyperacute"] if wild else [None, "chronic", "subacute"]
    sphincter = [None, "none", "chronic", "new_acute"] if wild else [None, "none", "chronic"]
    symptoms = _drop_none(
        {
            **draw(_one_true_or_all(myelopathic)),
            **draw(_one_true_or_all(("radicular_arm_pain", "dermatomal_numbness"))),
            "neck_pain": draw(tri),
            "fever": draw(flag),
            "breathing_difficulty": draw(flag),
            "rapid_loss_of_ambulation": draw(flag),
            "deficit_after_trauma": draw(flag),
            "wound_problem": draw(tri),  # fires only with fever, early after surgery
            "sphincter_change": draw(st.sampled_from(sphincter)),
            "sphincter_other_cause": draw(tri),
            "onset_tempo": draw(st.sampled_from(tempos)),
        }
    )
    signs = ("hoffmann_tromner", "babinski", "sustained_clonus", "scapulohumeral")
    umn = _drop_none(
        {
            **draw(_one_true_or_all(signs)),
            "jaw_jerk_brisk": draw(rare),
            "new_since_last_visit": draw(tri),
        }
    )
    exam: dict[str, Any] = {
        "reflexes": {"biceps": _drop_none({"left": draw(st.sampled_from([None, 2, 3, 4])), "right": 2})},
        "umn": umn,
        "strength": {"C8": _drop_none({"left": draw(st.sampled_from([None, 4, 5])), "right": 5})},
        "sensation": _drop_none(
            {
                "sensory_level": draw(st.sampled_from([None, "none", "none", "cervical", "thoracic"])),
                "dermatomal_loss": draw(rare),
            }
        ),
        **_drop_none(
            {
                "fasciculations_widespread": draw(rare),
                "tongue_signs": draw(rare),
                "deficits_attributed_to_myelopathy": draw(st.sampled_from([None, None, True, False])),
            }
        ),
    }
    # Reflexes, myotomes and signs not listed stay unknown: mostly pin them to normal. One draw
    # in four has no deficit at all, so that the rows that need none (epidural collection,
    # post-operative airway and wound) are seen firing without one.
    exam_mode = draw(st.sampled_from(["pinned", "pinned", "open", "normal"]))
    if exam_mode != "open":
        for name in ("triceps", "brachioradialis", "patellar", "achilles"):
            exam["reflexes"][name] = {"left": 2, "right": 2}
        for name in ("C5", "C6", "C7", "T1", "L2", "L3", "L4", "L5", "S1"):
            exam["strength"][name] = {"left": 5, "right": 5}
        for name in ("inverted_brachioradialis", "finger_escape", "pectoralis"):
            exam["umn"][name] = False
    if exam_mode == "normal":
        symptoms.update(dict.fromkeys(myelopathic, False))
        exam["umn"].update(dict.fromkeys(signs, False))
        exam["reflexes"]["biceps"] = {"left": 2, "right": 2}
        exam["strength"]["C8"] = {"left": 5, "right": 5}
        exam["sensation"]["sensory_level"] = "none"
    data: dict[str, Any] = {
        "assessment_date": on.isoformat(),
        "patient": patient,
        "symptoms": symptoms,
        "exam": exam,
    }
    mri = draw(st.sampled_from(["none", "compressed", "compressed", "clear", "unread_levels", "high"]))
    if mri == "none":
        data["mri"] = {"available": False}
    else:
        kang = {"compressed": 2, "clear": 1, "unread_levels": 1, "high": 3}[mri]
        atypical = (
            "syrinx",
            "intramedullary_mass",
            "dorsal_column_signal",
            "longitudinally_extensive_lesion",
        )
        data["mri"] = _drop_none(
            {
                "available": True,
                "levels": {"C3-C4" if mri == "high" else "C5-C6": {"kang": kang}},
                "unlisted_levels_normal": None if mri == "unread_levels" else True,
                **draw(st.one_of(st.just(dict.fromkeys(atypical, False)), _one_true_or_all(atypical))),
                "epidural_collection": draw(flag),
                "compression_band_enhancement": draw(rare),
                "thoracic_cord_compression": draw(rare),
            }
        )
    if draw(st.sampled_from([True, True, True, False])):
        total = draw(st.sampled_from([18, 18, 18, 17, 16, 15, 14, 13, 12, 11, 8]))
        order = draw(st.sampled_from([_LEG_FIRST, _ARMS_FIRST, _LEG_TO_TWO]))
        items = _mjoa_items(total, order)
        attributed = draw(st.sampled_from([[], [], ["le_motor"], ["ue_motor", "le_motor"]]))
        data["mjoa"] = {**items, "not_due_to_myelopathy": attributed}
        if draw(st.booleans()):
            change = draw(st.sampled_from([-4, -3, -2, -2, -1, 0, 1, 2, 4]))
            before = _mjoa_items(max(2, min(18, total - change)), order)
            # 2 points in 28 days is the rapid rate (4 in 56 too); 2 in 91 the subacute one.
            days = draw(st.sampled_from([0, 28, 29, 56, 57, 91, 91, 92, 182, 182, 183, 400]))
            data["earlier_mjoa"] = {**before, "date": (on - dt.timedelta(days=days)).isoformat()}
    nurick = draw(st.sampled_from([None, None, 0, 3, 5]))
    if nurick is not None:
        data["nurick"] = nurick
    edx = draw(
        st.sampled_from(
            [
                None,
                "normal",
                "normal",
                "radiculopathy",
                "neuropathy",
                "carpal_tunnel",
                "widespread_anterior_horn",
            ]
        )
    )
    data["electro"] = {"summary": edx} if edx else {}
    return data


@pytest.mark.no_cover  # repeats measured code many times: see the no_cover hook in conftest
@settings(
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(edge_findings())
def test_baseline_matches_engine_at_fact_edges(data: dict[str, Any]) -> None:
    findings = Findings.model_validate(data)
    engine, baseline = _both(findings, ASSESSED_ON)
    assert baseline == engine, data


def test_baseline_matches_engine_on_benchmark_cases() -> None:
    """The benchmark's own synthetic cases: all valid, all agree, every pathway reached."""
    pathways: Counter[str] = Counter()
    for data in generate_cases(3000, seed=7):
        findings = Findings.model_validate(data)
        engine, baseline = _both(findings, findings.assessment_date or FALLBACK_DATE)
        assert baseline == engine, data
        pathways[engine[0]] += 1
    assert set(pathways) == set(PATHWAYS), pathways


def test_benchmark_csv_rows_carry_the_same_findings_as_jsonl() -> None:
    """A generated case flattened to a CSV row reads back (batch format) as the same findings."""
    for data in generate_cases(300, seed=11):
        assert Findings.model_validate(row_to_findings(flatten(data))) == Findings.model_validate(data)
