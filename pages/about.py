"""About and patient information: what the tool is, and a plain-language handout for the current plan."""

import json

import streamlit as st
from pydantic import ValidationError

from myelo_cds import Findings, Recommendation, assess, default_rule_set
from myelo_cds.exports import handout_pdf, handout_text
from myelo_cds.findings import example_cases
from myelo_cds.ui.consult_form import draft_values, findings_data
from myelo_cds.ui.current_user import require
from myelo_cds.ui.downloads import audited_download_button

rule_set = default_rule_set()
require("consult")
st.title("About and patient information")
st.markdown(
    "**myelo-cds** is decision support for clinicians assessing adults with degenerative cervical "
    "myelopathy (DCM) or cervical cord compression. It proposes one guideline-based pathway and shows "
    "every rule, input and source behind it. **It does not decide: the clinician does.**"
)
st.caption(f"Rule set {rule_set.id} {rule_set.version}. {rule_set.intended_use}")

st.header("Patient information")
consult: Recommendation | None
try:
    consult = assess(Findings.model_validate(findings_data(draft_values())))
except ValidationError:
    consult = None
if consult is not None and not consult.incomplete:  # a handout only for a consult with a pathway
    rec, source = consult, "the consult in progress"
else:
    example = st.selectbox(
        "No consult in progress: preview the handout for an example", list(example_cases())
    )
    rec = assess(Findings.model_validate(json.loads(example_cases()[example])))
    source = f"the example '{example}'"
st.caption(f"Built for {source}: {rec.pathway.replace('_', ' ')}. Reviewed against the clinical reference.")
audited_download_button(
    "Patient handout (PDF)",
    lambda: handout_pdf(rec),
    file_name="patient-handout.pdf",
    mime="application/pdf",
    icon=":material/description:",
    action="export_pdf",
    patient_id=rec.case_id if rec is consult else None,  # an example's handout is about nobody
    detail="patient handout" if rec is consult else "patient handout (example)",
)
with st.container(border=True):
    st.markdown(handout_text(rec))
