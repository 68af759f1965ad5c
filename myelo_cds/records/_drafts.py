"""Consults being entered, kept under a browser token so that a reload does not lose them."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from myelo_cds.records._models import RecordError
from myelo_cds.records._schema import Draft
from myelo_cds.records._transactions import Database

__all__ = ["Drafts"]

_DRAFT_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _checked_token(token: str) -> str:
    if not _DRAFT_TOKEN.fullmatch(token):
        raise RecordError("a draft token is 16-64 letters, digits, '-' or '_'")
    return token


class Drafts:
    """One kept consult per token (the form's data as it holds it), replaced on each save.

    Args:
        database: where the drafts are kept.
    """

    def __init__(self, database: Database) -> None:
        self._database = database

    def save(self, token: str, data: dict[str, Any]) -> None:
        """Keep a consult being entered, replacing the last one kept for this token."""
        key = _checked_token(token)
        with self._database.transaction(write=True) as session:
            row = session.get(Draft, key)
            if row is None:
                session.add(Draft(token=key, data=data, updated_at=dt.datetime.now(dt.UTC)))
            else:
                row.data = data
                row.updated_at = dt.datetime.now(dt.UTC)

    def load(self, token: str) -> dict[str, Any] | None:
        """The kept consult for this token, or None."""
        with self._database.transaction(write=False) as session:
            row = session.get(Draft, _checked_token(token))
            return dict(row.data) if row is not None else None

    def delete(self, token: str) -> None:
        """Forget the kept consult for this token (nothing happens if there is none)."""
        with self._database.transaction(write=True) as session:
            row = session.get(Draft, _checked_token(token))
            if row is not None:
                session.delete(row)
