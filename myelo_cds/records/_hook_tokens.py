"""The CDS Hooks bearer tokens seen, shared by every replica through the database.

A CDS client signs a fresh token, with its own ``jti``, for every call. A token presented a
second time before it expires is a replay (someone who saw it on the way, or a client retrying
with an old token) and is refused, whichever replica it reaches. Each token is recorded under a
SHA-256 digest of its issuer and ``jti`` in one write transaction: the insert either adds the
row (first use) or finds it (a replay). Rows whose token has expired are deleted on the way, so
the table holds at most the tokens of the last ``MYELO_CDS_HOOKS_MAX_TOKEN_SECONDS``.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from myelo_cds.records._schema import HookTokenUseRow
from myelo_cds.records._transactions import Database

__all__ = ["HookTokenUses", "token_key"]


def token_key(iss: str, jti: str) -> str:
    """The digest a token is recorded under (its issuer and ``jti``, never kept in clear)."""
    return hashlib.sha256(f"myelo-cds hook token\0{iss}\0{jti}".encode()).hexdigest()


class HookTokenUses:
    """Records each token once; a second use before it expires is refused.

    Args:
        database: where the tokens are kept (shared by every replica).
    """

    def __init__(self, database: Database) -> None:
        self._database = database

    def first_use(self, iss: str, jti: str, *, expires: dt.datetime, now: dt.datetime) -> bool:
        """Record the token; ``False`` when it was seen before and has not expired.

        Args:
            iss: the token's issuer.
            jti: the token's id.
            expires: until when a second use is a replay (its ``exp`` plus the clock skew).
            now: the time of the call.
        """
        insert = postgresql_insert if self._database.backend == "postgresql" else sqlite_insert
        statement = (
            insert(HookTokenUseRow)
            .values(key_sha256=token_key(iss, jti), expires_at=expires)
            .on_conflict_do_nothing()
            .returning(HookTokenUseRow.key_sha256)
        )
        with self._database.transaction(write=True) as session:
            # Expired tokens first (this one's earlier use included: a jti may come back after).
            session.execute(delete(HookTokenUseRow).where(HookTokenUseRow.expires_at <= now))
            added = session.execute(statement).scalar_one_or_none()
        return added is not None
