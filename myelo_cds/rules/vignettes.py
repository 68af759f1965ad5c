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
from myelo_cds.rules.ruleset import URGENCIES

__all__ = [
    "CaseResult",
    "IncompleteCase",
    "ValidationCase",
    "ValidationReport",
    "incomplete_problems",
    "load_incomplete_cases",
    "load_validation_cases",
    "run_validation",
]

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
    changed: str = ""
    """Why the expected answer changed with a rule-set version, when it did."""


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


class IncompleteCase(BaseModel):
    """A half-filled entry (``data/validation/incomplete``) and what a safe answer must do."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    file: str
    findings: Findings
    accepted_pathways: tuple[str, ...]
    min_urgency: str
    provisional: bool | None = None
    to_confirm_includes: tuple[str, ...] = ()
    forbidden_advice: tuple[str, ...] = ()
    warnings_include: tuple[str, ...] = ()
    reasoning: str
    citation: str


@cache
def load_incomplete_cases() -> tuple[IncompleteCase, ...]:
    """Every incomplete-entry vignette in file-name order (findings validated)."""
    cases = []
    for path in sorted((data_dir() / "validation" / "incomplete").glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        cases.append(
            IncompleteCase.model_validate(
                {key: value for key, value in raw.items() if key not in ("expected", "covers")}
                | raw["expected"]
                | {"file": path.name}
            )
        )
    return tuple(cases)


def _advice(recommendation: Recommendation) -> str:
    texts = [rule.action for rule in recommendation.rules_fired]
    texts += [differential.workup for differential in recommendation.differentials]
    texts += [flag.text for flag in recommendation.flags]
    return " ".join(texts).lower()


def _overlaps(field: str, path: str) -> bool:
    """One input path names the other, or a section holding it (``mri`` holds ``mri.available``)."""
    return field == path or field.startswith(path + ".") or path.startswith(field + ".")


def incomplete_problems(case: IncompleteCase, rec: Recommendation) -> list[str]:
    """How the answer to a half-filled entry falls short of a safe one (empty when it does not).

    A confirmed emergency (a red flag fired) meets "provisional" and "to confirm": nothing is
    left to escalate (the convention of ``data/validation/incomplete/README.md``).
    """
    problems = []
    if rec.pathway not in case.accepted_pathways:
        problems.append(f"pathway {rec.pathway} not in {list(case.accepted_pathways)}")
    if URGENCIES.index(rec.urgency) > URGENCIES.index(case.min_urgency):
        problems.append(f"urgency {rec.urgency} is less than {case.min_urgency}")
    confirmed_emergency = rec.urgency == "emergency" and bool(fired(rec, "red_flag"))
    if case.provisional is True and not (rec.provisional or confirmed_emergency):
        problems.append("not marked provisional")
    if case.provisional is False and rec.provisional:
        problems.append("marked provisional")
    named = {field for question in rec.to_confirm for field in question.fields} | set(rec.incomplete)
    if not confirmed_emergency:
        problems += [
            f"{path} not named in to_confirm {sorted(named)}"
            for path in case.to_confirm_includes
            if not any(
                field == path or field.startswith(path + ".") or path.startswith(field + ".")
                for field in named
            )
        ]
    advice = _advice(rec)
    problems += [
        f"advice mentions {phrase!r}" for phrase in case.forbidden_advice if phrase.lower() in advice
    ]
    codes = {warning.code for warning in rec.warnings}
    problems += [f"warning {code} missing" for code in case.warnings_include if code not in codes]
    return problems
