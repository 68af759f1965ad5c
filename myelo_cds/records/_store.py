"""The record store: one object that pages, the CLI and the services open on a database.

It holds no logic of its own. Each responsibility is a collaborator over the same
:class:`~myelo_cds.records._transactions.Database`, and the store hands each call to it:

* assessments and each patient's current state: :class:`~myelo_cds.records._assessments.Assessments`;
* the patient list and the worklist: :class:`~myelo_cds.records._clinic_lists.ClinicLists`;
* consults being entered: :class:`~myelo_cds.records._drafts.Drafts`;
* the audit log: :class:`~myelo_cds.records._audit.AuditLog`;
* accounts and sign-in: :class:`~myelo_cds.records._accounts.Accounts`, with the failed
  sign-ins behind its back-off in :class:`~myelo_cds.records._sign_in_failures.SignInFailures`;
* residents' training attempts: :class:`~myelo_cds.records._training.TrainingRecords`;
* the CDS Hooks bearer tokens seen (replay protection):
  :class:`~myelo_cds.records._hook_tokens.HookTokenUses`;
* the SMART EHR launches in progress: :class:`~myelo_cds.records._smart_launches.SmartLaunches`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from myelo_cds.auth import User
from myelo_cds.findings import Findings
from myelo_cds.records._accounts import Account, Accounts
from myelo_cds.records._assessments import Assessments
from myelo_cds.records._audit import AuditLog
from myelo_cds.records._chain import AuditCheck
from myelo_cds.records._clinic_lists import ClinicLists
from myelo_cds.records._database import database_url
from myelo_cds.records._drafts import DRAFT_LIFETIME, Drafts
from myelo_cds.records._hook_tokens import HookTokenUses
from myelo_cds.records._models import AssessmentRecord, AuditEvent, PatientSummary, WorklistRow
from myelo_cds.records._sign_in_failures import SignInFailures
from myelo_cds.records._smart_launches import SmartLaunches
from myelo_cds.records._training import NewTrainingAttempt, TrainingAttempt, TrainingRecords
from myelo_cds.records._transactions import Database
from myelo_cds.rules.result import Recommendation

__all__ = ["Store"]


class Store:
    """Patients' assessments, follow-up plans, accounts, training attempts and the audit log,
    in SQLite or PostgreSQL.

    Every method opens and closes its own transaction and returns frozen copies, so one store
    (one connection pool) can serve every session of a server process. The schema is brought
    to the newest migration on first use.

    Args:
        url: a SQLAlchemy database URL; default :func:`database_url`.
    """

    def __init__(self, url: str | None = None) -> None:
        self._database = Database(url or database_url())
        self._audit = AuditLog(self._database)
        self._assessments = Assessments(self._database, self._audit)
        self._clinic_lists = ClinicLists(self._database)
        self._drafts = Drafts(self._database)
        self._accounts = Accounts(self._database, self._audit, SignInFailures(self._database, self._audit))
        self._hook_tokens = HookTokenUses(self._database)
        self._smart_launches = SmartLaunches(self._database)
        self._training = TrainingRecords(self._database)

    def __repr__(self) -> str:
        return f"Store({self._database.engine.url.render_as_string(hide_password=True)!r})"

    # --- the database -----------------------------------------------------------------------

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._database.backend

    def check_ready(self) -> None:
        """Check that the database answers, is at the newest migration and can take a save.

        A server replica is ready for clinicians only when this passes (it migrates a new
        database first, as the first page would). SQLite: the file is still the one this store
        opened (not deleted and made again, nor replaced) and not read-only, and a write goes
        through (rolled back). PostgreSQL: not a read-only standby, and the app's role may insert
        into every table a save writes.

        Raises:
            RecordError: the database cannot be reached, migrated or written (the message never
                holds the URL, which may hold a password, nor any stored value).
        """
        self._database.check_ready()

    def save_problem(self) -> str | None:
        """Why a save would fail now, or ``None``: :meth:`check_ready` at most every few seconds
        (a save that fails or succeeds updates it at once), cheap enough for every page rerun."""
        return self._database.save_problem()

    def verify_audit(self) -> AuditCheck:
        """Walk the audit log's hash chain and check each stored assessment against the content
        hash in its create event: intact, or the first break (the event's or assessment's id)."""
        return self._audit.verify()

    def close(self) -> None:
        """Close the pooled connections (the store opens new ones if used again)."""
        self._database.close()

    # --- assessments (Assessments) ----------------------------------------------------------

    def save_assessment(
        self, findings: Findings, recommendation: Recommendation, *, patient_id: str, author: str
    ) -> AssessmentRecord:
        """Store one assessment, its follow-up visits and a "create" audit event, all or nothing."""
        return self._assessments.save(findings, recommendation, patient_id=patient_id, author=author)

    def assessments(self, patient_id: str) -> list[AssessmentRecord]:
        """The patient's assessments, oldest first (by assessment date, then time saved)."""
        return self._assessments.history(patient_id)

    def latest(self, patient_id: str) -> AssessmentRecord | None:
        """The patient's latest assessment, or ``None`` for a patient with none stored."""
        return self._assessments.latest(patient_id)

    # --- the clinic's lists (ClinicLists) ---------------------------------------------------

    def patients(self) -> list[PatientSummary]:
        """Every patient with a stored assessment, by id."""
        return self._clinic_lists.patients()

    def worklist(self, today: dt.date, *, due_within_days: int = 14) -> list[WorklistRow]:
        """Each patient's next visit from their latest assessment, most pressing first."""
        return self._clinic_lists.worklist(today, due_within_days=due_within_days)

    # --- drafts (Drafts) --------------------------------------------------------------------

    def save_draft(
        self,
        token: str,
        data: dict[str, Any],
        *,
        owner: str,
        lifetime: dt.timedelta = DRAFT_LIFETIME,
        now: dt.datetime | None = None,
    ) -> bool:
        """Keep ``owner``'s consult being entered (findings data as the form holds it), replacing
        the last; ``False`` (nothing written) when the token is another user's. A new token also
        purges the expired drafts."""
        return self._drafts.save(token, data, owner=owner, lifetime=lifetime, now=now)

    def load_draft(self, token: str, *, owner: str, now: dt.datetime | None = None) -> dict[str, Any] | None:
        """``owner``'s kept consult under this token; ``None`` if unknown, another's or expired."""
        return self._drafts.load(token, owner=owner, now=now)

    def delete_draft(self, token: str, *, owner: str) -> None:
        """Forget ``owner``'s kept consult under this token (another user's is left alone)."""
        self._drafts.delete(token, owner=owner)

    def purge_expired_drafts(self, now: dt.datetime | None = None) -> int:
        """Delete every expired draft; returns how many went."""
        return self._drafts.purge_expired(now)

    # --- the audit log (AuditLog) -----------------------------------------------------------

    def record_event(
        self, action: str, *, actor: str, patient_id: str | None = None, detail: str = ""
    ) -> None:
        """Append one event to the audit log (with the current rule-set version)."""
        self._audit.record(action, actor=actor, patient_id=patient_id, detail=detail)

    def audit_events(self, limit: int = 500, *, patient_id: str | None = None) -> list[AuditEvent]:
        """The most recent audit events, newest first (optionally for one patient)."""
        return self._audit.events(limit, patient_id=patient_id)

    # --- accounts (Accounts) ----------------------------------------------------------------

    def add_account(
        self,
        user_id: str,
        role: str,
        *,
        actor: str,
        password: str | None = None,
        supervisor: bool = False,
        display_name: str | None = None,
    ) -> Account:
        """Create an account: local with ``password``, or a single-sign-on subject without."""
        return self._accounts.add(
            user_id, role, actor=actor, password=password, supervisor=supervisor, display_name=display_name
        )

    def set_role(self, user_id: str, role: str, *, actor: str, supervisor: bool | None = None) -> Account:
        """Change an account's role (and supervisor flag if given)."""
        return self._accounts.set_role(user_id, role, actor=actor, supervisor=supervisor)

    def set_password(self, user_id: str, password: str, *, actor: str) -> Account:
        """Give a local account a new password (an SSO account becomes a local one)."""
        return self._accounts.set_password(user_id, password, actor=actor)

    def set_disabled(self, user_id: str, disabled: bool, *, actor: str) -> Account:
        """Disable (or re-enable) an account: a disabled account cannot sign in, sessions end."""
        return self._accounts.set_disabled(user_id, disabled, actor=actor)

    def account(self, user_id: str) -> Account | None:
        """The account, or ``None``."""
        return self._accounts.get(user_id)

    def accounts(self) -> list[Account]:
        """Every account, by id."""
        return self._accounts.all()

    def sign_in(self, user_id: str, password: str, *, client: str | None = None) -> User | None:
        """The user for a local sign-in, or ``None`` for a wrong id, password or a disabled account.

        ``user_id`` in any case; ``client`` (its network address) adds the per-client back-off.

        Raises:
            SignInThrottled: too many recent failures for this name or from this client; the
                password was not checked.
        """
        return self._accounts.sign_in(user_id, password, client=client)

    def forget_sign_in_failures(self, user_id: str) -> None:
        """End the back-off of a user name (any case) now: an administrator's unlock."""
        self._accounts.forget_failures(user_id)

    # --- CDS Hooks tokens (HookTokenUses) ----------------------------------------------------

    def first_hook_token_use(self, iss: str, jti: str, *, expires: dt.datetime, now: dt.datetime) -> bool:
        """Record a CDS Hooks token; ``False`` when it was used before and has not expired."""
        return self._hook_tokens.first_use(iss, jti, expires=expires, now=now)

    # --- SMART EHR launches (SmartLaunches) --------------------------------------------------

    def keep_smart_launch(
        self, state: str, content: dict[str, Any], *, expires: dt.datetime, now: dt.datetime
    ) -> None:
        """Keep a SMART launch in progress under its ``state`` (hashed; the content sealed)."""
        self._smart_launches.keep(state, content, expires=expires, now=now)

    def take_smart_launch(self, state: str, *, now: dt.datetime) -> dict[str, Any] | None:
        """The SMART launch kept under ``state``, once; ``None`` if unknown, used or expired."""
        return self._smart_launches.take(state, now=now)

    # --- training attempts (TrainingRecords) ------------------------------------------------

    def save_training_attempt(self, attempt: NewTrainingAttempt) -> TrainingAttempt:
        """Store one committed quiz answer."""
        return self._training.save(attempt)

    def training_attempts(self, trainee_id: str | None = None) -> list[TrainingAttempt]:
        """Attempts oldest first: one trainee's, or everyone's when ``trainee_id`` is None."""
        return self._training.attempts(trainee_id)

    def trainees(self) -> list[str]:
        """Every trainee id with at least one attempt, in order."""
        return self._training.trainees()
