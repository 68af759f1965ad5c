"""CDS Hooks bearer tokens seen, kept until they expire, so every replica refuses a replay.

The key is a SHA-256 digest of the issuer and the token's ``jti``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hook_token_uses",
        sa.Column("key_sha256", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_sha256", name="pk_hook_token_uses"),
    )
    op.create_index("ix_hook_token_uses_expires_at", "hook_token_uses", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_hook_token_uses_expires_at", table_name="hook_token_uses")
    op.drop_table("hook_token_uses")
