"""Validation vignettes (``data/validation``): run them and report agreement and rule coverage.

Each vignette holds findings and the answer the clinical reference gives (pathway, urgency,
deciding rules, red flags), with the reasoning and citation. The same runner serves the test
suite, the Rules & evidence page and the CLI.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict

from myelo_cds._paths import data_dir
from myelo_cds.findings import Findings
from myelo_cds.rules.engine import Engine, default_engine
from myelo_cds.rules.result import Recommendation

__all__ = ["CaseResult", "ValidationCase", "ValidationReport", "load_validation_cases", "run_validation"]

KINDS = ("pathway", "red_flag", "urgency")


class ValidationCase(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    file: str
    findings: Findings
    expected: dict[str, Any]
    reasoning: str
    citation: str
    covers: tuple[str, ...]


class CaseResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    expected_pathway: str
    expected_urgency: str
    pathway: str
    urgency: str
    expected_rules: tuple[str, ...]
    rules: tuple[str, ...]
    expected_red_flags: tuple[str, ...]
    red_flags: tuple[str, ...]
    passed: bool


class ValidationReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule_set_version: str
    rule_set_sha256: str
    results: tuple[CaseResult, ...]
    coverage: dict[str, dict[str, int]]
    """Rule kind -> rule id -> number of cases in which it fired."""

    @property
    def passed(self) -> int:
        return sum(result.passed for result in self.results)

    @property
    def uncovered(self) -> list[str]:
        return [rule for rows in self.coverage.values() for rule, count in rows.items() if count == 0]


@cache
def load_validation_cases() -> tuple[ValidationCase, ...]:
    """Every vignette in file-name order (findings validated)."""
    cases = []
    for path in sorted((data_dir() / "validation").glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        cases.append(ValidationCase.model_validate({**raw, "file": path.name}))
    return tuple(cases)


def fired(recommendation: Recommendation, kind: str) -> tuple[str, ...]:
    """Ids of the rules of one kind that fired."""
    return tuple(rule.id for rule in recommendation.rules_fired if rule.kind == kind)


def _check(case: ValidationCase, rec: Recommendation) -> CaseResult:
    expected = case.expected
    rules, red = fired(rec, "pathway"), fired(rec, "red_flag")
    passed = (
        rec.pathway == expected["pathway"]
        and rec.urgency == expected["urgency"]
        and sorted(rules) == sorted(expected["deciding_rules"])
        and sorted(red) == sorted(expected["red_flags"])
        and ("urgency_rule" not in expected or fired(rec, "urgency") == (expected["urgency_rule"],))
    )
    return CaseResult(
        id=case.id,
        title=case.title,
        expected_pathway=expected["pathway"],
        expected_urgency=expected["urgency"],
        pathway=rec.pathway,
        urgency=rec.urgency,
        expected_rules=tuple(expected["deciding_rules"]),
        rules=rules,
        expected_red_flags=tuple(expected["red_flags"]),
        red_flags=red,
        passed=passed,
    )


def run_validation(engine: Engine | None = None) -> ValidationReport:
    """Assess every vignette and compare with the reference answer."""
    engine = engine or default_engine()
    rule_set = engine.rule_set
    counts: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
    results = []
    for case in load_validation_cases():
        rec = engine.assess(case.findings)
        results.append(_check(case, rec))
        for kind in KINDS:
            counts[kind].update(set(fired(rec, kind)))
    ids = {
        "pathway": [row.id for row in rule_set.pathway],
        "red_flag": [row.id for row in rule_set.red_flags],
        "urgency": [row.id for row in rule_set.urgency],
    }
    return ValidationReport(
        rule_set_version=rule_set.version,
        rule_set_sha256=rule_set.sha256,
        results=tuple(results),
        coverage={kind: {rule: counts[kind][rule] for rule in ids[kind]} for kind in KINDS},
    )
