"""The server entry point: the Streamlit app (``app.py``) plus plain HTTP routes beside it.

Run it with ``streamlit run asgi.py`` (the same flags and ``.streamlit/config.toml`` as
``app.py``) or ``uvicorn asgi:app``. ``app.py`` stays the router that AppTest drives.
"""

import streamlit as st

from myelo_cds.service import health

app = st.App("app.py", routes=[*health.routes])
