"""Resident training: one row per committed quiz answer.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "training_attempts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("trainee_id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topics", DOCUMENT, nullable=False),
        sa.Column("pathway_given", sa.String(40), nullable=False),
        sa.Column("pathway_expected", sa.String(40), nullable=False),
        sa.Column("pathway_correct", sa.Boolean(), nullable=False),
        sa.Column("mjoa_given", sa.Integer(), nullable=True),
        sa.Column("mjoa_true", sa.Integer(), nullable=True),
        sa.Column("severity_given", sa.String(16), nullable=True),
        sa.Column("severity_correct", sa.Boolean(), nullable=True),
        sa.Column("sct_credit", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("rule_set_version", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_training_attempts"),
    )
    op.create_index(
        "ix_training_attempts_trainee_id_attempted_at", "training_attempts", ["trainee_id", "attempted_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_training_attempts_trainee_id_attempted_at", table_name="training_attempts")
    op.drop_table("training_attempts")
