"""Accounts: who may sign in, with which role; local passwords as Argon2id hashes.

Every change to an account and every sign-in is an event in the store's audit log.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select

from myelo_cds.auth import ROLES, Role, User
from myelo_cds.auth import _passwords as passwords
from myelo_cds.records._audit import AuditLog
from myelo_cds.records._models import RecordError
from myelo_cds.records._schema import AccountRow
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


def _password_hash(password: str) -> str:
    try:
        return passwords.hash_password(password)
    except passwords.PasswordError as error:
        raise RecordError(f"password refused: {error}") from None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Accounts:
    """Creates and changes accounts and signs users in.

    Args:
        database: where the accounts are kept.
        audit: the log every change and sign-in is recorded in.
    """

    def __init__(self, database: Database, audit: AuditLog) -> None:
        self._database = database
        self._audit = audit

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
            password: at least 12 characters (stored as an Argon2id hash); ``None`` for SSO.
            supervisor: may see residents' training results.
            display_name: shown in the sidebar only.

        Raises:
            RecordError: a refused id, role or password, or an id that exists already.
        """
        user = _checked_user(user_id, role, supervisor, display_name)
        encoded = _password_hash(password) if password is not None else None
        now = _now()
        with self._database.transaction(write=True) as session:
            if session.get(AccountRow, user.user_id) is not None:
                raise RecordError(f"account {user.user_id} exists already: change it with set-role or passwd")
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
            row = session.get(AccountRow, user_id, with_for_update=True)
            if row is None:
                raise RecordError(f"no account {user_id}: create it with 'users add'")
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = _now()
            session.flush()
            account = _account(row)
        self._audit.record("account_change", actor=actor, detail=f"{user_id}: {detail}")
        return account

    def set_role(self, user_id: str, role: str, *, actor: str, supervisor: bool | None = None) -> Account:
        """Change an account's role (and supervisor flag if given)."""
        values: dict[str, Any] = {"role": _role(role)}
        if supervisor is not None:
            values["supervisor"] = supervisor
        return self._change(user_id, actor, f"role {role}, supervisor {supervisor}", **values)

    def set_password(self, user_id: str, password: str, *, actor: str) -> Account:
        """Give a local account a new password (an SSO account becomes a local one)."""
        return self._change(user_id, actor, "new password", password_hash=_password_hash(password))

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

    def sign_in(self, user_id: str, password: str) -> User | None:
        """The user for a local sign-in, or ``None`` for a wrong id, password or a disabled account.

        The same time is spent whether the id exists or not, and the audit log records the
        attempt (an unknown id is logged as ``unknown``, never the text that was typed).
        """
        with self._database.transaction(write=False) as session:
            row = session.get(AccountRow, user_id) if len(user_id) <= 64 else None
            encoded = row.password_hash if row is not None else None
            account = _account(row) if row is not None else None
        good = passwords.verify(encoded, password)
        if not good or account is None or account.disabled:
            self._audit.record("sign_in_refused", actor=account.user_id if account else "unknown")
            return None
        if encoded is not None and passwords.needs_rehash(encoded):
            self._change(
                user_id, user_id, "password rehashed", password_hash=passwords.hash_password(password)
            )
        self._audit.record("sign_in", actor=account.user_id, detail="local")
        return account.user()
