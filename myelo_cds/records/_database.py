"""Where the records live and how a connection to them is opened.

SQLite (the default, zero set-up) runs in WAL mode with ``synchronous=FULL`` and foreign keys
on: readers never block the writer, a commit is on disk before it returns, and a process killed
mid-save leaves the last committed state. Writers take the database lock when their transaction
begins (``BEGIN IMMEDIATE``) and queue behind each other for up to the busy timeout, instead of
failing half-way when two sessions save at once. PostgreSQL is used through psycopg 3.

Every engine is made with ``hide_parameters=True``: a database error's message (which a server
logs) then never carries the values of the statement (a case id, findings, a draft token).

Migrations may run as another role than the app (``MYELO_CDS_MIGRATION_DATABASE_URL``, the
schema's owner): the app then only checks that the schema is at the newest revision and never
migrates, so its own role needs no right to create, alter or drop anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL

from myelo_cds.errors import SettingsError

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "WRITE",
    "FileIdentity",
    "database_url",
    "file_identity",
    "make_engine",
    "migration_database_url",
]

#: How long a writer waits for another writer's transaction before giving up.
BUSY_TIMEOUT_SECONDS = 30
#: Execution option that marks a transaction as a write (SQLite: ``BEGIN IMMEDIATE``).
WRITE = "myelo_cds_write"
_DEFAULT_FILE = "myelo_cds.sqlite3"


def database_url() -> str:
    """The database to use.

    Returns:
        ``MYELO_CDS_DATABASE_URL`` if set (e.g. ``postgresql+psycopg://user:pw@host/db``), else a
        SQLite file: ``MYELO_CDS_DB_PATH`` or ``./myelo_cds.sqlite3``, made absolute now so a
        later change of directory does not move the records.
    """
    url = os.environ.get("MYELO_CDS_DATABASE_URL", "").strip()
    if url:
        return url
    path = Path(os.environ.get("MYELO_CDS_DB_PATH", "").strip() or _DEFAULT_FILE).expanduser()
    return URL.create("sqlite", database=str(path.resolve())).render_as_string(hide_password=False)


def migration_database_url() -> str | None:
    """The schema owner's database URL, ``MYELO_CDS_MIGRATION_DATABASE_URL``, if set.

    When set, ``python -m myelo_cds migrate`` migrates as this role and grants the app's role
    what it needs; the app itself (``MYELO_CDS_DATABASE_URL``) no longer migrates on start.
    """
    return os.environ.get("MYELO_CDS_MIGRATION_DATABASE_URL", "").strip() or None


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """Which file a path names: its device and inode (a file deleted and made again differs)."""

    device: int
    inode: int


def file_identity(url: str | URL) -> FileIdentity | None:
    """The identity of a SQLite URL's file now; ``None`` for another backend or no file."""
    parsed = _normalised(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    try:
        status = os.stat(parsed.database)
    except OSError:
        return None
    return FileIdentity(status.st_dev, status.st_ino)


def _normalised(url: str | URL) -> URL:
    parsed = make_url(url)
    # A bare postgresql:// URL would pick psycopg2, which is not installed: use psycopg 3.
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's begin event issue BEGIN (pysqlite's own transaction handling would defer
    # it past the first SELECT and could not take the write lock up front).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    if connection.get_execution_options().get(WRITE):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the SQLite settings above (or psycopg for PostgreSQL).

    Raises:
        SettingsError: for an in-memory SQLite database, which every connection would see empty.
    """
    parsed = _normalised(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise SettingsError("records need a database file: give a SQLite path, not an in-memory database")
        engine = create_engine(
            parsed,
            connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            hide_parameters=True,
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
