"""myelo-cds: the Streamlit entry point (a router only; pages hold the UI, myelo_cds the logic)."""

import streamlit as st

st.set_page_config(page_title="myelo-cds", page_icon=":material/neurology:", layout="wide")
navigation = st.navigation(
    [
        st.Page("pages/consult.py", title="Consult", icon=":material/stethoscope:", default=True),
        st.Page("pages/assess_case.py", title="Assess a case file", icon=":material/fact_check:"),
    ]
)
navigation.run()
