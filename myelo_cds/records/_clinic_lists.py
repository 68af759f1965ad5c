"""The clinic's lists: every patient's current state, and the worklist of next visits.

Both read only the patients' current state and the visit it points to (kept up to date by each
saved assessment), one query each whatever the number of patients, never the stored JSON.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import case, select

from myelo_cds.records._models import PatientSummary, RecordError, WorklistRow
from myelo_cds.records._schema import FollowUpVisit, Patient
from myelo_cds.records._transactions import Database

__all__ = ["ClinicLists"]


class ClinicLists:
    """The patient list and the worklist.

    Args:
        database: where the patients' current state is kept.
    """

    def __init__(self, database: Database) -> None:
        self._database = database

    def patients(self) -> list[PatientSummary]:
        """Every patient with a stored assessment, by id (one query on the patients table)."""
        statement = (
            select(
                Patient.id.label("patient_id"),
                Patient.assessment_count,
                Patient.last_assessment_date,
                Patient.last_pathway,
                Patient.last_urgency,
                Patient.course_alert,
            )
            .where(Patient.latest_assessment_id.is_not(None))
            .order_by(Patient.id)
        )
        return self._database.rows(PatientSummary, statement)

    def worklist(self, today: dt.date, *, due_within_days: int = 14) -> list[WorklistRow]:
        """Each patient's next visit from their latest assessment, most pressing first.

        Status: ``overdue`` when the visit window ended before ``today``; ``due`` when the window
        opens on or before ``today + due_within_days``; otherwise ``scheduled``. Sorted overdue,
        due, scheduled, then by due date and patient id. One query, whatever the number of
        patients (no stored JSON is read).

        Raises:
            RecordError: if ``due_within_days`` is negative.
        """
        if due_within_days < 0:
            raise RecordError("due_within_days must be 0 or more")
        horizon = today + dt.timedelta(days=due_within_days)
        overdue = FollowUpVisit.window_end < today
        due = FollowUpVisit.window_start <= horizon
        status = case((overdue, "overdue"), (due, "due"), else_="scheduled")
        rank = case((overdue, 0), (due, 1), else_=2)
        statement = (
            select(
                status.label("status"),
                Patient.id.label("patient_id"),
                FollowUpVisit.due,
                FollowUpVisit.window_start,
                FollowUpVisit.window_end,
                FollowUpVisit.label,
                FollowUpVisit.mri_due,
                Patient.last_assessment_date,
                Patient.last_pathway,
                Patient.last_urgency,
                Patient.course_alert,
            )
            .join(FollowUpVisit, FollowUpVisit.id == Patient.next_visit_id)
            .order_by(rank, FollowUpVisit.due, Patient.id)
        )
        return self._database.rows(WorklistRow, statement)
