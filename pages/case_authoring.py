"""Case authoring: create or import a teaching case, validated (schema and engine) before it is saved.

Saved cases become files in the case library (``data/cases``), not database rows: teaching cases
are clinical content, reviewed and versioned like the rule set, and the test that checks every
case file against the engine then covers them too.
"""

import json

import streamlit as st

from myelo_cds import assess
from myelo_cds.auth import may
from myelo_cds.errors import JsonInputError
from myelo_cds.findings import JsonLimits, example_cases, parse_json_object
from myelo_cds.rules.engine import PATHWAY_LABELS
from myelo_cds.teaching import DIFFICULTIES, TOPICS, CaseError, check_case, save_case
from myelo_cds.ui.current_user import require
from myelo_cds.ui.panels import render_recommendation
from myelo_cds.ui.text import plain

st.title("Case authoring")
st.caption(
    "A case is saved only when it validates against the case and findings schema and the engine gives "
    "the stated answer (or one of the accepted answers of a disputed case). Saved cases are files in the "
    "case library, reviewed with the code."
)
user = require("train")
_LIMITS = JsonLimits()
importing, creating = st.tabs(["Import JSON", "Create"])
with importing:
    upload = st.file_uploader("Case file (JSON)", type=["json"])
    pasted = st.text_area("or paste the case JSON", height=200, max_chars=_LIMITS.max_bytes)
    if st.button("Check the imported case"):
        # Kept as sent (bytes of a file, or the text) and read strictly below on every run: a
        # hostile file is a message each run, never an exception that sticks in the session.
        st.session_state["authoring.raw"] = upload.getvalue()[: _LIMITS.max_bytes + 1] if upload else pasted
with creating:
    example = st.selectbox("Start the findings from an example", list(example_cases()))
with creating, st.form("create-case"):
    left, right = st.columns(2)
    case_id = left.text_input("Case id (letters, digits, . _ -)")
    title = right.text_input("Title")
    topics = left.multiselect("Topics", TOPICS)
    difficulty = right.selectbox("Difficulty", DIFFICULTIES)
    stem = st.text_area(
        "Narrative stem (what the resident reads; describe function so the mJOA can be scored)"
    )
    mri = st.text_area("MRI report (optional)")
    findings = st.text_area(
        "Findings (JSON, as the consult takes them)", value=example_cases()[example], height=200
    )
    pathway = st.selectbox("Expected pathway", list(PATHWAY_LABELS), format_func=PATHWAY_LABELS.__getitem__)
    disputed = st.checkbox("Experts legitimately disagree (disputed case)")
    accepted = st.multiselect(
        "Also accepted (disputed cases)", list(PATHWAY_LABELS), format_func=PATHWAY_LABELS.__getitem__
    )
    note = st.text_input("Why experts disagree (disputed cases)")
    points = st.text_area("Teaching points (one per line)")
    citations = st.text_area("Citations (one per line)")
    if st.form_submit_button("Check the new case"):
        try:
            findings_data = parse_json_object(findings, source="Findings (JSON)")
        except JsonInputError as error:
            st.error(f"Findings are not valid JSON: {plain(error.reason)}.", icon=":material/edit_note:")
            st.stop()
        raw = {
            "id": case_id, "title": title, "topics": topics, "difficulty": difficulty, "stem": stem,
            "mri_description": mri or None, "findings": findings_data,
            "expected": {
                "pathway": pathway, "disputed": disputed, "accepted": accepted, "dispute_note": note or None,
            },
            "teaching_points": [line for line in points.splitlines() if line.strip()],
            "citations": [line for line in citations.splitlines() if line.strip()],
        }  # fmt: skip
        st.session_state["authoring.raw"] = json.dumps(raw)

raw_text = st.session_state.get("authoring.raw")
if not raw_text:
    st.stop()
try:
    case = check_case(parse_json_object(raw_text, source="the case"), "the case")
except JsonInputError as error:
    del st.session_state["authoring.raw"]  # shown once: the next run starts clean
    st.error(f"The case file: not valid JSON: {plain(error.reason)}.", icon=":material/edit_note:")
    st.stop()
except CaseError as error:
    st.error(
        "The case was not saved; fix these and check again:\n\n"
        + "\n".join(f"- {p}" for p in error.problems),
        icon=":material/edit_note:",
    )
    st.stop()
st.success(
    f"**{case.id} - {case.title}** is valid and the engine agrees with its answer.",
    icon=":material/task_alt:",
)
with st.expander("The engine's recommendation for these findings"):
    render_recommendation(assess(case.findings))
document = json.dumps(case.model_dump(mode="json", exclude_none=True), indent=2, ensure_ascii=False)
st.download_button("Download the case (JSON)", document, file_name=f"{case.id}.json", mime="application/json")
if not may(user, "supervise_training"):
    st.caption(
        "Saving to the case library is for supervisors and admins; download the file and send it for review."
    )
    st.stop()
if st.button("Save to the case library", type="primary", icon=":material/save:"):
    try:
        path = save_case(case)
    except CaseError as error:
        st.error("Not saved: " + "; ".join(error.problems), icon=":material/error:")
    except OSError as error:  # e.g. a read-only installation: download the file instead
        st.error(
            f"Not saved: the case library folder cannot be written ({error.strerror}).",
            icon=":material/error:",
        )
    else:
        st.success(f"Saved as {path.name} in the case library.", icon=":material/check_circle:")
