"""The server entry point: the Streamlit app (``app.py``) plus plain HTTP routes beside it.

Run it with ``streamlit run asgi.py`` (the same flags and ``.streamlit/config.toml`` as
``app.py``) or ``uvicorn asgi:app``. Beside the pages it serves ``/readyz`` (readiness: warmed
up and the database answers), ``/cds-services`` (CDS Hooks discovery and the patient-view
service) and ``/smart/launch`` with ``/smart/callback`` (the EHR launch, SMART App Launch
2.0). ``app.py`` stays the router that AppTest drives.

When the server starts it first refuses unsafe settings (``myelo_cds.ui.start_up``: a
placeholder or short cookie secret, single sign-on roles without an explicit map, the development
mode on a public address): it logs each problem, naming the setting, and stops; readiness never
turns ready. Then a background thread warms it (``myelo_cds.service.warmup``): the rule
set and the engine on the example cases, then every module ``app.py`` and the pages import, so
the first clinician's first page is served warm, after opening the record store the pages and
readiness share; ``/readyz`` turns ready only after that.
"""

import contextlib
import gc
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import streamlit as st

from myelo_cds.errors import SettingsError
from myelo_cds.service import health, warmup
from myelo_cds.service.cds_hooks import routes as cds_hooks_routes
from myelo_cds.service.smart import routes as smart_routes
from myelo_cds.ui.start_up import start_up_problems

HERE = Path(__file__).resolve().parent
#: The scripts whose imports the warm-up loads: the router and every page.
SCRIPTS = [HERE / "app.py", *sorted((HERE / "pages").glob("*.py"))]


def warm_page_modules() -> None:
    warmup.import_script_modules(SCRIPTS)


_LOG = logging.getLogger("myelo_cds.start_up")


def quiet_http_client_logs() -> None:
    """httpx logs every request's URL at INFO, and the FHIR URLs of the EHR launch and of the CDS
    Hooks fetches name the patient (``Patient/<id>``, ``?patient=``): warnings only, whatever
    level the deployment logs at."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


quiet_http_client_logs()


def refuse_unsafe_settings() -> None:
    """Stop the server before it serves anyone when a setting is unsafe (each one logged by name).

    Raises:
        SettingsError: naming every unsafe setting; readiness records the names and stays 503.
    """
    problems = start_up_problems()
    if not problems:
        return
    for problem in problems:
        _LOG.error("myelo-cds refuses to start: %s", problem)
    # Readiness names the settings only (each message starts with its setting's name).
    names = [re.match(r"[^ :(]+", problem).group(0) for problem in problems]  # type: ignore[union-attr]
    warmup.STATE.refuse("unsafe settings: " + ", ".join(names))
    raise SettingsError("myelo-cds refuses to start: " + " | ".join(problems))


@contextlib.asynccontextmanager
async def warm_up(_app: st.App) -> AsyncIterator[None]:
    """Refuse unsafe settings, then start the warm-up (the server answers liveness meanwhile)."""
    refuse_unsafe_settings()
    # The record store first: the SQLite file's identity is recorded as the server starts.
    warmup.STATE.start([health.open_record_store, warmup.warm_engine, warm_page_modules], then=gc.freeze)
    yield None


app = st.App("app.py", routes=[*health.routes, *cds_hooks_routes(), *smart_routes()], lifespan=warm_up)
