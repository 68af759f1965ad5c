"""myelo-cds: the Streamlit entry point (a router only; pages hold the UI, myelo_cds the logic)."""

import streamlit as st

from myelo_cds.ui.identity import signed_in_user
from myelo_cds.ui.signin import allowed_pages, render_account

# Each page with the permission its role needs (myelo_cds.identity.PERMISSIONS); the first is the default.
PAGES = [
    ("pages/consult.py", "Consult", ":material/stethoscope:", "consult"),
    ("pages/follow_up.py", "Follow-up plan", ":material/calendar_month:", "consult"),
    ("pages/timeline.py", "Patient timeline", ":material/timeline:", "view_records"),
    ("pages/worklist.py", "Clinic worklist", ":material/checklist:", "view_records"),
    ("pages/rules_evidence.py", "Rules & evidence", ":material/gavel:", "consult"),
    ("pages/about.py", "About & patient information", ":material/info:", "consult"),
    ("pages/assess_case.py", "Assess a case file", ":material/fact_check:", "consult"),
    ("pages/registry_audit.py", "Registry audit", ":material/assignment:", "export_records"),
    ("pages/audit.py", "Audit log", ":material/policy:", "view_audit"),
    # Resident training
    ("pages/quiz.py", "Training quiz", ":material/school:", "train"),
    ("pages/training_progress.py", "Training progress", ":material/monitoring:", "train"),
    ("pages/supervisor.py", "Supervisor view", ":material/supervisor_account:", "supervise_training"),
    ("pages/case_authoring.py", "Case authoring", ":material/edit_document:", "train"),
]

st.set_page_config(page_title="myelo-cds", page_icon=":material/neurology:", layout="wide")
user = signed_in_user()
if user is None:
    # Nobody signed in: no patient page exists in this session, whatever URL was asked for.
    navigation = st.navigation([st.Page("pages/sign_in.py", title="Sign in", icon=":material/login:")])
else:
    render_account(user)
    navigation = st.navigation(allowed_pages(user, PAGES))
navigation.run()
