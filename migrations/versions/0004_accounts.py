"""Accounts: local sign-in (Argon2id password hashes) and the roles of single-sign-on users.

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("supervisor", sa.Boolean(), nullable=False),
        sa.Column("display_name", sa.String(128), nullable=True),
        # NULL for a single-sign-on user: the hospital's identity provider checks the password.
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('clinician', 'resident', 'admin')", name="ck_accounts_role"),
    )


def downgrade() -> None:
    op.drop_table("accounts")
