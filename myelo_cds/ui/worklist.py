"""The worklist's way to a patient: pick one of its rows, then open the timeline or a consult."""

from __future__ import annotations

from typing import Any

import streamlit as st

from myelo_cds.ui.records import LAST_CASE_ID

__all__ = ["WORKLIST_COLUMNS", "render_open_patient"]

#: Columns wide enough to read: the course alert and the visit are words, never clipped to "deter...".
WORKLIST_COLUMNS: dict[str, Any] = {
    "course alert": st.column_config.TextColumn("course alert", width="large"),
    "visit": st.column_config.TextColumn("visit", width="large"),
    "last pathway": st.column_config.TextColumn("last pathway", width="medium"),
    "window": st.column_config.TextColumn("window", width="medium"),
}


def _focus() -> None:
    """The patient picked becomes the one the timeline opens on (as after saving a consult)."""
    chosen = st.session_state.get("worklist_patient")
    if chosen:
        st.session_state[LAST_CASE_ID] = chosen


def render_open_patient(patients: list[str]) -> None:
    """A picker over the worklist's patients and the links to their timeline and to the consult."""
    if not patients:
        return
    left, middle, right = st.columns([2, 1, 1], vertical_alignment="bottom")
    chosen = left.selectbox(
        "Open a patient from the worklist",
        list(dict.fromkeys(patients)),
        index=None,
        placeholder="choose a patient",
        key="worklist_patient",
        on_change=_focus,
    )
    if chosen is None:
        return
    middle.page_link("pages/timeline.py", label=f"Timeline of {chosen}", icon=":material/timeline:")
    right.page_link("pages/consult.py", label="Consult", icon=":material/stethoscope:")
    st.caption(
        f"On the consult page, press New patient before entering {chosen}: the form keeps the last"
        " patient's findings until then. With the case id entered, the last visit can be loaded."
    )
