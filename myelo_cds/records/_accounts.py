"""Accounts: who may sign in, with which role; local passwords as Argon2id hashes.

User ids are compared without regard to case: a new ``Dr.Lee`` is refused while ``dr.lee``
exists, and a local sign-in as either spelling finds the one account (ids keep the spelling
they were created with). Local sign-ins back off after repeated failures
(:mod:`myelo_cds.records._sign_in_failures`).

Every change to an account and every successful sign-in is an event in the store's audit log;
failed sign-ins are audited per streak (its start, then at most one event per period).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from myelo_cds.auth import ROLES, Role, User
from myelo_cds.auth import _passwords as passwords
from myelo_cds.records._audit import AuditLog
from myelo_cds.records._models import RecordError
from myelo_cds.records._schema import ID_LENGTH, AccountRow
from myelo_cds.records._sign_in_failures import FailureKey, SignInFailures, account_key, client_key
from myelo_cds.records._transactions import Database

__all__ = ["Account", "Accounts"]


class Account(BaseModel):
    """One account as the store hands it back (never the password hash)."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    role: Role
    supervisor: bool
    display_name: str | None
    sso: bool
    """A single-sign-on subject (no local password)."""
    disabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    def user(self) -> User:
        """The signed-in user this account stands for."""
        return User(
            user_id=self.user_id, role=self.role, supervisor=self.supervisor, display_name=self.display_name
        )


def _account(row: AccountRow) -> Account:
    return Account(
        user_id=row.user_id,
        role=_role(row.role),
        supervisor=row.supervisor,
        display_name=row.display_name,
        sso=row.password_hash is None,
        disabled=row.disabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _role(role: str) -> Role:
    for known in ROLES:
        if known == role:
            return known
    raise RecordError(f"role refused: use one of {', '.join(ROLES)}")


def _checked_user(user_id: str, role: str, supervisor: bool, display_name: str | None) -> User:
    try:
        return User(user_id=user_id, role=_role(role), supervisor=supervisor, display_name=display_name)
    except ValidationError as error:
        field = str(error.errors()[0]["loc"][0])
        allowed = User.model_fields[field].description
        raise RecordError(f"{field} refused: {allowed}") from None


# Serialises account creation on PostgreSQL, so two spellings of one id cannot both be added.
_ACCOUNTS_LOCK_KEY = 0x6D79_656C_6F41_4343  # "myeloACC"


def _password_hash(password: str, user_id: str) -> str:
    try:
        return passwords.hash_password(password, user_id=user_id)
    except passwords.PasswordError as error:
        raise RecordError(f"password refused: {error}") from None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Accounts:
    """Creates and changes accounts and signs users in.

    Args:
        database: where the accounts are kept.
        audit: the log every change and sign-in is recorded in.
        failures: the failed sign-ins behind the back-off.
    """

    def __init__(self, database: Database, audit: AuditLog, failures: SignInFailures) -> None:
        self._database = database
        self._audit = audit
        self._failures = failures

    @staticmethod
    def _same_id(session: Session, user_id: str) -> AccountRow | None:
        """The account whose id is ``user_id`` in any case: the exact spelling first."""
        if len(user_id) > ID_LENGTH or not user_id.isascii():  # ids are ASCII: no Unicode case folding
            return None
        row = session.get(AccountRow, user_id)
        if row is not None:
            return row
        matches = session.scalars(
            select(AccountRow).where(func.lower(AccountRow.user_id) == user_id.lower()).limit(2)
        ).all()
        # Two spellings of one id can only predate the case-insensitive rule: then neither
        # is guessed at, the exact spelling is needed.
        return matches[0] if len(matches) == 1 else None

    def add(
        self,
        user_id: str,
        role: str,
        *,
        actor: str,
        password: str | None = None,
        supervisor: bool = False,
        display_name: str | None = None,
    ) -> Account:
        """Create an account: local with ``password``, or a single-sign-on subject without.

        Args:
            user_id: the sign-in name (local) or the SSO ``sub`` claim; letters, digits, ``._@-``.
            role: clinician, resident or admin.
            actor: who creates it (audit log).
            password: meeting the policy of :func:`myelo_cds.auth.check_new_password` (stored
                as an Argon2id hash); ``None`` for SSO.
            supervisor: may see residents' training results.
            display_name: shown in the sidebar only.

        Raises:
            RecordError: a refused id, role or password, or an id that exists already (in any
                case: ``Dr.Lee`` when ``dr.lee`` exists).
        """
        user = _checked_user(user_id, role, supervisor, display_name)
        encoded = _password_hash(password, user.user_id) if password is not None else None
        now = _now()
        with self._database.transaction(write=True) as session:
            if self._database.backend == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ACCOUNTS_LOCK_KEY})
            existing = self._same_id(session, user.user_id)
            if existing is not None:
                spelt = (
                    ""
                    if existing.user_id == user.user_id
                    else " (user ids are compared without regard to case)"
                )
                raise RecordError(
                    f"account {existing.user_id} exists already{spelt}: change it with set-role or passwd"
                )
            row = AccountRow(
                user_id=user.user_id,
                role=user.role,
                supervisor=user.supervisor,
                display_name=user.display_name,
                password_hash=encoded,
                disabled=False,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            account = _account(row)
        self._audit.record("account_create", actor=actor, detail=f"{user.user_id} as {user.role}")
        return account

    def _change(self, user_id: str, actor: str, detail: str, **values: Any) -> Account:
        with self._database.transaction(write=True) as session:
            row = self._same_id(session, user_id)  # any case: the administrator's spelling
            if row is None:
                raise RecordError(f"no account {user_id}: create it with 'users add'")
            session.refresh(row, with_for_update=True)
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = _now()
            session.flush()
            account = _account(row)
        self._audit.record("account_change", actor=actor, detail=f"{account.user_id}: {detail}")
        return account

    def set_role(self, user_id: str, role: str, *, actor: str, supervisor: bool | None = None) -> Account:
        """Change an account's role (and supervisor flag if given)."""
        values: dict[str, Any] = {"role": _role(role)}
        if supervisor is not None:
            values["supervisor"] = supervisor
        return self._change(user_id, actor, f"role {role}, supervisor {supervisor}", **values)

    def set_password(self, user_id: str, password: str, *, actor: str) -> Account:
        """Give a local account a new password (an SSO account becomes a local one)."""
        return self._change(user_id, actor, "new password", password_hash=_password_hash(password, user_id))

    def set_disabled(self, user_id: str, disabled: bool, *, actor: str) -> Account:
        """Disable (or re-enable) an account: a disabled account cannot sign in, sessions end."""
        return self._change(user_id, actor, "disabled" if disabled else "enabled", disabled=disabled)

    def get(self, user_id: str) -> Account | None:
        """The account, or ``None``."""
        with self._database.transaction(write=False) as session:
            row = session.get(AccountRow, user_id)
            return _account(row) if row is not None else None

    def all(self) -> list[Account]:
        """Every account, by id."""
        with self._database.transaction(write=False) as session:
            return [_account(row) for row in session.scalars(select(AccountRow).order_by(AccountRow.user_id))]

    def sign_in(self, user_id: str, password: str, *, client: str | None = None) -> User | None:
        """The user for a local sign-in, or ``None`` for a wrong id, password or a disabled account.

        The attempt is counted first under the name as typed and the client (back-off); while
        either is in a wait the password is not checked at all. The same time is spent whether
        the id exists or not. The audit log records failures per streak (an unknown id is
        logged as ``unknown``, never the text that was typed).

        Args:
            user_id: the user name as typed (any case).
            password: the password as typed.
            client: the client's network address, for the per-client back-off; ``None`` for
                none (only the name is counted).

        Raises:
            SignInThrottled: too many recent failures for this name or from this client; the
                message is the same whether the account exists or not.
        """
        keys: Sequence[FailureKey] = [account_key(user_id)] + ([client_key(client)] if client else [])
        self._failures.begin_attempt(keys)
        with self._database.transaction(write=False) as session:
            row = self._same_id(session, user_id)
            encoded = row.password_hash if row is not None else None
            account = _account(row) if row is not None else None
        good = passwords.verify(encoded, password)
        if not good or account is None or account.disabled:
            disabled = "account disabled" if good and account is not None else None
            self._failures.failed(keys, actor=account.user_id if account else "unknown", reason=disabled)
            return None
        before = self._failures.succeeded(keys)
        if encoded is not None and passwords.needs_rehash(encoded):
            self._change(
                account.user_id,
                account.user_id,
                "password rehashed",
                # The stored password met the policy of its day: rehash it as it is.
                password_hash=passwords.rehash(password),
            )
        detail = f"local, after {before} failed attempts" if before else "local"
        self._audit.record("sign_in", actor=account.user_id, detail=detail)
        return account.user()

    def forget_failures(self, user_id: str) -> None:
        """Forget the failed sign-ins of this name (any case): its waits end now."""
        self._failures.forget([account_key(user_id)])
