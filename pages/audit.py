"""Audit log (admin): who created, viewed or exported what and when, with the rule-set version."""

import streamlit as st

from myelo_cds.exports.csv_safety import safe_csv
from myelo_cds.records import RecordError
from myelo_cds.ui.current_user import require
from myelo_cds.ui.downloads import audited_download_button
from myelo_cds.ui.records import store

require("view_audit")
st.title("Audit log")
st.caption("Append-only: the database refuses changes and deletions of audit events.")
patient = st.text_input("Only this patient (pseudonymous id)", max_chars=64) or None
limit = st.number_input("Newest events to show", min_value=10, max_value=100_000, value=500, step=100)
try:
    events = store().audit_events(int(limit), patient_id=patient)
except RecordError as error:  # e.g. a name typed as the patient id: say what is allowed
    st.error(str(error), icon=":material/edit_note:")
    st.stop()
rows = [event.model_dump(mode="json") for event in events]
st.dataframe(rows, hide_index=True, width="stretch")


def _csv() -> str:
    return safe_csv(rows, list(rows[0]) if rows else ["at"])


audited_download_button(
    "Export (CSV)", _csv, file_name="audit-log.csv", mime="text/csv", action="export", detail="audit log csv"
)
