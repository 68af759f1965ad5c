"""Rules & evidence: the rule set in words, its verification and its validation, for checking any advice."""

import streamlit as st

from myelo_cds import default_rule_set
from myelo_cds.rules.describe import rule_tables
from myelo_cds.rules.verify import verify_rule_set
from myelo_cds.rules.vignettes import run_validation
from myelo_cds.ui.current_user import require


@st.cache_resource(show_spinner="Verifying the rule set over every feature vector...")
def _verification(sha256: str):  # type: ignore[no-untyped-def]
    return verify_rule_set()


@st.cache_resource(show_spinner="Running the validation cases...")
def _validation(sha256: str):  # type: ignore[no-untyped-def]
    return run_validation()


rule_set = default_rule_set()
require("consult")
st.title("Rules & evidence")
st.caption(f"Rule set {rule_set.id} {rule_set.version} - sha256 {rule_set.sha256}")
st.markdown(f"**Intended use.** {rule_set.intended_use}")
st.markdown("**Known limitations**\n\n" + "\n".join(f"- {item}" for item in rule_set.limitations))
st.info(
    "Evidence tags: **confirmed** (checked against a retrieved source), **unconfirmed** (not re-verified), "
    "**design** (a software default, not a published threshold).",
    icon=":material/info:",
)

tables = rule_tables(rule_set)
titles = {
    "pathway": "Pathway table (hit policy PRIORITY: lowest priority number wins)",
    "red_flags": "Red-flag screen (any row firing means emergency referral)",
    "urgency": "Urgency table (the most urgent matching row wins)",
    "differentials": "Differential diagnoses",
    "flags": "Prognosis and planning flags (never change the pathway)",
    "parameters": "Thresholds and their basis",
}
for name, title in titles.items():
    st.header(title)
    # a static table wraps each cell: every condition reads in full, never clipped to one line
    st.table(tables[name], hide_index=True)

st.header("Verification")
st.markdown(
    "Every combination of the table's inputs is enumerated to prove: one answer for every input, no "
    "conflicting rules, no unreachable rule, red flag always emergency, worse findings never less urgent."
)
if st.session_state.get("verify_requested") or st.button("Run the verification (about 10 seconds)"):
    st.session_state["verify_requested"] = True
    report = _verification(rule_set.sha256)
    verdict = "VERIFIED" if report.passed else "VERIFICATION FAILED"
    (st.success if report.passed else st.error)(f"{verdict}: {report.vectors:,} feature vectors enumerated.")
    st.dataframe(
        [
            {"check": c.name, "result": "pass" if c.passed else "FAIL", "detail": c.detail}
            for c in report.checks
        ],
        hide_index=True,
        width="stretch",
    )

st.header("Validation cases")
validation = _validation(rule_set.sha256)
st.markdown(
    f"**{validation.passed} of {len(validation.results)}** vignettes agree with the clinical reference."
)
st.dataframe(
    [
        {
            "case": r.id,
            "title": r.title,
            "expected": f"{r.expected_pathway} ({r.expected_urgency})",
            "engine": f"{r.pathway} ({r.urgency})",
            "rules": ", ".join(r.rules),
            "agrees": "yes" if r.passed else "NO",
        }
        for r in validation.results
    ],
    hide_index=True,
    width="stretch",
)
st.markdown("**Rule coverage** (cases in which each rule fires)")
st.dataframe(
    [
        {"kind": kind, "rule": rule, "cases": count}
        for kind, rows in validation.coverage.items()
        for rule, count in rows.items()
    ],
    hide_index=True,
    width="stretch",
)
