"""Alembic environment for the patient records.

Called two ways: by ``myelo_cds.records.Store`` with an open connection that already holds the
migration lock (``config.attributes["connection"]``), or by the ``alembic`` command, which
connects to ``-x url=...`` or :func:`myelo_cds.records.database_url` and takes the same lock.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from myelo_cds.records._database import database_url, make_engine
from myelo_cds.records._migrate import locked_transaction
from myelo_cds.records._schema import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    given: str | None = context.get_x_argument(as_dictionary=True).get("url")
    return given or config.get_main_option("sqlalchemy.url") or database_url()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: later migrations rebuild the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    engine = make_engine(_url())
    try:
        with locked_transaction(engine) as locked:
            _run(locked)
    finally:
        engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
