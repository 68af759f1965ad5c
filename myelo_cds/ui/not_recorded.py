"""What would change the answer: the items not recorded, collapsed to the ones that matter.

An item whose answer could send the patient to emergency is counted first, in words ("2
emergency-relevant items not recorded"), and both groups open with one click; none is hidden
without its count. The what-ifs on values entered stay in view.

An item that can be answered "not done" (electrodiagnostics) has that answer beside it. A "not
done" is an answer, so the item leaves the not-recorded list; the rules still read its results
as unknown, so an emergency the item could reveal stays in view as *not excluded* (issue 16).
"""

from __future__ import annotations

import streamlit as st

from myelo_cds._grammar import count
from myelo_cds.findings import NOT_DONE_ANSWERS, field_spec
from myelo_cds.rules.engine import PATHWAY_LABELS
from myelo_cds.rules.result import Recommendation, UnknownImpact
from myelo_cds.ui.finding_widgets import KEY, widget

__all__ = ["items", "not_done_label", "render_what_would_change"]


def items(number: int, kind: str) -> str:
    """``1 emergency-relevant item`` / ``3 emergency-relevant items``."""
    return count(number, f"{kind} item")


#: The "not done" toggles' labels (the field's own description is longer).
_LABELS = {"electro.not_done": "Electrodiagnostics not done (EMG, nerve conduction, evoked potentials)"}


def not_done_label(answer: str) -> str:
    """The "not done" toggle's label for a ``NOT_DONE_ANSWERS`` path."""
    return _LABELS.get(answer) or field_spec(answer).label


def _scenarios(unknown: UnknownImpact) -> str:
    # A choice's id in words ("widespread_anterior_horn" -> "widespread anterior horn").
    return "; ".join(
        f"{s.value.replace('_', ' ')} -> {PATHWAY_LABELS[s.pathway]} ({s.urgency})" for s in unknown.scenarios
    )


def _line(unknown: UnknownImpact) -> str:
    return f"- *Not recorded* - {unknown.input}: {_scenarios(unknown)}"


def _emergency(unknown: UnknownImpact) -> bool:
    return any(s.urgency == "emergency" for s in unknown.scenarios)


def _answers(unknowns: tuple[UnknownImpact, ...]) -> list[str]:
    """The "not done" answers that settle any of ``unknowns``, or that are set (so they can be
    taken back)."""
    fields = {field for unknown in unknowns for field in unknown.fields}
    return [
        answer
        for answer, paths in NOT_DONE_ANSWERS.items()
        if fields & set(paths) or st.session_state.get(KEY + answer)
    ]


def _render_not_done(rec: Recommendation) -> None:
    """Items documented as not done: answered, yet an emergency they could show stays in view."""
    for unknown in rec.not_done:
        if _emergency(unknown):
            st.warning(
                f"**{unknown.input}: not done** - an emergency is not excluded while it is not "
                f"done: {_scenarios(unknown)}",
                icon=":material/pending:",
            )
        else:
            st.caption(
                f"{unknown.input}: not done (documented). Would change the answer: {_scenarios(unknown)}"
            )


def render_what_would_change(rec: Recommendation) -> None:
    """The what-ifs in view; the items not recorded behind a count, emergency-relevant first;
    the items documented as not done, and the "not done" answers."""
    answers = _answers(rec.unknowns)
    if not (rec.unknowns or rec.counterfactuals or answers):
        return
    st.markdown("**What would change this**")
    if rec.counterfactuals:
        st.markdown(
            "\n".join(
                f"- {cf.change} -> {PATHWAY_LABELS[cf.pathway]} ({cf.urgency})" for cf in rec.counterfactuals
            )
        )
    not_recorded = rec.not_recorded
    emergency = [u for u in not_recorded if _emergency(u)]
    others = [u for u in not_recorded if u not in emergency]
    for group, kind in ((emergency, "emergency-relevant"), (others, "other")):
        if group:
            with st.expander(f"{items(len(group), kind)} not recorded - show"):
                st.markdown("\n".join(_line(unknown) for unknown in group))
    _render_not_done(rec)
    for answer in answers:  # one click documents the investigation as not done
        widget(field_spec(answer), not_done_label(answer))
