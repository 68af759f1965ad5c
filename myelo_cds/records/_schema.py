"""The tables. Alembic migrations in ``migrations/`` create them; this module describes them.

``patients`` holds a pseudonymous id and the patient's current state (a pointer to the latest
assessment, its course alert); ``assessments`` the findings and the full recommendation as
JSON plus the columns lists and the worklist read; ``follow_up_visits`` one row per planned
visit; ``audit_events`` who did what, append-only (triggers refuse UPDATE and DELETE);
``drafts`` consults being entered; ``training_attempts`` residents' scored quiz answers;
``accounts`` who may sign in, with which role; ``sign_in_failures`` the current streak of
failed sign-ins per account name and per client (hashed keys), for back-off;
``hook_token_uses`` the CDS Hooks bearer tokens seen (hashed issuer and ``jti``) until they
expire, so that every replica refuses a replayed token; ``smart_launches`` the SMART EHR
launches waiting for the EHR's authorization (hashed ``state``, sealed content), single use.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from myelo_cds.errors import RecordError
from myelo_cds.findings import CASE_ID_LENGTH

__all__ = [
    "AccountRow",
    "Assessment",
    "AuditEventRow",
    "Base",
    "Draft",
    "FollowUpVisit",
    "HookTokenUseRow",
    "Patient",
    "SignInFailureRow",
    "SmartLaunchRow",
    "TrainingAttemptRow",
]

# Id columns hold case ids (patients), staff ids and user ids, all bounded by the case-id length.
ID_LENGTH = CASE_ID_LENGTH

# Constraint names are fixed so that migrations can name what they drop.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an ``INTEGER PRIMARY KEY``.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Document = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on both backends (SQLite keeps no offset: add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise RecordError("timestamps must be timezone-aware (UTC)")
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Patient(Base):
    """A pseudonymous patient and their current state, recomputed from the stored assessments
    on every save (so the worklist and the patient list read this narrow table only)."""

    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    """Pseudonymous id (letters, digits, ``. _ -``); never a name."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    assessment_count: Mapped[int] = mapped_column(Integer())
    latest_assessment_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("assessments.id", use_alter=True)
    )
    """The latest assessment by (assessment date, created at, id)."""
    last_assessment_date: Mapped[dt.date | None] = mapped_column(Date())
    last_pathway: Mapped[str | None] = mapped_column(String(40))
    last_urgency: Mapped[str | None] = mapped_column(String(16))
    next_visit_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("follow_up_visits.id", use_alter=True)
    )
    """The latest assessment's next visit (see ``next_visit_number``): the worklist row."""
    course_alert: Mapped[str | None] = mapped_column(String(32))
    """The most serious course alert of the latest assessment against the stored course."""


class Assessment(Base):
    __tablename__ = "assessments"
    __table_args__ = (Index(None, "patient_id", "assessment_date", "created_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("patients.id"))
    assessment_date: Mapped[dt.date] = mapped_column(Date())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    author: Mapped[str] = mapped_column(String(ID_LENGTH))
    pathway: Mapped[str] = mapped_column(String(40))
    urgency: Mapped[str] = mapped_column(String(16))
    rule_set_id: Mapped[str] = mapped_column(String(64))
    rule_set_version: Mapped[str] = mapped_column(String(32))
    rule_set_sha256: Mapped[str] = mapped_column(String(64))
    mjoa_total: Mapped[int | None] = mapped_column(Integer())
    mjoa_ue_motor: Mapped[int | None] = mapped_column(Integer())
    mjoa_le_motor: Mapped[int | None] = mapped_column(Integer())
    mjoa_ue_sensation: Mapped[int | None] = mapped_column(Integer())
    mjoa_sphincter: Mapped[int | None] = mapped_column(Integer())
    nurick: Mapped[int | None] = mapped_column(Integer())
    next_visit_number: Mapped[int | None] = mapped_column(Integer())
    """The visit the worklist shows while this is the latest assessment (see ``next_visit_number``)."""
    findings: Mapped[dict[str, Any]] = mapped_column(Document)
    recommendation: Mapped[dict[str, Any]] = mapped_column(Document)


class FollowUpVisit(Base):
    __tablename__ = "follow_up_visits"
    __table_args__ = (UniqueConstraint("assessment_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    assessment_id: Mapped[int] = mapped_column(BigId, ForeignKey("assessments.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer())
    due: Mapped[dt.date] = mapped_column(Date())
    window_start: Mapped[dt.date] = mapped_column(Date())
    window_end: Mapped[dt.date] = mapped_column(Date())
    label: Mapped[str] = mapped_column(Text())
    mri_due: Mapped[bool] = mapped_column(Boolean())
    schedule_id: Mapped[str] = mapped_column(String(64))


class AuditEventRow(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index(None, "patient_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(ID_LENGTH))
    action: Mapped[str] = mapped_column(String(32))
    patient_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    detail: Mapped[str] = mapped_column(Text())
    rule_set_version: Mapped[str] = mapped_column(String(32))
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    """An assessment's create event: the SHA-256 of the stored assessment (``records._chain``)."""
    chain_hash: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of the previous event's chain hash and this event's content (``records._chain``);
    set on every event (nullable only because SQLite cannot add a NOT NULL column in place)."""


class Draft(Base):
    """A consult being entered, kept so that it survives a browser reload.

    Keyed by a random token the server issued to one tab; it belongs to the user who made it
    (``owner``), is read and written only by them, and is gone after ``expires_at``.
    """

    __tablename__ = "drafts"
    __table_args__ = (Index(None, "owner"), Index(None, "expires_at"))

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(ID_LENGTH))
    data: Mapped[dict[str, Any]] = mapped_column(Document)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# --- resident training (teaching) ---------------------------------------------------------


class TrainingAttemptRow(Base):
    """One committed quiz answer of a trainee: what they answered and how it scored.

    Trainees are staff, known by their user id; no patient data (teaching cases are fictional).
    """

    __tablename__ = "training_attempts"
    __table_args__ = (Index(None, "trainee_id", "attempted_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    trainee_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    case_id: Mapped[str] = mapped_column(String(32))
    attempted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    topics: Mapped[list[str]] = mapped_column(Document)
    pathway_given: Mapped[str] = mapped_column(String(40))
    pathway_expected: Mapped[str] = mapped_column(String(40))
    pathway_correct: Mapped[bool] = mapped_column(Boolean())
    mjoa_given: Mapped[int | None] = mapped_column(Integer())
    mjoa_true: Mapped[int | None] = mapped_column(Integer())
    severity_given: Mapped[str | None] = mapped_column(String(16))
    severity_correct: Mapped[bool | None] = mapped_column(Boolean())
    sct_credit: Mapped[float | None] = mapped_column(Float())
    score: Mapped[float] = mapped_column(Float())
    rule_set_version: Mapped[str] = mapped_column(String(32))


class AccountRow(Base):
    """A person who may sign in: a local account (with a password hash) or an SSO subject's role."""

    __tablename__ = "accounts"

    user_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    supervisor: Mapped[bool] = mapped_column(Boolean())
    display_name: Mapped[str | None] = mapped_column(String(128))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    """Argon2id, salt included; ``None`` for a single-sign-on user."""
    disabled: Mapped[bool] = mapped_column(Boolean())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SignInFailureRow(Base):
    """The current streak of failed sign-ins for one account name or one client (back-off).

    The key is a SHA-256 digest, never the name as typed (a mistyped name can be a password)
    nor the client's address. A row is deleted on a successful sign-in (account) and when
    its streak is forgotten (``myelo_cds.auth.Backoff.forget_after``).
    """

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        CheckConstraint("kind IN ('account', 'client')", name="kind"),
        Index(None, "last_failure_at"),
    )

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    """``account`` (the user name as typed, case-folded) or ``client`` (the client's address)."""
    key_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer())
    """Failed attempts in the streak (an attempt is counted before its password is checked)."""
    throttled: Mapped[int] = mapped_column(Integer())
    """Attempts refused during a wait since the last audit event (password not checked)."""
    first_failure_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_failure_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    audited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    """When the streak last wrote its (aggregated) audit event."""


class HookTokenUseRow(Base):
    """A CDS Hooks bearer token seen, kept until it expires (replay protection, every replica).

    The key is a SHA-256 digest of the issuer and the token's ``jti``: a client's token id is
    not kept in clear. Rows whose ``expires_at`` has passed are deleted by the next call.
    """

    __tablename__ = "hook_token_uses"
    __table_args__ = (Index(None, "expires_at"),)

    key_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    """The token's ``exp`` plus the allowed clock skew: until then a second use is a replay."""


class SmartLaunchRow(Base):
    """A SMART EHR launch waiting for the EHR's answer, taken once by whichever replica it reaches.

    The key is a SHA-256 digest of the launch's ``state``; ``sealed`` is the launch (issuer,
    PKCE verifier, nonce...) encrypted with a key derived from the ``state``, which is never stored.
    """

    __tablename__ = "smart_launches"
    __table_args__ = (Index(None, "expires_at"),)

    key_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[str] = mapped_column(Text())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
