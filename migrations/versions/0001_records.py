"""Patient records: patients, assessments, follow-up visits and the append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2025-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC_TIME = sa.DateTime(timezone=True)
LATEST_FK = "fk_patients_latest_assessment_id_assessments"
NEXT_VISIT_FK = "fk_patients_next_visit_id_follow_up_visits"

# The audit log refuses UPDATE and DELETE in the database itself, whatever the client.
SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE is not allowed'); END
    """,
    """
    CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE is not allowed'); END
    """,
]
POSTGRESQL_TRIGGERS = [
    """
    CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
            USING ERRCODE = 'restrict_violation';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
    """,
    """
    CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()
    """,
]


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    current_state_fks = (
        # SQLite cannot add a constraint later but accepts references to tables created next.
        [
            sa.ForeignKeyConstraint(["latest_assessment_id"], ["assessments.id"], name=LATEST_FK),
            sa.ForeignKeyConstraint(["next_visit_id"], ["follow_up_visits.id"], name=NEXT_VISIT_FK),
        ]
        if dialect == "sqlite"
        else []
    )
    op.create_table(
        "patients",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("assessment_count", sa.Integer(), nullable=False),
        sa.Column("latest_assessment_id", BIG_ID, nullable=True),
        sa.Column("last_assessment_date", sa.Date(), nullable=True),
        sa.Column("last_pathway", sa.String(40), nullable=True),
        sa.Column("last_urgency", sa.String(16), nullable=True),
        sa.Column("next_visit_id", BIG_ID, nullable=True),
        sa.Column("course_alert", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_patients"),
        *current_state_fks,
    )
    op.create_table(
        "assessments",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("assessment_date", sa.Date(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("pathway", sa.String(40), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("rule_set_id", sa.String(64), nullable=False),
        sa.Column("rule_set_version", sa.String(32), nullable=False),
        sa.Column("rule_set_sha256", sa.String(64), nullable=False),
        sa.Column("mjoa_total", sa.Integer(), nullable=True),
        sa.Column("mjoa_ue_motor", sa.Integer(), nullable=True),
        sa.Column("mjoa_le_motor", sa.Integer(), nullable=True),
        sa.Column("mjoa_ue_sensation", sa.Integer(), nullable=True),
        sa.Column("mjoa_sphincter", sa.Integer(), nullable=True),
        sa.Column("nurick", sa.Integer(), nullable=True),
        sa.Column("next_visit_number", sa.Integer(), nullable=True),
        sa.Column("findings", DOCUMENT, nullable=False),
        sa.Column("recommendation", DOCUMENT, nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name="fk_assessments_patient_id_patients"),
        sa.PrimaryKeyConstraint("id", name="pk_assessments"),
    )
    op.create_index(
        "ix_assessments_patient_id_assessment_date_created_at_id",
        "assessments",
        ["patient_id", "assessment_date", "created_at", "id"],
    )
    op.create_table(
        "follow_up_visits",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("assessment_id", BIG_ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("window_start", sa.Date(), nullable=False),
        sa.Column("window_end", sa.Date(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("mri_due", sa.Boolean(), nullable=False),
        sa.Column("schedule_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessments.id"],
            name="fk_follow_up_visits_assessment_id_assessments",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_follow_up_visits"),
        sa.UniqueConstraint("assessment_id", "number", name="uq_follow_up_visits_assessment_id_number"),
    )
    if dialect != "sqlite":
        op.create_foreign_key(LATEST_FK, "patients", "assessments", ["latest_assessment_id"], ["id"])
        op.create_foreign_key(NEXT_VISIT_FK, "patients", "follow_up_visits", ["next_visit_id"], ["id"])
    op.create_table(
        "audit_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("rule_set_version", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_patient_id", "audit_events", ["patient_id"])
    for statement in SQLITE_TRIGGERS if dialect == "sqlite" else POSTGRESQL_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
        # Break the patients -> assessments -> patients cycle so the tables drop with foreign keys on.
        op.execute("UPDATE patients SET latest_assessment_id = NULL, next_visit_id = NULL")
    else:
        op.drop_constraint(NEXT_VISIT_FK, "patients", type_="foreignkey")
        op.drop_constraint(LATEST_FK, "patients", type_="foreignkey")
    op.drop_index("ix_audit_events_patient_id", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_table("follow_up_visits")
    op.drop_index("ix_assessments_patient_id_assessment_date_created_at_id", table_name="assessments")
    op.drop_table("assessments")
    op.drop_table("patients")
    if dialect != "sqlite":
        op.execute("DROP FUNCTION audit_events_append_only()")
