"""Every rule parameter is read from the rule file, by every surface (issue 12, item 1).

Each test edits one parameter of ``data/rules/dcm_rules.toml`` in a copy, loads the copy with
``load_rule_set`` into its own ``Engine`` and assesses a case on the edge the parameter draws.
The decision must move, and so must every surface built from the result: the clinical picture,
the text consult summary, the consult note and the FHIR export. A surface follows when it
shows everything the edited result says and nothing the shipped result said that the edited
one no longer says (a number written again in code would keep the old answer somewhere).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from myelo_cds import Engine, Findings, Recommendation, default_rule_set, load_rule_set
from myelo_cds.exports.consult_note import consult_note_text, consult_summary
from myelo_cds.exports.fhir import bundle_json
from myelo_cds.findings import Reflexes, UMNSigns
from myelo_cds.rules.describe import rule_tables
from myelo_cds.rules.engine import PATHWAY_LABELS
from tests.test_engine import ON, moderate_dcm

RULES = Path(__file__).resolve().parents[1] / "data" / "rules" / "dcm_rules.toml"


def _moderate_dcm() -> dict[str, Any]:
    """The engine tests' moderate DCM (mJOA 13, Kang 2 at C5-C6), with symptoms for 8 months."""
    data = moderate_dcm()
    data["patient"]["symptom_duration_months"] = 8
    return data


def _case(**changes: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = _moderate_dcm()
    for change in changes.values():
        change(data)
    return data


def _earlier(total_drop: int, days: int) -> Callable[[dict[str, Any]], None]:
    """An earlier mJOA ``total_drop`` points above today's (lower-extremity item), ``days`` ago."""

    def change(data: dict[str, Any]) -> None:
        mjoa = data["mjoa"] = {"ue_motor": 5, "le_motor": 5, "ue_sensation": 3, "sphincter": 3}  # 16, mild
        data["earlier_mjoa"] = {
            **mjoa,
            "le_motor": mjoa["le_motor"] + total_drop,
            "date": (ON - dt.timedelta(days=days)).isoformat(),
        }

    return change


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, name = path.split(".")
        target = data
        for part in parents:
            target = target.setdefault(part, {})
        target[name] = value

    return change


def _red_flags(rec: Recommendation) -> tuple[str, ...]:
    return tuple(rule.id for rule in rec.rules_fired if rule.kind == "red_flag")


def _flags(rec: Recommendation) -> tuple[str, ...]:
    return tuple(flag.id for flag in rec.flags)


def _gait_mismatch(rec: Recommendation) -> bool:
    return "nurick_mjoa_mismatch" in [warning.code for warning in rec.warnings]


def _gait(nurick: int, le_motor: int) -> Callable[[dict[str, Any]], None]:
    """A Nurick grade beside the mJOA lower-extremity item (the other items as in the case)."""

    def change(data: dict[str, Any]) -> None:
        data["nurick"] = nurick
        data["mjoa"]["le_motor"] = le_motor

    return change


@dataclass(frozen=True)
class Edit:
    """One parameter set to ``value`` and a case on the edge it draws."""

    value: Any
    findings: dict[str, Any]
    shows: Callable[[Recommendation], object]
    """The part of the result the parameter moves."""
    shipped: object
    """What ``shows`` gives with the shipped rule set."""
    edited: object
    """What ``shows`` gives with the edited one."""


EDITS: dict[str, Edit] = {
    "adult_min_age": Edit(
        21,
        _case(age=_set("patient.age_years", 19)),
        lambda rec: (rec.features["scope"], rec.clinical_picture["scope"].split(" (")[0]),
        ("adult", "within the adult DCM guideline on current findings"),
        ("paediatric", "age under 21"),
    ),
    "compression_min_kang": Edit(
        3,
        _case(),
        lambda rec: (rec.features["compression"], rec.clinical_picture["cord_compression"]),
        ("yes", "C5-C6 (Kang 2)"),
        ("no", "none at the graded levels"),
    ),
    # Breathing difficulty with a deficit is a red flag at any level (NICE NG127); the levels
    # name the phrenic segments in the clinical picture.
    "high_cervical_levels": Edit(
        ["C5-C6", "C6-C7"],
        _case(),
        lambda rec: "level_note" in rec.clinical_picture,
        False,
        True,
    ),
    "hyperreflexia_min_grade": Edit(
        4,
        _case(
            umn=_set("exam.umn", dict.fromkeys(UMNSigns.model_fields, False)),
            reflexes=_set("exam.reflexes", {name: {"left": 2, "right": 2} for name in Reflexes.model_fields}),
            biceps=_set("exam.reflexes.biceps", {"left": 3, "right": 3}),
        ),
        lambda rec: (rec.features["myelopathy"], rec.clinical_picture["myelopathy"].split(" (")[0]),
        ("yes", "present"),
        ("no", "not shown on the findings entered"),
    ),
    "deterioration_drop_points": Edit(
        3,
        _case(earlier=_earlier(total_drop=2, days=120)),
        lambda rec: rec.features["course"],
        "deteriorated",
        "not_improved",
    ),
    "rapid_decline_points": Edit(
        3,
        _case(earlier=_earlier(total_drop=2, days=14)),
        _red_flags,
        ("RF-RAPID-MJOA",),
        (),
    ),
    "rapid_decline_window_days": Edit(
        7,
        _case(earlier=_earlier(total_drop=2, days=14)),
        _red_flags,
        ("RF-RAPID-MJOA",),
        (),
    ),
    "rehab_trial_months": Edit(
        6,
        _case(
            management=_set("patient.management", "supervised_rehabilitation"),
            since=_set("patient.management_since", (ON - dt.timedelta(days=120)).isoformat()),
            unchanged=_earlier(total_drop=0, days=120),
        ),
        lambda rec: (
            rec.features["management"],
            [cf.change for cf in rec.counterfactuals if "rehab" in cf.change],
        ),
        ("rehab_trial_complete", []),
        ("rehab_early", ["after 6 months of supervised rehabilitation"]),
    ),
    "multisegment_min_segments": Edit(
        3,
        _case(t2=_set("mri.levels.C5-C6", {"kang": 2, "t2_signal": "sharp", "t2_extent_segments": 2})),
        lambda rec: "FL-T2-MULTI-SHARP" in _flags(rec),
        True,
        False,
    ),
    "non_ambulant_max_le_motor": Edit(
        3, _case(gait=_gait(nurick=5, le_motor=3)), _gait_mismatch, True, False
    ),
    "nurick_non_ambulant_grade": Edit(
        4, _case(gait=_gait(nurick=5, le_motor=3)), _gait_mismatch, True, False
    ),
    "nurick_normal_gait_max": Edit(0, _case(gait=_gait(nurick=1, le_motor=2)), _gait_mismatch, True, False),
    "early_postoperative_days": Edit(
        7,
        _case(
            management=_set("patient.management", "postoperative"),
            since=_set("patient.management_since", (ON - dt.timedelta(days=10)).isoformat()),
            breathing=_set("symptoms.breathing_difficulty", True),
        ),
        lambda rec: "RF-POSTOP-AIRWAY" in _red_flags(rec),
        True,
        False,
    ),
    "recent_onset_months": Edit(
        0.5,
        _case(
            tempo=_set("symptoms.onset_tempo", None),
            duration=_set("patient.symptom_duration_months", 0.8),
            weak=_set("exam.strength.C6", {"left": 4, "right": 4}),
        ),
        lambda rec: (rec.provisional, rec.urgency),
        (True, "emergency"),
        (False, "expedited"),
    ),
    "subacute_decline_window_days": Edit(
        50,
        _case(earlier=_earlier(total_drop=2, days=60)),
        lambda rec: rec.urgency,
        "urgent",
        "expedited",
    ),
    "long_duration_months": Edit(
        12,
        _case(),
        lambda rec: "FL-LONG-DURATION" in _flags(rec),
        True,
        False,
    ),
}


def _edited_rule_file(tmp_path: Path, name: str, value: Any) -> Path:
    text = RULES.read_text(encoding="utf-8")
    pattern = re.compile(rf"(^\[parameters\.{re.escape(name)}\]\nvalue = )[^\n]*$", re.MULTILINE)
    edited, count = pattern.subn(lambda match: match.group(1) + json.dumps(value), text)
    assert count == 1, f"parameter {name} not found in {RULES.name}"
    path = tmp_path / RULES.name
    path.write_text(edited, encoding="utf-8")
    return path


def _text_lines(rec: Recommendation) -> set[str]:
    """Lines the text consult summary must show for this result."""
    lines = {f"RECOMMENDATION: {PATHWAY_LABELS[rec.pathway]}", f"  {rec.headline}"}
    lines |= {f"  - {key.replace('_', ' ')}: {value}" for key, value in rec.clinical_picture.items()}
    lines |= {"inputs: " + ", ".join(f"{k}={v}" for k, v in rule.inputs.items()) for rule in rec.rules_fired}
    lines |= {f"{rule.id} v{rule.version}: {rule.title}" for rule in rec.rules_fired}
    return lines | _note_lines(rec)


def _note_lines(rec: Recommendation) -> set[str]:
    """Lines both the text summary and the consult note must show for this result (the note
    names each rule as ``R11 v1.0.0 (pathway rule): title`` and its inputs in words)."""
    lines = {f"{rule.id} v{rule.version}" for rule in rec.rules_fired}
    lines |= {rule.title for rule in rec.rules_fired}
    lines |= {flag.text for flag in rec.flags}
    lines |= {warning.message for warning in rec.warnings}
    lines |= {f"{unknown.input}: " for unknown in rec.unknowns}
    return lines | {f"{cf.change} -> " for cf in rec.counterfactuals}


def _fhir(findings: Findings, rec: Recommendation) -> dict[str, Any]:
    """What the FHIR bundle says: the pathway, urgency and rules of the guidance (the engine's
    features are its working, not exported as Observations)."""
    bundle = json.loads(bundle_json(findings, rec))
    resources = [entry["resource"] for entry in bundle["entry"]]
    (guidance,) = [res for res in resources if res["resourceType"] == "GuidanceResponse"]
    (output,) = guidance["contained"]  # the answer: outputParameters
    said = {p["name"]: p.get("valueCoding", {}).get("code") for p in output["parameter"]}
    fired = [
        part["valueCoding"]["code"]
        for p in output["parameter"]
        if p["name"] == "firedRule"
        for part in p["part"]
        if part["name"] == "id"
    ]
    codes = [said["pathway"], said["urgency"], *fired]
    notes = {note["text"] for res in resources for note in res.get("note", [])}
    return {"reason": codes, "notes": notes}


def _assert_surfaces_follow(findings: Findings, shipped: Recommendation, edited: Recommendation) -> None:
    surfaces = {
        "text summary": (consult_summary(edited), _text_lines),
        "consult note": (consult_note_text(edited, findings), _note_lines),
    }
    for surface, (text, lines_of) in surfaces.items():
        for line in lines_of(edited):
            assert line in text, f"{surface} does not show {line!r}"
        for line in lines_of(shipped) - lines_of(edited):
            assert line not in text, f"{surface} still shows {line!r} from the shipped parameters"
    fhir = _fhir(findings, edited)
    expected = [edited.pathway, edited.urgency, *(rule.id for rule in edited.rules_fired)]
    assert fhir["reason"] == expected
    checks = {f"Check: {warning.message}" for warning in edited.warnings}
    assert checks <= fhir["notes"]
    stale = {f"Check: {warning.message}" for warning in shipped.warnings} - checks
    assert not stale & fhir["notes"]


def test_every_rule_parameter_has_an_edit_below() -> None:
    parameters = set(default_rule_set().parameters)
    untested = sorted(parameters - set(EDITS))
    assert not untested, f"add an Edit for {untested}: a case on the edge each parameter draws"
    assert not set(EDITS) - parameters, "an Edit for a parameter the rule file no longer has"


@pytest.mark.parametrize("name", sorted(EDITS))
def test_a_rule_parameter_edit_is_followed_by_every_surface(name: str, tmp_path: Path) -> None:
    edit = EDITS[name]
    assert default_rule_set().parameters[name].value != edit.value
    findings = Findings.model_validate(copy.deepcopy(edit.findings))
    shipped = Engine().assess(findings)
    edited = Engine(load_rule_set(_edited_rule_file(tmp_path, name, edit.value))).assess(findings)
    assert edit.shows(shipped) == edit.shipped
    assert edit.shows(edited) == edit.edited
    _assert_surfaces_follow(findings, shipped, edited)


def test_kang_3_for_compression_stops_both_the_decision_and_the_picture_calling_kang_2_compression(
    tmp_path: Path,
) -> None:
    findings = Findings.model_validate(_moderate_dcm())
    rule_set = load_rule_set(_edited_rule_file(tmp_path, "compression_min_kang", 3))
    rec = Engine(rule_set).assess(findings)
    assert rec.features["compression"] == "no"
    assert rec.pathway != "surgical_referral"
    assert "Kang 2" not in rec.clinical_picture["cord_compression"]
    assert "Kang 2" not in consult_summary(rec).split("Basis (rules fired):")[0]
    # The rules in words (the evidence page) state the edited threshold.
    conditions = " ".join(row["when"] for row in rule_tables(rule_set)["pathway"])
    assert "Kang >= 3" in conditions
    assert "Kang >= 2" not in conditions
