"""myelo-cds: the Streamlit entry point (a router only; pages hold the UI, myelo_cds the logic)."""

import streamlit as st

st.set_page_config(page_title="myelo-cds", page_icon=":material/neurology:", layout="wide")
navigation = st.navigation(
    [
        st.Page("pages/consult.py", title="Consult", icon=":material/stethoscope:", default=True),
        st.Page("pages/follow_up.py", title="Follow-up plan", icon=":material/calendar_month:"),
        st.Page("pages/timeline.py", title="Patient timeline", icon=":material/timeline:"),
        st.Page("pages/worklist.py", title="Clinic worklist", icon=":material/checklist:"),
        st.Page("pages/rules_evidence.py", title="Rules & evidence", icon=":material/gavel:"),
        st.Page("pages/about.py", title="About & patient information", icon=":material/info:"),
        st.Page("pages/assess_case.py", title="Assess a case file", icon=":material/fact_check:"),
        st.Page("pages/registry_audit.py", title="Registry audit", icon=":material/assignment:"),
        st.Page("pages/audit.py", title="Audit log", icon=":material/policy:"),
    ]
)
navigation.run()
