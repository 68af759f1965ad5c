"""Readiness: may this server replica take clinicians? Yes only when warm and its database answers.

Liveness stays Streamlit's own ``/_stcore/health`` (the process serves HTTP). Readiness,
``GET /readyz``, waits for the start-up warm-up (:mod:`myelo_cds.service.warmup`: the engine,
the rule set and the modules the pages import, and :func:`open_record_store`) and then checks
the record database within a time limit (``Store.check_ready``: a write is probed and rolled
back; a SQLite file must be the one the replica opened, not deleted and made again nor marked
read-only; on PostgreSQL the server must not be a read-only standby and the app's role must be
allowed to insert into every table a save writes), so a load balancer, a container
orchestrator or a deployment script sends no one to a replica whose first page would be cold or
that could not save. The answer names no URL, host, path or password, only the kind of failure.

Readiness checks the very store the pages use (:func:`myelo_cds.records.shared_store`: one per
database URL and process), opened at start, so both judge the SQLite file against the identity
it had when the server started and neither can pass a file the other refuses.
"""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from myelo_cds.records import RecordError, open_shared_store, shared_store
from myelo_cds.service import warmup

__all__ = ["READINESS_PATH", "READINESS_TIMEOUT_SECONDS", "open_record_store", "routes"]

READINESS_PATH = "/readyz"
#: Longer than a healthy check takes (a few ms) and shorter than a prober's own timeout.
READINESS_TIMEOUT_SECONDS = 5.0
_NO_STORE = {"Cache-Control": "no-store"}


def open_record_store() -> str | None:
    """A warm-up step: open the store the pages and readiness share, so the SQLite file's
    identity is the one it had at start; return why it cannot take a save, or ``None``.

    A database that fails here fails no warm-up: readiness reports it at each probe, and turns
    ready when the database answers.
    """
    return open_shared_store(timeout=READINESS_TIMEOUT_SECONDS)


def _not_ready(reason: str) -> JSONResponse:
    return JSONResponse({"status": "not ready", "reason": reason}, status_code=503, headers=_NO_STORE)


async def readiness(_request: Request) -> JSONResponse:
    """200 ``{"status": "ready"}`` when warmed up and the database answers, is migrated and takes
    a write, else 503 with why (``warming up``, ``warm-up failed (...)``, the database's failure)."""
    if not warmup.STATE.done:
        return _not_ready("warming up")
    if warmup.STATE.error is not None:
        return _not_ready(f"warm-up failed ({warmup.STATE.error})")
    store = shared_store()
    try:
        await asyncio.wait_for(run_in_threadpool(store.check_ready), READINESS_TIMEOUT_SECONDS)
    except RecordError as error:
        return _not_ready(str(error))
    except TimeoutError:
        return _not_ready(f"database did not answer within {READINESS_TIMEOUT_SECONDS:g} s")
    except Exception as error:  # a probe answers; it never turns a failure into a 500
        return _not_ready(f"database check failed ({type(error).__name__})")
    return JSONResponse({"status": "ready", "database": store.backend}, headers=_NO_STORE)


#: The routes ``asgi.py`` serves beside the app.
routes: list[BaseRoute] = [Route(READINESS_PATH, readiness, methods=["GET", "HEAD"])]
