"""Whose consult this is: a visible New patient button, and copy forward from the last visit.

The form persists across pages, so starting the next patient must be one obvious click that
clears the findings, the case id and the stored draft (a wrong-patient risk otherwise).
Copy forward loads the patient's last stored visit so the clinician changes only what
differs, with two exceptions that keep it safe: the red-flag questions are never copied (each
visit's screen is asked again; blank stays *not excluded*), and the last visit's mJOA becomes
the earlier mJOA, so today's change is measured against it.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from myelo_cds.records import AssessmentRecord, RecordError
from myelo_cds.rules.red_flag_questions import red_flag_questions
from myelo_cds.ui.consult_form import clear_draft, load_draft
from myelo_cds.ui.records import forget_draft, store

__all__ = ["carried_forward", "render_copy_forward", "render_new_patient"]

_COPIED = "copied_forward_from"
# Visit-specific answers that describe the change since the last visit, never carried forward.
_OWN = ("case_id", "assessment_date", "mri.available")
_PER_VISIT = ("assessment_date", "exam.umn.new_since_last_visit", "earlier_mjoa")


def _new_patient(owner: str) -> None:
    clear_draft()
    forget_draft(owner)
    st.session_state.pop(_COPIED, None)


def render_new_patient(owner: str) -> None:
    """The New patient button: clears the findings, the case id and this tab's draft."""
    st.button(
        "New patient",
        key="new_patient",
        icon=":material/person_add:",
        on_click=_new_patient,
        args=(owner,),
        help="Clears the form, the case id and the saved draft, ready for the next patient.",
    )


def _without(data: dict[str, Any], path: str) -> None:
    *parents, leaf = path.split(".")
    node: Any = data
    for name in parents:
        node = node.get(name)
        if not isinstance(node, dict):
            return
    node.pop(leaf, None)


def carried_forward(record: AssessmentRecord) -> dict[str, Any]:
    """The findings data to start today's visit from: the last visit's, without its red-flag
    answers and visit-specific answers, with its mJOA as the earlier mJOA."""
    data = record.findings.model_dump(mode="json", exclude_none=True)
    data["case_id"] = record.patient_id
    for path in (*(question.path for question in red_flag_questions()), *_PER_VISIT):
        _without(data, path)
    if "mjoa" in data:
        items = {name: score for name, score in data["mjoa"].items() if name != "not_due_to_myelopathy"}
        data["earlier_mjoa"] = {**items, "date": record.assessment_date.isoformat()}
    return data


def _copy_forward(record: AssessmentRecord) -> None:
    load_draft(carried_forward(record))
    st.session_state[_COPIED] = (record.patient_id, record.id)
    st.rerun()  # the whole page: the offer may be drawn in a fragment, the findings are not


def render_copy_forward(case_id: str | None, values: dict[str, Any]) -> None:
    """When the case id is a stored patient: offer their last visit while the form holds
    nothing else, or say they are stored (and when) once findings are entered."""
    if not case_id:
        return
    try:
        last = store().latest(case_id)
    except RecordError:
        return
    if last is None:
        return
    if st.session_state.get(_COPIED) == (case_id, last.id):
        st.info(
            f"Loaded the visit of {last.assessment_date} for {case_id}: change what differs. "
            "The red-flag questions are asked again today; its mJOA is the earlier mJOA.",
            icon=":material/content_copy:",
        )
        return
    if any(value not in (None, False, "", []) for path, value in values.items() if path not in _OWN):
        st.caption(f"{case_id} has stored visits (last on {last.assessment_date}).")
        return
    st.button(
        f"Load the last visit ({last.assessment_date}) and change what differs",
        key="copy_forward",
        icon=":material/content_copy:",
        type="primary",
        on_click=_copy_forward,
        args=(last,),
    )
