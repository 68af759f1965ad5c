"""Training quiz: read the case, score the mJOA, grade severity and commit a pathway; then the reveal."""

import datetime as dt

import streamlit as st

from myelo_cds.records import RecordError
from myelo_cds.rules.engine import PATHWAY_LABELS
from myelo_cds.teaching import BAND_LABELS, QuizAnswer, attempt_record, due_cases, score_answer
from myelo_cds.ui.current_user import require
from myelo_cds.ui.records import store
from myelo_cds.ui.teaching import library, mjoa_entry, render_reveal, sct_entry

st.title("Training quiz")
st.caption(
    "Commit before you see the answer. Scoring is a design choice: pathway 1 or 0 (every accepted answer "
    "of a disputed case scores), mJOA = share of the four items scored as the narrative describes, severity "
    "1 or 0, script-concordance items by aggregate scoring against their panel; the score is their mean. "
    "Cases come back on a Leitner schedule: a correct pathway moves a case up a box (re-test after 1, 3, 7, "
    "14, 30 days), a wrong one back to box 1."
)
user = require("train")
cases = {case.id: case for case in library()}
attempts = store().training_attempts(user.user_id)
due = {row.case_id: row for row in due_cases(list(cases.values()), attempts, dt.date.today())}
first_due = next(iter(due))  # overdue, then due today, then never attempted
# Options in library order, so that committing (which re-sorts the due list) keeps the chosen case.
case_id = st.selectbox(
    "Case (the first one due for re-testing is preselected)",
    list(cases),
    index=list(cases).index(first_due),
    format_func=lambda key: f"{key} - {cases[key].title} ({cases[key].difficulty})",
    key="quiz.case",
)
case = cases[case_id]
committed = st.session_state.setdefault("quiz.committed", {})
slot = f"{user.user_id}:{case_id}"  # a committed answer belongs to this user and case
answers = f"quiz.{case_id}"  # widget keys of this case's answer, cleared for a re-test
st.header(case.title)
row = due[case_id]
topics = ", ".join(topic.replace("_", " ") for topic in case.topics)
st.caption(f"Topics: {topics}. Re-testing: {row.status}, Leitner box {row.box}, due {row.due}.")
st.markdown(case.stem)
st.markdown(f"**MRI report.** {case.mri_description}" if case.mri_description else "**MRI:** not done yet.")

if slot not in committed:
    with st.form(f"quiz-{case_id}"):
        mjoa = None
        if case.findings.mjoa is not None:
            st.markdown("**Score the mJOA from the narrative**")
            mjoa = mjoa_entry(f"{answers}.mjoa")
            severity = st.radio(
                "Severity grade",
                list(BAND_LABELS),
                index=None,
                format_func=BAND_LABELS.get,
                horizontal=True,
                key=f"{answers}.severity",
            )
        else:
            st.caption("No mJOA was recorded for this case: commit the pathway.")
            severity = None
        pathway = st.radio(
            "Pathway",
            list(PATHWAY_LABELS),
            index=None,
            format_func=PATHWAY_LABELS.get,
            key=f"{answers}.pathway",
        )
        sct = sct_entry(case, answers)
        submitted = st.form_submit_button("Commit my answer", type="primary")
    if not submitted:
        st.stop()
    missing = [] if pathway else ["Pathway"]
    if mjoa is not None:
        missing += [] if severity else ["Severity grade"]
        missing += [f"mJOA {item.value.replace('_', ' ')}" for item, level in mjoa.items() if level is None]
    missing += [f"script-concordance item {n}" for n, value in enumerate(sct, start=1) if value is None]
    if missing:
        st.error(
            "Answer every part before committing; still empty: " + ", ".join(missing),
            icon=":material/edit_note:",
        )
        st.stop()
    answer = QuizAnswer.model_validate(
        {"pathway": pathway, "severity": severity, "mjoa": mjoa, "sct": tuple(sct)}
    )
    result = score_answer(case, answer)
    committed[slot] = result
    try:
        store().save_training_attempt(attempt_record(case, result, user.user_id, dt.datetime.now(dt.UTC)))
    except RecordError as error:
        st.session_state["quiz.not_saved"] = f"Your answer was scored but not saved: {error}"
    st.rerun()  # the reveal replaces the form

if message := st.session_state.pop("quiz.not_saved", None):
    st.error(message, icon=":material/error:")

render_reveal(case, committed[slot])
if st.button("Attempt this case again", icon=":material/replay:"):
    committed.pop(slot)
    for key in [key for key in st.session_state if str(key).startswith(answers + ".")]:
        del st.session_state[key]  # start blank: a re-test must not show the last answer
    st.rerun()
