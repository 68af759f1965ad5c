"""The red-flag triage against a plain reference (issue 16): the shortcuts that make it cheaper
per consult rerun ask exactly the questions the definition asks, for the same red flags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings

from myelo_cds import Findings, default_engine
from myelo_cds.rules._triage import Completion, row_state, triage
from myelo_cds.rules.facts import observe
from myelo_cds.rules.ruleset import ScreenRule
from tests.strategies import ASSESSED_ON, any_findings_dicts


def _reference(
    red_flags: Sequence[ScreenRule], facts: dict[str, Any], completions: Sequence[Completion]
) -> set[tuple[str, frozenset[str]]]:
    """Each blank input with the open rows that one of its values settles (fires or excludes)
    or makes a blank condition of known, tested for every value and every open row."""
    open_rows = [row for row in red_flags if row_state(row, facts) == "not_excluded"]
    settles: dict[str, set[str]] = {}
    labels: dict[str, str] = {}
    for completion in completions:
        for row in open_rows:
            settled = row_state(row, completion.facts) != "not_excluded"
            newly_known = any(
                facts.get(name) is None and completion.facts.get(name) is not None for name in row.facts
            )
            if settled or newly_known:
                settles.setdefault(completion.leaf, set()).add(row.id)
                labels[completion.leaf] = completion.label
    return {(labels[leaf], frozenset(rows)) for leaf, rows in settles.items()}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_findings_dicts())
def test_triage_asks_what_the_plain_definition_asks(data: dict[str, Any]) -> None:
    engine = default_engine()
    leaves = observe(Findings.model_validate(data), engine.params, ASSESSED_ON)
    facts = engine.evaluate(leaves).facts
    completions = engine.completions(leaves)
    asked = triage(engine.rule_set.red_flags, facts, completions).to_confirm
    questions = {(question.input, frozenset(question.red_flags)) for question in asked if question.fields}
    assert questions == _reference(engine.rule_set.red_flags, facts, completions)
