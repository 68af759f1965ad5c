"""The audit log: who did what, to which patient, under which rule-set version (append-only,
each event chained to the one before by a hash: ``records._chain``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from myelo_cds.records._chain import AuditCheck, chain_hash, chain_head, lock_chain, verify_audit
from myelo_cds.records._models import (
    AuditEvent,
    RecordError,
    check_action,
    check_detail,
    check_patient_id,
    check_person,
)
from myelo_cds.records._schema import AuditEventRow
from myelo_cds.records._transactions import Database
from myelo_cds.rules.ruleset import default_rule_set

__all__ = ["AuditLog"]


class AuditLog:
    """Appends events and reads them back, newest first.

    Args:
        database: where the events are kept.
    """

    def __init__(self, database: Database) -> None:
        self._database = database

    @staticmethod
    def add(
        session: Session,
        *,
        at: dt.datetime,
        actor: str,
        action: str,
        patient_id: str | None,
        detail: str,
        rule_set_version: str,
        content_sha256: str | None = None,
    ) -> None:
        """Append an event whose values are checked already, inside the caller's (write)
        transaction, so it is kept exactly when what it records is.

        The event is chained to the newest one: the chain's head is locked (PostgreSQL) or the
        database is (SQLite's writer) until the transaction ends, so concurrent appends from
        several replicas queue instead of forking the chain.
        """
        values = {
            "at": at,
            "actor": actor,
            "action": action,
            "patient_id": patient_id,
            "detail": detail,
            "rule_set_version": rule_set_version,
            "content_sha256": content_sha256,
        }
        connection = session.connection()
        lock_chain(connection)
        session.flush()  # an event added earlier in this transaction is the head
        session.add(AuditEventRow(**values, chain_hash=chain_hash(chain_head(connection), values)))
        session.flush()

    def record(self, action: str, *, actor: str, patient_id: str | None = None, detail: str = "") -> None:
        """Append one event in its own transaction (with the current rule-set version).

        Args:
            action: what was done: ``create``, ``view``, ``change``, ``export``, ...
            actor: the staff id of who did it.
            patient_id: the pseudonymous id of the patient concerned, if any.
            detail: what exactly (e.g. ``worklist csv``); never findings or names.

        Raises:
            RecordError: a refused action, actor, patient id or an over-long detail.
        """
        at = dt.datetime.now(dt.UTC)
        checked_actor = check_person(actor, "actor")
        checked_action = check_action(action)
        checked_patient = check_patient_id(patient_id) if patient_id is not None else None
        checked_detail = check_detail(detail)
        rule_set_version = default_rule_set().version
        with self._database.transaction(write=True) as session:
            self.add(
                session,
                at=at,
                actor=checked_actor,
                action=checked_action,
                patient_id=checked_patient,
                detail=checked_detail,
                rule_set_version=rule_set_version,
            )

    def verify(self) -> AuditCheck:
        """Walk the chain and every stored assessment: intact, or the first break in words.

        One snapshot for both walks, so a save committed meanwhile is seen whole or not at all
        (never an assessment without its create event).
        """
        with self._database.transaction(write=False, snapshot=True) as session:
            return verify_audit(session.connection())

    def events(self, limit: int = 500, *, patient_id: str | None = None) -> list[AuditEvent]:
        """The most recent events, newest first (optionally for one patient)."""
        if limit < 1:
            raise RecordError("limit must be 1 or more")
        statement = select(AuditEventRow).order_by(AuditEventRow.id.desc()).limit(limit)
        if patient_id is not None:
            statement = statement.where(AuditEventRow.patient_id == check_patient_id(patient_id))
        with self._database.transaction(write=False) as session:
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
