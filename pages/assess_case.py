"""Assess a findings file (JSON) with the rule engine and show the basis.

A thin page until the consult form lands: it reads a case, calls ``myelo_cds``, renders.
"""

import json

import streamlit as st
from pydantic import ValidationError

from myelo_cds import Findings, assess
from myelo_cds.exports.consult_note import consult_summary
from myelo_cds.findings import describe_validation_error, example_cases
from myelo_cds.ui.current_user import require
from myelo_cds.ui.text import plain

require("consult")
st.title("Assess a case file")
st.caption("Decision support for degenerative cervical myelopathy. The clinician decides.")

examples = example_cases()
choice = st.selectbox("Example case", ["(paste my own)", *examples])
initial = examples.get(choice, "")
text = st.text_area("Findings (JSON, as `python -m myelo_cds schema` describes)", value=initial, height=260)

if not text.strip():
    st.info("Choose an example or paste findings JSON.")
    st.stop()
try:
    findings = Findings.model_validate(json.loads(text))
except json.JSONDecodeError as error:
    st.error(f"Not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}.")
    st.stop()
except ValidationError as error:
    st.error(
        "Some fields are not valid; nothing was assessed:\n\n"
        + "\n".join(f"- {plain(line)}" for line in describe_validation_error(error))
    )
    st.stop()

rec = assess(findings)
icon = {
    "emergency": ":material/emergency:",
    "expedited": ":material/schedule:",
    "routine": ":material/event:",
}
show = {"emergency": st.error, "expedited": st.warning, "routine": st.success}[rec.urgency]
show(f"**{rec.urgency.upper()}** - {rec.headline}", icon=icon[rec.urgency])
st.subheader("Basis")
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
st.subheader("Consult summary")
st.code(consult_summary(rec), language=None)
