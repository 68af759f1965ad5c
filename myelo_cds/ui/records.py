"""The record store shared by the pages, and the course alerts of a consult."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from typing import Any

import streamlit as st

from myelo_cds.auth import User, may
from myelo_cds.course import CourseAlert, course_alerts
from myelo_cds.findings import Findings
from myelo_cds.records import RecordError, Store, WorklistRow, database_url, shared_store
from myelo_cds.rules.result import Recommendation
from myelo_cds.rules.ruleset import URGENCIES
from myelo_cds.settings import session_settings
from myelo_cds.ui.consult_form import draft_values, load_draft

__all__ = [
    "LAST_CASE_ID",
    "alerts_for",
    "end_draft",
    "forget_draft",
    "keep_draft",
    "render_alerts",
    "render_cannot_save",
    "render_save",
    "restore_draft",
    "store",
    "worklist_table",
]

#: The patient last saved in this session (the timeline preselects them).
LAST_CASE_ID = "last_case_id"

_LEVEL_TEXT = {
    "deterioration": "DETERIORATION",
    "failure_to_improve": "FAILURE TO IMPROVE",
    "possible_deterioration": "POSSIBLE DETERIORATION",
}


def store() -> Store:
    """One store (connection pool) per database and server process, the same one readiness
    checks (:func:`myelo_cds.records.shared_store`); no patient data is cached."""
    return shared_store(database_url())


def alerts_for(findings: Findings, patient_id: str | None) -> list[CourseAlert]:
    """Course alerts for this consult against the patient's stored visits (none without an id)."""
    if not patient_id:
        return []
    try:
        earlier = [record.findings for record in store().assessments(patient_id)]
    except RecordError as error:  # the consult goes on without the comparison, and says so
        st.warning(
            f"The patient's stored visits could not be read ({error}): no comparison with earlier"
            " visits (deterioration) is shown. Compare with the notes by hand.",
            icon=":material/cloud_off:",
        )
        return []
    if not earlier:
        return []
    if findings.assessment_date is None:
        findings = findings.model_copy(update={"assessment_date": dt.date.today()})
    return course_alerts([*earlier, findings])


def render_alerts(alerts: list[CourseAlert]) -> None:
    """Each alert in words and with an icon, its basis and what the rules then advise."""
    for alert in alerts:
        show = st.error if alert.level == "deterioration" else st.warning
        basis = "\n".join(f"- {line}" for line in alert.basis)
        show(
            f"**{_LEVEL_TEXT[alert.level]}** compared with the visit of {alert.compared_with}:\n\n{basis}\n\n"
            f"The rules then advise **{alert.pathway.replace('_', ' ')}** ({alert.urgency}; "
            f"{', '.join(alert.rules)}).",
            icon=":material/trending_down:",
        )


def render_cannot_save(problem: str) -> None:
    """The banner shown instead of the save button while the record database cannot take a save
    (read-only, replaced, unreachable): the consult and its recommendation still stand."""
    st.error(
        "**Cannot save to the record right now.** "
        f"{problem[0].upper()}{problem[1:]}.\n\n"
        "The recommendation on this page is not affected: download the consult note or write it"
        " in the patient's notes, and tell the administrator. This is checked again every few"
        " seconds.",
        icon=":material/cloud_off:",
    )


def render_save(findings: Findings, recommendation: Recommendation, author: User) -> None:
    """Save the assessment to the patient's record (the case id is the pseudonymous patient id).

    The record names the signed-in user as its author; a role without ``save_record`` (a
    resident) sees why there is no save button.
    """
    st.markdown("**Patient record**")
    if not may(author, "save_record"):
        st.caption(f"Your role ({author.role}) does not save to the record: a clinician saves it.")
        return
    if not findings.case_id:
        st.caption("Enter a pseudonymous case id to save this assessment to the patient's record.")
        return
    problem = store().save_problem()
    if problem is not None:
        render_cannot_save(problem)
        return
    if st.button("Save this assessment to the record", icon=":material/save:"):
        try:
            saved = store().save_assessment(
                findings, recommendation, patient_id=findings.case_id, author=author.user_id
            )
        except RecordError as error:
            st.error(f"Not saved: {error}", icon=":material/error:")
            return
        _saved_draft_gone(author.user_id)
        st.session_state[LAST_CASE_ID] = saved.patient_id  # the timeline preselects them
        st.success(
            f"Saved for {saved.patient_id} on {saved.assessment_date} (rule set {saved.rule_set_version}).",
            icon=":material/check_circle:",
        )


_DRAFT_PARAM = "draft"
# (token, owner) of the draft this session has checked is its own: the only token it writes.
_DRAFT_OWN = "myelo_cds.draft"
_DRAFT_SAVED = "_draft_saved"


def _draft_lifetime() -> dt.timedelta:
    return dt.timedelta(hours=session_settings().draft_hours)


def _own_draft_token(owner: str) -> str | None:
    match st.session_state.get(_DRAFT_OWN):
        case (str() as token, str() as holder) if holder == owner:
            return token
    return None


def _new_draft_token(owner: str) -> None:
    token = secrets.token_urlsafe(24)
    st.session_state[_DRAFT_OWN] = (token, owner)
    st.session_state.pop(_DRAFT_SAVED, None)
    st.query_params[_DRAFT_PARAM] = token


def restore_draft(owner: str) -> None:
    """Give this browser tab a draft token of its own (in the URL) and, after a reload, refill
    the form from ``owner``'s draft under it.

    A token in the URL is only a claim: when the server holds no live draft of ``owner`` under
    it (another user's token, one it never issued, an expired one) the tab gets a fresh token
    and an empty form, and the other draft is neither shown nor overwritten.
    """
    own = _own_draft_token(owner)
    if own is not None:
        if st.query_params.get(_DRAFT_PARAM) != own:
            st.query_params[_DRAFT_PARAM] = own  # the URL lost or swapped it: put ours back
        return
    token = st.query_params.get(_DRAFT_PARAM)
    data = None
    if token:
        try:
            data = store().load_draft(token, owner=owner)
        except RecordError:  # malformed token, or the database is down: start afresh
            data = None
    if token and data is not None:
        st.session_state[_DRAFT_OWN] = (token, owner)
        if not draft_values():
            load_draft(data)
        st.session_state[_DRAFT_SAVED] = data
        return
    _new_draft_token(owner)


def keep_draft(data: dict[str, Any], owner: str) -> None:
    """Save the form as it stands when it changed, under this tab's own token, so a reload or
    reconnect loses nothing."""
    token = _own_draft_token(owner)
    if token is None or st.session_state.get(_DRAFT_SAVED) == data:
        return
    try:
        kept = store().save_draft(token, data, owner=owner, lifetime=_draft_lifetime())
    except RecordError:
        return
    if not kept:  # the token is someone else's (cannot happen with a token we drew): draw anew
        _new_draft_token(owner)
        return
    st.session_state[_DRAFT_SAVED] = data


def forget_draft(owner: str) -> None:
    """Delete this tab's draft (the form was cleared); the next change starts a new one."""
    token = _own_draft_token(owner)
    if token is not None:
        with contextlib.suppress(RecordError):
            store().delete_draft(token, owner=owner)
    st.session_state.pop(_DRAFT_SAVED, None)


def end_draft(owner: str | None) -> None:
    """At sign-out: delete this tab's draft and drop its token from the URL."""
    if owner is not None:
        forget_draft(owner)
    if _DRAFT_PARAM in st.query_params:
        del st.query_params[_DRAFT_PARAM]


def _saved_draft_gone(owner: str) -> None:
    # The consult is in the record now: its draft goes. The form's data stays marked as kept,
    # so it is not written back as a draft until it changes.
    token = _own_draft_token(owner)
    if token is not None:
        with contextlib.suppress(RecordError):
            store().delete_draft(token, owner=owner)


_STATUSES = ("overdue", "due", "scheduled")


def _pressing(row: WorklistRow) -> tuple[bool, int, int, dt.date, str]:
    """Sort key: to see now before scheduled, then urgency tier, then overdue first, then date."""
    tier = URGENCIES.index(row.last_urgency) if row.last_urgency in URGENCIES else len(URGENCIES)
    return (row.status == "scheduled", tier, _STATUSES.index(row.status), row.due, row.patient_id)


def worklist_table(rows: list[WorklistRow]) -> list[dict[str, object]]:
    """The worklist as the page shows and exports it, one dict per patient, most pressing first.

    Patients to see now (visit overdue or due) come before those only scheduled; among them the
    more urgent last answer first (emergency, urgent, expedited, routine: the rule set's order),
    then overdue before due, then the earlier due date: an urgent patient due this week is above
    a routine one a week overdue. An urgency the rule set no longer has sorts last.
    """
    return [
        {
            "status": row.status,
            "patient": row.patient_id,
            "due": row.due,
            "window": f"{row.window_start} to {row.window_end}",
            "visit": row.label,
            "last pathway": row.last_pathway.replace("_", " "),
            "urgency": row.last_urgency,
            "course alert": (row.course_alert or "").replace("_", " "),
        }
        for row in sorted(rows, key=_pressing)
    ]
