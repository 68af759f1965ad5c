"""Fail-safe triage: what a blank input means for each red flag.

Each red-flag row is, for every input, in one of three states (Kleene logic over its facts):

* **fired**: every condition is true; the red-flag screen sends the patient to emergency.
* **excluded**: a condition is known to be false.
* **not excluded**: no condition is false, some are unknown.

A row that is not excluded is never silent. The blank inputs that would settle it are found
by asking the rule set again with each blank input completed (the what-if completions), and
they are named in ``to_confirm``, most dangerous first. When the row's ``if_not_excluded``
condition holds (every fact it names is known to be true), the known findings make the red
flag plausible enough to act on now: the headline urgency is raised to the row's urgency and
the answer is provisional until the questions are answered. Otherwise the blank inputs are a
prompt, not an escalation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from myelo_cds.rules.facts import all3, any3
from myelo_cds.rules.result import ToConfirm
from myelo_cds.rules.ruleset import URGENCIES, ScreenRule

__all__ = ["Completion", "Escalation", "RowState", "Triage", "escalation", "row_state", "triage"]

RowState = Literal["fired", "excluded", "not_excluded"]


@dataclass(frozen=True, slots=True)
class Completion:
    """One blank input completed with one plausible value, and the facts that would follow."""

    leaf: str
    label: str
    fields: tuple[str, ...]
    facts: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Escalation:
    """What the plausible, not excluded red flags do to the answer (from the facts alone)."""

    urgency: str | None
    rows: tuple[str, ...]
    refer: bool


@dataclass(frozen=True, slots=True)
class Triage:
    """The red flags' three-valued state, what it does to the answer and what to ask."""

    states: dict[str, RowState]
    raised: Escalation
    to_confirm: tuple[ToConfirm, ...]


def row_state(row: ScreenRule, facts: Mapping[str, Any]) -> RowState:
    """Fired, excluded or not excluded, by Kleene logic over the row's facts."""
    values = [facts.get(name) for name in row.all]
    if row.any:
        values.append(any3([facts.get(name) for name in row.any]))
    state = all3(values)
    if state is True:
        return "fired"
    if state is False:
        return "excluded"
    return "not_excluded"


def _answers(row: ScreenRule, before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """The completed input settles the row (open in ``before``), or makes one of its unknown
    conditions known.

    The second clause names every blank a row needs, also when it needs two or more: "recent
    trauma" is asked even though the deficit-since-the-trauma question is blank too.
    """
    changed = False
    for name in row.facts:  # the cheaper clause first (the answer is the same either way)
        was, now = before.get(name), after.get(name)
        if was is None and now is not None:
            return True
        if now != was:
            changed = True
    # ``row`` is open before; with none of its conditions changed (its state reads only them)
    # it is open after too, so its state need not be worked out again.
    return changed and row_state(row, after) != "not_excluded"


def _refers(row: ScreenRule) -> bool:
    """The row's escalation is an emergency referral (``refer`` counts for an emergency only)."""
    rule = row.if_not_excluded
    return rule is not None and rule.refer and rule.urgency == URGENCIES[0]


def _rank(urgency: str) -> int:
    return URGENCIES.index(urgency)


def _escalation(row: ScreenRule, facts: Mapping[str, Any]) -> str | None:
    rule = row.if_not_excluded
    if rule is None:
        return None
    for name in rule.when:  # a plain loop: this runs for every red flag of every batch row
        if facts.get(name) is not True:
            return None
    return rule.urgency


def escalation(red_flags: Sequence[ScreenRule], facts: Mapping[str, Any]) -> Escalation:
    """The most urgent escalation of the red flags that are not excluded and plausible."""
    # The escalation is read first: most rows have none, and then their state is not needed.
    raised = {
        row.id: (urgency, _refers(row))
        for row in red_flags
        if (urgency := _escalation(row, facts)) is not None and row_state(row, facts) == "not_excluded"
    }
    return Escalation(
        min((urgency for urgency, _ in raised.values()), key=_rank) if raised else None,
        tuple(raised),
        any(refer for _, refer in raised.values()),
    )


def triage(
    red_flags: Sequence[ScreenRule], facts: Mapping[str, Any], completions: Iterable[Completion]
) -> Triage:
    """The three-valued red-flag screen over ``facts`` and the blank inputs that settle it.

    Args:
        red_flags: the rule set's red-flag rows, in file order (most dangerous first).
        facts: the facts of the assessment as entered.
        completions: each blank input completed with each of its plausible values.
    """
    states = {row.id: row_state(row, facts) for row in red_flags}
    open_rows = [row for row in red_flags if states[row.id] == "not_excluded"]
    raised = escalation(red_flags, facts)
    if not open_rows:
        return Triage(states, raised, ())
    # Which blank inputs settle which open rows (fire or exclude them once answered).
    settles: dict[str, tuple[Completion, set[str]]] = {}
    for completion in completions:
        # A row another value of the same input settles already is not asked again (a union).
        known = settles.get(completion.leaf)
        done = known[1] if known is not None else set()
        settled = {
            row.id for row in open_rows if row.id not in done and _answers(row, facts, completion.facts)
        }
        if settled:
            _, rows = settles.setdefault(completion.leaf, (completion, set()))
            rows.update(settled)
    order = {row.id: index for index, row in enumerate(red_flags)}
    questions = []
    for completion, rows in settles.values():
        row_ids = tuple(sorted(rows, key=order.__getitem__))
        questions.append(
            ToConfirm(
                input=completion.label,
                fields=completion.fields,
                red_flags=row_ids,
                urgency_if_positive="emergency",
                escalated=any(row_id in raised.rows for row_id in row_ids),
            )
        )
    # A row whose blank inputs no completion settles is still named, never silent.
    named = {row_id for question in questions for row_id in question.red_flags}
    for row in open_rows:
        if row.id not in named:
            questions.append(
                ToConfirm(
                    input=f"Not excluded: {row.title}",
                    fields=(),
                    red_flags=(row.id,),
                    urgency_if_positive="emergency",
                    escalated=row.id in raised.rows,
                )
            )
    questions.sort(key=lambda question: (not question.escalated, order[question.red_flags[0]]))
    return Triage(states, raised, tuple(questions))
