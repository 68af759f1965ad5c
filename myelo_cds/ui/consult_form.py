"""The consult form: a quick consult by default, the full examination one click away.

Both views draw the same keyed widgets (:mod:`myelo_cds.ui.finding_widgets`): a value entered
in one is the value in the other, and a value whose widget is not drawn in this view is kept
(``persist_state="session"``) and still reaches the engine. The follow-up and the about
(patient handout) pages read the same draft. A widget left empty is *unknown*, never "absent".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import streamlit as st

from myelo_cds._grammar import count
from myelo_cds.findings import NOT_DONE_ANSWERS, field_spec, findings_from_values
from myelo_cds.rules.red_flag_questions import red_flag_questions
from myelo_cds.scales import mjoa_max_total, nurick_grade, severity_band
from myelo_cds.ui.finding_widgets import (
    KEY,
    LEVEL_FIELDS,
    MJOA_ITEMS,
    REFLEXES,
    changed,
    fill_key,
    mjoa_items,
    mri_level_rows,
    reflex_grid,
    rerun_scope,
    scale_choice,
    strength_grid,
    to_model,
    to_widget,
    widget,
)
from myelo_cds.ui.style import JUMP_MODIFIER, add_keyboard_entry, jump_badge

__all__ = [
    "ALL_NEGATIVE_SHORTCUT",
    "HIDDEN_NOTE",
    "JUMPS",
    "KEY",
    "QUICK",
    "SECTIONS",
    "VIEW_KEY",
    "clear_draft",
    "draft_values",
    "jump_targets",
    "load_draft",
    "render_form",
    "render_red_flag_block",
]

VIEW_KEY = "consult_view"
QUICK, FULL = "Quick consult", "Full examination"
#: The "All negative" button's keyboard shortcut (shown on the button).
ALL_NEGATIVE_SHORTCUT = "Alt+N"

#: Tabs of the form and the plain fields in each (grids are drawn by their own helpers).
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "History & red flags",
        (
            "patient.age_years",
            "patient.sex",
            "symptoms.onset_tempo",
            "patient.symptom_duration_months",
            "patient.history.recent_trauma",
            "symptoms.deficit_after_trauma",
            "symptoms.rapid_loss_of_ambulation",
            "symptoms.breathing_difficulty",
            "symptoms.fever",
            "patient.history.iv_drug_use",
            "patient.history.immunosuppression",
            "patient.history.cancer",
            "patient.history.renal_failure",
            "patient.history.recent_spinal_procedure",
            "symptoms.neck_pain",
            "symptoms.swallowing_difficulty",
            "patient.history.prior_cervical_surgery",
            "patient.history.spinal_radiotherapy",
            "patient.history.bariatric_surgery",
            "patient.history.optic_neuritis",
            "patient.smoker",
            "patient.diabetes",
            "patient.psychiatric_comorbidity",
            "patient.comorbidity_count",
            "patient.management",
            "patient.management_since",
            "patient.surgical_approach",
            "symptoms.wound_problem",
            "patient.rehabilitation_start_mjoa",
        ),
    ),
    (
        "Symptoms",
        (
            "symptoms.hand_clumsiness",
            "symptoms.gait_imbalance",
            "symptoms.falls",
            "symptoms.nondermatomal_numbness",
            "symptoms.lhermitte",
            "symptoms.radicular_arm_pain",
            "symptoms.dermatomal_numbness",
        ),
    ),
    (
        "Reflexes & UMN signs",
        (
            "exam.umn.hoffmann_tromner",
            "exam.umn.babinski",
            "exam.umn.sustained_clonus",
            "exam.umn.inverted_brachioradialis",
            "exam.umn.finger_escape",
            "exam.umn.pectoralis",
            "exam.umn.scapulohumeral",
            "exam.umn.jaw_jerk_brisk",
            "exam.umn.new_since_last_visit",
            "exam.fasciculations_widespread",
            "exam.tongue_signs",
            "exam.deficits_attributed_to_myelopathy",
        ),
    ),
    ("Strength", ()),
    (
        "Coordination & gait",
        (
            "exam.coordination.grip_release_10s",
            "exam.coordination.gait_deviation",
            "exam.coordination.tandem_gait_abnormal",
            "exam.coordination.romberg_positive",
            "exam.coordination.walk_30m_seconds",
            "exam.coordination.walk_30m_steps",
        ),
    ),
    (
        "Sensation & sphincter",
        (
            "exam.sensation.sensory_level",
            "exam.sensation.dermatomal_loss",
            "exam.sensation.stocking_glove_loss",
            "exam.sensation.vibration_proprioception_loss",
            "exam.sensation.dissociated_cape_loss",
            "symptoms.sphincter_change",
            "symptoms.sphincter_other_cause",
        ),
    ),
    ("mJOA & Nurick", ("nurick",)),
    (
        "MRI",
        (
            "mri.available",
            "mri.unlisted_levels_normal",
            "mri.thoracic_cord_compression",
            "mri.opll",
            "mri.k_line",
            "mri.kyphosis",
            "mri.dynamic_instability",
            "mri.longitudinally_extensive_lesion",
            "mri.dorsal_column_signal",
            "mri.intramedullary_mass",
            "mri.syrinx",
            "mri.epidural_collection",
        ),
    ),
    ("Electrodiagnostics", ("electro.summary", "electro.sep_mep_abnormal")),
)

#: The quick consult: what a DCM consult needs on one screen (the red-flag block comes from the
#: rule set, :func:`render_red_flag_block`).
QUICK_HISTORY = ("patient.age_years", "patient.symptom_duration_months")
QUICK_CARE = ("patient.management_since", "patient.surgical_approach")
QUICK_SYMPTOMS = (
    "symptoms.hand_clumsiness",
    "symptoms.gait_imbalance",
    "symptoms.falls",
    "symptoms.nondermatomal_numbness",
)
QUICK_SIGNS = ("exam.umn.hoffmann_tromner", "exam.umn.babinski", "exam.umn.sustained_clonus")
QUICK_MRI = ("mri.unlisted_levels_normal", "mri.epidural_collection")

#: Keyboard entry: Alt+<letter> moves the focus to a section's first control (shown as a badge
#: beside the section's heading); it never changes a value. All negative keeps its own Alt+N.
JUMPS: dict[str, str] = {
    "history": "A",
    "red flags": "Q",
    "symptoms": "S",
    "UMN signs": "U",
    "reflexes": "X",
    "mJOA": "M",
    "MRI": "I",
}


def jump_targets() -> dict[str, str]:
    """``{letter: key}``: the widget (or button) each section jump focuses, its first Tab stop."""
    first = {
        "history": KEY + QUICK_HISTORY[0],
        "red flags": KEY + _red_flag_rows()[0][0],
        "symptoms": KEY + QUICK_SYMPTOMS[0],
        "UMN signs": KEY + QUICK_SIGNS[0],
        "reflexes": fill_key(f"exam.reflexes.{REFLEXES[0]}"),
        "mJOA": f"{KEY}mjoa.{MJOA_ITEMS[0]}",
        "MRI": KEY + "mri.available",
    }
    return {JUMPS[section]: key for section, key in first.items()}


def _heading(text: str, section: str) -> None:
    """A section heading (markdown) with its jump key's badge."""
    st.markdown(f"{text} {jump_badge(JUMPS[section])}", unsafe_allow_html=True)


def _keyboard_legend() -> str:
    """One line: the jump keys in form order and how a row of buttons takes keys (HTML)."""

    def key(chord: str) -> str:
        return f'<kbd class="myelo-jump">{chord}</kbd>'

    jumps = [f"{key(f'{JUMP_MODIFIER} + {letter}')} {section}" for section, letter in JUMPS.items()]
    all_negative = key(ALL_NEGATIVE_SHORTCUT.replace("+", " + "))
    jumps.insert(2, f"{all_negative} all negative")
    return (
        "Keyboard: " + ", ".join(jumps) + ". On a row of numbered buttons type the number; "
        f"{key('Space')} chooses the focused button, {key('Tab')} moves on."
    )


def _fields(paths: Iterable[str], values: dict[str, Any], columns: int = 2) -> None:
    """Fields in rows of ``columns``: one row at a time, so Tab moves along a row, then down."""
    paths = list(paths)
    for start in range(0, len(paths), columns):
        for col, path in zip(st.columns(columns), paths[start : start + columns], strict=False):
            with col:
                values[path] = widget(field_spec(path))


def _all_negative() -> None:
    """Answer every blank red-flag question with its negative answer. An answer already given
    is kept: a "yes" is never overwritten by the bulk control."""
    for question in red_flag_questions():
        key = KEY + question.path
        if st.session_state.get(key) is None:
            st.session_state[key] = to_widget(field_spec(question.path), question.negative)


def render_red_flag_block(values: dict[str, Any]) -> None:
    """Every red-flag question of the rule set in one block, with an "all negative" control."""
    questions = red_flag_questions()
    head = st.columns([3, 2], vertical_alignment="center")
    head[0].markdown(
        f"**Red-flag screen** ({len(questions)} questions from the rule set; a blank stays *not excluded*) "
        + jump_badge(JUMPS["red flags"]),
        unsafe_allow_html=True,
    )
    callback, args = changed(_all_negative)
    head[1].button(
        "All negative",
        key="red_flags_all_negative",
        on_click=callback,
        args=args,
        icon=":material/done_all:",
        width="stretch",
        shortcut=ALL_NEGATIVE_SHORTCUT,  # keyboard entry: one chord instead of Tabbing to it
        help="Documents a negative screen: every blank question is answered with its negative "
        "answer (no; chronic onset; no bladder change); change any one after. Answers already "
        "given are kept.",
    )
    # Yes/no questions two to a row; a choice of several gets the full width (no option clipped).
    yes_no, choices = _red_flag_rows()
    _fields(yes_no, values)
    _fields(choices, values, columns=1)


def _red_flag_rows() -> tuple[list[str], list[str]]:
    """The red-flag questions in the block's order: the yes/no ones, then the choices."""
    paths = [question.path for question in red_flag_questions()]
    tri = [path for path in paths if field_spec(path).kind == "tri"]
    return tri, [path for path in paths if path not in tri]


def _red_flag_paths() -> set[str]:
    return {question.path for question in red_flag_questions()}


def _mjoa_total(values: dict[str, Any], prefix: str = "mjoa") -> None:
    scores = [values.get(f"{prefix}.{name}") for name in MJOA_ITEMS]
    known = [score for score in scores if isinstance(score, int)]
    if len(known) == len(MJOA_ITEMS):
        total = sum(known)
        st.metric(
            "mJOA total",
            f"{total}/{mjoa_max_total()}",
            delta=severity_band(total),
            delta_color="off",
            delta_arrow="off",
        )
    else:
        st.caption("mJOA total appears when all four items are scored.")


def _nurick(values: dict[str, Any]) -> None:
    top = int(field_spec("nurick").maximum or 5)
    values["nurick"] = scale_choice(
        "nurick", "Nurick grade (0-5)", (nurick_grade(n).wording for n in range(top + 1))
    )


def _mjoa_section(values: dict[str, Any]) -> None:
    _heading("**mJOA** (Benzel 18-point): choose the level that fits", "mJOA")
    mjoa_items(values, "mjoa")
    _mjoa_total(values)
    values["mjoa.not_due_to_myelopathy"] = widget(field_spec("mjoa.not_due_to_myelopathy"))
    with st.expander("Earlier mJOA (to measure change)"):
        values["earlier_mjoa.date"] = widget(field_spec("earlier_mjoa.date"), "Date of the earlier mJOA")
        mjoa_items(values, "earlier_mjoa")
    _nurick(values)


def _history(values: dict[str, Any]) -> None:
    _heading("**History**", "history")
    _fields(QUICK_HISTORY, values)
    values["patient.management"] = widget(field_spec("patient.management"))
    if values["patient.management"] not in (None, "untreated"):  # its date decides what applies
        _fields(QUICK_CARE, values)


def _symptoms_and_signs(values: dict[str, Any]) -> None:
    _heading("**Key symptoms**", "symptoms")
    _fields(QUICK_SYMPTOMS, values)
    _heading("**Upper motor neuron signs**", "UMN signs")
    _fields(QUICK_SIGNS, values, columns=3)
    reflex_grid(values, badge=jump_badge(JUMPS["reflexes"]))


def _quick_mri(values: dict[str, Any]) -> None:
    _mri(values, ("kang", "t2_signal"), QUICK_MRI)


#: The quick consult (one screen: history, the red-flag block, key symptoms, UMN signs, mJOA,
#: Nurick, MRI) in sections; with ``refresh`` each section is a fragment (see render_form).
QUICK_SECTIONS: tuple[tuple[str, Callable[[dict[str, Any]], None]], ...] = (
    ("consult_history", _history),
    ("consult_red_flags", render_red_flag_block),
    ("consult_symptoms", _symptoms_and_signs),
    ("consult_mjoa", _mjoa_section),
    ("consult_mri", _quick_mri),
)
#: The key of the fragment that says which entered findings this view does not show.
HIDDEN_NOTE = "consult_hidden"
# {section key: the paths it drew in its last run}: what the quick consult shows.
_DRAWN = "_consult_drawn"


def _quick(values: dict[str, Any]) -> None:
    for _key, draw in QUICK_SECTIONS:
        draw(values)


def _section(
    key: str,
    draw: Callable[[dict[str, Any]], None],
    values: dict[str, Any],
    refresh: Sequence[str],
    guard: Callable[[], None],
) -> None:
    """Draw one section as a keyed fragment: a change to one of its widgets reruns the
    ``refresh`` fragments (the answer first), the section and the note of what is not shown,
    not the whole form."""

    @st.fragment(key=key)
    def section() -> None:
        guard()
        drawn: dict[str, Any] = {}
        with rerun_scope((*refresh, key, HIDDEN_NOTE)):
            draw(drawn)
        values.update(drawn)
        st.session_state[_DRAWN] = {**st.session_state.get(_DRAWN, {}), key: frozenset(drawn)}

    section()


def _hidden_note(guard: Callable[[], None], quick: bool) -> None:
    """The findings entered in the full examination that the quick consult does not show (a
    keyed fragment, drawn after the sections and rerun after each of their changes)."""

    @st.fragment(key=HIDDEN_NOTE)
    def note() -> None:
        guard()
        if not quick:
            return
        shown = frozenset().union(*st.session_state.get(_DRAWN, {}).values())
        _say_what_is_not_shown(
            [path for path, value in draft_values().items() if path not in shown and _entered(value)]
        )

    note()


def _mri(values: dict[str, Any], level_fields: tuple[str, ...], paths: Iterable[str]) -> None:
    _heading("**MRI**", "MRI")
    values["mri.available"] = widget(field_spec("mri.available"))
    if values["mri.available"]:
        _fields(paths, values)
        mri_level_rows(values, level_fields)


def _full(values: dict[str, Any]) -> None:
    """Every finding, in tabs in examination order."""
    red_flags = _red_flag_paths()
    tabs = st.tabs([title for title, _ in SECTIONS])
    for tab, (title, paths) in zip(tabs, SECTIONS, strict=True):
        with tab:
            rest = [path for path in paths if path not in red_flags]
            if title == "History & red flags":
                render_red_flag_block(values)
                _heading("**History**", "history")
            if title == "Reflexes & UMN signs":
                reflex_grid(values, badge=jump_badge(JUMPS["reflexes"]))
            if title == "Strength":
                strength_grid(values)
            if title == "mJOA & Nurick":
                _mjoa_section(values)
            elif title == "MRI":
                _mri(values, LEVEL_FIELDS, [path for path in rest if path != "mri.available"])
            else:
                _fields(rest, values)


def render_form(refresh: Sequence[str] = (), guard: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Draw the form (quick consult or full examination); returns ``{path: value}`` for every
    finding in the draft, drawn in this view or not.

    With ``refresh`` (keys of fragments that draw the answer from :func:`draft_values`, the
    whole draft), each quick-consult section (the full examination: all of it) is a keyed
    fragment: a change to one of its widgets reruns the ``refresh`` fragments, then that
    section and the note of findings not shown, in that order, instead of the whole page.
    ``guard`` runs first in each of these fragments (e.g. the idle-limit check). Without
    ``refresh`` the whole form is drawn on each run.
    """
    if refresh:
        return _fragment_form(refresh, guard)
    values: dict[str, Any] = {}
    if _form_header(values) == FULL:
        _full(values)
        return {**draft_values(), **values}
    note = st.empty()  # above the quick form, filled once it is known what it did not draw
    _quick(values)
    draft = draft_values()
    with note:
        _say_what_is_not_shown(
            [path for path, value in draft.items() if path not in values and _entered(value)]
        )
    return {**draft, **values}


def _form_header(values: dict[str, Any]) -> str:
    top = st.columns([1, 1])
    with top[0]:
        values["case_id"] = widget(field_spec("case_id"), "Pseudonymous case id (no names)")
    with top[1]:
        values["assessment_date"] = widget(field_spec("assessment_date"), "Assessment date (empty = today)")
    view = st.segmented_control(
        "View", [QUICK, FULL], default=QUICK, key=VIEW_KEY, required=True, label_visibility="collapsed"
    )
    st.caption("A blank is *not recorded*, never read as 'no'. Both views fill the same form.")
    add_keyboard_entry(jump_targets(), _keyboard_legend(), KEY)
    return str(view)


def _fragment_form(refresh: Sequence[str], guard: Callable[[], None]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    view = _form_header(values)  # a change here (case id, date, view) reruns the whole page
    st.session_state[_DRAWN] = {"header": frozenset(values)}
    note = st.container()  # above the quick form, filled once the sections have drawn
    if view == FULL:
        _section("consult_full", _full, values, refresh, guard)
    else:
        for key, draw in QUICK_SECTIONS:
            _section(key, draw, values, refresh, guard)
    with note:
        _hidden_note(guard, quick=view != FULL)
    return {**draft_values(), **values}


def _entered(value: Any) -> bool:
    return value not in (None, False, "", [])


def _say_what_is_not_shown(hidden: list[str]) -> None:
    """Findings from the full examination count in the answer: say so where they are not drawn.
    A "not done" answer is drawn beside the not-recorded list in both views, not in a section."""
    hidden = [path for path in hidden if path not in NOT_DONE_ANSWERS]
    if not hidden:
        return
    verb = "is" if len(hidden) == 1 else "are"
    st.caption(
        f"{count(len(hidden), 'finding')} from the full examination {verb} not shown here and count "
        "in the answer; *Full examination* shows them."
    )


#: Kept for the tests and the pages that imported them from here.
_to_widget = to_widget


def draft_values() -> dict[str, Any]:
    """The draft as ``{path: value}`` from session state (any page can read it)."""
    return {
        key[len(KEY) :]: to_model(field_spec(key[len(KEY) :]), value)
        for key, value in st.session_state.items()
        if isinstance(key, str) and key.startswith(KEY)
    }


def findings_data(values: dict[str, Any]) -> dict[str, Any]:
    """Nested findings data for the model; groups left wholly empty are dropped."""
    data = findings_from_values(values)
    data.setdefault("patient", {})  # the patient section is always there, even with the age blank
    if not data.get("mri", {}).get("available"):
        data.pop("mri", None)
    earlier = data.get("earlier_mjoa")
    if earlier is not None and set(earlier) == {"date"}:
        data.pop("earlier_mjoa")
    return data


def load_draft(data: dict[str, Any]) -> None:
    """Put findings data (e.g. an uploaded case) into the form's widgets."""
    clear_draft()
    for path, value in _flatten(data):
        st.session_state[KEY + path] = to_widget(field_spec(path), value)


def clear_draft() -> None:
    """Empty every finding. Each widget is set to its empty value rather than deleted: a
    deleted value is not sent to the browser, which would keep showing (and send back) the
    previous patient's answer."""
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(KEY)]:
        st.session_state[key] = _EMPTY.get(field_spec(key[len(KEY) :]).kind)


_EMPTY: dict[str, Any] = {"bool": False, "set": []}


def _flatten(data: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for name, value in data.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict):
            yield from _flatten(value, path + ".")
        elif value is not None:
            yield path, value
