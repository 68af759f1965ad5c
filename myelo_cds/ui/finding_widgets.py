"""One widget per findings path, shared by the quick consult and the full examination.

Every widget is keyed by its findings path (``f.<path>``) and keeps its value for the whole
session (``persist_state="session"``), so a value entered in one view is the same value in the
other: one model, never two copies. A widget left empty is *unknown*, never "absent".
Grades are segmented buttons (one click, and the value stays readable on a tablet); a help
icon is drawn only when its text says more than the label.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from myelo_cds.findings import CervicalLevel, FieldSpec, field_spec
from myelo_cds.rules.engine import default_engine
from myelo_cds.scales import mjoa_scale

__all__ = [
    "KEY",
    "LEVEL_FIELDS",
    "MJOA_ITEMS",
    "MYOTOMES",
    "NO",
    "REFLEXES",
    "YES",
    "changed",
    "fill_key",
    "grade_buttons",
    "help_text",
    "mjoa_items",
    "mri_level_rows",
    "reflex_grid",
    "rerun_scope",
    "scale_choice",
    "strength_grid",
    "to_model",
    "to_widget",
    "widget",
]

KEY = "f."
YES, NO = "Yes", "No"

REFLEXES = ("biceps", "triceps", "brachioradialis", "patellar", "achilles")
MYOTOMES = ("C5", "C6", "C7", "C8", "T1", "L2", "L3", "L4", "L5", "S1")
LEVEL_FIELDS = ("kang", "t2_signal", "t2_extent_segments", "t1_hypointensity", "snake_eyes")
MJOA_ITEMS = ("ue_motor", "le_motor", "ue_sensation", "sphincter")
_SIDES = ("left", "right")
# Up to this many choices are buttons in a row (one click); more are a drop-down.
_BUTTON_CHOICES = 4
# Help that only says what every blank means is said once, above the form.
_GENERIC_HELP = ("", "Leave empty if not examined.")

LABEL_OVERRIDES = {
    "patient.age_years": "Age in whole years (0-120)",
    "mri.unlisted_levels_normal": "Levels left blank below were read as normal",
    "patient.management": "Current management",
    "patient.sex": "Sex",
}


# The fragments (by key) a change to a widget drawn here reruns; empty: Streamlit's default.
_SCOPE: ContextVar[tuple[str, ...]] = ContextVar("myelo_cds_rerun_scope", default=())


@contextlib.contextmanager
def rerun_scope(keys: Sequence[str]) -> Iterator[None]:
    """Widgets drawn inside rerun exactly the fragments keyed ``keys`` (in that order) when
    their value changes: e.g. their own section and the fragments that draw the answer."""
    token = _SCOPE.set(tuple(keys))
    try:
        yield
    finally:
        _SCOPE.reset(token)


def _then_rerun(keys: tuple[str, ...], action: Callable[..., None] | None, args: tuple[Any, ...]) -> None:
    if action is not None:
        action(*args)
    context = get_script_run_ctx()
    # Only a change that would rerun its own fragment is widened to ``keys``: a change that
    # reruns the whole page (with others, or from a test harness) already redraws everything.
    if context is not None and context.fragment_ids_this_run:
        st.rerun(list(keys))


def changed(
    action: Callable[..., None] | None = None, args: tuple[Any, ...] = ()
) -> tuple[Callable[..., None] | None, tuple[Any, ...]]:
    """``(callback, args)`` for a widget's ``on_change``/``on_click``: ``action(*args)``, then,
    inside :func:`rerun_scope`, the rerun of its fragments."""
    keys = _SCOPE.get()
    if not keys:
        return action, args
    return _then_rerun, (keys, action, args)


def human(value: Any) -> str:
    return str(value).replace("_", " ")


def help_text(spec: FieldSpec) -> str | None:
    """The field's help, or ``None`` when it only repeats the label."""
    rest = spec.help.removeprefix(spec.label).strip().removeprefix(".").strip()
    return None if rest in _GENERIC_HELP else spec.help


def widget(spec: FieldSpec, label: str | None = None, *, collapsed: bool = False) -> Any:
    """One widget for one findings path; returns the value in model terms (None = unknown)."""
    text = label or LABEL_OVERRIDES.get(spec.path, spec.label)
    callback, args = changed()
    common: dict[str, Any] = {
        "key": KEY + spec.path,
        "on_change": callback,
        "args": args,
        "help": help_text(spec),
        "label_visibility": "collapsed" if collapsed else "visible",
        "persist_state": "session",
    }
    if spec.kind == "tri":
        return to_model(spec, st.segmented_control(text, [YES, NO], **common))
    if spec.kind == "bool":
        return st.toggle(text, **common)
    if spec.kind == "enum":
        if len(spec.options) <= _BUTTON_CHOICES:
            return st.segmented_control(text, list(spec.options), format_func=human, **common)
        return st.selectbox(
            text, list(spec.options), index=None, format_func=human, placeholder="not recorded", **common
        )
    if spec.kind == "set":
        return st.multiselect(text, list(spec.options), format_func=human, **common) or None
    if spec.kind in ("int", "float"):
        integer = spec.kind == "int"
        cast: Callable[[float], Any] = int if integer else float
        return st.number_input(
            text,
            min_value=None if spec.minimum is None else cast(spec.minimum),
            max_value=None if spec.maximum is None else cast(spec.maximum),
            value=None,
            step=1 if integer else 0.5,
            placeholder="-" if collapsed else "not recorded",
            **common,
        )
    if spec.kind == "date":
        return st.date_input(text, value=None, format="YYYY-MM-DD", **common)
    return st.text_input(text, placeholder="not recorded", **common) or None


def grade_buttons(path: str, label: str, top: int) -> Any:
    """Segmented 0..top buttons for a grid cell (label kept for screen readers, not drawn)."""
    callback, args = changed()
    return st.segmented_control(
        label,
        list(range(top + 1)),
        key=KEY + path,
        on_change=callback,
        args=args,
        label_visibility="collapsed",
        persist_state="session",
    )


def scale_choice(path: str, label: str, wording: Iterable[str]) -> Any:
    """A scale item with every level's wording on its own button (one click, nothing hidden)."""
    words = list(wording)
    callback, args = changed()
    return st.pills(
        label,
        list(range(len(words))),
        format_func=lambda n: f"{n} - {words[n]}",
        key=KEY + path,
        on_change=callback,
        args=args,
        persist_state="session",
    )


def mjoa_items(values: dict[str, Any], prefix: str) -> None:
    """The four mJOA items with the scale's wording (``data/scales/mjoa.toml``)."""
    items = {item["id"]: item for item in mjoa_scale()["items"]}
    for name in MJOA_ITEMS:
        item = items[name]
        values[f"{prefix}.{name}"] = scale_choice(
            f"{prefix}.{name}", f"{item['label']} (0-{item['max']})", item["levels"][: item["max"] + 1]
        )


def _set_all(keys: list[str], value: int) -> None:
    for key in keys:
        st.session_state[key] = value


def fill_key(first_row: str) -> str:
    """The key of a grid's fill button ("Brisk throughout"), named by the grid's first row."""
    return f"fill.{first_row}"


def _grid(
    values: dict[str, Any],
    title: str,
    rows: Iterable[tuple[str, str]],
    top: int,
    shortcut: tuple[str, int],
    *,
    badge: str = "",
) -> None:
    """Rows of left/right grade buttons, and one button that fills every cell (then change any).
    ``badge``: HTML drawn after the title (a section's jump key)."""
    rows = list(rows)
    keys = [f"{KEY}{path}.{side}" for path, _ in rows for side in _SIDES]
    head = st.columns([3, 2], vertical_alignment="center")
    head[0].markdown(f"{title} {badge}".strip(), unsafe_allow_html=bool(badge))
    callback, args = changed(_set_all, (keys, shortcut[1]))
    head[1].button(shortcut[0], key=fill_key(rows[0][0]), on_click=callback, args=args, width="stretch")
    for path, label in rows:
        row = st.columns([1.2, 2, 2], vertical_alignment="center")
        row[0].markdown(label)
        for col, side in zip(row[1:], _SIDES, strict=True):
            with col:
                values[f"{path}.{side}"] = grade_buttons(f"{path}.{side}", f"{label} {side}", top)


def reflex_grid(values: dict[str, Any], badge: str = "") -> None:
    """Reflex grades, left then right per reflex; "brisk throughout" sets the grade the rules
    read as brisk (the rule set's ``hyperreflexia_min_grade``). ``badge``: after the title."""
    brisk = int(default_engine().params["hyperreflexia_min_grade"])
    top = int(field_spec("exam.reflexes.biceps.left").maximum or 4)
    _grid(
        values,
        "**Reflexes** (0 absent, 1 reduced, 2 normal, 3 brisk, 4 with clonus; left | right)",
        [(f"exam.reflexes.{name}", name.capitalize()) for name in REFLEXES],
        top,
        (f"Brisk throughout ({brisk})", brisk),
        badge=badge,
    )


def strength_grid(values: dict[str, Any]) -> None:
    """MRC power per myotome; "5/5 throughout" fills full power, then change the weak ones."""
    full = int(field_spec("exam.strength.C5.left").maximum or 5)
    _grid(
        values,
        "**MRC power per myotome** (left | right)",
        [(f"exam.strength.{m}", f"{m} {field_spec(f'exam.strength.{m}').label.lower()}") for m in MYOTOMES],
        full,
        (f"{full}/{full} throughout", full),
    )


def mri_level_rows(values: dict[str, Any], fields: tuple[str, ...]) -> None:
    """Per cervical level: Kang and T2 signal (and, in the full examination, the rest)."""
    captions = {
        "kang": "Kang 0-3",
        "t2_signal": "T2 signal",
        "t2_extent_segments": "T2 segments",
        "t1_hypointensity": "T1 low",
        "snake_eyes": "Snake eyes",
    }
    widths = [0.6, 1.6, 1.8, *([1] * (len(fields) - 2))]
    header = st.columns(widths)
    for col, text in zip(header, ("Level", *(captions[name] for name in fields)), strict=True):
        col.caption(text)
    for level in CervicalLevel:
        row = st.columns(widths, vertical_alignment="center")
        row[0].markdown(level.value)
        for col, name in zip(row[1:], fields, strict=True):
            path = f"mri.levels.{level.value}.{name}"
            spec = field_spec(path)
            label = f"{level.value} {captions[name]}"
            with col:
                if name == "kang":
                    values[path] = grade_buttons(path, label, int(spec.maximum or 3))
                else:
                    values[path] = widget(spec, label, collapsed=True)


def to_model(spec: FieldSpec, value: Any) -> Any:
    if spec.kind == "tri":
        return {YES: True, NO: False}.get(value) if value else None
    if spec.kind == "bool":  # an unticked toggle is the model's default, not an entry (a blank)
        return True if value else None
    return value


def to_widget(spec: FieldSpec, value: Any) -> Any:
    if spec.kind == "tri":
        return YES if value else NO
    if spec.kind == "date" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if spec.kind == "set":
        return list(value)
    return value
