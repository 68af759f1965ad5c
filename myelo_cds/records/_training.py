"""Resident training attempts in the record store (the teaching room scores them; this stores them).

Who may *see* whose attempts is decided by ``myelo_cds.auth``, not here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from myelo_cds.records._models import RecordError, check_person
from myelo_cds.records._schema import TrainingAttemptRow
from myelo_cds.records._transactions import Database
from myelo_cds.scales import mjoa_max_total

__all__ = ["NewTrainingAttempt", "TrainingAttempt", "TrainingRecords"]


class NewTrainingAttempt(BaseModel):
    """One committed quiz answer, as the teaching room scored it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trainee_id: str = Field(min_length=1, max_length=64)
    case_id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,32}$")
    attempted_at: dt.datetime
    topics: tuple[str, ...]
    pathway_given: str
    pathway_expected: str
    pathway_correct: bool
    mjoa_given: int | None = Field(default=None, ge=0)
    mjoa_true: int | None = Field(default=None, ge=0)
    severity_given: str | None = None
    severity_correct: bool | None = None
    sct_credit: float | None = Field(default=None, ge=0, le=1)
    score: float = Field(ge=0, le=1)
    rule_set_version: str

    @field_validator("mjoa_given", "mjoa_true")
    @classmethod
    def _within_the_scale(cls, total: int | None) -> int | None:
        # Read when a value is checked, not at import: the scale data may be unavailable then
        # (a server must still start and report why it is not ready).
        if total is not None and total > mjoa_max_total():
            raise RecordError(f"an mJOA total is at most {mjoa_max_total()}")
        return total


class TrainingAttempt(NewTrainingAttempt):
    """A stored attempt."""

    id: int


def _attempt(row: TrainingAttemptRow) -> TrainingAttempt:
    return TrainingAttempt(
        id=row.id,
        trainee_id=row.trainee_id,
        case_id=row.case_id,
        attempted_at=row.attempted_at,
        topics=tuple(row.topics),
        pathway_given=row.pathway_given,
        pathway_expected=row.pathway_expected,
        pathway_correct=row.pathway_correct,
        mjoa_given=row.mjoa_given,
        mjoa_true=row.mjoa_true,
        severity_given=row.severity_given,
        severity_correct=row.severity_correct,
        sct_credit=row.sct_credit,
        score=row.score,
        rule_set_version=row.rule_set_version,
    )


class TrainingRecords:
    """Stores residents' quiz answers and reads them back.

    Args:
        database: where the attempts are kept.
    """

    def __init__(self, database: Database) -> None:
        self._database = database

    def save(self, attempt: NewTrainingAttempt) -> TrainingAttempt:
        """Store one committed quiz answer.

        Raises:
            RecordError: a refused trainee id or a timestamp without a time zone.
        """
        trainee = check_person(attempt.trainee_id, "trainee id")
        if attempt.attempted_at.tzinfo is None:
            raise RecordError("attempted_at must be timezone-aware (UTC)")
        values: dict[str, Any] = attempt.model_dump()
        values.update(trainee_id=trainee, topics=list(attempt.topics))
        with self._database.transaction(write=True) as session:
            row = TrainingAttemptRow(**values)
            session.add(row)
            session.flush()
            return _attempt(row)

    def attempts(self, trainee_id: str | None = None) -> list[TrainingAttempt]:
        """Attempts oldest first: one trainee's, or everyone's when ``trainee_id`` is None."""
        table = TrainingAttemptRow.__table__
        # Core rows, not ORM objects: the supervisor view reads every trainee's attempts.
        statement = select(table).order_by(table.c.attempted_at, table.c.id)
        if trainee_id is not None:
            statement = statement.where(table.c.trainee_id == check_person(trainee_id, "trainee id"))
        with self._database.transaction(write=False) as session:
            rows = session.connection().execute(statement).mappings().all()
        return [TrainingAttempt.model_validate({**row, "topics": tuple(row["topics"])}) for row in rows]

    def trainees(self) -> list[str]:
        """Every trainee id with at least one attempt, in order."""
        with self._database.transaction(write=False) as session:
            ids: Iterator[str] = session.scalars(
                select(TrainingAttemptRow.trainee_id).distinct().order_by(TrainingAttemptRow.trainee_id)
            )
            return list(ids)
