"""Patient records: assessments with their follow-up plans, the clinic worklist, drafts, accounts,
residents' training attempts and the audit log, all opened through one :class:`Store`; a server
process shares one store per database (:func:`shared_store`) between its pages and readiness.

SQLite by default (a file, nothing to set up), PostgreSQL through a database URL; the schema
is kept by Alembic migrations in ``migrations/``. Patients are known only by a pseudonymous id.
Nothing here logs, and what it returns are frozen copies, never live database objects.
"""

from myelo_cds.records._accounts import Account
from myelo_cds.records._assessments import next_visit_number
from myelo_cds.records._database import database_url
from myelo_cds.records._models import (
    AssessmentRecord,
    AuditEvent,
    PatientSummary,
    RecordError,
    WorklistRow,
    WorkStatus,
)
from myelo_cds.records._shared import open_shared_store, shared_store
from myelo_cds.records._store import Store
from myelo_cds.records._training import NewTrainingAttempt, TrainingAttempt

__all__ = [
    "Account",
    "AssessmentRecord",
    "AuditEvent",
    "NewTrainingAttempt",
    "PatientSummary",
    "RecordError",
    "Store",
    "TrainingAttempt",
    "WorkStatus",
    "WorklistRow",
    "database_url",
    "next_visit_number",
    "open_shared_store",
    "shared_store",
]
