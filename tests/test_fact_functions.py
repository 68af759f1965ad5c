"""The composite facts are plain functions of the facts their parameters name, and the batch
reads each row's result through what it depends on.

``combine`` (myelo_cds/rules/facts.py) calls each function of ``FACT_FUNCTIONS`` in turn with
the facts its parameters name. The fast batch (myelo_cds/batch/_columnar.py) calls each
function once per distinct value of those facts, screens each table once per distinct value
of the facts its rows name, and computes a row's result columns once per distinct value of
what they read (the outcome key). These tests check the two claims that make that exact: each
fact reads only what is derived before it, and rows with the same outcome key have the same
result columns.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.generate import generate_cases
from myelo_cds import Findings
from myelo_cds.batch import _columnar as columnar
from myelo_cds.findings import Patient
from myelo_cds.rules.engine import PATHWAY_NEEDED_FACTS, default_engine, missing_for_pathway
from myelo_cds.rules.facts import (
    FACT_FUNCTIONS,
    FACT_INPUTS,
    INTERMEDIATE,
    PARAMS,
    combine,
    known_fact_names,
    observe,
)
from tests.strategies import any_findings_dicts

ON = dt.date(2026, 1, 15)


def _leaf_names() -> set[str]:
    engine = default_engine()
    return set(observe(Findings(patient=Patient(age_years=50)), engine.params, ON))


def test_each_fact_reads_only_leaves_the_parameters_or_facts_derived_before_it() -> None:
    known = _leaf_names() | {PARAMS}
    for function in FACT_FUNCTIONS:
        name = function.__name__
        unknown = set(FACT_INPUTS[name]) - known
        assert not unknown, f"{name} reads {sorted(unknown)}, not derived before it"
        assert name not in known, f"{name} is derived twice"
        known.add(name)


def test_combine_keeps_every_fact_function_but_the_intermediate_values() -> None:
    engine = default_engine()
    facts = combine(observe(Findings(patient=Patient(age_years=50)), engine.params, ON), engine.params)
    derived = [function.__name__ for function in FACT_FUNCTIONS if function.__name__ not in INTERMEDIATE]
    assert list(facts)[-len(derived) :] == derived
    assert PARAMS not in facts
    assert set(INTERMEDIATE).isdisjoint(facts)
    assert set(derived) <= known_fact_names(engine.params) | {"features"}


def _key_and_outcome(findings: Findings) -> tuple[Any, tuple[Any, ...]]:
    """A case's outcome key, as the batch computes it from the facts, and its result columns
    as the plain path computes them."""
    engine = default_engine()
    plan_reads = columnar._outcome_reads(engine, columnar._part_leaves(engine.params) or {})
    assert plan_reads is not None
    evaluation = engine.decide(findings, ON)
    facts = dict(evaluation.facts)
    facts["features"] = {name: value for name, value in facts["features"].items() if name != "red_flag"}
    rule_set = engine.rule_set
    red = columnar._red_flag_screen(rule_set.red_flags, plan_reads.red_flags)
    flags = columnar._screen(rule_set.flags, plan_reads.flags)
    differentials = columnar._screen(rule_set.differentials, plan_reads.differentials)
    key = (
        red(*(facts[name] for name in plan_reads.red_flags)),
        flags(*(facts[name] for name in plan_reads.flags)),
        differentials(*(facts[name] for name in plan_reads.differentials)),
        *(columnar._fact_key(facts[name]) for name in plan_reads.direct),
    )
    # What a pathway needs is read from the facts the batch keys on, and from nothing else.
    needs = PATHWAY_NEEDED_FACTS
    assert set(needs) <= set(plan_reads.direct)
    assert missing_for_pathway({name: facts[name] for name in needs}) == missing_for_pathway(facts)
    return key, columnar.outcome_of(engine, evaluation)


@pytest.mark.no_cover  # repeats measured code many times: see the no_cover hook in conftest
def test_cases_with_the_same_outcome_key_have_the_same_result_columns() -> None:
    """On a generated clinic list many cases share a key (that is the batch's saving), and
    every case sharing one has the same result columns."""
    outcomes: dict[Any, tuple[Any, ...]] = {}
    cases = list(generate_cases(3000, seed=11))
    for case in cases:
        key, outcome = _key_and_outcome(Findings.model_validate(case))
        assert outcomes.setdefault(key, outcome) == outcome
    assert len(outcomes) < len(cases) * 0.8


@pytest.mark.no_cover  # repeats measured code many times: see the no_cover hook in conftest
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(any_findings_dicts(), min_size=2, max_size=6))
def test_any_findings_with_the_same_outcome_key_have_the_same_result_columns(
    cases: list[dict[str, Any]],
) -> None:
    outcomes: dict[Any, tuple[Any, ...]] = {}
    for case in cases:
        key, outcome = _key_and_outcome(Findings.model_validate(case))
        assert outcomes.setdefault(key, outcome) == outcome
