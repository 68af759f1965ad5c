"""Schema migrations: Alembic, run to head under a lock so that two processes starting at once
on a new database do not both create the tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

from myelo_cds._paths import migrations_dir
from myelo_cds.records._database import WRITE

__all__ = ["MIGRATIONS_DIR", "alembic_config", "locked_transaction", "upgrade_to_head"]

#: The Alembic scripts: inside an installed package, else ``migrations/`` of the checkout.
MIGRATIONS_DIR = migrations_dir()
# Any fixed 64-bit number: the key of the PostgreSQL advisory lock held while migrating.
_MIGRATION_LOCK_KEY = 0x6D79656C6F5F6D67


@contextmanager
def locked_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the migration lock until it commits.

    SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock. PostgreSQL: a transaction-level
    advisory lock (DDL is transactional there, so a failed migration leaves nothing behind).
    """
    with engine.connect() as connection:
        connection.execution_options(**{WRITE: True})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            yield connection


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for ``migrations/`` that uses ``connection`` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database to the newest schema (a no-op when it is there already)."""
    with locked_transaction(engine) as connection:
        command.upgrade(alembic_config(connection), "head")
