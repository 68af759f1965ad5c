"""The static verifier proves the shipped tables and catches broken ones."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from myelo_cds import load_rule_set
from myelo_cds.rules.facts import FEATURES
from myelo_cds.rules.ruleset import RuleSetError
from myelo_cds.rules.verify import VerificationReport, verify_rule_set

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "data" / "rules" / "dcm_rules.toml"


def test_shipped_rule_set_is_verified(shipped_verification: VerificationReport) -> None:
    report = shipped_verification
    assert report.passed, report.text()
    assert report.vectors == math.prod(len(values) for values in FEATURES.values())
    assert all(count > 0 for count in report.decided_by.values())


def _edited(tmp_path: Path, change: Callable[[str], str]) -> Path:
    target = tmp_path / "rules.toml"
    shutil.copy(RULES, target)
    text = target.read_text()
    changed = change(text)
    assert changed != text, "the edit did not apply"
    target.write_text(changed)
    return target


def _failed(tmp_path: Path, change: Callable[[str], str], shipped: VerificationReport) -> set[str]:
    """The checks that fail on the edited rule set and hold on the shipped one (each edit breaks
    its check; the shipped report is computed once per session)."""
    report = verify_rule_set(load_rule_set(_edited(tmp_path, change)))
    return {check.name for check in report.checks if not check.passed} - {
        check.name for check in shipped.checks if not check.passed
    }


def test_removing_the_red_flag_rule_is_caught(
    tmp_path: Path, shipped_verification: VerificationReport
) -> None:
    failed = _failed(
        tmp_path,
        lambda t: t.replace('when = { red_flag = "yes" }', 'when = { red_flag = "yes", scope = "adult" }'),
        shipped_verification,
    )
    assert "red flag always gives emergency referral" in failed


def test_a_gap_in_the_table_is_caught(tmp_path: Path, shipped_verification: VerificationReport) -> None:
    failed = _failed(
        tmp_path,
        lambda t: t.replace(
            'when = { compression = "no", myelopathy = ["no", "unknown"] }',
            'when = { compression = "no", myelopathy = "no" }',
        ),
        shipped_verification,
    )
    assert "total: every vector gets a pathway and an urgency" in failed


def test_equal_priority_conflict_is_caught(tmp_path: Path, shipped_verification: VerificationReport) -> None:
    failed = _failed(
        tmp_path,
        lambda t: (
            t.replace(
                'pathway = "surgery_or_structured_rehab"\naction = "Counsel on the higher risk',
                'pathway = "surveillance"\naction = "Counsel on the higher risk',
            )
            .replace(
                'id = "R13"\nversion = "1.0.0"\npriority = 70', 'id = "R13"\nversion = "1.0.0"\npriority = 70'
            )
            .replace(
                'radiculopathy = "yes" }\npathway = "surveillance"',
                'radiculopathy = ["yes", "unknown"] }\npathway = "surgery_or_structured_rehab"',
            )
        ),
        shipped_verification,
    )
    assert "no conflict between rows of equal priority" in failed


def test_an_unreachable_rule_is_caught(tmp_path: Path, shipped_verification: VerificationReport) -> None:
    def shadow_r7(text: str) -> str:
        text = text.replace(
            'id = "R7"\nversion = "1.0.0"\npriority = 60', 'id = "R7"\nversion = "1.0.0"\npriority = 65'
        )
        return text.replace(
            'when = { compression = "yes", myelopathy = "yes", band = "mild" }\npathway = "surgery_or',
            'when = { compression = "yes", myelopathy = "yes", band = ["mild", "normal"] }\npathway = "surgery_or',
        )

    failed = _failed(tmp_path, shadow_r7, shipped_verification)
    assert "no unreachable rule" in failed


def test_non_monotone_urgency_is_caught(tmp_path: Path, shipped_verification: VerificationReport) -> None:
    failed = _failed(
        tmp_path,
        lambda t: t.replace(
            'when = { pathway = ["surgical_referral", "further_workup"], myelopathy = "yes", band = ["moderate", "severe", "unknown"] }',
            'when = { pathway = "surgical_referral", myelopathy = "yes", band = ["moderate", "severe", "unknown"] }',
        ),
        shipped_verification,
    )
    assert "worsening a feature never lowers urgency" in failed


def test_a_rule_naming_an_unknown_fact_is_refused_at_load(tmp_path: Path) -> None:
    path = _edited(
        tmp_path,
        lambda t: t.replace(
            'all = ["trauma_or_implied", "deficit_after_trauma"]',
            'all = ["recent_truama", "deficit_after_trauma"]',
        ),
    )
    with pytest.raises(RuleSetError, match="RF-TRAUMA: unknown fact 'recent_truama'"):
        load_rule_set(path)


def test_a_rule_naming_an_unknown_feature_value_is_refused_at_load(tmp_path: Path) -> None:
    path = _edited(tmp_path, lambda t: t.replace('band = "moderate" }', 'band = "medium" }', 1))
    with pytest.raises(RuleSetError, match="band has no value 'medium'"):
        load_rule_set(path)


def test_editing_the_rule_set_changes_its_hash(tmp_path: Path) -> None:
    original = load_rule_set(RULES)
    edited = load_rule_set(
        _edited(
            tmp_path,
            lambda t: t.replace('version = "1.0.0"\ntitle = "DCM', 'version = "1.0.1"\ntitle = "DCM'),
        )
    )
    assert original.sha256 != edited.sha256
    assert edited.version == "1.0.1"


def test_shipped_red_flags_are_never_silent(shipped_verification: VerificationReport) -> None:
    check = next(check for check in shipped_verification.checks if check.name == "no silent red flag")
    assert check.passed, check.counterexamples


def test_a_red_flag_whose_blank_no_input_answers_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    from myelo_cds.rules import verify

    unknown, answered = verify._answerable_facts(load_rule_set(RULES))
    monkeypatch.setattr(verify, "_answerable_facts", lambda _rule_set: (unknown, answered - {"fever"}))
    check = verify._check_no_silent_red_flag(load_rule_set(RULES))
    assert not check.passed
    assert any(example.startswith("RF-INFECTION-FEVER at fever=None") for example in check.counterexamples)
