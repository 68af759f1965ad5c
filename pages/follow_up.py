"""Follow-up plan: the dated schedule for the consult in progress, as a table, a timeline and a calendar."""

import streamlit as st
from pydantic import ValidationError

from myelo_cds import Findings, Recommendation, assess
from myelo_cds.exports import schedule_ics
from myelo_cds.rules.engine import PATHWAY_LABELS
from myelo_cds.ui.charts import schedule_rows, schedule_timeline
from myelo_cds.ui.consult_form import draft_values, findings_data
from myelo_cds.ui.current_user import require
from myelo_cds.ui.downloads import audited_download_button

require("consult")
st.title("Follow-up plan")
rec: Recommendation | None
try:
    rec = assess(Findings.model_validate(findings_data(draft_values())))
except ValidationError:
    rec = None
if rec is None or rec.incomplete:  # no plan until the consult has what a pathway needs
    st.info(
        "Complete the consult first (Consult, in the menu): the plan follows from its recommendation.",
        icon=":material/info:",
    )
    st.stop()
plan, case_id, urgency = rec.follow_up, rec.case_id, rec.urgency
st.markdown(
    f"**Patient {case_id}**, consult of {rec.assessment_date}"
    if case_id
    else f"**No case id entered on the consult** (consult of {rec.assessment_date})"
)
st.markdown(f"**{PATHWAY_LABELS[rec.pathway]}** ({rec.urgency}) - {plan.title}")
st.caption(
    f"Local protocol {plan.protocol_id} {plan.protocol_version} ({plan.evidence} default; clinic-editable). "
    f"{plan.citation}"
)
st.altair_chart(schedule_timeline(plan), width="stretch")
st.dataframe(schedule_rows(plan), hide_index=True, width="stretch")
st.markdown(f"**MRI:** {plan.mri}")
st.markdown("**Escalate when**\n\n" + "\n".join(f"- {trigger}" for trigger in plan.escalation))
st.warning(plan.red_flag_teaching, icon=":material/campaign:")
for note in plan.notes:
    st.caption(note)
audited_download_button(
    "Download the schedule (.ics)",
    lambda: schedule_ics(plan, case_id, urgency=urgency),
    file_name=f"follow-up-{rec.case_id or 'case'}.ics",
    mime="text/calendar",
    icon=":material/calendar_month:",
    action="export_ics",
    patient_id=rec.case_id,
    detail="follow-up schedule",
)
