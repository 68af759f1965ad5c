"""HTTP routes served beside the Streamlit app by the ASGI entry point (``asgi.py``).

No Streamlit here: each module (readiness, CDS Hooks) exposes Starlette routes that ``asgi.py``
mounts.
"""
