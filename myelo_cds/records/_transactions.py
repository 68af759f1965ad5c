"""The store's database: one pool of connections, one transaction per call, migrated on first use.

A database failure reaches callers as a :class:`RecordError` that names only the failure's kind
(``OperationalError``), never the statement's values nor the URL, so that a page can show it
and a log can hold it without patient data. A SQLite file replaced or removed while the server
runs (its device and inode differ from those recorded when the store opened it) is refused for
writes and makes the replica not ready, instead of saves going silently to the deleted file.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import BaseModel
from sqlalchemy import Engine, Executable, literal, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from myelo_cds.records._database import (
    WRITE,
    FileIdentity,
    file_identity,
    make_engine,
    migration_database_url,
)
from myelo_cds.records._migrate import alembic_config, upgrade_to_head
from myelo_cds.records._models import RecordError

__all__ = ["Database", "failure_message"]

_Row = TypeVar("_Row", bound=BaseModel)
# Tables a clinician's save writes: the app's role must be allowed to insert into each.
_SAVED_TABLES = ("assessments", "follow_up_visits", "patients", "audit_events")
#: How long a save check's answer stands before the next probe (a failed or successful save
#: updates it at once).
SAVE_CHECK_SECONDS = 5.0


class Database:
    """The database every part of the store works in.

    Each transaction opens and closes its own session, so one instance (one connection pool)
    can serve every session of a server process. Before the first transaction the schema's
    revision is read: a schema at the newest revision needs nothing (and no right to change
    it); one behind is migrated, unless migrations run as a separate owner role
    (``MYELO_CDS_MIGRATION_DATABASE_URL`` set, or ``migrate=False``): then it is refused with
    the command to run.

    Args:
        url: a SQLAlchemy database URL.
        migrate: migrate on first use; default: unless a separate migration URL is set.
    """

    def __init__(self, url: str, *, migrate: bool | None = None) -> None:
        self.engine: Engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._migrates = migration_database_url() is None if migrate is None else migrate
        self._migrated = False
        self._migration_lock = threading.Lock()
        self._identity: FileIdentity | None = None
        self._save_status: tuple[float, str | None] | None = None

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def check_ready(self) -> None:
        """Check that the database answers, is at the newest migration and can take a save.

        SQLite: the file is the one the store opened (not deleted, replaced or moved), not
        marked read-only, and a write goes through (a write transaction whose change is rolled
        back). PostgreSQL: the
        server is not a read-only standby, the session may write and the app's role may insert
        into every table a save writes.

        Raises:
            RecordError: the database cannot be reached, migrated or written; the message names
                the error's kind only (never the URL, which may hold a password).
        """
        try:
            with self._sessions() as session:
                self._migrate()
                self._check_same_file()
                self._check_file_writable()
                session.connection(execution_options={WRITE: True})
                session.execute(select(literal(1)))
                if self.backend == "sqlite":
                    session.execute(text("UPDATE alembic_version SET version_num = version_num"))
                else:
                    self._check_postgresql_writable(session)
                session.rollback()
        except RecordError:
            raise
        except SQLAlchemyError as error:
            # a read-only database or a refused privilege answered; anything else did not
            what = "database cannot take a save" if _cause(error) else "database not reachable"
            raise RecordError(failure_message(error, what)) from None
        except OSError as error:
            raise RecordError(f"database not reachable ({type(error).__name__})") from None

    def save_problem(self, max_age: float = SAVE_CHECK_SECONDS) -> str | None:
        """Why a save would fail now (:meth:`check_ready`'s answer), or ``None`` if it would not.

        The probe runs at most once every ``max_age`` seconds per process, so a page may ask on
        every rerun; a save that fails or succeeds in between updates the answer at once.
        """
        now = time.monotonic()
        status = self._save_status
        if status is not None and now - status[0] < max_age:
            return status[1]
        try:
            self.check_ready()
        except RecordError as error:
            problem: str | None = str(error)
        else:
            problem = None
        self._save_status = (time.monotonic(), problem)
        return problem

    def _check_file_writable(self) -> None:
        """Refuse a SQLite file whose owner may not write it (``chmod 0444``): SQLite would open
        it read-only for the server's user (root alone could still write, and should not)."""
        path = self.engine.url.database
        if self.backend != "sqlite" or not path:
            return
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if not mode & stat.S_IWUSR or not os.access(path, os.W_OK):
            raise _UnusableFile(
                f"the record database file is read-only (mode {mode:o}): nothing can be saved;"
                " make it writable by the server's user"
            )

    @staticmethod
    def _check_postgresql_writable(session: Session) -> None:
        standby, read_only = session.execute(
            text("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')")
        ).one()
        if standby or read_only == "on":
            raise RecordError("database is read-only (a standby or a read-only session): saves would fail")
        for table in _SAVED_TABLES:
            allowed = session.execute(
                text("SELECT has_table_privilege(current_user, :table, 'INSERT')"), {"table": table}
            ).scalar_one()
            if not allowed:
                raise RecordError(f"the app's database role may not insert into {table}: saves would fail")

    def close(self) -> None:
        """Close the pooled connections (new ones are opened if the database is used again)."""
        self.engine.dispose()

    def _migrate(self) -> None:
        """Bring the schema to the newest revision on first use, or, for a store that does not
        migrate (an app role without DDL rights), refuse a schema that is behind, saying what
        to run. A schema at the newest revision needs no lock and no right to change it."""
        if self._migrated:
            return
        with self._migration_lock:
            if self._migrated:
                return
            current, head = self._revisions()
            if current != head:
                behind = (
                    f"the record database's schema is at revision {current or 'none'},"
                    f" this version needs {head}"
                )
                if not self._migrates:
                    raise RecordError(f"{behind}: run 'python -m myelo_cds migrate' as the schema's owner")
                try:
                    upgrade_to_head(self.engine)
                except SQLAlchemyError as error:
                    if "permission denied" in str(getattr(error, "orig", "")).lower():
                        raise RecordError(
                            f"{behind} and the app's database role may not migrate it: run"
                            " 'python -m myelo_cds migrate' with MYELO_CDS_MIGRATION_DATABASE_URL"
                            " set to the schema owner's URL"
                        ) from None
                    raise
            self._identity = file_identity(self.engine.url)
            self._migrated = True

    def _revisions(self) -> tuple[str | None, str | None]:
        """The schema's revision now and the newest revision of the migration scripts."""
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        return current, head

    def _check_same_file(self) -> None:
        """Refuse a SQLite file deleted, replaced or moved since the store opened it (for reads
        too: a new empty file would hide the stored visits, and with them a deterioration)."""
        if self._identity is not None and file_identity(self.engine.url) != self._identity:
            raise _UnusableFile(
                "the record database file was replaced or removed since this server opened it:"
                " nothing can be saved; restart the server on the right file"
            )

    @contextmanager
    def transaction(self, *, write: bool, snapshot: bool = False) -> Iterator[Session]:
        """One transaction; a write commits at the end, or rolls back wholly on any error.

        Args:
            write: the transaction writes (SQLite: takes the write lock when it begins).
            snapshot: every statement sees the same committed state (PostgreSQL: REPEATABLE
                READ; a SQLite reader sees one snapshot anyway).

        Raises:
            RecordError: the database failed (the message names the failure's kind only).
        """
        try:
            self._migrate()
            self._check_same_file()
            if write:
                self._check_file_writable()
            options: dict[str, Any] = {WRITE: True} if write else {}
            if snapshot and self.backend == "postgresql":
                options["isolation_level"] = "REPEATABLE READ"
            with self._sessions() as session:
                session.connection(execution_options=options or None)
                yield session
                if write:
                    session.commit()
        except SQLAlchemyError as error:
            what = (
                "the record database could not save, nothing was saved"
                if write
                else "the record database could not be read"
            )
            problem = failure_message(error, what)
            if write and not isinstance(error, IntegrityError):  # not a fault of the data
                self._save_status = (time.monotonic(), problem)
            raise RecordError(problem) from None
        except _UnusableFile as error:
            self._save_status = (time.monotonic(), str(error))
            raise
        if write:
            self._save_status = (time.monotonic(), None)

    def rows(self, model: type[_Row], statement: Executable) -> list[_Row]:
        """``statement``'s rows as ``model``s, its columns labelled with the model's field names.

        Core execution and plain dicts: with 10,000 rows the ORM's row objects and mapping views
        cost more than the query itself.
        """
        with self.transaction(write=False) as session:
            result = session.connection().execute(statement)
            names = tuple(result.keys())
            return [model.model_validate(dict(zip(names, row, strict=True))) for row in result]


class _UnusableFile(RecordError):
    """The SQLite file is not the one the store opened, or is marked read-only."""


def _cause(error: SQLAlchemyError) -> str | None:
    """A read-only database or a refused privilege in words, from the driver's message."""
    message = str(getattr(error, "orig", "") or "").lower()
    if "readonly" in message or "read-only" in message or "read only" in message:
        return "the database is read-only"
    if "permission denied" in message:
        return "the app's database role is not allowed to do this"
    return None


def failure_message(error: SQLAlchemyError, what: str) -> str:
    """``what`` and the failure's kind (a read-only database or a refused privilege in words),
    never the driver's message, which can quote the values of the statement."""
    kind = type(error).__name__
    cause = _cause(error)
    return f"{what} ({cause}: {kind})" if cause else f"{what} ({kind})"
