"""Router for the page-latency benchmark: the real consult page and the bare form side by side."""

import streamlit as st

st.set_page_config(page_title="bench", layout="wide")
st.navigation(
    [
        st.Page("../pages/consult.py", title="Consult", default=True),
        st.Page("pages/bare_form.py", title="Bare form", url_path="bare"),
    ]
).run()
