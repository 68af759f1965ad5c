"""Assess a findings file (JSON) with the rule engine and show the basis.

A thin page: it reads a case, keeps every valid value (``salvage``; a value left out is listed,
never a reason to show nothing), calls ``myelo_cds`` and renders with the consult's panels.
"""

import streamlit as st

from myelo_cds import assess
from myelo_cds.errors import InputError, JsonInputError
from myelo_cds.exports.consult_note import consult_summary
from myelo_cds.findings import JsonLimits, example_cases, parse_json_object, salvage
from myelo_cds.ui.current_user import require
from myelo_cds.ui.panels import render_banner, render_field_problems, render_headline, render_open_questions
from myelo_cds.ui.text import plain

require("consult")
st.title("Assess a case file")
st.caption("Decision support for degenerative cervical myelopathy. The clinician decides.")

examples = example_cases()
choice = st.selectbox("Example case", ["(paste my own)", *examples])
initial = examples.get(choice, "")
text = st.text_area(
    "Findings (JSON, as `python -m myelo_cds schema` describes)",
    value=initial,
    height=260,
    max_chars=JsonLimits().max_bytes,
)

if not text.strip():
    st.info("Choose an example or paste findings JSON.")
    st.stop()
try:
    data = parse_json_object(text, source="the findings")  # strict: depth, numbers, keys, size
except JsonInputError as error:
    st.error(f"Not valid JSON (Findings): {plain(error.reason)}.", icon=":material/edit_note:")
    st.stop()
try:
    findings, problems = salvage(data)
except InputError as error:
    st.error(f"Nothing could be assessed: {plain(str(error))}")
    st.stop()

rec = assess(findings)
render_banner(rec)
render_field_problems(problems)
render_headline(rec)
render_open_questions(rec)
st.header("Basis")
st.dataframe(
    [
        {
            "rule": rule.id,
            "kind": rule.kind,
            "title": rule.title,
            "inputs": ", ".join(f"{k}={v}" for k, v in rule.inputs.items()),
            "strength": rule.strength,
            "evidence": rule.evidence,
            "source": rule.citation,
        }
        for rule in rec.rules_fired
    ],
    width="stretch",
    hide_index=True,
)
st.header("Consult summary")
st.code(consult_summary(rec), language=None)
