"""Consult: enter findings the way the exam is done; see one recommendation with its basis."""

import json

import streamlit as st
from pydantic import ValidationError

from myelo_cds import Findings
from myelo_cds.errors import JsonInputError
from myelo_cds.findings import (
    describe_validation_error,
    example_cases,
    parse_json_object,
)
from myelo_cds.ui.consult_answer import assessed
from myelo_cds.ui.consult_form import HIDDEN_NOTE, draft_values, findings_data, load_draft, render_form
from myelo_cds.ui.current_user import require
from myelo_cds.ui.finding_widgets import rerun_scope
from myelo_cds.ui.panels import (
    render_banner,
    render_downloads,
    render_errors,
    render_field_problems,
    render_recommendation,
)
from myelo_cds.ui.patient_bar import render_copy_forward, render_new_patient
from myelo_cds.ui.records import (
    alerts_for,
    keep_draft,
    render_alerts,
    render_save,
    restore_draft,
)
from myelo_cds.ui.result_bar import render_result_bar, result_bar
from myelo_cds.ui.session import within_limits
from myelo_cds.ui.smart_launch import prefill_from_ehr
from myelo_cds.ui.style import BODY_KEY, apply_consult_style

user = require("consult")
apply_consult_style()
title, new_patient = st.columns([3, 1], vertical_alignment="bottom")
title.title("Consult")
restore_draft(user.user_id)
prefill_from_ehr(user.user_id)  # an EHR launch's findings, once, with where each came from
with new_patient:
    render_new_patient(user.user_id)
with st.expander("Start from an example or a saved case file"):
    left, right = st.columns(2)
    example = left.selectbox("Example case", list(example_cases()), index=None, placeholder="choose")
    if left.button("Load example", disabled=example is None) and example is not None:
        load_draft(json.loads(example_cases()[example]))
        st.rerun()
    upload = right.file_uploader("Case file (JSON)", type=["json"], max_upload_size=1)
    if upload is not None and right.button("Load file"):
        try:
            # The strict reader: a key written twice, deep nesting or a huge number is refused
            # naming the place, never read as the last value (issue 14).
            data = parse_json_object(upload.getvalue(), source="the case file")
            load_draft(Findings.model_validate(data).model_dump(mode="json", exclude_none=True))
            st.rerun()
        except JsonInputError as error:
            st.error(str(error), icon=":material/error:")
        except ValidationError as error:
            render_errors(describe_validation_error(error))


#: The fragments that draw the answer from the whole draft: the bar that stays in view, the
#: red-flag banner with the copy-forward offer under it, and the recommendation beside the
#: form. A change to a finding reruns these, then its form section (``render_form``), not the
#: whole page.
TOP, ALERTS, RESULT = "consult_top", "consult_alerts", "consult_result"


def guard() -> None:
    """First in every fragment: a change past the idle limit signs the tab out."""
    if not within_limits(user.user_id):
        st.stop()


@st.fragment(key=TOP)
def top() -> None:
    """The bar (pathway, urgency, mJOA, red-flag state) from the whole draft; then the draft
    is kept.

    The engine runs on every valid value entered (``salvage``): a value left out is listed
    beside the red-flag banner, never instead of it.
    """
    guard()
    data = findings_data(draft_values())
    answer = assessed(data, st.session_state)
    with result_bar():
        if not isinstance(answer, str):
            render_result_bar(answer[2])
    keep_draft(data, user.user_id)  # after the bar: the bar is on its way while the draft is written


@st.fragment(key=ALERTS)
def alerts() -> None:
    """The red-flag banner, the entries left out, and the copy-forward offer."""
    guard()
    draft = draft_values()
    answer = assessed(findings_data(draft), st.session_state)
    if not isinstance(answer, str):
        render_banner(answer[2])
        render_field_problems(answer[1])
    render_copy_forward(draft.get("case_id"), draft)


@st.fragment(key=RESULT)
def result() -> None:
    """The recommendation with its basis, the documents and the save button."""
    guard()
    st.header("Recommendation")
    answer = assessed(findings_data(draft_values()), st.session_state)
    if isinstance(answer, str):
        render_errors([answer])
        return
    findings, problems, recommendation = answer
    alerts = alerts_for(findings, findings.case_id)
    render_alerts(alerts)
    with rerun_scope((TOP, ALERTS, HIDDEN_NOTE, RESULT)):  # a "not done" answer changes the answer
        render_recommendation(recommendation)
    if problems:
        st.caption("Correct the entries listed at the top to export the documents or save the assessment.")
        return
    clinician = st.text_input(
        "Clinician id for the note (initials or staff number)", key="clinician_id", max_chars=64
    )
    render_downloads(recommendation, findings, clinician or None, alerts)
    if recommendation.incomplete:
        st.caption("An incomplete assessment is not saved to the record: enter what it needs first.")
        return
    render_save(findings, recommendation, user)


top()
alerts()
with st.container(key=BODY_KEY):
    form_column, result_column = st.columns([3, 2], gap="large")
with form_column:
    render_form(refresh=(TOP, ALERTS, RESULT), guard=guard)
with result_column:
    result()
