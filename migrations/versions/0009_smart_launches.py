"""SMART EHR launches waiting for the EHR's authorization, shared by every replica.

The launch starts on one replica and its callback may reach another: the state of each launch
in progress is kept here (single use, ten minutes). The key is a SHA-256 digest of the launch's
``state``; the launch itself (issuer, PKCE verifier, nonce...) is sealed with a key derived from
the ``state``, which the database never holds.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "smart_launches",
        sa.Column("key_sha256", sa.String(64), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_sha256", name="pk_smart_launches"),
    )
    op.create_index("ix_smart_launches_expires_at", "smart_launches", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_smart_launches_expires_at", table_name="smart_launches")
    op.drop_table("smart_launches")
