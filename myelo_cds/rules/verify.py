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
* follow-up: every deciding rule, at every urgency it can carry, has a follow-up schedule.

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


def _check(name: str, problems: list[str], ok_detail: str, total: int | None = None) -> Check:
    if problems:
        detail = f"{total if total is not None else len(problems)} violation(s)"
        return Check(name=name, passed=False, detail=detail, counterexamples=problems[:_MAX_EXAMPLES])
    return Check(name=name, passed=True, detail=ok_detail, counterexamples=[])


def verify_rule_set(rule_set: RuleSet | None = None) -> VerificationReport:
    """Enumerate every feature vector and check the tables (see the module docstring)."""
    rule_set = rule_set or default_rule_set()
    table = DecisionTable(rule_set)
    space = list(itertools.product(*FEATURES.values()))
    results: dict[tuple[str, ...], Decision] = {}
    untotal: list[str] = []
    conflicts: list[str] = []
    red_flag_misses: list[str] = []
    decided: Counter[str] = Counter()
    co_matching: set[tuple[str, str]] = set()
    rows_by_id = {row.id: row for row in rule_set.pathway}
    for vector in space:
        decision = table.decide_uncached(vector)
        results[vector] = decision
        if not decision.deciding or not decision.urgency_rules:
            untotal.append(_show(vector))
            continue
        rows = [rows_by_id[rule_id] for rule_id in decision.deciding + decision.superseded]
        for first, second in itertools.combinations(rows, 2):
            if first.priority == second.priority and first.pathway != second.pathway:
                co_matching.add((first.id, second.id))
                conflicts.append(f"{first.id} vs {second.id} at {_show(vector)}")
        decided.update(decision.deciding)
        decided[decision.urgency_rules[0]] += 1
        if vector[0] == "yes" and (decision.pathway, decision.urgency) != (
            "emergency_referral",
            "emergency",
        ):
            red_flag_misses.append(f"{_show(vector)} -> {decision.pathway}/{decision.urgency}")

    rank = {urgency: len(URGENCIES) - i for i, urgency in enumerate(URGENCIES)}
    monotone: list[str] = []
    violations = 0
    pairs_checked = 0
    for vector, decision in results.items():
        for feature, pairs in FEATURE_ORDER.items():
            index = FEATURE_NAMES.index(feature)
            for better, worse in pairs:
                if vector[index] != better:
                    continue
                pairs_checked += 1
                worse_vector = (*vector[:index], worse, *vector[index + 1 :])
                other = results[worse_vector]
                if rank[other.urgency] < rank[decision.urgency]:
                    violations += 1
                    monotone.append(
                        f"{feature} {better}->{worse} at {_show(vector)}: "
                        f"{decision.pathway}/{decision.urgency} -> {other.pathway}/{other.urgency}"
                    )

    all_ids = [row.id for row in rule_set.pathway] + [row.id for row in rule_set.urgency]
    unreachable = [rule_id for rule_id in all_ids if decided[rule_id] == 0]

    schedule_gaps: list[str] = []
    seen: set[tuple[tuple[str, ...], str]] = {
        (decision.deciding, decision.urgency) for decision in results.values()
    }
    for deciding, urgency in sorted(seen):
        try:
            follow_up_schedule(dt.date(2026, 1, 1), deciding, urgency)
        except LookupError as error:
            schedule_gaps.append(f"{'+'.join(deciding)} ({urgency}): {error}")

    checks = [
        _check(
            "total: every vector gets a pathway and an urgency",
            untotal,
            f"all {len(space):,} vectors decided",
        ),
        _check(
            "no conflict between rows of equal priority",
            [f"{a} vs {b}" for a, b in sorted(co_matching)] or conflicts,
            "no two equal-priority rows disagree on any vector",
        ),
        _check(
            "no unreachable rule",
            [f"{rule_id} never decides" for rule_id in unreachable],
            f"all {len(all_ids)} pathway and urgency rows decide some vector",
        ),
        _check(
            "red flag always gives emergency referral",
            red_flag_misses,
            f"{sum(1 for v in space if v[0] == 'yes'):,} red-flag vectors all emergency",
        ),
        _check(
            "worsening a feature never lowers urgency",
            monotone,
            f"{pairs_checked:,} single-step worsenings checked",
            total=violations,
        ),
        _check(
            "every decision has a follow-up schedule",
            schedule_gaps,
            f"{len(seen)} distinct (rules, urgency) outcomes scheduled",
        ),
    ]
    return VerificationReport(
        rule_set_id=rule_set.id,
        rule_set_version=rule_set.version,
        rule_set_sha256=rule_set.sha256,
        vectors=len(space),
        checks=checks,
        decided_by={rule_id: decided[rule_id] for rule_id in all_ids},
    )
