"""Progress: accuracy by topic and over time, and which cases are due for re-testing.

Spaced re-testing follows a Leitner schedule (a DESIGN choice, not a published standard for
this curriculum): every case starts in box 1; a correct pathway moves it up one box (to at most
box 5), a wrong one sends it back to box 1; a case is due again the given number of days after
its last attempt: box 1 after 1 day, box 2 after 3, box 3 after 7, box 4 after 14, box 5 after
30. Short early intervals re-test what was just missed; long late ones keep mastered cases from
crowding the list. A case never attempted is due now.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from myelo_cds.auth import User, may_view_trainee_results
from myelo_cds.records import Store, TrainingAttempt
from myelo_cds.teaching._case import TeachingCase

__all__ = [
    "LEITNER_INTERVAL_DAYS",
    "DueCase",
    "TopicAccuracy",
    "WeekAccuracy",
    "accuracy_by_topic",
    "accuracy_by_week",
    "attempts_by_trainee",
    "due_cases",
    "leitner_box",
    "visible_attempts",
]

#: Days until a case in box 1..5 is due again (DESIGN).
LEITNER_INTERVAL_DAYS: tuple[int, ...] = (1, 3, 7, 14, 30)


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True)


class TopicAccuracy(_Row):
    topic: str
    attempts: int
    correct: int
    accuracy: float
    mean_score: float


class WeekAccuracy(_Row):
    week_starting: dt.date
    attempts: int
    correct: int
    accuracy: float
    mean_score: float


class DueCase(_Row):
    case_id: str
    title: str
    status: Literal["overdue", "due", "new", "later"]
    box: int
    """Leitner box 1-5 (1 for a case never attempted)."""
    due: dt.date
    last_attempt: dt.date | None
    attempts: int


def visible_attempts(store: Store, viewer: User, trainee_id: str) -> list[TrainingAttempt]:
    """A trainee's attempts if the viewer may see them.

    Raises:
        PermissionError: when the viewer may not see this trainee's results.
    """
    if not may_view_trainee_results(viewer, trainee_id):
        raise PermissionError("only the trainee, a supervisor or an admin may see these training results")
    return store.training_attempts(trainee_id)


def attempts_by_trainee(store: Store, viewer: User) -> dict[str, list[TrainingAttempt]]:
    """Every trainee's attempts that the viewer may see, in one query (trainee id order)."""
    grouped: dict[str, list[TrainingAttempt]] = defaultdict(list)
    for attempt in store.training_attempts():
        if may_view_trainee_results(viewer, attempt.trainee_id):
            grouped[attempt.trainee_id].append(attempt)
    return dict(sorted(grouped.items()))


def _summary(attempts: Sequence[TrainingAttempt]) -> tuple[int, int, float, float]:
    correct = sum(a.pathway_correct for a in attempts)
    count = len(attempts)
    return count, correct, round(correct / count, 4), round(sum(a.score for a in attempts) / count, 4)


def accuracy_by_topic(attempts: Iterable[TrainingAttempt]) -> list[TopicAccuracy]:
    """Pathway accuracy and mean score per topic (an attempt counts for each of its case's topics)."""
    by_topic: dict[str, list[TrainingAttempt]] = defaultdict(list)
    for attempt in attempts:
        for topic in attempt.topics:
            by_topic[topic].append(attempt)
    rows = []
    for topic in sorted(by_topic):
        count, correct, accuracy, mean = _summary(by_topic[topic])
        rows.append(
            TopicAccuracy(topic=topic, attempts=count, correct=correct, accuracy=accuracy, mean_score=mean)
        )
    return rows


def accuracy_by_week(attempts: Iterable[TrainingAttempt]) -> list[WeekAccuracy]:
    """Pathway accuracy and mean score per calendar week (weeks start on Monday, UTC)."""
    by_week: dict[dt.date, list[TrainingAttempt]] = defaultdict(list)
    for attempt in attempts:
        day = attempt.attempted_at.astimezone(dt.UTC).date()
        by_week[day - dt.timedelta(days=day.weekday())].append(attempt)
    rows = []
    for week in sorted(by_week):
        count, correct, accuracy, mean = _summary(by_week[week])
        rows.append(
            WeekAccuracy(
                week_starting=week, attempts=count, correct=correct, accuracy=accuracy, mean_score=mean
            )
        )
    return rows


def leitner_box(outcomes: Iterable[bool]) -> int:
    """The box after these outcomes, oldest first (box 1 before any attempt)."""
    box = 1
    for correct in outcomes:
        box = min(box + 1, len(LEITNER_INTERVAL_DAYS)) if correct else 1
    return box


def due_cases(
    cases: Sequence[TeachingCase], attempts: Iterable[TrainingAttempt], today: dt.date
) -> list[DueCase]:
    """Every case with its Leitner box and due date: overdue, then due today, new, then later.

    Args:
        cases: the case library.
        attempts: one trainee's attempts (any order).
        today: the date to judge "due" against.
    """
    by_case: dict[str, list[TrainingAttempt]] = defaultdict(list)
    for attempt in sorted(attempts, key=lambda a: (a.attempted_at, a.id)):
        by_case[attempt.case_id].append(attempt)
    rows = []
    for case in cases:
        history = by_case.get(case.id, [])
        if not history:
            rows.append(
                DueCase(
                    case_id=case.id,
                    title=case.title,
                    status="new",
                    box=1,
                    due=today,
                    last_attempt=None,
                    attempts=0,
                )
            )
            continue
        box = leitner_box(a.pathway_correct for a in history)
        last = history[-1].attempted_at.astimezone(dt.UTC).date()
        due = last + dt.timedelta(days=LEITNER_INTERVAL_DAYS[box - 1])
        status: Literal["overdue", "due", "later"] = (
            "overdue" if due < today else "due" if due == today else "later"
        )
        rows.append(
            DueCase(
                case_id=case.id,
                title=case.title,
                status=status,
                box=box,
                due=due,
                last_attempt=last,
                attempts=len(history),
            )
        )
    order = {"overdue": 0, "due": 1, "new": 2, "later": 3}
    return sorted(rows, key=lambda row: (order[row.status], row.due, row.case_id))
