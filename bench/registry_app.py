"""Router for the resilience benchmark: the real consult page and the registry-load page."""

import streamlit as st

st.set_page_config(page_title="bench", layout="wide")
st.navigation(
    [
        st.Page("../pages/consult.py", title="Consult", default=True),
        st.Page("pages/registry_load.py", title="Registry load", url_path="registry-load"),
    ]
).run()
