"""The red-flag questions a clinician asks, derived from the rule set (never a second list).

A question is a yes/no or one-of-several history field whose answer settles a red-flag row of
the rule set: the engine names it in ``to_confirm`` while it is blank. The list is found by
asking the engine itself about two probe patients (a neurological deficit present; the same
early after anterior cervical surgery), so a red-flag row added to
the rule data adds its question to the consult's red-flag block with no code change.

Examined signs (``exam.*``) are left to the examination and imaging findings (an epidural
collection) to the MRI section: the block holds what is asked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any

from myelo_cds.findings import Findings, field_spec
from myelo_cds.rules.engine import default_engine

__all__ = ["RedFlagQuestion", "red_flag_questions"]

_ASKED_KINDS = ("tri", "enum")


@dataclass(frozen=True, slots=True)
class RedFlagQuestion:
    """One red-flag question: its findings path, the red-flag rows it settles, and its negative
    answer (``False`` for yes/no; for a choice, the option that asserts least, below)."""

    path: str
    red_flags: tuple[str, ...]
    negative: Any


def _probes() -> list[dict[str, Any]]:
    deficit = {"symptoms": {"hand_clumsiness": True}, "exam": {"umn": {"hoffmann_tromner": True}}}
    early = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    postoperative = {
        "management": "postoperative",
        "management_since": early,
        "surgical_approach": "anterior",
    }
    return [
        {"patient": {"age_years": 60}, **deficit},
        {"patient": {"age_years": 60, **postoperative}, **deficit},
    ]


@cache
def red_flag_questions() -> tuple[RedFlagQuestion, ...]:
    """Every red-flag question of the shipped rule set, most dangerous row first."""
    engine = default_engine()
    found: dict[str, set[str]] = {}
    order: list[str] = []
    for probe in _probes():
        for question in engine.assess(Findings.model_validate(probe)).to_confirm:
            if not question.fields:
                continue
            path = question.fields[0]
            if path.startswith("exam.") or not _is_field(path) or field_spec(path).kind not in _ASKED_KINDS:
                continue
            if path not in found:
                order.append(path)
            found.setdefault(path, set()).update(question.red_flags)
    rank = {row.id: index for index, row in enumerate(engine.rule_set.red_flags)}
    order.sort(key=lambda path: min(rank[row] for row in found[path]))
    return tuple(
        RedFlagQuestion(path, tuple(sorted(found[path], key=rank.__getitem__)), _negative(path))
        for path in order
    )


def _is_field(path: str) -> bool:
    try:
        field_spec(path)
    except (KeyError, ValueError):
        return False
    return True


def _negative(path: str) -> Any:
    """``False`` for a yes/no question; for a choice, the option under which the most facts of
    the probe patient are known to be false (the answer that asserts least: "chronic" onset,
    "no" bladder change), first in the field's order on a tie."""
    spec = field_spec(path)
    if spec.kind == "tri":
        return False
    engine = default_engine()

    def false_facts(option: str) -> int:
        data: dict[str, Any] = {"patient": {"age_years": 60}}
        node = data
        *parents, leaf = path.split(".")
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = option
        facts = engine.decide(Findings.model_validate(data)).facts
        return sum(1 for value in facts.values() if value is False)

    scores = {option: false_facts(option) for option in spec.options}
    return max(spec.options, key=lambda option: scores[option])
