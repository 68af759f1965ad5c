"""Assessments: the findings, the recommendation and its follow-up visits, and each patient's
current state (latest assessment, next visit, course alert) recomputed on every save."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from myelo_cds.course import course_alerts
from myelo_cds.findings import Findings
from myelo_cds.followup import FollowUpPlan
from myelo_cds.records._audit import AuditLog
from myelo_cds.records._chain import ASSESSMENT_FIELDS, assessment_sha256
from myelo_cds.records._models import AssessmentRecord, RecordError, check_patient_id, check_person
from myelo_cds.records._schema import Assessment, FollowUpVisit, Patient
from myelo_cds.records._transactions import Database
from myelo_cds.rules.result import Recommendation

__all__ = ["Assessments", "next_visit_number"]

_IN_ORDER = (Assessment.assessment_date, Assessment.created_at, Assessment.id)


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


def _assessment_row(
    findings: Findings,
    recommendation: Recommendation,
    findings_json: dict[str, Any],
    recommendation_json: dict[str, Any],
    *,
    patient_id: str,
    author: str,
    now: dt.datetime,
) -> Assessment:
    """The stored row, with the columns that lists and the worklist read beside the JSON."""
    mjoa = findings.mjoa
    mjoa_score = recommendation.scores.mjoa
    return Assessment(
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
        next_visit_number=next_visit_number(recommendation.follow_up, recommendation.assessment_date),
        findings=findings_json,
        recommendation=recommendation_json,
    )


def _visit_rows(assessment_id: int, plan: FollowUpPlan) -> list[FollowUpVisit]:
    return [
        FollowUpVisit(
            assessment_id=assessment_id,
            number=visit.number,
            due=visit.due,
            window_start=visit.window_start,
            window_end=visit.window_end,
            label=visit.label,
            mri_due=visit.mri_due,
            schedule_id=plan.schedule_id,
        )
        for visit in plan.visits
    ]


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


class Assessments:
    """Saves assessments and reads a patient's back.

    Args:
        database: where the assessments are kept.
        audit: the log each saved assessment is recorded in, in the same transaction.
    """

    def __init__(self, database: Database, audit: AuditLog) -> None:
        self._database = database
        self._audit = audit

    def save(
        self, findings: Findings, recommendation: Recommendation, *, patient_id: str, author: str
    ) -> AssessmentRecord:
        """Store one assessment, its follow-up visits and a "create" audit event, all or nothing.

        The event carries the SHA-256 of the assessment as stored (read back in the same
        transaction, so it is what ``verify-audit`` will read), chaining the assessment's
        content into the audit log.

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
        now = dt.datetime.now(dt.UTC)
        with self._database.transaction(write=True) as session:
            patient = _locked_patient(session, patient_id, now)
            row = _assessment_row(
                findings,
                recommendation,
                findings_json,
                recommendation_json,
                patient_id=patient_id,
                author=author,
                now=now,
            )
            session.add(row)
            session.flush()
            session.add_all(_visit_rows(row.id, recommendation.follow_up))
            _update_current_state(session, patient)
            stored_columns = (getattr(Assessment, name) for name in ASSESSMENT_FIELDS)
            stored = session.execute(select(*stored_columns).where(Assessment.id == row.id)).one()
            self._audit.add(
                session,
                at=now,
                actor=author,
                action="create",
                patient_id=patient_id,
                detail=f"assessment {row.id}",
                rule_set_version=recommendation.rule_set.version,
                content_sha256=assessment_sha256(stored._mapping),
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

    def history(self, patient_id: str) -> list[AssessmentRecord]:
        """The patient's assessments, oldest first (by assessment date, then time saved)."""
        patient_id = check_patient_id(patient_id)
        with self._database.transaction(write=False) as session:
            rows = session.scalars(
                select(Assessment).where(Assessment.patient_id == patient_id).order_by(*_IN_ORDER)
            ).all()
            return [_record(row) for row in rows]

    def latest(self, patient_id: str) -> AssessmentRecord | None:
        """The patient's latest assessment, or ``None`` for a patient with none stored."""
        patient_id = check_patient_id(patient_id)
        with self._database.transaction(write=False) as session:
            row = session.scalars(
                select(Assessment)
                .join(Patient, Patient.latest_assessment_id == Assessment.id)
                .where(Patient.id == patient_id)
            ).one_or_none()
            return _record(row) if row is not None else None
