"""The server entry point: the Streamlit app (``app.py``) plus plain HTTP routes beside it.

Run it with ``streamlit run asgi.py`` (the same flags and ``.streamlit/config.toml`` as
``app.py``) or ``uvicorn asgi:app``. Beside the pages it serves ``/readyz`` (readiness: warmed
up and the database answers) and ``/cds-services`` (CDS Hooks discovery and the patient-view
service). ``app.py`` stays the router that AppTest drives.

When the server starts, a background thread warms it (``myelo_cds.service.warmup``): the rule
set and the engine on the example cases, then every module ``app.py`` and the pages import, so
the first clinician's first page is served warm; ``/readyz`` turns ready only after that.
"""

import contextlib
import gc
from collections.abc import AsyncIterator
from pathlib import Path

import streamlit as st

from myelo_cds.service import health, warmup
from myelo_cds.service.cds_hooks import routes as cds_hooks_routes

HERE = Path(__file__).resolve().parent
#: The scripts whose imports the warm-up loads: the router and every page.
SCRIPTS = [HERE / "app.py", *sorted((HERE / "pages").glob("*.py"))]


def warm_page_modules() -> None:
    warmup.import_script_modules(SCRIPTS)


@contextlib.asynccontextmanager
async def warm_up(_app: st.App) -> AsyncIterator[None]:
    """Start the warm-up when the server starts (the server answers liveness meanwhile)."""
    warmup.STATE.start([warmup.warm_engine, warm_page_modules], then=gc.freeze)
    yield None


app = st.App("app.py", routes=[*health.routes, *cds_hooks_routes()], lifespan=warm_up)
