"""The server entry point: the Streamlit app (``app.py``) plus plain HTTP routes beside it.

Run it with ``streamlit run asgi.py`` (the same flags and ``.streamlit/config.toml`` as
``app.py``) or ``uvicorn asgi:app``. Beside the pages it serves ``/readyz`` (readiness: the
database answers) and ``/cds-services`` (CDS Hooks discovery and the patient-view service).
``app.py`` stays the router that AppTest drives.
"""

import streamlit as st

from myelo_cds.service import health
from myelo_cds.service.cds_hooks import routes as cds_hooks_routes

app = st.App("app.py", routes=[*health.routes, *cds_hooks_routes()])
