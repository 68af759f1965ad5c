"""One store per database URL and server process, shared by the pages and readiness.

A :class:`Store` records the SQLite file's identity (device and inode) the first time it opens
the file, and keeps a pool of connections. Were readiness (``/readyz``) and the pages to hold
stores of their own, a file replaced before readiness first asked would become readiness's
"own" file and pass, while the pages refuse it (or the other way round), and each would keep a
pool. :func:`shared_store` hands every caller in the process the same store for a URL, and
:func:`open_shared_store` opens it when the server starts, so the identity recorded is the
file's at start, not at whichever first use came later.
"""

from __future__ import annotations

import threading

from myelo_cds.records._database import database_url
from myelo_cds.records._models import RecordError
from myelo_cds.records._store import Store

__all__ = ["open_shared_store", "shared_store"]

_LOCK = threading.Lock()
_STORES: dict[str, Store] = {}


def shared_store(url: str | None = None) -> Store:
    """This process's store for ``url`` (default :func:`database_url`), made on first ask.

    Every session of a server and its readiness probe get the same object, so they share one
    connection pool, one recorded file identity and one answer to "can a save go through".
    No patient data is held: a store returns fresh copies on each call.
    """
    key = url or database_url()
    with _LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = Store(key)
        return store


def open_shared_store(url: str | None = None, *, timeout: float = 10.0) -> str | None:
    """Open the shared store now (migrating a new database where this process may, and recording
    the SQLite file's identity) and probe a save; return why it cannot save, or ``None``.

    Meant for a server's start: a database that is down or refuses is not an error here (the
    replica starts and readiness reports it, and it turns ready once the database answers). A
    probe that takes longer than ``timeout`` seconds (a PostgreSQL server that does not answer)
    is left running in the background and reported as such.
    """
    store = shared_store(url)
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            store.check_ready()
        except RecordError as error:
            outcome.append(str(error))
        except Exception as error:  # a start-up step never raises from its thread
            outcome.append(f"database check failed ({type(error).__name__})")
        else:
            outcome.append(None)

    thread = threading.Thread(target=probe, name="myelo-cds-open-store", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return f"database did not answer within {timeout:g} s"
    return outcome[0]
