"""Failed sign-ins per account name and per client: the counts behind the back-off, shared by
every replica through the database, and their aggregated audit events.

Each attempt is counted before its password is checked, in one write transaction that locks
the key's row, so parallel attempts (several tabs, several replicas) cannot slip through the
same free slot. A successful sign-in then deletes the account's streak and takes its own
attempt back from the client's. A streak is forgotten ``forget_after`` its last failure, and
each failed attempt deletes the forgotten rows.

Keys are SHA-256 digests of the case-folded name as typed (a mistyped name can be a password)
and of the client's address; nothing else about the attempt is stored. A digest of an IPv4
address can be found by trying every address, so rows are deleted once forgotten: the table
holds at most about an hour of failures.

The audit log gets one ``sign_in_refused`` event when an account name's streak starts and
then at most one per :data:`AUDIT_PERIOD` while it goes on (with the count), instead of one
per failure; a client gets a ``sign_in_throttled`` event when its waits begin, then at most
one per period.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from myelo_cds.auth import ACCOUNT_BACKOFF, CLIENT_BACKOFF, Backoff, SignInThrottled
from myelo_cds.records._audit import AuditLog
from myelo_cds.records._schema import SignInFailureRow
from myelo_cds.records._transactions import Database
from myelo_cds.rules.ruleset import default_rule_set

__all__ = ["AUDIT_PERIOD", "FailureKey", "SignInFailures", "account_key", "client_key"]

#: A streak of failures writes at most one audit event per period (plus its first).
AUDIT_PERIOD = dt.timedelta(minutes=15)
#: What a hashed name as typed is cut to (the form allows 64; a script may send more).
_KEY_MAX = 1024
Kind = Literal["account", "client"]


@dataclass(frozen=True, slots=True)
class FailureKey:
    """One key a sign-in attempt is counted under, with its back-off policy."""

    kind: Kind
    digest: str
    backoff: Backoff

    def short(self) -> str:
        """The first 12 hex digits: enough to tell keys apart in the audit log."""
        return self.digest[:12]


def _digest(kind: Kind, value: str) -> str:
    return hashlib.sha256(f"myelo-cds sign-in {kind}\0{value}".encode()).hexdigest()


def account_key(user_name: str) -> FailureKey:
    """The key of an account name as typed (case-folded: ``Dr.Lee`` and ``dr.lee`` are one)."""
    return FailureKey("account", _digest("account", user_name.strip()[:_KEY_MAX].casefold()), ACCOUNT_BACKOFF)


def client_key(address: str) -> FailureKey:
    """The key of a client (its network address as the server sees it)."""
    return FailureKey("client", _digest("client", address.strip()[:_KEY_MAX].casefold()), CLIENT_BACKOFF)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%MZ")


class SignInFailures:
    """Counts sign-in attempts per key, refuses those that come during a wait, and audits.

    Args:
        database: where the counts are kept (shared by every replica).
        audit: the log the aggregated events go to.
    """

    def __init__(self, database: Database, audit: AuditLog) -> None:
        self._database = database
        self._audit = audit

    def _locked_row(self, session: Session, key: FailureKey, now: dt.datetime) -> SignInFailureRow:
        """The key's row, created if new, locked until the transaction ends."""
        values = {
            "kind": key.kind,
            "key_sha256": key.digest,
            "failures": 0,
            "throttled": 0,
            "first_failure_at": now,
            "last_failure_at": now,
            "audited_at": None,
        }
        insert = postgresql_insert if self._database.backend == "postgresql" else sqlite_insert
        row = None
        while row is None:  # a purge may delete a forgotten row between the two statements
            session.execute(insert(SignInFailureRow).values(values).on_conflict_do_nothing())
            row = session.get(
                SignInFailureRow, (key.kind, key.digest), with_for_update=True, populate_existing=True
            )
        if row.failures and now - row.last_failure_at > key.backoff.forget_after:
            row.failures, row.throttled, row.audited_at = 0, 0, None
            row.first_failure_at = row.last_failure_at = now
        return row

    def begin_attempt(self, keys: Sequence[FailureKey]) -> None:
        """Count an attempt under every key, or refuse it while any key is in a wait.

        Raises:
            SignInThrottled: a key is in a wait; nothing is counted but the refusal, and the
                password must not be checked.
        """
        now = _now()
        wait = dt.timedelta(0)
        with self._database.transaction(write=True) as session:
            rows = [(key, self._locked_row(session, key, now)) for key in keys]
            for key, row in rows:
                until = row.last_failure_at + key.backoff.wait(row.failures)
                if row.failures and until > now:
                    wait = max(wait, until - now)
                    row.throttled += 1
            if not wait:
                for _key, row in rows:
                    if not row.failures:
                        row.first_failure_at = now
                    row.failures += 1
                    row.last_failure_at = now
        if wait:
            raise SignInThrottled(wait)

    def succeeded(self, keys: Sequence[FailureKey]) -> int:
        """A correct password: forget the account's streak, take the attempt back from the client's.

        Returns:
            The failures of the account's streak before this success (0 for none).
        """
        before = 0
        with self._database.transaction(write=True) as session:
            for key in keys:
                row = session.get(SignInFailureRow, (key.kind, key.digest), with_for_update=True)
                if row is None:
                    continue
                if key.kind == "account":
                    before = max(0, row.failures - 1)
                    session.delete(row)
                elif row.failures <= 1:
                    session.delete(row)
                else:
                    # A shared ward PC: other people's failures still count against the client.
                    row.failures -= 1
        return before

    def failed(self, keys: Sequence[FailureKey], *, actor: str, reason: str | None = None) -> None:
        """Audit a refused attempt (already counted), aggregated per streak and period.

        Args:
            keys: the attempt's keys.
            actor: the account's id, or ``unknown`` for a name without an account.
            reason: a reason audited on every attempt whatever the period (e.g. a correct
                password for a disabled account, which is no guess).
        """
        now = _now()
        version = default_rule_set().version
        with self._database.transaction(write=True) as session:
            for key in keys:
                row = session.get(SignInFailureRow, (key.kind, key.digest), with_for_update=True)
                if row is None:
                    continue
                detail = self._due_detail(key, row, now, reason)
                if detail is None:
                    continue
                action = "sign_in_refused" if key.kind == "account" else "sign_in_throttled"
                AuditLog.add(
                    session,
                    at=now,
                    actor=actor if key.kind == "account" else "unknown",
                    action=action,
                    patient_id=None,
                    detail=detail,
                    rule_set_version=version,
                )
                row.audited_at, row.throttled = now, 0
        self._purge(now)

    def _purge(self, now: dt.datetime) -> None:
        """Delete forgotten streaks, skipping rows an attempt holds (no waiting, no deadlock)."""
        forget_after = max(ACCOUNT_BACKOFF.forget_after, CLIENT_BACKOFF.forget_after)
        stale = (
            select(SignInFailureRow.kind, SignInFailureRow.key_sha256)
            .where(SignInFailureRow.last_failure_at < now - forget_after)
            .with_for_update(skip_locked=True)
        )
        with self._database.transaction(write=True) as session:
            session.execute(
                delete(SignInFailureRow).where(
                    tuple_(SignInFailureRow.kind, SignInFailureRow.key_sha256).in_(stale)
                )
            )

    @staticmethod
    def _due_detail(
        key: FailureKey, row: SignInFailureRow, now: dt.datetime, reason: str | None
    ) -> str | None:
        """The audit detail if this failure is to be audited now, else ``None``."""
        period_over = row.audited_at is None or now - row.audited_at >= AUDIT_PERIOD
        since = _stamp(row.first_failure_at)
        waits = f", {row.throttled} refused during waits" if row.throttled else ""
        if key.kind == "account":
            if reason is not None:
                return f"{reason} ({row.failures} failed attempts since {since}{waits})"
            if row.failures == 1:
                return "1 failed attempt (a new streak)"
            if period_over:
                return f"{row.failures} failed attempts since {since}{waits}"
            return None
        if row.failures > key.backoff.free and period_over:
            return f"client {key.short()}: {row.failures} failed attempts since {since}{waits}; waits apply"
        return None

    def forget(self, keys: Sequence[FailureKey]) -> None:
        """Forget these keys' streaks (an administrator unlocks an account name)."""
        with self._database.transaction(write=True) as session:
            for key in keys:
                session.execute(
                    delete(SignInFailureRow).where(
                        SignInFailureRow.kind == key.kind, SignInFailureRow.key_sha256 == key.digest
                    )
                )
