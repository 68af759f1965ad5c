"""Audit events form a hash chain; an assessment's create event carries its content hash.

Two columns on ``audit_events``: ``chain_hash`` (every event) and ``content_sha256`` (an
assessment's create event). The events kept before this revision are hashed here, in id order,
and each stored assessment's create event gets the hash of the assessment as it is now, so an
existing log verifies from the start (``python -m myelo_cds verify-audit``); what was changed
before this revision cannot be told apart. The append-only triggers are lifted for the one
UPDATE that fills the columns and put back at once, inside the migration's transaction.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from myelo_cds.records._chain import ASSESSMENT_FIELDS, GENESIS, assessment_sha256, chain_hash

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC_TIME = sa.DateTime(timezone=True)
_CREATED_PREFIX = "assessment "

# The same statements as revision 0001's, to put back after the UPDATE below.
SQLITE_NO_UPDATE = """
    CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE is not allowed'); END
    """

_events = sa.table(
    "audit_events",
    sa.column("id", sa.BigInteger()),
    sa.column("at", UTC_TIME),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("patient_id", sa.String()),
    sa.column("detail", sa.Text()),
    sa.column("rule_set_version", sa.String()),
    sa.column("content_sha256", sa.String()),
    sa.column("chain_hash", sa.String()),
)
_COLUMN_TYPES: dict[str, Any] = {
    "assessment_date": sa.Date(),
    "created_at": UTC_TIME,
    "findings": DOCUMENT,
    "recommendation": DOCUMENT,
    **{
        name: sa.Integer()
        for name in ASSESSMENT_FIELDS
        if name.startswith("mjoa_") or name in ("nurick", "next_visit_number")
    },
}
_assessments = sa.table(
    "assessments",
    sa.column("id", sa.BigInteger()),
    *(sa.column(name, _COLUMN_TYPES.get(name, sa.String())) for name in ASSESSMENT_FIELDS),
)


def _content_hashes(connection: sa.Connection) -> dict[int, str]:
    """Each stored assessment's content hash, by id."""
    hashes: dict[int, str] = {}
    for row in connection.execute(sa.select(_assessments).order_by(_assessments.c.id)):
        hashes[int(row.id)] = assessment_sha256(row._mapping)
    return hashes


def _hash_existing_events(connection: sa.Connection) -> None:
    contents = _content_hashes(connection)
    previous = GENESIS
    rows = connection.execute(sa.select(_events).order_by(_events.c.id)).mappings().all()
    for row in rows:
        values = dict(row)
        detail = values["detail"] or ""
        if values["action"] == "create" and detail.startswith(_CREATED_PREFIX):
            number = detail.removeprefix(_CREATED_PREFIX)
            if number.isdigit() and int(number) in contents:
                values["content_sha256"] = contents.pop(int(number))
        previous = chain_hash(previous, values)
        connection.execute(
            sa.update(_events)
            .where(_events.c.id == values["id"])
            .values(content_sha256=values["content_sha256"], chain_hash=previous)
        )


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    op.add_column("audit_events", sa.Column("content_sha256", sa.String(64), nullable=True))
    op.add_column("audit_events", sa.Column("chain_hash", sa.String(64), nullable=True))
    if dialect == "sqlite":
        op.execute("DROP TRIGGER audit_events_no_update")
    else:
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete")
    _hash_existing_events(op.get_bind())
    if dialect == "sqlite":
        op.execute(SQLITE_NO_UPDATE)
    else:
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete")


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35 or newer) keeps the table and its triggers.
    op.execute("ALTER TABLE audit_events DROP COLUMN chain_hash")
    op.execute("ALTER TABLE audit_events DROP COLUMN content_sha256")
