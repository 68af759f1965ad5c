"""Migrations as the schema's owner, and the app's PostgreSQL role given only what it needs.

The app's own role (``MYELO_CDS_DATABASE_URL``) should own nothing: an owner can disable the
audit table's triggers and rewrite it. ``python -m myelo_cds migrate`` runs the migrations as
the owner (``MYELO_CDS_MIGRATION_DATABASE_URL``) and then grants the app's role the privileges
of :data:`APP_PRIVILEGES`, revoking anything else it had on the tables: the audit log and the
assessments can then be appended to and read, never changed or removed, whatever the app does.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, inspect, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from myelo_cds.records._database import make_engine
from myelo_cds.records._migrate import upgrade_to_head
from myelo_cds.records._models import RecordError
from myelo_cds.records._transactions import failure_message

__all__ = ["APP_PRIVILEGES", "DEFAULT_PRIVILEGES", "Migrated", "migrate_schema"]

#: What the app's role may do on each table. ``SELECT ... FOR UPDATE`` (the patient's row, the
#: account's row) needs UPDATE. A table not listed gets :data:`DEFAULT_PRIVILEGES`.
APP_PRIVILEGES = {
    "alembic_version": "SELECT",
    "audit_events": "SELECT, INSERT",
    "assessments": "SELECT, INSERT",
    "follow_up_visits": "SELECT, INSERT",
    "patients": "SELECT, INSERT, UPDATE",
    "accounts": "SELECT, INSERT, UPDATE",
    "training_attempts": "SELECT, INSERT",
}
#: Working tables the app keeps and clears (drafts, sign-in failures).
DEFAULT_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"


@dataclass(frozen=True, slots=True)
class Migrated:
    """What :func:`migrate_schema` did."""

    backend: str
    revision: str | None
    granted_to: str | None
    """The app's role given its privileges, or ``None`` (SQLite, or one role for both)."""


def _quoted(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def _grant(connection: Connection, role: str) -> None:
    owned = connection.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tableowner = :role"),
        {"role": role},
    ).scalars()
    owned_tables = sorted(owned)
    if owned_tables:
        raise RecordError(
            f"the app's role owns {len(owned_tables)} table(s) (e.g. {owned_tables[0]}), so it could alter"
            " the audit log: as a superuser run REASSIGN OWNED BY <app role> TO <owner role>, then"
            " migrate again"
        )
    grantee = _quoted(connection, role)
    schema = _quoted(connection, connection.execute(text("SELECT current_schema()")).scalar_one())
    connection.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO {grantee}"))
    connection.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {grantee}"))
    for table in inspect(connection).get_table_names():
        privileges = APP_PRIVILEGES.get(table, DEFAULT_PRIVILEGES)
        connection.execute(text(f"GRANT {privileges} ON {schema}.{_quoted(connection, table)} TO {grantee}"))
    # New ids come from the tables' sequences.
    connection.execute(text(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {grantee}"))
    connection.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {grantee}"))


def migrate_schema(owner_url: str, app_url: str | None = None) -> Migrated:
    """Bring the schema to the newest revision as ``owner_url``'s role; on PostgreSQL, then give
    ``app_url``'s role (if another) exactly :data:`APP_PRIVILEGES`.

    Raises:
        RecordError: the database failed, or the app's role owns tables (the message says how
            to hand them to the owner); never the URL or a password.
    """
    engine = make_engine(owner_url)
    try:
        upgrade_to_head(engine)
        with engine.begin() as connection:
            revision = connection.execute(
                text("SELECT version_num FROM alembic_version")
            ).scalar_one_or_none()
            owner = None
            if engine.dialect.name == "postgresql":
                owner = connection.execute(text("SELECT current_user")).scalar_one()
            app_role = make_url(app_url).username if app_url else None
            granted = None
            if owner is not None and app_role and app_role != owner:
                _grant(connection, app_role)
                granted = app_role
        return Migrated(backend=engine.dialect.name, revision=revision, granted_to=granted)
    except SQLAlchemyError as error:  # a driver's message can hold values: name the kind only
        raise RecordError(failure_message(error, "migration failed")) from None
    finally:
        engine.dispose()
