"""Supervisor view: every resident's training results (supervisors and admins only)."""

import datetime as dt

import streamlit as st

from myelo_cds.teaching import attempts_by_trainee, due_cases
from myelo_cds.ui.current_user import require
from myelo_cds.ui.records import store
from myelo_cds.ui.teaching import library, render_progress

st.title("Supervisor view")
user = require("supervise_training")

today = dt.date.today()
cases = library()
by_trainee = attempts_by_trainee(store(), user)
if not by_trainee:
    st.info("No resident has committed a quiz answer yet.", icon=":material/info:")
    st.stop()
summary = []
for trainee, attempts in by_trainee.items():
    due = [row for row in due_cases(cases, attempts, today) if row.status in ("overdue", "due")]
    summary.append(
        {
            "trainee": trainee,
            "answers": len(attempts),
            "pathway accuracy": round(sum(a.pathway_correct for a in attempts) / len(attempts), 2),
            "mean score": round(sum(a.score for a in attempts) / len(attempts), 2),
            "last answer": attempts[-1].attempted_at,
            "due or overdue": len(due),
        }
    )
st.dataframe(summary, hide_index=True, width="stretch")
chosen = st.selectbox(
    "Resident", list(by_trainee), index=None, placeholder="choose a resident to see their progress"
)
if chosen is not None:
    st.header(chosen)
    render_progress(by_trainee[chosen], cases, today)
