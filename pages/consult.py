"""Consult: enter findings the way the exam is done; see one recommendation with its basis."""

import json

import streamlit as st
from pydantic import ValidationError

from myelo_cds import Findings, assess
from myelo_cds.errors import InputError, JsonInputError
from myelo_cds.findings import describe_validation_error, example_cases, parse_json_object, salvage
from myelo_cds.ui.consult_form import findings_data, load_draft, render_form
from myelo_cds.ui.current_user import require
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


@st.fragment
def consult() -> None:
    """Form and recommendation: a change to a finding reruns only this part of the page.

    The engine runs on every valid value entered (``salvage``): a value left out is listed
    beside the red-flag banner, never instead of it.
    """
    if not within_limits(user.user_id):  # a change past the idle limit: the tab is signed out
        st.stop()
    bar = result_bar()
    banner = st.container()
    offer = st.container()
    with st.container(key=BODY_KEY):
        form_column, result_column = st.columns([3, 2], gap="large")
    with form_column:
        values = render_form()
    data = findings_data(values)
    keep_draft(data, user.user_id)
    with offer:
        render_copy_forward(values.get("case_id"), values)
    with result_column:
        st.header("Recommendation")
        try:
            findings, problems = salvage(data)
        except InputError as error:  # nothing valid to build findings from
            render_errors([str(error)])
            return
        recommendation = assess(findings)
        with bar:
            render_result_bar(recommendation)
        with banner:
            render_banner(recommendation)
            render_field_problems(problems)
        alerts = alerts_for(findings, findings.case_id)
        render_alerts(alerts)
        render_recommendation(recommendation)
        if problems:
            st.caption(
                "Correct the entries listed at the top to export the documents or save the assessment."
            )
            return
        clinician = st.text_input(
            "Clinician id for the note (initials or staff number)", key="clinician_id", max_chars=64
        )
        render_downloads(recommendation, findings, clinician or None, alerts)
        if recommendation.incomplete:
            st.caption("An incomplete assessment is not saved to the record: enter what it needs first.")
            return
        render_save(findings, recommendation, user)


consult()
