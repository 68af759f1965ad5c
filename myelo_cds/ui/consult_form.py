"""The consult form: findings widgets grouped the way an examination is done.

Every widget is keyed by its findings path (``f.<path>``) and keeps its value for the whole
session, so the follow-up and the about (patient handout) pages read the same draft. A widget
left empty is *unknown*, never "absent".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import streamlit as st

from myelo_cds.findings import CervicalLevel, FieldSpec, field_spec, findings_from_values
from myelo_cds.scales import mjoa_scale, severity_band

__all__ = ["KEY", "SECTIONS", "clear_draft", "draft_values", "load_draft", "render_form"]

KEY = "f."
_YES, _NO = "Yes", "No"

REFLEXES = ("biceps", "triceps", "brachioradialis", "patellar", "achilles")
MYOTOMES = ("C5", "C6", "C7", "C8", "T1", "L2", "L3", "L4", "L5", "S1")
LEVEL_FIELDS = ("kang", "t2_signal", "t2_extent_segments", "t1_hypointensity", "snake_eyes")
MJOA_ITEMS = ("ue_motor", "le_motor", "ue_sensation", "sphincter")

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

_LABEL_OVERRIDES = {
    "patient.age_years": "Age in whole years (0-120)",
    "mri.unlisted_levels_normal": "Levels left blank below were read as normal",
    "patient.management": "Current management",
    "patient.sex": "Sex",
}


def _human(value: Any) -> str:
    return str(value).replace("_", " ")


def _widget(spec: FieldSpec, label: str | None = None, *, collapsed: bool = False) -> Any:
    """One widget for one findings path; returns the value in model terms (None = unknown)."""
    key = KEY + spec.path
    text = label or _LABEL_OVERRIDES.get(spec.path, spec.label)
    visibility = "collapsed" if collapsed else "visible"
    common: dict[str, Any] = {
        "key": key,
        "help": spec.help,
        "label_visibility": visibility,
        "persist_state": "session",
    }
    if spec.kind == "tri":
        chosen = st.segmented_control(text, [_YES, _NO], **common)
        return {_YES: True, _NO: False}.get(chosen) if chosen else None
    if spec.kind == "bool":
        return st.toggle(text, **common)
    if spec.kind == "enum":
        if len(spec.options) <= 3:
            return st.segmented_control(text, list(spec.options), format_func=_human, **common)
        return st.selectbox(
            text, list(spec.options), index=None, format_func=_human, placeholder="not recorded", **common
        )
    if spec.kind == "set":
        return st.multiselect(text, list(spec.options), format_func=_human, **common) or None
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


def _grade_select(path: str, label: str, top: int, *, wording: Iterable[str] | None = None) -> Any:
    if wording is None:
        return _compact_select(path, label, list(range(top + 1)))
    words = list(wording)
    return st.selectbox(
        label,
        list(range(top + 1)),
        index=None,
        format_func=lambda n: f"{n} - {words[n]}",
        placeholder="not recorded",
        key=KEY + path,
        persist_state="session",
    )


def _compact_select(path: str, label: str, options: list[Any]) -> Any:
    """A narrow select for grids (label hidden but kept for screen readers; '-' = not recorded)."""
    return st.selectbox(
        label,
        options,
        index=None,
        placeholder="-",
        key=KEY + path,
        label_visibility="collapsed",
        persist_state="session",
    )


def _fields(paths: Iterable[str], values: dict[str, Any], columns: int = 2) -> None:
    paths = list(paths)
    cols = st.columns(columns)
    for index, path in enumerate(paths):
        with cols[index % columns]:
            values[path] = _widget(field_spec(path))


def _reflex_grid(values: dict[str, Any]) -> None:
    st.markdown("**Reflex grades** (0 absent, 1 reduced, 2 normal, 3 brisk, 4 with clonus)")
    head = st.columns([2, 1, 1])
    head[1].caption("Left")
    head[2].caption("Right")
    for reflex in REFLEXES:
        row = st.columns([2, 1, 1])
        row[0].markdown(reflex.capitalize())
        for col, side in zip(row[1:], ("left", "right"), strict=True):
            with col:
                path = f"exam.reflexes.{reflex}.{side}"
                values[path] = _grade_select(path, f"{reflex} {side}", 4)


def _strength_grid(values: dict[str, Any]) -> None:
    st.markdown("**MRC power per myotome** (0-5)")
    head = st.columns([2, 1, 1])
    head[1].caption("Left")
    head[2].caption("Right")
    for myotome in MYOTOMES:
        row = st.columns([2, 1, 1])
        row[0].markdown(f"{myotome} - {field_spec(f'exam.strength.{myotome}').label}")
        for col, side in zip(row[1:], ("left", "right"), strict=True):
            with col:
                path = f"exam.strength.{myotome}.{side}"
                values[path] = _grade_select(path, f"{myotome} {side}", 5)


def _mjoa_block(values: dict[str, Any], prefix: str, title: str) -> None:
    items = {item["id"]: item for item in mjoa_scale()["items"]}
    st.markdown(f"**{title}**")
    for name in MJOA_ITEMS:
        item = items[name]
        values[f"{prefix}.{name}"] = _grade_select(
            f"{prefix}.{name}", f"{item['label']} (0-{item['max']})", item["max"], wording=item["levels"]
        )


def _mjoa_section(values: dict[str, Any]) -> None:
    _mjoa_block(values, "mjoa", "mJOA (Benzel 18-point): choose the level that fits")
    scores = [values[f"mjoa.{name}"] for name in MJOA_ITEMS]
    if all(score is not None for score in scores):
        total = sum(scores)
        st.metric(
            "mJOA total", f"{total}/18", delta=severity_band(total), delta_color="off", delta_arrow="off"
        )
    else:
        st.caption("mJOA total appears when all four items are scored.")
    values["mjoa.not_due_to_myelopathy"] = _widget(field_spec("mjoa.not_due_to_myelopathy"))
    with st.expander("Earlier mJOA (to measure change)"):
        values["earlier_mjoa.date"] = _widget(field_spec("earlier_mjoa.date"), "Date of the earlier mJOA")
        _mjoa_block(values, "earlier_mjoa", "Earlier item scores")
    _fields(("nurick",), values, columns=1)


def _mri_levels(values: dict[str, Any]) -> None:
    st.markdown("**Per level** (leave blank where not reported)")
    widths = [0.7, 1.3, 1.3, 1, 1, 1]
    header = st.columns(widths)
    for col, text in zip(
        header, ("Level", "Kang 0-3", "T2 signal", "T2 segments", "T1 low", "Snake eyes"), strict=True
    ):
        col.caption(text)
    for level in CervicalLevel:
        row = st.columns(widths)
        row[0].markdown(level.value)
        for col, name in zip(row[1:], LEVEL_FIELDS, strict=True):
            path = f"mri.levels.{level.value}.{name}"
            label = f"{level.value} {name.replace('_', ' ')}"
            spec = field_spec(path)
            with col:
                if spec.kind == "tri":
                    values[path] = _to_model(spec, _compact_select(path, label, [_YES, _NO]))
                elif spec.kind == "enum":
                    values[path] = _compact_select(path, label, list(spec.options))
                elif name == "kang":
                    values[path] = _grade_select(path, label, 3)
                else:
                    values[path] = _widget(spec, label, collapsed=True)


def render_form() -> dict[str, Any]:
    """Draw the form (tabs in examination order); returns ``{path: value}``."""
    values: dict[str, Any] = {}
    top = st.columns([1, 1])
    with top[0]:
        values["case_id"] = _widget(field_spec("case_id"), "Pseudonymous case id (no names)")
    with top[1]:
        values["assessment_date"] = _widget(field_spec("assessment_date"), "Assessment date (empty = today)")
    tabs = st.tabs([title for title, _ in SECTIONS])
    for tab, (title, paths) in zip(tabs, SECTIONS, strict=True):
        with tab:
            if title == "Reflexes & UMN signs":
                _reflex_grid(values)
            if title == "mJOA & Nurick":
                _mjoa_section(values)
                continue
            if title == "Strength":
                _strength_grid(values)
                continue
            _fields(paths, values)
            if title == "MRI" and values.get("mri.available"):
                _mri_levels(values)
    return values


def _to_model(spec: FieldSpec, value: Any) -> Any:
    if spec.kind == "tri":
        return {_YES: True, _NO: False}.get(value) if value else None
    return value


def _to_widget(spec: FieldSpec, value: Any) -> Any:
    if spec.kind == "tri":
        return _YES if value else _NO
    if spec.kind == "date" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if spec.kind == "set":
        return list(value)
    return value


def draft_values() -> dict[str, Any]:
    """The draft as ``{path: value}`` from session state (any page can read it)."""
    return {
        key[len(KEY) :]: _to_model(field_spec(key[len(KEY) :]), value)
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
        st.session_state[KEY + path] = _to_widget(field_spec(path), value)


def clear_draft() -> None:
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(KEY)]:
        del st.session_state[key]


def _flatten(data: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for name, value in data.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict):
            yield from _flatten(value, path + ".")
        elif value is not None:
            yield path, value
