"""The consult page's side of an EHR launch: claim the imported findings once, show their source.

The launch routes (``myelo_cds.service.smart``) leave the findings read from the EHR under a
random key in this browser's HttpOnly cookie (the hand-off, ``myelo_cds.ehr``). The consult
page, already behind the sign-in, calls :func:`prefill_from_ehr`: the first signed-in session
that presents the cookie takes the findings (never again, and not after five minutes), the form
is replaced by them, and the page lists which fields came from the EHR, from which resource and
date, and which were changed here; the patient's problem list (Conditions) that mimic or bear on
the diagnosis is shown beside them, as information. The write-back to the EHR is offered there,
on request, authored by the clinician the EHR named (``fhirUser``).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import streamlit as st

from myelo_cds import assess
from myelo_cds.ehr import (
    HANDOFF_COOKIE,
    EhrCondition,
    EhrImport,
    WriteBackError,
    claim_handoff,
    write_back,
    write_back_resources,
)
from myelo_cds.errors import InputError
from myelo_cds.exports.fhir import assessment_bundle
from myelo_cds.findings import salvage
from myelo_cds.records import RecordError
from myelo_cds.ui.consult_form import draft_values, findings_data, load_draft
from myelo_cds.ui.records import store

__all__ = ["prefill_from_ehr"]

_IMPORTED = "smart_ehr_import"
_WRITTEN = "smart_ehr_written"
_CLAIMED = "smart_ehr_claimed_key"


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return str(value)


def prefill_from_ehr(user_id: str) -> None:
    """Load the findings of an EHR launch into the form (once), then say where they came from.

    The import is recorded in the audit log under the signed-in ``user_id`` first; when it
    cannot be recorded the findings are not loaded (launch again from the EHR).
    """
    key = st.context.cookies.get(HANDOFF_COOKIE)
    imported = None
    if key and st.session_state.get(_CLAIMED) != key:  # the cookie outlives its claim: ask once
        st.session_state[_CLAIMED] = key
        try:
            imported = claim_handoff(key, store())
        except RecordError as error:
            st.error(f"The EHR's findings could not be read from the record database ({error}).")
            return
    if imported is not None:
        try:
            store().record_event(
                "ehr_import",
                actor=user_id,
                detail=f"{len(imported.sources)} fields from {imported.iss}"[:200],
            )
        except RecordError as error:
            st.error(f"The EHR's findings were not loaded: the import could not be recorded ({error}).")
            return
        load_draft(imported.data)
        st.session_state[_IMPORTED] = imported
        st.session_state.pop(_WRITTEN, None)
    shown: EhrImport | None = st.session_state.get(_IMPORTED)
    if shown is None:
        return
    values, now = shown.values(), draft_values()
    if not any(path in now for path in values):  # the form was cleared (New patient): not this record
        del st.session_state[_IMPORTED]
        return
    changed = [s for s in shown.sources if now.get(s.path) != values.get(s.path)]
    dates = sorted({s.when for s in shown.sources if s.when})
    recorded = f" recorded {dates[0]}" + (f" to {dates[-1]}" if len(dates) > 1 else "") if dates else ""
    st.info(
        f"Prefilled from the EHR ({shown.iss}) at {shown.fetched_at:%Y-%m-%d %H:%M} UTC: "
        f"{len(shown.sources)} field(s) from the patient's record{recorded}"
        + (f", {len(changed)} changed here since" if changed else "")
        + ". Check each against the patient before relying on it.",
        icon=":material/cloud_download:",
    )
    _problem_list(shown.conditions)
    with st.expander("Fields from the EHR", expanded=False):
        lines = [
            f"- **{s.label}**: {_shown(values.get(s.path))} ({s.resource}"
            + (f", {s.when}" if s.when else "")
            + (")" if s not in changed else ") - changed here")
            for s in shown.sources
        ]
        st.markdown("\n".join(lines))
        for note in shown.notes:
            st.caption(f"Not counted: {note}")
    _write_back(shown, user_id)


_GROUPS = {
    "mimic": "may mimic myelopathy: consider it in the differential",
    "history": "relevant history",
    "finding": "prefilled as a finding",
}


def _problem_list(conditions: tuple[EhrCondition, ...]) -> None:
    """The Conditions that mimic myelopathy or bear on it, shown as the EHR holds them. Only
    those the terminology table maps to a finding changed the form (listed with the fields)."""
    if not conditions:
        return
    lines = [
        f"- **{c.name}** ({'active' if c.status == 'active' else 'past'}"
        + (f", {c.when}" if c.when else "")
        + f", {c.resource}): {c.about}, {_GROUPS.get(c.group, c.group)}"
        for c in conditions
    ]
    mimics = sum(c.group == "mimic" for c in conditions)
    (st.warning if mimics else st.info)(
        "From the EHR's problem list (information: the pathway is not changed by it, except the "
        "findings marked prefilled):\n\n" + "\n".join(lines),
        icon=":material/assignment:",
    )


def _write_back(shown: EhrImport, user_id: str) -> None:
    """The write-back on request: the findings as the form holds them now and the consult note."""
    written = st.session_state.get(_WRITTEN)
    if written:
        st.success(f"Written to the EHR: {', '.join(written)}", icon=":material/cloud_done:")
        return
    if not st.button(
        "Write the findings and the consult note back to the EHR", icon=":material/cloud_upload:"
    ):
        return
    try:
        findings, problems = salvage(findings_data(draft_values()))
    except InputError as error:
        st.error(str(error), icon=":material/error:")
        return
    recommendation = assess(findings)
    if problems or recommendation.incomplete:
        st.error(
            "Nothing was written: complete and correct the entries first (an incomplete assessment "
            "is not written back).",
            icon=":material/error:",
        )
        return
    clinician = st.session_state.get("clinician_id") or None
    bundle = json.loads(
        assessment_bundle(findings, recommendation, clinician_id=clinician).model_dump_json(exclude_none=True)
    )
    try:
        created = write_back(shown, write_back_resources(shown, bundle))
    except WriteBackError as error:  # one transaction: nothing was written
        with contextlib.suppress(RecordError):
            store().record_event("ehr_write_back_failed", actor=user_id, detail=str(error)[:200])
        st.error(str(error), icon=":material/error:")
        return
    notes = [ref for ref in created if ref.startswith("DocumentReference/")]
    author = f" as {shown.fhir_user}" if shown.fhir_user else ""
    st.session_state[_WRITTEN] = [f"{len(created) - len(notes)} finding resources{author}", *notes]
    try:
        store().record_event(
            "ehr_write_back",
            actor=user_id,
            detail=f"{len(created)} resources to {shown.iss}{author}"[:200],
        )
    except RecordError as error:  # written already: say so, and that the log lacks it
        st.warning(f"Written to the EHR, but the audit log could not record it ({error}).")
        return
    st.rerun()
