"""myelo-cds: the Streamlit entry point (a router only; pages hold the UI, myelo_cds the logic)."""

from pathlib import Path

import streamlit as st

from myelo_cds.auth import Permission
from myelo_cds.records import RecordError
from myelo_cds.ui.current_user import signed_in_user
from myelo_cds.ui.record_failure import record_failures_shown, render_sign_in_unavailable
from myelo_cds.ui.signin import allowed_pages, render_account
from myelo_cds.ui.start_up import refuse_unsafe_start
from myelo_cds.ui.style import add_page_scripts, apply_app_style

# Each page with its sidebar section and the permission its role needs (myelo_cds.auth.PERMISSIONS);
# the first is the default.
FAVICON = Path(__file__).resolve().parent / "static" / "favicon.svg"

PAGES: list[tuple[str, str, str, str, Permission]] = [
    ("Consult", "pages/consult.py", "Consult", ":material/stethoscope:", "consult"),
    ("Consult", "pages/follow_up.py", "Follow-up plan", ":material/calendar_month:", "consult"),
    ("Consult", "pages/rules_evidence.py", "Rules & evidence", ":material/gavel:", "consult"),
    ("Consult", "pages/about.py", "About & patient information", ":material/info:", "consult"),
    ("Consult", "pages/assess_case.py", "Assess a case file", ":material/fact_check:", "consult"),
    ("Records", "pages/timeline.py", "Patient timeline", ":material/timeline:", "view_records"),
    ("Records", "pages/worklist.py", "Clinic worklist", ":material/checklist:", "view_records"),
    ("Records", "pages/registry_audit.py", "Registry audit", ":material/assignment:", "export_records"),
    ("Records", "pages/audit.py", "Audit log", ":material/policy:", "view_audit"),
    ("Training", "pages/quiz.py", "Training quiz", ":material/school:", "train"),
    ("Training", "pages/training_progress.py", "Training progress", ":material/monitoring:", "train"),
    (
        "Training",
        "pages/supervisor.py",
        "Supervisor view",
        ":material/supervisor_account:",
        "supervise_training",
    ),
    ("Training", "pages/case_authoring.py", "Case authoring", ":material/edit_document:", "train"),
]

# The favicon is served by the app itself: a Material icon here would be fetched from an outside
# font host, which a hospital network without internet access refuses (one error per page).
st.set_page_config(page_title="myelo-cds", page_icon=str(FAVICON), layout="wide")
apply_app_style()  # readable captions on every page (axe-core, WCAG 2 AA contrast)
refuse_unsafe_start()  # a placeholder secret or an open development mode: no page at all
try:
    user = signed_in_user()
except RecordError as failure:  # the accounts cannot be read: no sign-in is checked, none holds
    render_sign_in_unavailable(failure)
    user = None
if user is None:
    # Nobody signed in: no patient page exists in this session, whatever URL was asked for.
    navigation = st.navigation([st.Page("pages/sign_in.py", title="Sign in", icon=":material/login:")])
else:
    render_account(user)
    with st.sidebar:
        add_page_scripts()  # a tablet opens on the page (sidebar one click away); wide tables take focus
    # Expanded: every page of the role is listed (the default hides all after the tenth).
    navigation = st.navigation(allowed_pages(user, PAGES), expanded=True)
with record_failures_shown():  # a record database failure is a message, never a trace
    navigation.run()
