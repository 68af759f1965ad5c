"""The case library: one JSON file per case in ``data/cases`` (or ``MYELO_CDS_CASES_DIR``).

Authored cases are saved as files beside the shipped ones rather than in the database: a case
is clinical teaching content, reviewed and versioned like the rule set, and the test that
checks every case file against the engine then covers authored cases too.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from myelo_cds._paths import data_dir
from myelo_cds.errors import CaseError
from myelo_cds.findings import Findings, describe_validation_error
from myelo_cds.rules.engine import PATHWAY_LABELS, assess
from myelo_cds.rules.result import Recommendation
from myelo_cds.teaching._case import TeachingCase

__all__ = [
    "CaseError",
    "case_library",
    "cases_dir",
    "check_case",
    "engine_disagreement",
    "parse_case",
    "save_case",
]


def cases_dir() -> Path:
    """Where the cases live: ``MYELO_CDS_CASES_DIR`` if set, else ``data/cases``."""
    override = os.environ.get("MYELO_CDS_CASES_DIR", "").strip()
    return Path(override) if override else data_dir() / "cases"


def _problems(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        lines.append(f"{where}: {item['msg']}" if where else item["msg"])
    return lines


def _findings_problems(raw: dict[str, Any]) -> list[str]:
    try:
        Findings.model_validate(raw.get("findings"))
    except ValidationError as error:
        return ["findings." + line for line in describe_validation_error(error)]
    return []


def parse_case(raw: Any, source: str = "case") -> TeachingCase:
    """A case from its JSON data, or :class:`CaseError` naming each invalid field."""
    if not isinstance(raw, dict):
        raise CaseError(source, ["a case is a JSON object with id, title, stem, findings, expected, ..."])
    try:
        return TeachingCase.model_validate(raw)
    except ValidationError as error:
        # The findings' own messages carry each finding's allowed range (one wording for the
        # consult, the CLI and the case files).
        findings = _findings_problems(raw)
        other = [line for line in _problems(error) if not line.startswith("findings")]
        raise CaseError(source, other + findings) from None


def engine_disagreement(case: TeachingCase, rec: Recommendation | None = None) -> str | None:
    """Why the stated answer does not match the engine, or None when it does."""
    rec = rec or assess(case.findings)
    if rec.pathway in case.expected.correct_pathways:
        return None
    deciding = next((rule for rule in rec.rules_fired if rule.kind == "pathway"), None)
    because = f" (rule {deciding.id}: {deciding.title})" if deciding else ""
    stated = ", ".join(PATHWAY_LABELS[p] for p in case.expected.correct_pathways)
    return (
        f"expected.pathway: the case states {stated} but the engine gives {PATHWAY_LABELS[rec.pathway]}"
        f"{because}; correct the findings or the answer, or mark the case disputed with the engine's"
        " answer among the accepted ones"
    )


def check_case(raw: Any, source: str = "case") -> TeachingCase:
    """A case that is valid and whose stated answer the engine agrees with.

    Raises:
        CaseError: with one line per invalid field, or the disagreement with the engine.
    """
    case = parse_case(raw, source)
    disagreement = engine_disagreement(case)
    if disagreement:
        raise CaseError(source, [disagreement])
    return case


def case_library(directory: Path | None = None) -> tuple[TeachingCase, ...]:
    """Every case in the library, in file-name order (each validated; ids unique).

    Raises:
        CaseError: for the first file that is not valid JSON or not a valid case.
    """
    folder = directory or cases_dir()
    cases: list[TeachingCase] = []
    seen: dict[str, str] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise CaseError(path.name, [f"not valid JSON: {error.msg} at line {error.lineno}"]) from None
        case = parse_case(raw, path.name)
        if case.id in seen:
            raise CaseError(path.name, [f"id {case.id!r} is also used by {seen[case.id]}"])
        seen[case.id] = path.name
        cases.append(case)
    return tuple(cases)


def save_case(case: TeachingCase, directory: Path | None = None) -> Path:
    """Write a checked case as ``<id>.json`` in the library; never overwrites another case.

    Raises:
        CaseError: if a case with this id already exists, or the engine disagrees with it.
    """
    folder = directory or cases_dir()
    disagreement = engine_disagreement(case)
    if disagreement:
        raise CaseError(case.id, [disagreement])
    if any(existing.id == case.id for existing in case_library(folder)):
        raise CaseError(case.id, [f"id: a case {case.id!r} already exists; choose another id"])
    path = folder / f"{re.sub(r'[^A-Za-z0-9_-]', '_', case.id).lower()}.json"
    if path.exists():
        raise CaseError(case.id, [f"id: the file {path.name} already exists; choose another id"])
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(case.model_dump(mode="json", exclude_none=True), indent=2, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path
