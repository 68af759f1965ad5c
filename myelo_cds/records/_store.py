"""The record store: assessments with their follow-up plans, the worklist and the audit log."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import Executable, case, literal, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from myelo_cds.course import course_alerts
from myelo_cds.findings import Findings
from myelo_cds.followup import FollowUpPlan
from myelo_cds.records._accounts import AccountsMixin
from myelo_cds.records._database import WRITE, database_url, make_engine
from myelo_cds.records._migrate import upgrade_to_head
from myelo_cds.records._models import (
    AssessmentRecord,
    AuditEvent,
    PatientSummary,
    RecordError,
    WorklistRow,
    check_action,
    check_detail,
    check_patient_id,
    check_person,
)
from myelo_cds.records._schema import Assessment, AuditEventRow, Draft, FollowUpVisit, Patient
from myelo_cds.records._training import TrainingRecords
from myelo_cds.rules.result import Recommendation
from myelo_cds.rules.ruleset import default_rule_set

__all__ = ["Store", "next_visit_number"]


def next_visit_number(plan: FollowUpPlan, assessment_date: dt.date) -> int | None:
    """The visit the worklist shows while this assessment is the patient's latest.

    The first visit due after the assessment date: a visit due on the day itself (a baseline
    agreed at this consult) is this encounter. When every visit falls on that day (an emergency
    referral), that visit, so the patient stays on the worklist until a new assessment is saved.
    A visit that takes place is recorded as a new assessment, whose plan replaces this one.
    """
    ordered = sorted(plan.visits, key=lambda visit: (visit.due, visit.number))
    if not ordered:
        return None
    later = [visit for visit in ordered if visit.due > assessment_date]
    return (later[0] if later else ordered[0]).number


_DRAFT_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _dated(findings: Findings, recommendation: Recommendation) -> Findings:
    """The findings with the assessment date the recommendation was made for."""
    if findings.case_id != recommendation.case_id:
        raise RecordError(
            "the findings and the recommendation are of different cases: save the recommendation"
            " made from these findings"
        )
    if findings.assessment_date is None:
        return findings.model_copy(update={"assessment_date": recommendation.assessment_date})
    if findings.assessment_date != recommendation.assessment_date:
        raise RecordError(
            f"the findings are dated {findings.assessment_date} but the recommendation"
            f" {recommendation.assessment_date}: assess the findings again before saving"
        )
    return findings


def _documents(findings: Findings, recommendation: Recommendation) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON to store, checked to read back (a model built with ``model_copy`` is not validated)."""
    documents = findings.model_dump(mode="json", exclude_none=True), recommendation.model_dump(mode="json")
    models: tuple[type[BaseModel], ...] = (Findings, Recommendation)
    for model, document in zip(models, documents, strict=True):
        try:
            model.model_validate(document)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            where = f"{where}: " if where else ""
            raise RecordError(
                f"{model.__name__} not valid, nothing was saved: {where}{first['msg']}"
                f" ({error.error_count()} error(s))"
            ) from None
    return documents


def _record(row: Assessment) -> AssessmentRecord:
    return AssessmentRecord(
        id=row.id,
        patient_id=row.patient_id,
        assessment_date=row.assessment_date,
        author=row.author,
        created_at=row.created_at,
        pathway=row.pathway,
        urgency=row.urgency,
        rule_set_version=row.rule_set_version,
        rule_set_sha256=row.rule_set_sha256,
        findings=Findings.model_validate(row.findings),
        recommendation=Recommendation.model_validate(row.recommendation),
    )


_Summary = TypeVar("_Summary", PatientSummary, WorklistRow)
_IN_ORDER = (Assessment.assessment_date, Assessment.created_at, Assessment.id)


class Store(TrainingRecords, AccountsMixin):
    """Patients' assessments, follow-up plans and the audit log, in SQLite or PostgreSQL.

    Every method opens and closes its own transaction and returns frozen copies, so one store
    (one connection pool) can serve every session of a server process. The schema is brought
    to the newest migration on first use.

    Args:
        url: a SQLAlchemy database URL; default :func:`database_url`.
    """

    def __init__(self, url: str | None = None) -> None:
        self._engine = make_engine(url or database_url())
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._migrated = False
        self._migration_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Store({self._engine.url.render_as_string(hide_password=True)!r})"

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    def check_ready(self) -> None:
        """Check that the database answers and its schema is at the newest migration.

        A server replica is ready for clinicians only when this passes (it migrates a new
        database first, as the first page would).

        Raises:
            RecordError: the database cannot be reached or migrated; the message names the
                error's kind only (never the URL, which may hold a password).
        """
        try:
            with self._transaction(write=False) as session:
                session.execute(select(literal(1)))
        except SQLAlchemyError as error:
            raise RecordError(f"database not reachable ({type(error).__name__})") from None

    def close(self) -> None:
        """Close the pooled connections (the store opens new ones if used again)."""
        self._engine.dispose()

    # --- transactions ---------------------------------------------------------------------

    def _migrate(self) -> None:
        if self._migrated:
            return
        with self._migration_lock:
            if not self._migrated:
                upgrade_to_head(self._engine)
                self._migrated = True

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Session]:
        """One transaction; a write commits at the end, or rolls back wholly on any error."""
        self._migrate()
        with self._sessions() as session:
            session.connection(execution_options={WRITE: True} if write else None)
            yield session
            if write:
                session.commit()

    def _rows(self, model: type[_Summary], statement: Executable) -> list[_Summary]:
        """``statement``'s rows as ``model``s, its columns labelled with the model's field names.

        Core execution and plain dicts: with 10,000 rows the ORM's row objects and mapping views
        cost more than the query itself.
        """
        with self._transaction(write=False) as session:
            result = session.connection().execute(statement)
            names = tuple(result.keys())
            return [model.model_validate(dict(zip(names, row, strict=True))) for row in result]

    # --- assessments ----------------------------------------------------------------------

    def save_assessment(
        self, findings: Findings, recommendation: Recommendation, *, patient_id: str, author: str
    ) -> AssessmentRecord:
        """Store one assessment, its follow-up visits and a "create" audit event, all or nothing.

        Args:
            findings: what was examined (stored with the recommendation's assessment date).
            recommendation: the engine's result for these findings.
            patient_id: the patient's pseudonymous id (letters, digits, ``. _ -``; no names).
            author: the clinician's id.

        Returns:
            The stored assessment.

        Raises:
            RecordError: a refused patient id or author, or findings and recommendation that do
                not belong together.
        """
        patient_id = check_patient_id(patient_id)
        author = check_person(author, "author")
        findings = _dated(findings, recommendation)
        findings_json, recommendation_json = _documents(findings, recommendation)
        plan = recommendation.follow_up
        mjoa = findings.mjoa
        mjoa_score = recommendation.scores.mjoa
        now = _utc_now()
        with self._transaction(write=True) as session:
            patient = self._locked_patient(session, patient_id, now)
            row = Assessment(
                patient_id=patient_id,
                assessment_date=recommendation.assessment_date,
                created_at=now,
                author=author,
                pathway=recommendation.pathway,
                urgency=recommendation.urgency,
                rule_set_id=recommendation.rule_set.id,
                rule_set_version=recommendation.rule_set.version,
                rule_set_sha256=recommendation.rule_set.sha256,
                mjoa_total=mjoa_score.total if mjoa_score else None,
                mjoa_ue_motor=mjoa.ue_motor if mjoa else None,
                mjoa_le_motor=mjoa.le_motor if mjoa else None,
                mjoa_ue_sensation=mjoa.ue_sensation if mjoa else None,
                mjoa_sphincter=mjoa.sphincter if mjoa else None,
                nurick=findings.nurick,
                next_visit_number=next_visit_number(plan, recommendation.assessment_date),
                findings=findings_json,
                recommendation=recommendation_json,
            )
            session.add(row)
            session.flush()
            session.add_all(
                FollowUpVisit(
                    assessment_id=row.id,
                    number=visit.number,
                    due=visit.due,
                    window_start=visit.window_start,
                    window_end=visit.window_end,
                    label=visit.label,
                    mri_due=visit.mri_due,
                    schedule_id=plan.schedule_id,
                )
                for visit in plan.visits
            )
            self._update_current_state(session, patient)
            session.add(
                AuditEventRow(
                    at=now,
                    actor=author,
                    action="create",
                    patient_id=patient_id,
                    detail=f"assessment {row.id}",
                    rule_set_version=recommendation.rule_set.version,
                )
            )
            session.flush()
            record = AssessmentRecord(
                id=row.id,
                patient_id=patient_id,
                assessment_date=row.assessment_date,
                author=author,
                created_at=now,
                pathway=row.pathway,
                urgency=row.urgency,
                rule_set_version=row.rule_set_version,
                rule_set_sha256=row.rule_set_sha256,
                findings=findings,
                recommendation=recommendation,
            )
        return record

    @staticmethod
    def _locked_patient(session: Session, patient_id: str, now: dt.datetime) -> Patient:
        """The patient's row, created if new, locked until commit (PostgreSQL: FOR UPDATE;
        SQLite's writer already holds the database lock)."""
        values: dict[str, Any] = {"id": patient_id, "created_at": now, "assessment_count": 0}
        if session.get_bind().dialect.name == "postgresql":
            upsert: Any = postgresql_insert(Patient).values(values).on_conflict_do_nothing()
        else:
            upsert = sqlite_insert(Patient).values(values).on_conflict_do_nothing()
        session.execute(upsert)
        return session.execute(select(Patient).where(Patient.id == patient_id).with_for_update()).scalar_one()

    @staticmethod
    def _update_current_state(session: Session, patient: Patient) -> None:
        """Recompute the patient's current state from every stored assessment: the latest one,
        its next visit, the count and the course alert (nothing is carried over incrementally)."""
        rows = session.execute(
            select(
                Assessment.id,
                Assessment.assessment_date,
                Assessment.pathway,
                Assessment.urgency,
                Assessment.next_visit_number,
                Assessment.findings,
            )
            .where(Assessment.patient_id == patient.id)
            .order_by(*_IN_ORDER)
        ).all()
        latest = rows[-1]
        next_visit_id = session.scalar(
            select(FollowUpVisit.id).where(
                FollowUpVisit.assessment_id == latest.id, FollowUpVisit.number == latest.next_visit_number
            )
        )
        alerts = course_alerts([Findings.model_validate(row.findings) for row in rows])
        session.execute(
            update(Patient)
            .where(Patient.id == patient.id)
            .values(
                assessment_count=len(rows),
                latest_assessment_id=latest.id,
                last_assessment_date=latest.assessment_date,
                last_pathway=latest.pathway,
                last_urgency=latest.urgency,
                next_visit_id=next_visit_id,
                course_alert=alerts[0].level if alerts else None,
            )
        )

    def assessments(self, patient_id: str) -> list[AssessmentRecord]:
        """The patient's assessments, oldest first (by assessment date, then time saved)."""
        patient_id = check_patient_id(patient_id)
        with self._transaction(write=False) as session:
            rows = session.scalars(
                select(Assessment).where(Assessment.patient_id == patient_id).order_by(*_IN_ORDER)
            ).all()
            return [_record(row) for row in rows]

    def latest(self, patient_id: str) -> AssessmentRecord | None:
        """The patient's latest assessment, or ``None`` for a patient with none stored."""
        patient_id = check_patient_id(patient_id)
        with self._transaction(write=False) as session:
            row = session.scalars(
                select(Assessment)
                .join(Patient, Patient.latest_assessment_id == Assessment.id)
                .where(Patient.id == patient_id)
            ).one_or_none()
            return _record(row) if row is not None else None

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
        return self._rows(PatientSummary, statement)

    # --- worklist -------------------------------------------------------------------------

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
        return self._rows(WorklistRow, statement)

    # --- audit ----------------------------------------------------------------------------

    # --- drafts ---------------------------------------------------------------------------

    @staticmethod
    def _draft_token(token: str) -> str:
        if not _DRAFT_TOKEN.fullmatch(token):
            raise RecordError("a draft token is 16-64 letters, digits, '-' or '_'")
        return token

    def save_draft(self, token: str, data: dict[str, Any]) -> None:
        """Keep a consult being entered (findings data as the form holds it), replacing the last."""
        key = self._draft_token(token)
        with self._transaction(write=True) as session:
            row = session.get(Draft, key)
            if row is None:
                session.add(Draft(token=key, data=data, updated_at=_utc_now()))
            else:
                row.data = data
                row.updated_at = _utc_now()

    def load_draft(self, token: str) -> dict[str, Any] | None:
        """The kept consult for this token, or None."""
        with self._transaction(write=False) as session:
            row = session.get(Draft, self._draft_token(token))
            return dict(row.data) if row is not None else None

    def delete_draft(self, token: str) -> None:
        with self._transaction(write=True) as session:
            row = session.get(Draft, self._draft_token(token))
            if row is not None:
                session.delete(row)

    def record_event(
        self, action: str, *, actor: str, patient_id: str | None = None, detail: str = ""
    ) -> None:
        """Append one event to the audit log (with the current rule-set version).

        Args:
            action: what was done: ``create``, ``view``, ``change``, ``export``, ...
            actor: the staff id of who did it.
            patient_id: the pseudonymous id of the patient concerned, if any.
            detail: what exactly (e.g. ``worklist csv``); never findings or names.

        Raises:
            RecordError: a refused action, actor, patient id or an over-long detail.
        """
        event = AuditEventRow(
            at=_utc_now(),
            actor=check_person(actor, "actor"),
            action=check_action(action),
            patient_id=check_patient_id(patient_id) if patient_id is not None else None,
            detail=check_detail(detail),
            rule_set_version=default_rule_set().version,
        )
        with self._transaction(write=True) as session:
            session.add(event)

    def audit_events(self, limit: int = 500, *, patient_id: str | None = None) -> list[AuditEvent]:
        """The most recent audit events, newest first (optionally for one patient)."""
        if limit < 1:
            raise RecordError("limit must be 1 or more")
        statement = select(AuditEventRow).order_by(AuditEventRow.id.desc()).limit(limit)
        if patient_id is not None:
            statement = statement.where(AuditEventRow.patient_id == check_patient_id(patient_id))
        with self._transaction(write=False) as session:
            return [
                AuditEvent(
                    id=row.id,
                    at=row.at,
                    actor=row.actor,
                    action=row.action,
                    patient_id=row.patient_id,
                    detail=row.detail,
                    rule_set_version=row.rule_set_version,
                )
                for row in session.scalars(statement)
            ]
