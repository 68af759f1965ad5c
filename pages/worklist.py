"""Clinic worklist: patients due, overdue and recently deteriorated, from the stored schedules;
the most pressing first (see ``worklist_table``: due now, then by urgency tier)."""

import datetime as dt

import streamlit as st

from myelo_cds._grammar import count
from myelo_cds.auth import may
from myelo_cds.exports.csv_safety import safe_csv
from myelo_cds.ui.current_user import require
from myelo_cds.ui.downloads import audited_download_button
from myelo_cds.ui.records import store, worklist_table
from myelo_cds.ui.worklist import WORKLIST_COLUMNS, render_open_patient

user = require("view_records")
st.title("Clinic worklist")
left, middle, right = st.columns(3)
today = left.date_input("Worklist date", value=dt.date.today(), format="YYYY-MM-DD")
within = middle.number_input("Due within (days)", min_value=0, max_value=365, value=14, step=7)
statuses = right.multiselect(
    "Show", ["overdue", "due", "scheduled"], default=["overdue", "due"], help="Status of the next visit"
)
alerts_only = st.toggle("Only patients with a course alert (deterioration, failure to improve)")

rows = [
    row
    for row in store().worklist(today, due_within_days=int(within))
    if row.status in statuses and (row.course_alert or not alerts_only)
]
st.caption(count(len(rows), "patient"))
table = worklist_table(rows)
st.dataframe(table, hide_index=True, width="stretch", column_config=WORKLIST_COLUMNS)
render_open_patient([str(row["patient"]) for row in table])


def _csv() -> str:
    return safe_csv(table, list(table[0]) if table else ["status"])


if not may(user, "export_records"):
    st.caption(f"Your role ({user.role}) does not export patient lists.")
    st.stop()
audited_download_button(
    "Export the worklist (CSV)",
    _csv,
    file_name=f"worklist-{today}.csv",
    mime="text/csv",
    icon=":material/download:",
    action="export",
    detail="worklist csv",
)
