"""Static verification of the decision tables over the whole discretised input space.

The pathway and urgency are functions of a small feature vector (see
:data:`~myelo_cds.rules.facts.FEATURES`), so every possible vector can be enumerated and
checked. This proves, for the tables as shipped:

* totality: every vector is matched by at least one pathway row and one urgency row;
* no conflict: rows of equal priority that can match the same vector give the same pathway;
* reachability: every pathway and urgency row decides at least one vector;
* red flags: ``red_flag = yes`` always gives ``emergency_referral`` with ``emergency`` urgency;
* monotonicity: worsening any single feature one step (see
  :data:`~myelo_cds.rules.facts.FEATURE_ORDER`) never lowers the urgency; by transitivity this
  covers any combination of worsenings;
* follow-up: every deciding rule, at every urgency it can carry, has a follow-up schedule;
* no silent red flag: every red-flag row, in every three-valued state of its conditions, is
  fired, excluded, or has an unknown condition that some blank input of the findings answers
  (so the engine names that input in ``to_confirm``); rows needing two or more blanks included.

That feature derivation from the full findings is itself monotone and total is proved by the
property-based tests (``tests/test_properties.py``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter

from pydantic import BaseModel

from myelo_cds.followup import follow_up_schedule
from myelo_cds.rules.facts import FEATURE_ORDER, FEATURES
from myelo_cds.rules.ruleset import URGENCIES, RuleSet, default_rule_set
from myelo_cds.rules.table import FEATURE_NAMES, Decision, DecisionTable

__all__ = ["Check", "VerificationReport", "verify_rule_set"]

_MAX_EXAMPLES = 5


class Check(BaseModel):
    name: str
    passed: bool
    detail: str
    counterexamples: list[str]


class VerificationReport(BaseModel):
    rule_set_id: str
    rule_set_version: str
    rule_set_sha256: str
    vectors: int
    checks: list[Check]
    decided_by: dict[str, int]
    """Pathway and urgency row id -> number of vectors it decides."""

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def text(self) -> str:
        lines = [
            f"Rule set {self.rule_set_id} {self.rule_set_version} (sha256 {self.rule_set_sha256[:12]}...)",
            f"Enumerated {self.vectors:,} feature vectors "
            f"({' x '.join(str(len(v)) for v in FEATURES.values())}).",
        ]
        for check in self.checks:
            lines.append(f"  [{'PASS' if check.passed else 'FAIL'}] {check.name}: {check.detail}")
            lines.extend(f"        e.g. {example}" for example in check.counterexamples)
        lines.append("Vectors decided per rule:")
        lines.extend(f"  {rule_id:<24} {count:>8,}" for rule_id, count in self.decided_by.items())
        lines.append("VERIFIED" if self.passed else "VERIFICATION FAILED")
        return "\n".join(lines)


def _show(vector: tuple[str, ...]) -> str:
    return ", ".join(f"{name}={value}" for name, value in zip(FEATURE_NAMES, vector, strict=True))


def _check(name: str, problems: list[str], ok_detail: str) -> Check:
    if problems:
        return Check(
            name=name,
            passed=False,
            detail=f"{len(problems)} violation(s)",
            counterexamples=problems[:_MAX_EXAMPLES],
        )
    return Check(name=name, passed=True, detail=ok_detail, counterexamples=[])


Results = dict[tuple[str, ...], Decision]
"""Every feature vector, in enumeration order, with the decision the tables give it."""


def _is_decided(decision: Decision) -> bool:
    """True if the vector got both a deciding pathway row and an urgency row."""
    return bool(decision.deciding and decision.urgency_rules)


def _check_total(results: Results) -> Check:
    undecided = [_show(vector) for vector, decision in results.items() if not _is_decided(decision)]
    return _check(
        "total: every vector gets a pathway and an urgency",
        undecided,
        f"all {len(results):,} vectors decided",
    )


def _check_no_conflict(rule_set: RuleSet, results: Results) -> Check:
    """Rows of equal priority that match the same vector must give the same pathway."""
    rows_by_id = {row.id: row for row in rule_set.pathway}
    co_matching: set[tuple[str, str]] = set()
    for decision in filter(_is_decided, results.values()):
        rows = [rows_by_id[rule_id] for rule_id in decision.deciding + decision.superseded]
        for first, second in itertools.combinations(rows, 2):
            if first.priority == second.priority and first.pathway != second.pathway:
                co_matching.add((first.id, second.id))
    return _check(
        "no conflict between rows of equal priority",
        [f"{a} vs {b}" for a, b in sorted(co_matching)],
        "no two equal-priority rows disagree on any vector",
    )


def _rule_ids(rule_set: RuleSet) -> list[str]:
    return [row.id for row in rule_set.pathway] + [row.id for row in rule_set.urgency]


def _decided_by(rule_set: RuleSet, results: Results) -> dict[str, int]:
    """Pathway and urgency row id -> number of vectors it decides (the most urgent row decides)."""
    decided: Counter[str] = Counter()
    for decision in filter(_is_decided, results.values()):
        decided.update(decision.deciding)
        decided[decision.urgency_rules[0]] += 1
    return {rule_id: decided[rule_id] for rule_id in _rule_ids(rule_set)}


def _check_reachable(decided_by: dict[str, int]) -> Check:
    return _check(
        "no unreachable rule",
        [f"{rule_id} never decides" for rule_id, count in decided_by.items() if count == 0],
        f"all {len(decided_by)} pathway and urgency rows decide some vector",
    )


def _check_red_flag(results: Results) -> Check:
    red_flag = FEATURE_NAMES.index("red_flag")
    red_flag_vectors = [vector for vector in results if vector[red_flag] == "yes"]
    misses = [
        f"{_show(vector)} -> {decision.pathway}/{decision.urgency}"
        for vector in red_flag_vectors
        if _is_decided(decision := results[vector])
        and (decision.pathway, decision.urgency) != ("emergency_referral", "emergency")
    ]
    return _check(
        "red flag always gives emergency referral",
        misses,
        f"{len(red_flag_vectors):,} red-flag vectors all emergency",
    )


def _check_monotone(results: Results) -> Check:
    """Worsening any single feature one step (FEATURE_ORDER) never lowers the urgency."""
    rank = {urgency: len(URGENCIES) - i for i, urgency in enumerate(URGENCIES)}
    violations: list[str] = []
    pairs_checked = 0
    for vector, decision in results.items():
        for feature, pairs in FEATURE_ORDER.items():
            index = FEATURE_NAMES.index(feature)
            for better, worse in pairs:
                if vector[index] != better:
                    continue
                pairs_checked += 1
                other = results[(*vector[:index], worse, *vector[index + 1 :])]
                if rank[other.urgency] < rank[decision.urgency]:
                    violations.append(
                        f"{feature} {better}->{worse} at {_show(vector)}: "
                        f"{decision.pathway}/{decision.urgency} -> {other.pathway}/{other.urgency}"
                    )
    return _check(
        "worsening a feature never lowers urgency",
        violations,
        f"{pairs_checked:,} single-step worsenings checked",
    )


def _check_follow_up(results: Results) -> Check:
    """Every distinct (deciding rules, urgency) outcome has a follow-up schedule."""
    outcomes = {(decision.deciding, decision.urgency) for decision in results.values()}
    gaps: list[str] = []
    for deciding, urgency in sorted(outcomes):
        try:
            follow_up_schedule(dt.date(2026, 1, 1), deciding, urgency)
        except LookupError as error:
            gaps.append(f"{'+'.join(deciding)} ({urgency}): {error}")
    return _check(
        "every decision has a follow-up schedule",
        gaps,
        f"{len(outcomes)} distinct (rules, urgency) outcomes scheduled",
    )


def _answerable_facts(rule_set: RuleSet) -> tuple[set[str], set[str]]:
    """Facts unknown on a blank entry, and those of them a single blank input answers."""
    from myelo_cds.findings import Findings, Patient
    from myelo_cds.rules.engine import Engine

    engine = Engine(rule_set)
    leaves = engine.leaves(Findings(patient=Patient()), dt.date(2026, 1, 1))
    blank = engine.evaluate(leaves).facts
    unknown = {name for name, value in blank.items() if value is None}
    answered: set[str] = set()
    for completion in engine.completions(leaves):
        answered |= {name for name in unknown if completion.facts.get(name) is not None}
    return unknown, answered


def _check_no_silent_red_flag(rule_set: RuleSet) -> Check:
    """Each red-flag row in each three-valued state of its conditions is never silent."""
    from myelo_cds.rules._triage import row_state

    can_be_unknown, answered = _answerable_facts(rule_set)
    problems: list[str] = []
    states = 0
    for row in rule_set.red_flags:
        for values in itertools.product((True, False, None), repeat=len(row.facts)):
            facts = dict(zip(row.facts, values, strict=True))
            unknown = [name for name, value in facts.items() if value is None]
            if any(name not in can_be_unknown for name in unknown):
                continue  # a fact that is never unknown (e.g. "early post-operative")
            states += 1
            if row_state(row, facts) == "not_excluded" and not any(name in answered for name in unknown):
                shown = ", ".join(f"{name}={value}" for name, value in facts.items())
                problems.append(f"{row.id} at {shown}: no blank input answers {unknown}")
    return _check(
        "no silent red flag",
        problems,
        f"{states} three-valued states of {len(rule_set.red_flags)} red-flag rows: each fired, "
        "excluded, or answered by a named blank input",
    )


def verify_rule_set(rule_set: RuleSet | None = None) -> VerificationReport:
    """Enumerate every feature vector and check the tables (see the module docstring)."""
    rule_set = rule_set or default_rule_set()
    table = DecisionTable(rule_set)
    results: Results = {
        vector: table.decide_uncached(vector) for vector in itertools.product(*FEATURES.values())
    }
    decided_by = _decided_by(rule_set, results)
    return VerificationReport(
        rule_set_id=rule_set.id,
        rule_set_version=rule_set.version,
        rule_set_sha256=rule_set.sha256,
        vectors=len(results),
        checks=[
            _check_total(results),
            _check_no_conflict(rule_set, results),
            _check_reachable(decided_by),
            _check_red_flag(results),
            _check_monotone(results),
            _check_follow_up(results),
            _check_no_silent_red_flag(rule_set),
        ],
        decided_by=decided_by,
    )
