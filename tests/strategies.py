"""Hypothesis strategies for valid findings, and the clinical meaning of "worse".

Findings are drawn as JSON-like dicts so that a worsening can be applied to one field
and the result validated again through the public model.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel

from myelo_cds.findings import (
    MRI,
    CervicalLevel,
    EdxSummary,
    History,
    OnsetTempo,
    Reflexes,
    SensoryLevel,
    SphincterChange,
    Strength,
    Symptoms,
    UMNSigns,
    field_spec,
)
from myelo_cds.scales import mjoa_max_total, mjoa_scale

ASSESSED_ON = dt.date(2026, 11, 24)

tri = st.sampled_from([None, True, False])


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def _section(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict whose None values are dropped (unknown = not given)."""
    return st.fixed_dictionaries(fields).map(lambda d: {k: v for k, v in d.items() if v is not None})


def _yes_no(model: type[BaseModel], section: str) -> tuple[str, ...]:
    """The yes/no findings of a section of the findings model, in the model's order."""
    return tuple(name for name in model.model_fields if field_spec(f"{section}.{name}").kind == "tri")


def _top(path: str) -> int:
    """The highest value the model allows for the field."""
    top = field_spec(path).maximum
    if top is None:
        raise ValueError(f"{path} has no upper bound in the findings model")
    return int(top)


def _grades(path: str) -> st.SearchStrategy[int]:
    """Any grade the model allows for the field (its range)."""
    spec = field_spec(path)
    return st.integers(int(spec.minimum or 0), int(_top(path)))


# Every list of fields below is read from the findings model, so a new finding is drawn too.
HISTORY_FIELDS = tuple(History.model_fields)
# The bladder change and its cause are drawn apart (a choice, and a cause only with a change).
SYMPTOM_FLAGS = tuple(name for name in _yes_no(Symptoms, "symptoms") if name != "sphincter_other_cause")
UMN_FIELDS = tuple(UMNSigns.model_fields)
REFLEXES = tuple(Reflexes.model_fields)
MYOTOMES = tuple(Strength.model_fields)
MRI_FLAGS = tuple(name for name in _yes_no(MRI, "mri") if name != "unlisted_levels_normal")
_MJOA_MAX: dict[str, int] = {item["id"]: item["max"] for item in mjoa_scale()["items"]}
_MJOA_TOP = mjoa_max_total()
_KANG_MAX = _top("mri.levels.C5-C6.kang")
kang_grades = _grades("mri.levels.C5-C6.kang")


@st.composite
def patients(draw: st.DrawFn) -> dict[str, Any]:
    management = draw(st.sampled_from(["untreated", "supervised_rehabilitation", "postoperative"]))
    patient: dict[str, Any] = draw(
        _section(
            age_years=_maybe(st.integers(0, 120)),
            symptom_duration_months=_maybe(st.integers(0, 240)),
            smoker=tri,
            comorbidity_count=_maybe(st.integers(0, 10)),
            psychiatric_comorbidity=tri,
            diabetes=tri,
        )
    )
    patient["history"] = draw(_section(**dict.fromkeys(HISTORY_FIELDS, tri)))
    patient["management"] = management
    if management != "untreated":
        days = draw(st.integers(0, 800))
        patient["management_since"] = (ASSESSED_ON - dt.timedelta(days=days)).isoformat()
    if management == "postoperative":
        approach = draw(_maybe(st.sampled_from(["anterior", "posterior", "combined"])))
        if approach is not None:
            patient["surgical_approach"] = approach
    if management == "supervised_rehabilitation":
        start = draw(_maybe(st.integers(0, _MJOA_TOP)))
        if start is not None:
            patient["rehabilitation_start_mjoa"] = start
    return patient


_reflex = _grades("exam.reflexes.biceps.left")
_mrc = _grades("exam.strength.C5.left")
pair = _section(left=_maybe(_reflex), right=_maybe(_reflex))
mrc_pair = _section(left=_maybe(_mrc), right=_maybe(_mrc))

exams = st.fixed_dictionaries(
    {
        "reflexes": st.fixed_dictionaries(dict.fromkeys(REFLEXES, pair)),
        "umn": _section(**dict.fromkeys(UMN_FIELDS, tri)),
        "strength": st.fixed_dictionaries(dict.fromkeys(MYOTOMES, mrc_pair)),
        "coordination": _section(
            grip_release_10s=_maybe(st.integers(0, 60)),
            gait_deviation=tri,
            tandem_gait_abnormal=tri,
            romberg_positive=tri,
            walk_30m_seconds=_maybe(st.floats(5, 600)),
        ),
        "sensation": _section(
            sensory_level=_maybe(st.sampled_from([s.value for s in SensoryLevel])),
            dermatomal_loss=tri,
            stocking_glove_loss=tri,
            vibration_proprioception_loss=tri,
            dissociated_cape_loss=tri,
        ),
        "fasciculations_widespread": tri,
        "tongue_signs": tri,
        "deficits_attributed_to_myelopathy": tri,
    }
).map(lambda d: {k: v for k, v in d.items() if v is not None})

mjoa_items = st.fixed_dictionaries({item: st.integers(0, top) for item, top in _MJOA_MAX.items()})
level_findings = _section(
    kang=_maybe(kang_grades),
    t2_signal=_maybe(st.sampled_from(["none", "faint", "sharp"])),
    t2_extent_segments=_maybe(st.integers(1, 6)),
    t1_hypointensity=tri,
    snake_eyes=tri,
)


@st.composite
def mris(draw: st.DrawFn) -> dict[str, Any]:
    if not draw(st.booleans()):
        return {"available": False}
    mri: dict[str, Any] = {"available": True}
    levels = draw(st.dictionaries(st.sampled_from([level.value for level in CervicalLevel]), level_findings))
    mri["levels"] = levels
    mri.update(draw(_section(unlisted_levels_normal=tri, **dict.fromkeys(MRI_FLAGS, tri))))
    k_line = draw(_maybe(st.sampled_from(["positive", "negative"])))
    if k_line:
        mri["k_line"] = k_line
    return mri


@st.composite
def findings_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A valid findings input (as JSON-like data), with unknowns anywhere."""
    data: dict[str, Any] = {
        "assessment_date": ASSESSED_ON.isoformat(),
        "patient": draw(patients()),
        "symptoms": draw(
            _section(
                **dict.fromkeys(SYMPTOM_FLAGS, tri),
                sphincter_change=_maybe(st.sampled_from([s.value for s in SphincterChange])),
                sphincter_other_cause=tri,
                onset_tempo=_maybe(st.sampled_from([t.value for t in OnsetTempo])),
            )
        ),
        "exam": draw(exams),
        "mri": draw(mris()),
        "electro": draw(
            _section(summary=_maybe(st.sampled_from([e.value for e in EdxSummary])), sep_mep_abnormal=tri)
        ),
    }
    mjoa = draw(_maybe(mjoa_items))
    if mjoa is not None:
        attributed = draw(st.sets(st.sampled_from(list(mjoa))))
        data["mjoa"] = {**mjoa, "not_due_to_myelopathy": sorted(attributed)}
        if draw(st.booleans()):
            earlier = draw(mjoa_items)
            days = draw(st.integers(0, 1000))
            data["earlier_mjoa"] = {
                **earlier,
                "date": (ASSESSED_ON - dt.timedelta(days=days)).isoformat(),
            }
    nurick = draw(_maybe(_grades("nurick")))
    if nurick is not None:
        data["nurick"] = nurick
    if draw(st.sampled_from(["clinic", "clinic", "clinic", "wild"])) == "clinic":
        _clinic_profile(draw, data)
    return data


# Fields a clinic usually records as absent: red-flag screen, mimics, atypical imaging. In the
# "clinic" profile they are mostly False, so that the DCM branches of the table (which need no
# red flag, an adult, no alternative disease) are explored as often as the emergency ones.
_USUALLY_ABSENT = (
    [("patient", "history", name) for name in HISTORY_FIELDS]
    + [
        ("symptoms", name)
        for name in (
            "breathing_difficulty",
            "fever",
            "rapid_loss_of_ambulation",
            "deficit_after_trauma",
            "radicular_arm_pain",
            "dermatomal_numbness",
        )
    ]
    + [("exam", "umn", name) for name in ("jaw_jerk_brisk", "new_since_last_visit")]
    + [("exam", "fasciculations_widespread"), ("exam", "tongue_signs")]
    + [("exam", "sensation", "dermatomal_loss")]
)
_mostly_false = st.sampled_from([False] * 12 + [True, None])


def _clinic_profile(draw: st.DrawFn, data: dict[str, Any]) -> None:
    """Reshape a drawn case into a typical spine-clinic case (adult, screen answered, MRI read)."""
    patient = data["patient"]
    patient["age_years"] = draw(st.integers(18, 95))
    patient["management"] = draw(
        st.sampled_from(["untreated"] * 4 + ["supervised_rehabilitation"] * 2 + ["postoperative"])
    )
    if patient["management"] == "untreated":
        patient.pop("management_since", None)
    else:
        days = draw(st.integers(0, 400))
        patient["management_since"] = (ASSESSED_ON - dt.timedelta(days=days)).isoformat()
    for path in _USUALLY_ABSENT:
        _set(data, path, draw(_mostly_false))
    symptoms = data["symptoms"]
    symptoms["onset_tempo"] = draw(st.sampled_from(["chronic"] * 8 + ["subacute", "acute", "hyperacute"]))
    symptoms["sphincter_change"] = draw(st.sampled_from(["none"] * 6 + ["chronic", "new_acute"]))
    data["exam"]["sensation"]["sensory_level"] = draw(
        st.sampled_from(["none"] * 8 + ["cervical", "thoracic"])
    )
    if draw(st.sampled_from([True, True, True, True, False])):
        levels = data["mri"].get("levels", {}) if data["mri"].get("available") else {}
        levels.setdefault(draw(st.sampled_from([level.value for level in CervicalLevel])), {})
        for finding in levels.values():
            if finding.get("kang") is None:
                finding["kang"] = draw(kang_grades)
        data["mri"] = {"available": True, "levels": levels, "unlisted_levels_normal": True}
        for name in MRI_FLAGS:
            data["mri"][name] = draw(_mostly_false)
    if draw(st.sampled_from([True] * 6 + [False])):
        # Clinic mJOA: mostly mild-to-moderate, so every band boundary is exercised.
        items = draw(
            st.fixed_dictionaries(
                {
                    "ue_motor": st.integers(2, 5),
                    "le_motor": st.integers(3, 7),
                    "ue_sensation": st.integers(1, 3),
                    "sphincter": st.integers(2, 3),
                }
            )
        )
        data["mjoa"] = {**data.get("mjoa", {}), **items}
    summary = draw(
        st.sampled_from([None] * 6 + ["normal", "radiculopathy", "neuropathy", "widespread_anterior_horn"])
    )
    data["electro"].pop("summary", None)
    if summary is not None:
        data["electro"]["summary"] = summary


# --- worsening: one finding made clinically worse --------------------------------------------

_ORDERED_ENUMS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("symptoms", "onset_tempo"): ("chronic", "subacute", "acute", "hyperacute"),
    ("symptoms", "sphincter_change"): ("none", "chronic", "new_acute"),
}


def _get(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = data
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def worsenings(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every single-field worsening of a known finding, as (description, new data).

    Worse means: a pathological sign or symptom absent -> present; an mJOA item, MRC grade or
    grip lower; a reflex brisker; Kang grade or T2 signal higher; a faster onset; a bladder
    change newer; a deficit newly attributed to myelopathy; Nurick higher; EMG showing a
    radiculopathy or widespread denervation (not a peripheral explanation).
    """
    out: list[tuple[str, dict[str, Any]]] = []

    def variant(text: str, path: tuple[str, ...], value: Any) -> None:
        changed = copy.deepcopy(data)
        _set(changed, path, value)
        out.append((text, changed))

    bool_paths = (
        [("patient", "history", name) for name in HISTORY_FIELDS]
        + [("patient", "smoker"), ("patient", "psychiatric_comorbidity"), ("patient", "diabetes")]
        + [("symptoms", name) for name in SYMPTOM_FLAGS]
        + [("exam", "umn", name) for name in UMN_FIELDS]
        + [("exam", "fasciculations_widespread"), ("exam", "tongue_signs")]
        + [
            ("exam", "coordination", name)
            for name in ("gait_deviation", "tandem_gait_abnormal", "romberg_positive")
        ]
        + [
            ("exam", "sensation", name)
            for name in (
                "dermatomal_loss",
                "stocking_glove_loss",
                "vibration_proprioception_loss",
                "dissociated_cape_loss",
            )
        ]
        + [("electro", "sep_mep_abnormal")]
    )
    if data["mri"].get("available"):
        bool_paths += [("mri", name) for name in MRI_FLAGS]
        for level, finding in data["mri"].get("levels", {}).items():
            for name in ("t1_hypointensity", "snake_eyes"):
                if finding.get(name) is False:
                    variant(f"{level} {name} present", ("mri", "levels", level, name), True)
            kang = finding.get("kang")
            if kang is not None and kang < _KANG_MAX:
                variant(f"{level} Kang {kang}->{kang + 1}", ("mri", "levels", level, "kang"), kang + 1)
            signal = finding.get("t2_signal")
            if signal in ("none", "faint"):
                worse = "faint" if signal == "none" else "sharp"
                variant(f"{level} T2 {signal}->{worse}", ("mri", "levels", level, "t2_signal"), worse)
        if data["mri"].get("k_line") == "positive":
            variant("K-line positive->negative", ("mri", "k_line"), "negative")
    path: tuple[str, ...]
    for path in bool_paths:
        if _get(data, path) is False:
            variant(".".join(path) + " absent->present", path, True)
    if _get(data, ("symptoms", "sphincter_other_cause")) is True:
        variant("bladder change no longer explained", ("symptoms", "sphincter_other_cause"), False)
    for path, order in _ORDERED_ENUMS.items():
        value = _get(data, path)
        if value in order[:-1]:
            worse = order[order.index(value) + 1]
            variant(f"{'.'.join(path)} {value}->{worse}", path, worse)
    if _get(data, ("exam", "sensation", "sensory_level")) == "none":
        for level in ("cervical", "thoracic"):
            variant(f"sensory level none->{level}", ("exam", "sensation", "sensory_level"), level)
    if _get(data, ("electro", "summary")) == "normal":
        # A neuropathy or carpal tunnel on nerve conduction is not a worsening of the cord: it
        # explains deficits that would otherwise count as myelopathy (Rhee 2009).
        for summary in ("radiculopathy", "widespread_anterior_horn"):
            variant(f"EMG normal->{summary}", ("electro", "summary"), summary)
    for reflex in REFLEXES:
        for side in ("left", "right"):
            grade = _get(data, ("exam", "reflexes", reflex, side))
            if grade is not None and 2 <= grade < 4:
                path = ("exam", "reflexes", reflex, side)
                variant(f"{reflex} {side} {grade}->{grade + 1}", path, grade + 1)
    for myotome in MYOTOMES:
        for side in ("left", "right"):
            grade = _get(data, ("exam", "strength", myotome, side))
            if grade:
                path = ("exam", "strength", myotome, side)
                variant(f"{myotome} {side} MRC {grade}->{grade - 1}", path, grade - 1)
    grip = _get(data, ("exam", "coordination", "grip_release_10s"))
    if grip:
        variant(
            f"grip-and-release {grip}->{grip - 1}", ("exam", "coordination", "grip_release_10s"), grip - 1
        )
    mjoa = data.get("mjoa")
    if mjoa:
        for item, top in _MJOA_MAX.items():
            if mjoa[item] > 0:
                variant(f"mJOA {item} {mjoa[item]}->{mjoa[item] - 1}", ("mjoa", item), mjoa[item] - 1)
            if item in mjoa.get("not_due_to_myelopathy", []) and mjoa[item] < top:
                attributed = [x for x in mjoa["not_due_to_myelopathy"] if x != item]
                path = ("mjoa", "not_due_to_myelopathy")
                variant(f"mJOA {item} deficit now attributed to myelopathy", path, attributed)
    nurick = data.get("nurick")
    if nurick is not None and nurick < _top("nurick"):
        variant(f"Nurick {nurick}->{nurick + 1}", ("nurick",), nurick + 1)
    return out


@st.composite
def dcm_clinic_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A spine-clinic DCM case: red-flag screen negative, MRI read, mJOA near the band edges.

    These reach the guideline branches (mild / moderate / severe, deterioration, failure to
    improve, non-myelopathic compression) that uniformly random inputs rarely reach.
    """
    data = draw(findings_dicts())
    _clinic_profile(draw, data)
    symptoms, history = data["symptoms"], data["patient"]["history"]
    for name in ("fever", "rapid_loss_of_ambulation", "deficit_after_trauma", "breathing_difficulty"):
        symptoms[name] = False
    symptoms["onset_tempo"] = "chronic"
    symptoms["sphincter_change"] = draw(st.sampled_from(["none", "none", "chronic"]))
    for name in ("cancer", "iv_drug_use", "immunosuppression", "recent_trauma"):
        history[name] = draw(st.sampled_from([False, False, False, True]))
    total = draw(st.integers(9, _MJOA_TOP))
    items = dict(_MJOA_MAX)
    deficit = _MJOA_TOP - total
    for item in draw(st.permutations(list(items))):
        take = min(deficit, items[item] - (1 if item == "le_motor" else 0))
        items[item] -= take
        deficit -= take
    data["mjoa"] = {**items, "not_due_to_myelopathy": draw(st.sampled_from([[], [], [], ["ue_sensation"]]))}
    if draw(st.booleans()):
        change = draw(st.integers(-3, 3))
        before = dict(items)
        before["le_motor"] = max(0, min(_MJOA_MAX["le_motor"], before["le_motor"] - change))
        data["earlier_mjoa"] = {
            **before,
            "date": (ASSESSED_ON - dt.timedelta(days=draw(st.integers(29, 400)))).isoformat(),
        }
    else:
        data.pop("earlier_mjoa", None)
    if not data["mri"].get("available"):
        data["mri"] = {"available": True, "levels": {"C5-C6": {"kang": draw(kang_grades)}}}
    data["mri"]["unlisted_levels_normal"] = True
    for finding in data["mri"]["levels"].values():
        if finding.get("kang") is None:
            finding["kang"] = draw(kang_grades)
    return data


def any_findings_dicts() -> st.SearchStrategy[dict[str, Any]]:
    """Uniformly wild inputs and clinic-shaped DCM cases, half and half."""
    return st.one_of(findings_dicts(), dcm_clinic_dicts())
