"""Clinical validation cases: each vignette's expected answer comes from the clinical reference.

Every file in ``data/validation`` is one vignette: the findings a clinician entered, and the
pathway, urgency, deciding pathway rule(s) and red flags that the clinical reference (the 2017
AO Spine/CSRS guideline, the red-flag list and the design defaults of the decision-logic summary)
says should follow. The expected answers were written from the reference, not from engine output,
so a failure here is a disagreement between the engine and the reference to be adjudicated by a
clinician - never fixed by editing the expected value to match the engine.

Together the cases must exercise every pathway row, every red-flag row and every urgency row of
the shipped rule set (path-based test selection, clinical reference s10.2).

Run ``python tests/test_validation_cases.py`` to print how many cases fire each rule.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow `python tests/test_validation_cases.py` from anywhere
    sys.path.insert(0, str(ROOT))

from myelo_cds import Findings, Recommendation, assess, default_rule_set  # noqa: E402

CASE_DIR = ROOT / "data" / "validation"
MIN_CASES = 40
KINDS = ("pathway", "red_flag", "urgency")


def load_cases() -> list[dict[str, Any]]:
    """Every validation vignette, in file-name order."""
    cases = []
    for path in sorted(CASE_DIR.glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        case["_file"] = path.name
        cases.append(case)
    return cases


CASES = load_cases()


def fired(recommendation: Recommendation, kind: str) -> list[str]:
    """Ids of the rules of one kind that fired for a recommendation."""
    return [rule.id for rule in recommendation.rules_fired if rule.kind == kind]


@cache
def _assess(case_id: str) -> Recommendation:
    case = next(case for case in CASES if case["id"] == case_id)
    return assess(Findings.model_validate(case["findings"]))


# --- one vignette at a time --------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_case_matches_the_clinical_reference(case: dict[str, Any]) -> None:
    expected = case["expected"]
    result = _assess(case["id"])
    context = f"{case['id']} {case['title']} ({case['_file']}); reference says: {case['reasoning']}"

    assert result.pathway == expected["pathway"], context
    assert result.urgency == expected["urgency"], context
    assert sorted(fired(result, "pathway")) == sorted(expected["deciding_rules"]), context
    assert sorted(fired(result, "red_flag")) == sorted(expected["red_flags"]), context
    if "urgency_rule" in expected:
        assert fired(result, "urgency") == [expected["urgency_rule"]], context


def test_case_files_are_well_formed() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    for case in CASES:
        missing = {"id", "title", "findings", "expected", "reasoning", "citation", "covers"} - set(case)
        assert not missing, f"{case['_file']}: missing {sorted(missing)}"
        assert case["findings"].get("assessment_date"), f"{case['_file']}: no assessment_date"
        assert case["_file"].startswith(case["id"].lower() + "_"), f"{case['_file']}: name does not match id"
        Findings.model_validate(case["findings"])


# --- the cases as a whole ----------------------------------------------------------------------


def rule_coverage() -> dict[str, dict[str, int]]:
    """For each kind, every rule id of the shipped rule set -> number of cases in which it fired."""
    rule_set = default_rule_set()
    ids = {
        "pathway": [row.id for row in rule_set.pathway],
        "red_flag": [row.id for row in rule_set.red_flags],
        "urgency": [row.id for row in rule_set.urgency],
    }
    counts: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
    for case in CASES:
        result = _assess(case["id"])
        for kind in KINDS:
            counts[kind].update(set(fired(result, kind)))
    return {kind: {rule_id: counts[kind][rule_id] for rule_id in ids[kind]} for kind in KINDS}


def coverage_table() -> str:
    """Rule id -> number of validation cases that fire it, one line per rule."""
    lines = [f"Rule coverage over {len(CASES)} validation cases", f"{'kind':<9} {'rule':<24} cases"]
    for kind, rows in rule_coverage().items():
        for rule_id, count in rows.items():
            lines.append(f"{kind:<9} {rule_id:<24} {count:>5}{'   <- NOT COVERED' if count == 0 else ''}")
    return "\n".join(lines)


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= MIN_CASES


def test_cases_cover_every_pathway_red_flag_and_urgency_rule() -> None:
    print("\n" + coverage_table())  # visible with `pytest -s`
    missing = {
        kind: sorted(rule_id for rule_id, count in rows.items() if count == 0)
        for kind, rows in rule_coverage().items()
    }
    assert missing == {kind: [] for kind in KINDS}


if __name__ == "__main__":
    print(coverage_table())
