"""The consult page's layout rules, in one place: a result bar that stays in view.

Streamlit gives a keyed container the class ``st-key-<key>``; the rules below style those
containers only, so no other page changes.
"""

from __future__ import annotations

import streamlit as st

__all__ = ["BODY_KEY", "RESULT_BAR_KEY", "apply_consult_style"]

RESULT_BAR_KEY = "result_bar"
BODY_KEY = "consult_body"

# The bar sticks under Streamlit's header (3.75rem) while the page scrolls, above the form and
# the explanation. Streamlit wraps each container in a layout wrapper of the same height, so
# the wrapper is what sticks (a sticky element moves only within its parent). Below about
# 1000 px the form and the explanation stack (the bar stays on top).
# Selected "No" answers and validation stay neutral: red is kept for emergencies (issue 16).
_CSS = f"""
<style>
[data-testid="stLayoutWrapper"]:has(> .st-key-{RESULT_BAR_KEY}) {{
  position: sticky;
  top: 3.75rem;
  z-index: 990;
  background-color: #ffffff !important;
  box-shadow: 0 1px 0 rgba(49, 51, 63, 0.2);
}}
.st-key-{RESULT_BAR_KEY} {{
  background-color: #ffffff !important;
  padding: 0.5rem 0 0.6rem 0 !important;
}}
.st-key-{RESULT_BAR_KEY} p {{ line-height: 2; }}
/* Grade buttons are compact, so a row of 0-5 fits a tablet column without wrapping. */
[data-testid="stButtonGroup"] button[data-variant="segmented_control"] {{
  padding-left: 0.5rem;
  padding-right: 0.5rem;
  min-width: 0;
}}
/* A long scale level wraps inside its button rather than being cut off. */
[data-testid="stButtonGroup"] button {{ max-width: 100%; height: auto; }}
[data-testid="stButtonGroup"] button p {{ white-space: normal; text-align: left; }}
/* Every option of a choice on screen: button groups wrap instead of scrolling sideways
   (a scale level hidden off the edge is a level the clinician does not see). */
[data-testid="stButtonGroup"] [role="radiogroup"] {{
  flex-wrap: wrap !important;
  overflow: visible !important;
}}
@media (max-width: 1000px) {{
  .st-key-{BODY_KEY} > [data-testid="stLayoutWrapper"] > [data-testid="stHorizontalBlock"],
  .st-key-{BODY_KEY} > [data-testid="stHorizontalBlock"] {{
    flex-direction: column;
  }}
  .st-key-{BODY_KEY} > [data-testid="stLayoutWrapper"] > [data-testid="stHorizontalBlock"] > div,
  .st-key-{BODY_KEY} > [data-testid="stHorizontalBlock"] > div {{
    width: 100% !important;
    flex: 1 1 100% !important;
  }}
}}
</style>
"""


def apply_consult_style() -> None:
    """Add the consult page's layout rules (drawn once per run; no visible element)."""
    st.html(_CSS)
