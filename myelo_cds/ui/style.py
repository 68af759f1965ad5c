"""The app's style rules, in one place: what every page shares (readable captions, a
sidebar that starts closed on a tablet) and the consult page's result bar that stays in view.

Streamlit gives a keyed container the class ``st-key-<key>``; the consult rules style those
containers only, so no other page changes.
"""

from __future__ import annotations

import streamlit as st

__all__ = [
    "BODY_KEY",
    "NARROW_PX",
    "RESULT_BAR_KEY",
    "add_page_scripts",
    "apply_app_style",
    "apply_consult_style",
]

RESULT_BAR_KEY = "result_bar"
BODY_KEY = "consult_body"
#: Below this window width (CSS pixels) the consult stacks and the sidebar starts closed.
NARROW_PX = 1000

# Every page (axe-core, WCAG 2 AA): Streamlit draws captions in its 60% text colour, 3.9:1 on
# white, under the 4.5:1 that small text needs; this grey is 6.5:1 on white and 5.8:1 on the
# palest tinted background (the caption's own 60% opacity is what made it faint). A button's
# keyboard-shortcut badge (All negative's Alt+N) is drawn faint too: full-strength text on white.
_APP_CSS = """
<style>
[data-testid="stCaptionContainer"] { color: #5f5e5b; opacity: 1; }
kbd[aria-label^="Shortcut"] { color: #31333f; background: #ffffff; opacity: 1; }
</style>
"""

# Streamlit's "auto" sidebar starts closed only up to 768 px, so a tablet (820 px) opened with
# the navigation taking a third of the screen. Below NARROW_PX this closes it once when a page
# loads, and after a page is chosen from it; it stays one click away (the header's arrow). Its
# own click stores "closed" as the browser's preference, which would then close the sidebar on
# a wide screen too: the preference held before is put back.
# A static table wider than its column scrolls sideways in a box that Streamlit leaves out of
# the Tab order (axe-core: scrollable-region-focusable): such a box takes the focus, so the arrow
# keys scroll it.
_PAGE_JS = f"""
<script>
(() => {{
  if (window.myeloPageScripts) return;
  window.myeloPageScripts = true;
  const prefix = "stSidebarCollapsed-";
  const close = () => {{
    const button = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
    if (!button || window.innerWidth >= {NARROW_PX}) return false;
    if (button.getAttribute("aria-expanded") !== "true") return true;  // closed already
    const kept = Object.keys(localStorage).filter((key) => key.startsWith(prefix))
      .map((key) => [key, localStorage.getItem(key)]);
    button.click();
    Object.keys(localStorage).filter((key) => key.startsWith(prefix))
      .forEach((key) => localStorage.removeItem(key));
    kept.forEach(([key, value]) => localStorage.setItem(key, value));
    return true;
  }};
  if (window.innerWidth < {NARROW_PX}) {{
    document.addEventListener("click", (event) => {{
      if (event.target.closest('[data-testid="stSidebarNav"] a')) setTimeout(close, 300);
    }});
    const started = Date.now();
    const attempt = () => {{ if (!close() && Date.now() - started < 5000) setTimeout(attempt, 100); }};
    attempt();
  }}
  let queued = false;
  const reachable = () => {{
    queued = false;
    document.querySelectorAll('[data-testid="stTable"] > div').forEach((box) => {{
      if (box.scrollWidth > box.clientWidth && !box.hasAttribute("tabindex")) box.tabIndex = 0;
    }});
  }};
  new MutationObserver(() => {{ if (!queued) {{ queued = true; requestAnimationFrame(reachable); }} }})
    .observe(document.body, {{childList: true, subtree: true}});
  window.addEventListener("resize", reachable);
}})();
</script>
"""

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


def apply_app_style() -> None:
    """Add the rules every page shares (drawn once per run; no visible element)."""
    st.html(_APP_CSS)


def add_page_scripts() -> None:
    """Start with the sidebar closed below ``NARROW_PX`` and let a table that scrolls sideways
    take the keyboard focus (call it inside the sidebar; it draws nothing)."""
    st.html(_PAGE_JS, unsafe_allow_javascript=True)


def apply_consult_style() -> None:
    """Add the consult page's layout rules (drawn once per run; no visible element)."""
    st.html(_CSS)
