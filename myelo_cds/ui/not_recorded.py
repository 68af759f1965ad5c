"""What would change the answer: the items not recorded, collapsed to the ones that matter.

An item whose answer could send the patient to emergency is counted first, in words ("2
emergency-relevant items not recorded"), and both groups open with one click; none is hidden
without its count. The what-ifs on values entered stay in view.
"""

from __future__ import annotations

import streamlit as st

from myelo_cds._grammar import count
from myelo_cds.rules.engine import PATHWAY_LABELS
from myelo_cds.rules.result import Recommendation, UnknownImpact

__all__ = ["items", "render_what_would_change"]


def items(number: int, kind: str) -> str:
    """``1 emergency-relevant item`` / ``3 emergency-relevant items``."""
    return count(number, f"{kind} item")


def _line(unknown: UnknownImpact) -> str:
    return f"- *Not recorded* - {unknown.input}: " + "; ".join(
        f"{s.value} -> {PATHWAY_LABELS[s.pathway]} ({s.urgency})" for s in unknown.scenarios
    )


def render_what_would_change(rec: Recommendation) -> None:
    """The what-ifs in view; the items not recorded behind a count, emergency-relevant first."""
    if not (rec.unknowns or rec.counterfactuals):
        return
    st.markdown("**What would change this**")
    if rec.counterfactuals:
        st.markdown(
            "\n".join(
                f"- {cf.change} -> {PATHWAY_LABELS[cf.pathway]} ({cf.urgency})" for cf in rec.counterfactuals
            )
        )
    emergency = [u for u in rec.unknowns if any(s.urgency == "emergency" for s in u.scenarios)]
    others = [u for u in rec.unknowns if u not in emergency]
    for group, kind in ((emergency, "emergency-relevant"), (others, "other")):
        if group:
            with st.expander(f"{items(len(group), kind)} not recorded - show"):
                st.markdown("\n".join(_line(unknown) for unknown in group))
