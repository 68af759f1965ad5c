"""Consults being entered, kept under a browser token so that a reload does not lose them.

A draft token is as good as the consult it keeps, so a draft is bound to the user who made it:
only that user reads, replaces or deletes it, whoever else holds the token (a shared link, a
planted link, a token in a log). Each draft expires a fixed time after its last change; an
expired draft is never read, and expired drafts are deleted whenever a new draft is started.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import delete

from myelo_cds.records._models import RecordError
from myelo_cds.records._schema import Draft
from myelo_cds.records._transactions import Database

__all__ = ["DRAFT_LIFETIME", "Drafts"]

_DRAFT_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
#: How long a draft is kept after its last change unless the caller says otherwise.
DRAFT_LIFETIME = dt.timedelta(hours=24)


def _checked_token(token: str) -> str:
    if not _DRAFT_TOKEN.fullmatch(token):
        raise RecordError("a draft token is 16-64 letters, digits, '-' or '_'")
    return token


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else dt.datetime.now(dt.UTC)


class Drafts:
    """One kept consult per token (the form's data as it holds it), owned by one user.

    Args:
        database: where the drafts are kept.
    """

    def __init__(self, database: Database) -> None:
        self._database = database

    def save(
        self,
        token: str,
        data: dict[str, Any],
        *,
        owner: str,
        lifetime: dt.timedelta = DRAFT_LIFETIME,
        now: dt.datetime | None = None,
    ) -> bool:
        """Keep a consult being entered for ``owner``, replacing the last one kept under this token.

        Returns:
            ``True`` when kept; ``False`` when the token belongs to another user (nothing is
            written: the caller gives its tab a token of its own).
        """
        key = _checked_token(token)
        moment = _now(now)
        with self._database.transaction(write=True) as session:
            row = session.get(Draft, key, with_for_update=True)
            if row is None:
                # A new draft is a new tab (once per tab, not per keystroke): the moment to purge
                # the drafts that expired, with one indexed delete.
                session.execute(delete(Draft).where(Draft.expires_at <= moment))
                session.add(
                    Draft(token=key, owner=owner, data=data, updated_at=moment, expires_at=moment + lifetime)
                )
                return True
            if row.owner != owner:
                return False
            row.data = data
            row.updated_at = moment
            row.expires_at = moment + lifetime
            return True

    def load(self, token: str, *, owner: str, now: dt.datetime | None = None) -> dict[str, Any] | None:
        """The consult ``owner`` kept under this token, or ``None`` (unknown token, another
        user's draft, or expired)."""
        moment = _now(now)
        with self._database.transaction(write=False) as session:
            row = session.get(Draft, _checked_token(token))
            if row is None or row.owner != owner or row.expires_at <= moment:
                return None
            return dict(row.data)

    def delete(self, token: str, *, owner: str) -> None:
        """Forget ``owner``'s consult under this token (nothing happens if there is none, or if
        the token is another user's)."""
        with self._database.transaction(write=True) as session:
            session.execute(delete(Draft).where(Draft.token == _checked_token(token), Draft.owner == owner))

    def purge_expired(self, now: dt.datetime | None = None) -> int:
        """Delete every draft past its expiry; returns how many went."""
        with self._database.transaction(write=True) as session:
            result = session.execute(delete(Draft).where(Draft.expires_at <= _now(now)))
            return int(getattr(result, "rowcount", 0) or 0)
