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

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow `python tests/test_validation_cases.py` from anywhere
    sys.path.insert(0, str(ROOT))

from myelo_cds import assess  # noqa: E402
from myelo_cds.rules.vignettes import (  # noqa: E402
    KINDS,
    ValidationCase,
    ValidationReport,
    fired,
    load_validation_cases,
    run_validation,
)

MIN_CASES = 40
CASES = load_validation_cases()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case_matches_the_clinical_reference(case: ValidationCase) -> None:
    expected = case.expected
    result = assess(case.findings)
    context = f"{case.id} {case.title} ({case.file}); reference says: {case.reasoning}"

    assert result.pathway == expected["pathway"], context
    assert result.urgency == expected["urgency"], context
    assert sorted(fired(result, "pathway")) == sorted(expected["deciding_rules"]), context
    assert sorted(fired(result, "red_flag")) == sorted(expected["red_flags"]), context
    if "urgency_rule" in expected:
        assert fired(result, "urgency") == (expected["urgency_rule"],), context


def test_case_files_are_well_formed() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    for case in CASES:
        assert case.reasoning, case.id
        assert case.citation, case.id
        assert case.covers, case.id
        assert case.findings.assessment_date is not None, f"{case.file}: no assessment_date"
        assert case.file.startswith(case.id.lower() + "_"), f"{case.file}: name does not match id"
        assert set(case.expected) >= {"pathway", "urgency", "deciding_rules", "red_flags"}, case.id


def coverage_table(report: ValidationReport) -> str:
    """Rule id -> number of validation cases that fire it, one line per rule."""
    lines = [f"Rule coverage over {len(CASES)} validation cases", f"{'kind':<9} {'rule':<24} cases"]
    for kind, rows in report.coverage.items():
        for rule_id, count in rows.items():
            lines.append(f"{kind:<9} {rule_id:<24} {count:>5}{'   <- NOT COVERED' if count == 0 else ''}")
    return "\n".join(lines)


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= MIN_CASES


def test_cases_cover_every_pathway_red_flag_and_urgency_rule() -> None:
    report = run_validation()
    print("\n" + coverage_table(report))  # visible with `pytest -s`
    assert set(report.coverage) == set(KINDS)
    assert report.uncovered == []
    assert report.passed == len(CASES)


if __name__ == "__main__":
    print(coverage_table(run_validation()))
