"""The deployment's ASGI app: the Streamlit app and the CDS Hooks service in one server.

``uvicorn asgi:app --host 127.0.0.1 --port 8501`` serves the pages as ``streamlit run app.py``
does, plus ``/cds-services`` (CDS Hooks discovery and the patient-view service).
"""

import streamlit as st

from myelo_cds.service.cds_hooks import routes as cds_hooks_routes

app = st.App("app.py", routes=cds_hooks_routes())
