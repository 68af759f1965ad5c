"""The store's database: one pool of connections, one transaction per call, migrated on first use."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy import Engine, Executable, literal, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from myelo_cds.records._database import WRITE, make_engine
from myelo_cds.records._migrate import upgrade_to_head
from myelo_cds.records._models import RecordError

__all__ = ["Database"]

_Row = TypeVar("_Row", bound=BaseModel)


class Database:
    """The database every part of the store works in.

    Each transaction opens and closes its own session, so one instance (one connection pool)
    can serve every session of a server process. The schema is brought to the newest migration
    before the first transaction.

    Args:
        url: a SQLAlchemy database URL.
    """

    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._migrated = False
        self._migration_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def check_ready(self) -> None:
        """Check that the database answers and its schema is at the newest migration.

        Raises:
            RecordError: the database cannot be reached or migrated; the message names the
                error's kind only (never the URL, which may hold a password).
        """
        try:
            with self.transaction(write=False) as session:
                session.execute(select(literal(1)))
        except SQLAlchemyError as error:
            raise RecordError(f"database not reachable ({type(error).__name__})") from None

    def close(self) -> None:
        """Close the pooled connections (new ones are opened if the database is used again)."""
        self.engine.dispose()

    def _migrate(self) -> None:
        if self._migrated:
            return
        with self._migration_lock:
            if not self._migrated:
                upgrade_to_head(self.engine)
                self._migrated = True

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Session]:
        """One transaction; a write commits at the end, or rolls back wholly on any error."""
        self._migrate()
        with self._sessions() as session:
            session.connection(execution_options={WRITE: True} if write else None)
            yield session
            if write:
                session.commit()

    def rows(self, model: type[_Row], statement: Executable) -> list[_Row]:
        """``statement``'s rows as ``model``s, its columns labelled with the model's field names.

        Core execution and plain dicts: with 10,000 rows the ORM's row objects and mapping views
        cost more than the query itself.
        """
        with self.transaction(write=False) as session:
            result = session.connection().execute(statement)
            names = tuple(result.keys())
            return [model.model_validate(dict(zip(names, row, strict=True))) for row in result]
