"""The result bar: pathway, urgency, mJOA and the red-flag state, always in view while entering.

Words and an icon for each state, never colour alone; red only for an emergency or a red flag
present. A red flag not excluded is shown as such (amber), never as "none".
"""

from __future__ import annotations

from typing import Literal

import streamlit as st

from myelo_cds._grammar import count
from myelo_cds.rules.engine import PATHWAY_LABELS
from myelo_cds.rules.result import Recommendation
from myelo_cds.ui.panels import URGENCY_ICON
from myelo_cds.ui.style import RESULT_BAR_KEY

__all__ = ["RedFlagState", "red_flag_state", "render_result_bar", "result_bar"]

RedFlagState = Literal["present", "not_excluded", "none"]

_URGENCY_COLOUR = {"emergency": "red", "urgent": "orange", "expedited": "orange", "routine": "green"}


def red_flag_state(rec: Recommendation) -> RedFlagState:
    """``present`` when a red-flag rule fired, ``not_excluded`` while a red-flag question is
    open, else ``none``."""
    if any(rule.kind == "red_flag" for rule in rec.rules_fired):
        return "present"
    return "not_excluded" if rec.to_confirm else "none"


#: Up to this many open questions are named in the bar; more are counted.
_NAMED = 3


def _open(rec: Recommendation) -> str:
    if len(rec.to_confirm) > _NAMED:
        return f"{count(len(rec.to_confirm), 'question')} open"
    return ", ".join(question.input.split(" (")[0] for question in rec.to_confirm)


def _red_flag_badge(rec: Recommendation) -> str:
    state = red_flag_state(rec)
    if state == "present":
        fired = [rule.id for rule in rec.rules_fired if rule.kind == "red_flag"]
        return f":red-badge[:material/emergency: Red flag PRESENT: {', '.join(fired)}]"
    if state == "not_excluded":
        return f":orange-badge[:material/help: Red flags not excluded: {_open(rec)}]"
    return ":green-badge[:material/check: Red flags: none (screen answered)]"


def _mjoa_badge(rec: Recommendation) -> str:
    mjoa = rec.scores.mjoa
    if mjoa is None:
        return ":gray-badge[mJOA: not scored]"
    return f":blue-badge[mJOA {mjoa.total}/18 - {mjoa.band}]"


def render_result_bar(rec: Recommendation) -> None:
    """One or two lines: pathway, urgency, mJOA total and band, red-flag state."""
    incomplete = bool(rec.incomplete)
    mark = "PROVISIONAL " if rec.provisional or incomplete else ""
    colour = (
        "gray" if incomplete and rec.urgency in ("routine", "expedited") else _URGENCY_COLOUR[rec.urgency]
    )
    urgency = f":{colour}-badge[{URGENCY_ICON[rec.urgency]} {mark}{rec.urgency.upper()}]"
    pathway = "Incomplete - see below" if incomplete else PATHWAY_LABELS[rec.pathway]
    st.markdown(f"**{pathway}** {urgency} {_mjoa_badge(rec)} {_red_flag_badge(rec)}")


def result_bar() -> st.delta_generator.DeltaGenerator:
    """The keyed container the bar is drawn into (sticky, see :mod:`myelo_cds.ui.style`)."""
    return st.container(key=RESULT_BAR_KEY)
