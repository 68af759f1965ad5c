"""Scoring a committed quiz answer against the case and the engine, and saying where it differs.

Design choices (labelled as such on the pages): the pathway scores 1 when it is the stated
answer or, for a disputed case, one of the accepted answers; the mJOA scores the share of the
four items the resident scored exactly as the narrative describes them; the severity grade
scores 1 when it is the band the rules use (the attributed total); a script-concordance item
scores by aggregate scoring against its panel; the urgency, when the resident is asked for it,
scores by its distance from the rules' urgency on the four-tier order (emergency, urgent,
expedited, routine): 1 when equal, one third less per tier away, and a tier too low is named as
under-triage. The overall score is the weighted mean of the parts the case has, with the
weights of :data:`PART_WEIGHTS`: the pathway counts three times as much as any other part, so a
wrong pathway costs more than a misread mJOA (a teaching choice: the pathway is the decision).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from myelo_cds.errors import InputError
from myelo_cds.findings import MJOAItem
from myelo_cds.rules.engine import PATHWAY_LABELS, assess
from myelo_cds.rules.result import Pathway, Recommendation
from myelo_cds.rules.ruleset import URGENCIES, Urgency, default_rule_set
from myelo_cds.scales import Band, mjoa_max_total, mjoa_scale
from myelo_cds.teaching._case import SCT_SCALE, ScriptConcordanceItem, TeachingCase

__all__ = [
    "BAND_LABELS",
    "PART_WEIGHTS",
    "QuizAnswer",
    "QuizResult",
    "score_answer",
    "score_working",
    "sct_credit",
    "urgency_distance",
]

#: How much each part of an answer counts in the score (a design choice, shown to the resident):
#: the pathway is the decision the case teaches, so getting it wrong costs three parts; each
#: script-concordance item counts as one part.
PART_WEIGHTS: dict[str, float] = {
    "pathway": 3.0,
    "mJOA": 1.0,
    "severity": 1.0,
    "urgency": 1.0,
    "script concordance item": 1.0,
}


def _band_label(band: dict[str, object]) -> str:
    """A band's name with its totals from the scale data, e.g. "Mild (mJOA 15-17)"."""
    low, high = band["min"], band["max"]
    totals = f"{low}" if low == high else f"{low}-{high}"
    name = "No functional deficit" if band["id"] == "normal" else str(band["id"]).capitalize()
    return f"{name} (mJOA {totals})"


#: The severity bands a resident grades, best first, with the totals of the scale data.
BAND_LABELS: dict[str, str] = {
    str(band["id"]): _band_label(band)
    for band in sorted(mjoa_scale()["bands"], key=lambda band: -band["max"])
}


class QuizAnswer(BaseModel):
    """What the resident committed before the reveal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mjoa: dict[MJOAItem, int] | None = Field(
        default=None, description="The resident's mJOA, item by item (None when not scored)."
    )
    severity: Band | None = Field(default=None, description="The severity grade the resident chose.")
    pathway: Pathway
    urgency: Urgency | None = Field(
        default=None, description="The urgency the resident chose (None: not asked)."
    )
    sct: tuple[int | None, ...] = Field(default=(), description="One Likert answer (-2..2) per item.")


class QuizResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    pathway_given: str
    pathway_expected: str
    pathway_engine: str
    correct_pathways: tuple[str, ...]
    pathway_correct: bool
    mjoa_true: dict[str, int] | None
    mjoa_true_total: int | None
    mjoa_given_total: int | None
    mjoa_credit: float | None
    severity_true: str | None
    severity_given: str | None
    severity_correct: bool | None
    sct_credits: tuple[float, ...]
    urgency_given: str | None = None
    urgency_expected: str | None = None
    urgency_distance: int | None = None
    """Tiers between the resident's urgency and the rules' (signed: negative is under-triage)."""
    urgency_credit: float | None = None
    parts: tuple[tuple[str, float, float], ...] = ()
    """Each part scored: (name, credit 0-1, weight), the score is their weighted mean."""
    score: float
    differences: tuple[str, ...]
    """Where the answer differs from the case and why, one sentence each."""
    recommendation: Recommendation


def score_working(result: QuizResult) -> str:
    """How the score was reached, in one line: each part's credit times its weight.

    ``pathway 0 x 3 + mJOA 0.75 x 1 + severity 0 x 1 = 0.75 of 5 (15%)``.
    """
    terms = " + ".join(f"{name} {credit:.3g} x {weight:g}" for name, credit, weight in result.parts)
    earned = sum(credit * weight for _, credit, weight in result.parts)
    total = sum(weight for _, _, weight in result.parts)
    return f"{terms} = {earned:.3g} of {total:g} ({result.score:.0%})"


def sct_credit(item: ScriptConcordanceItem, answer: int | None) -> float:
    """Aggregate scoring: panel members who chose ``answer`` / members who chose the modal answer."""
    if answer is None:
        return 0.0
    if answer not in SCT_SCALE:
        raise InputError(f"script-concordance answer {answer} is outside -2..2")
    return item.panel[answer] / max(item.panel.values())


def urgency_distance(given: str, expected: str) -> int:
    """Tiers from ``expected`` to ``given`` on the urgency order: negative when ``given`` is
    less urgent (under-triage), e.g. routine for urgent is -2."""
    return URGENCIES.index(expected) - URGENCIES.index(given)


def _urgency_part(given: str, expected: str) -> tuple[int, float, list[str]]:
    distance = urgency_distance(given, expected)
    credit = 1 - abs(distance) / (len(URGENCIES) - 1)
    lines = []
    if distance:
        tiers = f"{abs(distance)} tier{'s' if abs(distance) > 1 else ''}"
        kind = "under-triage: less urgent" if distance < 0 else "over-triage: more urgent"
        lines.append(f"Urgency: you chose {given}; the rules give {expected} ({kind} by {tiers}).")
    return distance, credit, lines


def _item_labels() -> dict[str, tuple[str, list[str]]]:
    return {item["id"]: (item["label"], item["levels"]) for item in mjoa_scale()["items"]}


def _mjoa_differences(true: dict[str, int], given: dict[MJOAItem, int]) -> list[str]:
    labels = _item_labels()
    lines = []
    for item in MJOAItem:
        mine, actual = given.get(item), true[item.value]
        if mine != actual:
            label, levels = labels[item.value]
            lines.append(
                f"mJOA {label}: you scored {mine}, the narrative describes {actual} ('{levels[actual]}')."
            )
    return lines


def _pathway_differences(case: TeachingCase, answer: QuizAnswer, rec: Recommendation) -> list[str]:
    given = answer.pathway
    deciding = [rule for rule in rec.rules_fired if rule.kind == "pathway"]
    red = [rule for rule in rec.rules_fired if rule.kind == "red_flag"]
    lines = [f"You chose {PATHWAY_LABELS[given]}; the answer is {PATHWAY_LABELS[case.expected.pathway]}."]
    for rule in deciding:
        inputs = ", ".join(f"{k} = {v}" for k, v in rule.inputs.items())
        lines.append(f"Rule {rule.id} ({rule.title}) decided it, on {inputs}.")
    if red:
        lines.append(
            "A red flag outranks every severity and course rule: "
            + "; ".join(f"{rule.title} ({rule.id})" for rule in red)
            + "."
        )
    outranked = {row.id: row for row in default_rule_set().pathway}
    for rule_id in rec.superseded:
        row = outranked.get(rule_id)
        if row is not None and row.pathway == given:
            lines.append(
                f"Your answer is what rule {row.id} ({row.title}) gives; it also matched but is"
                " outranked here."
            )
    for change in rec.counterfactuals:
        if change.pathway == given:
            lines.append(f"Your answer would follow if: {change.change}.")
    return lines


def score_answer(case: TeachingCase, answer: QuizAnswer, rec: Recommendation | None = None) -> QuizResult:
    """Score a committed answer and explain each difference from the case.

    Args:
        case: the teaching case.
        answer: what the resident committed.
        rec: the engine's recommendation for the case's findings (computed if not given).

    Raises:
        InputError: when the number of script-concordance answers does not match the case.
    """
    rec = rec or assess(case.findings)
    if answer.sct and len(answer.sct) != len(case.script_concordance):
        raise InputError(
            f"{len(answer.sct)} script-concordance answers for {len(case.script_concordance)} items"
        )
    correct = case.expected.correct_pathways
    pathway_correct = answer.pathway in correct
    differences = [] if pathway_correct else _pathway_differences(case, answer, rec)
    if pathway_correct and case.expected.disputed:
        differences.append(f"Disputed case: {case.expected.dispute_note}")
    parts: list[tuple[str, float]] = [("pathway", 1.0 if pathway_correct else 0.0)]

    score = rec.scores.mjoa
    mjoa_credit = severity_correct = None
    given_total = sum(answer.mjoa.values()) if answer.mjoa else None
    true_band = score.attributed_band if score else None
    if score is not None:
        given = answer.mjoa or {}
        matched = sum(given.get(item) == score.items[item.value] for item in MJOAItem)
        mjoa_credit = matched / len(MJOAItem)
        differences += _mjoa_differences(score.items, given)
        severity_correct = answer.severity == true_band
        if not severity_correct:
            attributed = (
                f" (scored {score.attributed_total} once deficits with another cause count as normal)"
                if score.attributed_total != score.total
                else ""
            )
            differences.append(
                f"Severity: mJOA {score.total}/{mjoa_max_total()}{attributed} is "
                f"{BAND_LABELS[score.attributed_band]};"
                f" you graded {BAND_LABELS[answer.severity] if answer.severity else 'nothing'}."
            )
        parts += [("mJOA", mjoa_credit), ("severity", 1.0 if severity_correct else 0.0)]

    distance = urgency_credit = None
    if answer.urgency is not None:
        distance, urgency_credit, lines = _urgency_part(answer.urgency, rec.urgency)
        differences += lines
        parts.append(("urgency", urgency_credit))

    credits = tuple(
        sct_credit(item, answer.sct[index] if index < len(answer.sct) else None)
        for index, item in enumerate(case.script_concordance)
    )
    parts += [("script concordance item", credit) for credit in credits]
    weighted = tuple((name, credit, PART_WEIGHTS[name]) for name, credit in parts)
    return QuizResult(
        case_id=case.id,
        pathway_given=answer.pathway,
        pathway_expected=case.expected.pathway,
        pathway_engine=rec.pathway,
        correct_pathways=correct,
        pathway_correct=pathway_correct,
        mjoa_true=score.items if score else None,
        mjoa_true_total=score.total if score else None,
        mjoa_given_total=given_total,
        mjoa_credit=mjoa_credit,
        severity_true=true_band,
        severity_given=answer.severity,
        severity_correct=severity_correct,
        sct_credits=credits,
        urgency_given=answer.urgency,
        urgency_expected=rec.urgency,
        urgency_distance=distance,
        urgency_credit=urgency_credit,
        parts=weighted,
        score=round(sum(c * w for _, c, w in weighted) / sum(w for _, _, w in weighted), 4),
        differences=tuple(differences),
        recommendation=rec,
    )
