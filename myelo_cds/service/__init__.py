"""Services other systems call over HTTP (CDS Hooks); the routes mount on Streamlit's ASGI app."""
