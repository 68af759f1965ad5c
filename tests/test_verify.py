"""The static verifier proves the shipped tables and catches broken ones."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from myelo_cds import load_rule_set
from myelo_cds.rules.facts import FEATURES
from myelo_cds.rules.ruleset import URGENCIES, RuleSetError
from myelo_cds.rules.table import Decision
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


# The verifier evaluates the tables column-wise over the whole space (DecisionTable.decide_space);
# it must agree with the engine's own per-vector evaluation.

_BROKEN_EDITS: dict[str, Callable[[str], str]] = {
    "red flag scoped": lambda t: t.replace(
        'when = { red_flag = "yes" }', 'when = { red_flag = "yes", scope = "adult" }'
    ),
    "gap": lambda t: t.replace(
        'when = { compression = "no", myelopathy = ["no", "unknown"] }',
        'when = { compression = "no", myelopathy = "no" }',
    ),
    "equal-priority conflict": lambda t: t.replace(
        'pathway = "surgery_or_structured_rehab"\naction = "Counsel on the higher risk',
        'pathway = "surveillance"\naction = "Counsel on the higher risk',
    ).replace(
        'radiculopathy = "yes" }\npathway = "surveillance"',
        'radiculopathy = ["yes", "unknown"] }\npathway = "surgery_or_structured_rehab"',
    ),
    "shadowed R7": lambda t: t.replace(
        'id = "R7"\nversion = "1.0.0"\npriority = 60', 'id = "R7"\nversion = "1.0.0"\npriority = 65'
    ).replace(
        'when = { compression = "yes", myelopathy = "yes", band = "mild" }\npathway = "surgery_or',
        'when = { compression = "yes", myelopathy = "yes", band = ["mild", "normal"] }\npathway = "surgery_or',
    ),
    "non-monotone urgency": lambda t: t.replace(
        'when = { pathway = ["surgical_referral", "further_workup"], myelopathy = "yes", band = ["moderate", "severe", "unknown"] }',
        'when = { pathway = "surgical_referral", myelopathy = "yes", band = ["moderate", "severe", "unknown"] }',
    ),
}


# Not under coverage (pytest-cov's no_cover): three times the CPU (34 s against 12 s) to trace
# the same lines 291,600 times; the decision code is measured by every other engine test, and
# space.decision by the broken-table test below.
@pytest.mark.slow
@pytest.mark.no_cover
def test_space_evaluation_agrees_with_decide_uncached_on_every_shipped_vector() -> None:
    import itertools

    import numpy as np

    from myelo_cds.rules.table import DecisionTable, SpaceDecisions

    table = DecisionTable(load_rule_set(RULES))
    space = table.decide_space()

    def ids(rows: tuple[Any, ...], mask: np.ndarray[Any, Any]) -> list[tuple[str, ...]]:
        # One tuple of row ids per vector, built once per distinct set of rows.
        keys = np.packbits(mask, axis=0).T.tobytes()
        width = (mask.shape[0] + 7) // 8
        cache: dict[bytes, tuple[str, ...]] = {}
        out = []
        for i in range(mask.shape[1]):
            key = keys[i * width : (i + 1) * width]
            if key not in cache:
                cache[key] = tuple(row.id for row, hit in zip(rows, mask[:, i], strict=True) if hit)
            out.append(cache[key])
        return out

    def decisions(space: SpaceDecisions) -> list[Decision]:
        return [
            Decision(space.pathway_names[p], URGENCIES[u], d, s, r, conflict=bool(c))
            for p, u, d, s, r, c in zip(
                space.pathway.tolist(),
                space.urgency.tolist(),
                ids(space.pathway_rows, space.winners),
                ids(space.pathway_rows, space.matched & ~space.winners),
                ids(space.urgency_rows, space.urgency_matched),
                space.conflict.tolist(),
                strict=True,
            )
        ]

    expected = [table.decide_uncached(vector) for vector in itertools.product(*FEATURES.values())]
    assert space.size == len(expected)
    got = decisions(space)
    mismatches = [i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b]
    assert not mismatches, (space.vector(mismatches[0]), got[mismatches[0]], expected[mismatches[0]])
    assert all(space.decision(i) == expected[i] for i in (0, 1, len(expected) // 3, len(expected) - 1))


@pytest.mark.parametrize("edit", sorted(_BROKEN_EDITS))
def test_space_evaluation_agrees_with_decide_uncached_on_broken_tables(tmp_path: Path, edit: str) -> None:
    import itertools
    import random

    import numpy as np

    from myelo_cds.rules.table import DecisionTable

    table = DecisionTable(load_rule_set(_edited(tmp_path, _BROKEN_EDITS[edit])))
    space = table.decide_space()
    rng = random.Random(edit)
    sample = sorted(rng.sample(range(space.size), 300))
    for index in sample:
        vector = space.vector(index)
        assert space.decision(index) == table.decide_uncached(vector), (edit, vector)
    # The enumeration index is the position in itertools.product (mixed radix, last fastest).
    first = list(itertools.islice(itertools.product(*FEATURES.values()), 50))
    assert [space.vector(i) for i in range(50)] == first
    conflicted = [int(i) for i in np.flatnonzero(space.conflict)[:20]]
    assert all(space.decision(i) == table.decide_uncached(space.vector(i)) for i in conflicted)


def test_follow_up_outcomes_are_the_same_without_the_integer_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from myelo_cds.rules import verify
    from myelo_cds.rules.table import DecisionTable

    space = DecisionTable(load_rule_set(RULES)).decide_space()
    keyed = verify._check_follow_up(space)
    monkeypatch.setattr(verify, "_KEY_BYTES", 0)  # the row-wise np.unique path (many rows)
    assert verify._check_follow_up(space) == keyed
