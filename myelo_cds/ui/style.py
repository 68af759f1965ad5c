"""The app's style rules, in one place: what every page shares (readable captions, a
sidebar that starts closed on a tablet), the consult page's result bar that stays in view and
its keyboard entry (section jumps, typing a grade's number).

Streamlit gives a keyed container the class ``st-key-<key>``; the consult rules style those
containers only, so no other page changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import streamlit as st

__all__ = [
    "BODY_KEY",
    "JUMP_MODIFIER",
    "NARROW_PX",
    "RESERVED_JUMP_LETTERS",
    "RESULT_BAR_KEY",
    "add_keyboard_entry",
    "add_page_scripts",
    "apply_app_style",
    "apply_consult_style",
    "jump_badge",
    "key_class",
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
# the wrapper is what sticks (a sticky element moves only within its parent); drawn in a
# fragment (the consult page), the bar is the fragment's only element and the fragment's own
# wrapper sticks. Below about
# 1000 px the form and the explanation stack (the bar stays on top).
# Selected "No" answers and validation stay neutral: red is kept for emergencies (issue 16).
_CSS = f"""
<style>
[data-testid="stLayoutWrapper"]:has(> .st-key-{RESULT_BAR_KEY}),
[data-testid="stLayoutWrapper"]:has(
  > [data-testid="stVerticalBlock"] > [data-testid="stLayoutWrapper"] > .st-key-{RESULT_BAR_KEY}
) {{
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
/* Keyboard entry: a section's jump key beside its heading, like a button's shortcut badge
   (full-strength text on white), and the one-line legend above the form. */
kbd.myelo-jump {{
  font-family: inherit;
  font-size: 0.75rem;
  color: #31333f;
  background: #ffffff;
  border: 1px solid #a3a8b8;
  border-radius: 0.25rem;
  padding: 0 0.3rem;
  margin-left: 0.4rem;
  white-space: nowrap;
}}
p.myelo-keys {{ font-size: 0.875rem; color: #5f5e5b; margin: 0; line-height: 1.9; }}
p.myelo-keys kbd.myelo-jump {{ margin-left: 0; }}
/* A control reached by Tab or a jump is never hidden under the sticky header and result bar. */
[data-testid="stMain"] {{ scroll-padding-top: 10rem; }}
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


# --- Keyboard entry on the consult (issue 16: the standard case in <= 60 key presses) ---------
#: The modifier of a section jump (Streamlit's button shortcuts, e.g. All negative, use it too).
JUMP_MODIFIER = "Alt"
# Alt+letter moves the focus to a section's first control: it never changes a value (the next
# Space, Enter or digit does, on the control the focus ring shows). Chromium and Firefox keep
# Alt+D, Alt+E and Alt+F (address bar, menus) and Streamlit reserves C and R: not used.
RESERVED_JUMP_LETTERS = frozenset("CDEFR")

# One listener for the page's life (the script is drawn on every run, installed once; the
# section map is refreshed each run):
# * Alt+<letter> (``event.code``, so Option+letter on a Mac does the same): scroll the section's
#   first Tab stop to the middle of the screen and focus it; nothing happens when that control
#   is not on screen (another view, a closed tab).
# * A digit in a row of numbered buttons of the form (grades 0-4/0-5, Kang, the mJOA and
#   Nurick levels) chooses the button whose label starts with that digit, as typing a letter
#   does in a drop-down; a digit with no such button does nothing. A button already chosen is
#   focused, not pressed again (pressing it again would clear it).
_KEYBOARD_JS = """
<script>
(() => {
  window.myeloJumps = %(jumps)s;
  if (window.myeloKeyboardEntry) return;
  window.myeloKeyboardEntry = true;
  const shown = (el) => Boolean(el) && el.getClientRects().length > 0;
  const firstStop = (box) => box.querySelector('[tabindex="0"]')
    || box.querySelector('input:not([disabled]), button:not([disabled]), textarea:not([disabled])');
  const jump = (event) => {
    const name = window.myeloJumps[event.code.slice(3)];
    const box = name && document.querySelector("." + name);
    const target = box && firstStop(box);
    if (!shown(target)) return;
    event.preventDefault();
    event.stopPropagation();
    target.scrollIntoView({block: "center"});
    target.focus({preventScroll: true});
    if (target.tagName === "INPUT" && typeof target.select === "function") {
      try { target.select(); } catch (error) { /* a switch has no text to select */ }
    }
  };
  const pick = (event) => {
    const option = event.target.closest && event.target.closest('[role="radiogroup"] [role="radio"]');
    if (!option || !option.closest('[class*="%(form_prefix)s"]')) return;
    const group = option.closest('[role="radiogroup"]');
    const match = [...group.querySelectorAll('[role="radio"]')]
      .find((button) => new RegExp("^" + event.key + "(\\\\D|$)").test(button.innerText.trim()));
    if (!match) return;
    event.preventDefault();
    event.stopPropagation();
    if (match.getAttribute("aria-checked") !== "true") match.click();
    match.focus();
  };
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (event.altKey && /^Key[A-Z]$/.test(event.code)) jump(event);
    else if (!event.altKey && /^[0-9]$/.test(event.key)) pick(event);
  }, true);
})();
</script>
"""


def key_class(key: str) -> str:
    """The class Streamlit gives the element of the widget or container keyed ``key``."""
    return "st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", key.strip())


def jump_badge(letter: str) -> str:
    """A section heading's badge naming its jump key (HTML for ``st.markdown``)."""
    chord = f"{JUMP_MODIFIER} + {letter}"
    return f'<kbd class="myelo-jump" title="{chord} moves the focus here">{chord}</kbd>'


def add_keyboard_entry(jumps: Mapping[str, str], legend: str, form_prefix: str) -> None:
    """Draw ``legend`` (HTML: what the keys do) and install the consult's keyboard entry:
    ``jumps`` maps a letter to the key of the widget that Alt+letter focuses; typing a digit
    chooses a numbered button in widgets whose key starts with ``form_prefix``."""
    for letter in jumps:
        if len(letter) != 1 or not letter.isalpha() or letter.upper() in RESERVED_JUMP_LETTERS:
            raise ValueError(f"not a usable jump letter: {letter!r}")
    script = _KEYBOARD_JS % {
        "jumps": json.dumps({letter.upper(): key_class(key) for letter, key in jumps.items()}),
        "form_prefix": key_class(form_prefix),
    }
    st.html(f'<p class="myelo-keys">{legend}</p>{script}', unsafe_allow_javascript=True)
