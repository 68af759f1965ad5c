"""Patient timeline: every stored visit, the mJOA and its sub-domains over time, and course alerts."""

import streamlit as st

from myelo_cds.course import course_alerts, timeline
from myelo_cds.rules.engine import PATHWAY_LABELS
from myelo_cds.ui.charts import mjoa_timeline, subdomain_timeline
from myelo_cds.ui.current_user import require
from myelo_cds.ui.records import LAST_CASE_ID, render_alerts, store

user = require("view_records")
st.title("Patient timeline")
patients = store().patients()
if not patients:
    st.info("No stored assessments yet: save a consult to start a patient's record.", icon=":material/info:")
    st.stop()
ids = [p.patient_id for p in patients]
just_seen = st.session_state.get(LAST_CASE_ID)  # saved on the consult, or picked on the worklist
patient_id = st.selectbox(
    "Patient (pseudonymous id)",
    ids,
    index=ids.index(just_seen) if just_seen in ids else None,
    placeholder="choose",
)
if patient_id is None:
    st.stop()
records = store().assessments(patient_id)
store().record_event("view", actor=user.user_id, patient_id=patient_id)
render_alerts(course_alerts([record.findings for record in records]))
course = timeline([(r.findings, r.recommendation.pathway, r.recommendation.urgency) for r in records])
st.altair_chart(
    mjoa_timeline(list(course.visits), list(course.annotations), course.mcid_band), width="stretch"
)
if course.subdomains:
    st.altair_chart(subdomain_timeline(list(course.subdomains)))
st.dataframe(
    [
        {
            "date": r.assessment_date,
            "mJOA": r.recommendation.scores.mjoa.total if r.recommendation.scores.mjoa else None,
            "Nurick": "not recorded" if r.findings.nurick is None else str(r.findings.nurick),
            "pathway": PATHWAY_LABELS[r.recommendation.pathway],
            "urgency": r.recommendation.urgency,
            "rules": ", ".join(rule.id for rule in r.recommendation.rules_fired if rule.kind == "pathway"),
            "rule set": r.rule_set_version,
            "author": r.author,
        }
        for r in records
    ],
    hide_index=True,
    width="stretch",
)
