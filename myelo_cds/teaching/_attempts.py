"""A scored quiz answer as the record store keeps it."""

from __future__ import annotations

import datetime as dt

from myelo_cds.records import NewTrainingAttempt
from myelo_cds.teaching._case import TeachingCase
from myelo_cds.teaching._quiz import QuizResult

__all__ = ["attempt_record"]


def attempt_record(
    case: TeachingCase, result: QuizResult, trainee_id: str, at: dt.datetime
) -> NewTrainingAttempt:
    """What to store for one committed answer (scores only; the case itself stays in the library)."""
    credits = result.sct_credits
    return NewTrainingAttempt(
        trainee_id=trainee_id,
        case_id=case.id,
        attempted_at=at,
        topics=case.topics,
        pathway_given=result.pathway_given,
        pathway_expected=result.pathway_expected,
        pathway_correct=result.pathway_correct,
        mjoa_given=result.mjoa_given_total,
        mjoa_true=result.mjoa_true_total,
        severity_given=result.severity_given,
        severity_correct=result.severity_correct,
        sct_credit=round(sum(credits) / len(credits), 4) if credits else None,
        score=result.score,
        rule_set_version=result.recommendation.rule_set.version,
    )
