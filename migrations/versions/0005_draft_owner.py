"""Drafts belong to the user who made them and expire (owner, expiry).

A draft kept before this revision has no owner, so nobody could be allowed to read it: the
table is rebuilt empty (a draft is a half-entered consult kept across a reload, not a record).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.drop_table("drafts")
    op.create_table(
        "drafts",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("data", DOCUMENT, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_drafts_owner", "drafts", ["owner"])
    op.create_index("ix_drafts_expires_at", "drafts", ["expires_at"])


def downgrade() -> None:
    op.drop_table("drafts")
    op.create_table(
        "drafts",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("data", DOCUMENT, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
