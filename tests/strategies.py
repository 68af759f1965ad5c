"""Hypothesis strategies for valid findings, and the clinical meaning of "worse".

Findings are drawn as JSON-like dicts so that a worsening can be applied to one field
and the result validated again through the public model.

A case is drawn as one string of random bytes (``_pieces``): each field is a short tuple of
options (a blank repeated as often as the values beside it, so that it is drawn half the time;
a weighted option repeated), and the bytes, read as one number, pick an option of each field
as its digits in the mixed radix of the option counts. Every combination is reachable with the
same odds as a draw per field, but hypothesis records two choices per case instead of about
300: recording, mutating and replaying those took 13 ms per case, a hundred times the
engine's decision on it, and most of the time of the property tests (now about 1 ms).
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import math
from collections.abc import Iterable
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

TRI: tuple[bool | None, ...] = (None, True, False)


def _or_blank(values: Iterable[Any]) -> tuple[Any, ...]:
    """The values, or blank (None) half the time."""
    options = tuple(values)
    return (None,) * len(options) + options


def _span(low: int, high: int) -> tuple[int, ...]:
    return tuple(range(low, high + 1))


def _pieces(**fields: tuple[Any, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """One option of each field, all read from one string of random bytes.

    The bytes are a number, and its digits in the mixed radix of the fields' option counts
    pick the options. Hypothesis draws fixed-size bytes uniformly (an integer it would not:
    above 256 it favours small numbers), and 64 spare bits more than the
    combinations need make every combination equally likely to within 2**-64. Shrinking moves
    the bytes towards zero: towards the first option of every field (a blank, where there is
    one).
    """
    combinations = math.prod(len(options) for options in fields.values())
    width = (combinations.bit_length() + 64 + 7) // 8

    def decode(raw: bytes) -> dict[str, Any]:
        number = int.from_bytes(raw, "big")
        drawn: dict[str, Any] = {}
        for name, options in fields.items():
            number, digit = divmod(number, len(options))
            drawn[name] = options[digit]
        return drawn

    return st.binary(min_size=width, max_size=width).map(decode)


def _given(drawn: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The drawn fields under ``prefix`` (without it) that are not blank (unknown = not given)."""
    return {
        name[len(prefix) :]: value
        for name, value in drawn.items()
        if value is not None and name.startswith(prefix)
    }


def _fields(**fields: tuple[Any, ...]) -> dict[str, tuple[Any, ...]]:
    """Fields and their options, for ``_pieces``."""
    return fields


def _prefixed(prefix: str, fields: dict[str, tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
    return {prefix + name: options for name, options in fields.items()}


def _under(drawn: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The drawn fields under ``prefix``, without it (blanks kept)."""
    return {name[len(prefix) :]: value for name, value in drawn.items() if name.startswith(prefix)}


def _yes_no(model: type[BaseModel], section: str) -> tuple[str, ...]:
    """The yes/no findings of a section of the findings model, in the model's order."""
    return tuple(name for name in model.model_fields if field_spec(f"{section}.{name}").kind == "tri")


def _top(path: str) -> int:
    """The highest value the model allows for the field."""
    top = field_spec(path).maximum
    if top is None:
        raise ValueError(f"{path} has no upper bound in the findings model")
    return int(top)


def _grades(path: str) -> tuple[int, ...]:
    """Every grade the model allows for the field (its range)."""
    return _span(int(field_spec(path).minimum or 0), _top(path))


# Every list of fields below is read from the findings model, so a new finding is drawn too.
HISTORY_FIELDS = tuple(History.model_fields)
# The bladder change and its cause are drawn apart (a choice, and a cause only with a change).
SYMPTOM_FLAGS = tuple(name for name in _yes_no(Symptoms, "symptoms") if name != "sphincter_other_cause")
UMN_FIELDS = tuple(UMNSigns.model_fields)
REFLEXES = tuple(Reflexes.model_fields)
MYOTOMES = tuple(Strength.model_fields)
MRI_FLAGS = tuple(name for name in _yes_no(MRI, "mri") if name != "unlisted_levels_normal")
LEVELS = tuple(level.value for level in CervicalLevel)
SIDES = ("left", "right")
_MJOA_MAX: dict[str, int] = {item["id"]: item["max"] for item in mjoa_scale()["items"]}
_MJOA_TOP = mjoa_max_total()
KANG_GRADES = _grades("mri.levels.C5-C6.kang")
_KANG_MAX = KANG_GRADES[-1]


def _values(enum: Iterable[Any]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


_PATIENT = _fields(
    management=("untreated", "supervised_rehabilitation", "postoperative"),
    age_years=_or_blank(_span(0, 120)),
    symptom_duration_months=_or_blank(_span(0, 240)),
    smoker=TRI,
    comorbidity_count=_or_blank(_span(0, 10)),
    psychiatric_comorbidity=TRI,
    diabetes=TRI,
    **{f"history.{name}": TRI for name in HISTORY_FIELDS},
    days=_span(0, 800),
    surgical_approach=_or_blank(("anterior", "posterior", "combined")),
    rehabilitation_start_mjoa=_or_blank(_span(0, _MJOA_TOP)),
)
# The patient's own fields (the rest are the history, and those drawn for one management).
_PATIENT_FIELDS = (
    "age_years",
    "symptom_duration_months",
    "smoker",
    "comorbidity_count",
    "psychiatric_comorbidity",
    "diabetes",
)


def _patient_of(drawn: dict[str, Any]) -> dict[str, Any]:
    management = drawn["management"]
    patient = {name: drawn[name] for name in _PATIENT_FIELDS if drawn[name] is not None}
    patient["history"] = _given(drawn, "history.")
    patient["management"] = management
    if management != "untreated":
        patient["management_since"] = (ASSESSED_ON - dt.timedelta(days=drawn["days"])).isoformat()
    if management == "postoperative" and drawn["surgical_approach"] is not None:
        patient["surgical_approach"] = drawn["surgical_approach"]
    if management == "supervised_rehabilitation" and drawn["rehabilitation_start_mjoa"] is not None:
        patient["rehabilitation_start_mjoa"] = drawn["rehabilitation_start_mjoa"]
    return patient


_reflex_grades = _or_blank(_grades("exam.reflexes.biceps.left"))
_mrc_grades = _or_blank(_grades("exam.strength.C5.left"))
_EXAM = _fields(
    **{f"reflexes.{reflex}.{side}": _reflex_grades for reflex in REFLEXES for side in SIDES},
    **{f"strength.{myotome}.{side}": _mrc_grades for myotome in MYOTOMES for side in SIDES},
    **{f"umn.{name}": TRI for name in UMN_FIELDS},
    **{
        "coordination.grip_release_10s": _or_blank(_span(0, 60)),
        "coordination.gait_deviation": TRI,
        "coordination.tandem_gait_abnormal": TRI,
        "coordination.romberg_positive": TRI,
        "sensation.sensory_level": _or_blank(_values(SensoryLevel)),
        "sensation.dermatomal_loss": TRI,
        "sensation.stocking_glove_loss": TRI,
        "sensation.vibration_proprioception_loss": TRI,
        "sensation.dissociated_cape_loss": TRI,
    },
    fasciculations_widespread=TRI,
    tongue_signs=TRI,
    deficits_attributed_to_myelopathy=TRI,
)
# A time in seconds: a float drawn by hypothesis itself (its edges and odd fractions).
_walk_seconds = st.one_of(st.none(), st.floats(5, 600))


def _exam_of(drawn: dict[str, Any], walk_seconds: float | None) -> dict[str, Any]:
    exam: dict[str, Any] = {
        "reflexes": {reflex: _given(drawn, f"reflexes.{reflex}.") for reflex in REFLEXES},
        "umn": _given(drawn, "umn."),
        "strength": {myotome: _given(drawn, f"strength.{myotome}.") for myotome in MYOTOMES},
        "coordination": _given(drawn, "coordination."),
        "sensation": _given(drawn, "sensation."),
    }
    if walk_seconds is not None:
        exam["coordination"]["walk_30m_seconds"] = walk_seconds
    for name in ("fasciculations_widespread", "tongue_signs", "deficits_attributed_to_myelopathy"):
        if drawn[name] is not None:
            exam[name] = drawn[name]
    return exam


_level_findings = {
    "kang": _or_blank(KANG_GRADES),
    "t2_signal": _or_blank(("none", "faint", "sharp")),
    "t2_extent_segments": _or_blank(_span(1, 6)),
    "t1_hypointensity": TRI,
    "snake_eyes": TRI,
}
_MRI = _fields(
    available=(False, True),
    # Each level is described in a third of the scans (none in about one in twelve).
    **{f"{level}.described": (False, False, True) for level in LEVELS},
    **{f"{level}.{name}": options for level in LEVELS for name, options in _level_findings.items()},
    unlisted_levels_normal=TRI,
    **{f"flag.{name}": TRI for name in MRI_FLAGS},
    k_line=_or_blank(("positive", "negative")),
)


def _mri_of(drawn: dict[str, Any]) -> dict[str, Any]:
    if not drawn["available"]:
        return {"available": False}
    levels = {
        level: {
            name: drawn[f"{level}.{name}"] for name in _level_findings if drawn[f"{level}.{name}"] is not None
        }
        for level in LEVELS
        if drawn[f"{level}.described"]
    }
    mri: dict[str, Any] = {"available": True, "levels": levels, **_given(drawn, "flag.")}
    if drawn["unlisted_levels_normal"] is not None:
        mri["unlisted_levels_normal"] = drawn["unlisted_levels_normal"]
    if drawn["k_line"]:
        mri["k_line"] = drawn["k_line"]
    return mri


_REST = _fields(
    **{f"symptoms.{name}": TRI for name in SYMPTOM_FLAGS},
    **{
        "symptoms.sphincter_change": _or_blank(_values(SphincterChange)),
        "symptoms.sphincter_other_cause": TRI,
        "symptoms.onset_tempo": _or_blank(_values(OnsetTempo)),
        "electro.summary": _or_blank(_values(EdxSummary)),
        "electro.sep_mep_abnormal": TRI,
    },
    mjoa=(False, True),
    **{f"mjoa.{item}": _span(0, top) for item, top in _MJOA_MAX.items()},
    **{f"not_due.{item}": (False, True) for item in _MJOA_MAX},
    earlier=(False, True),
    **{f"earlier.{item}": _span(0, top) for item, top in _MJOA_MAX.items()},
    earlier_days=_span(0, 1000),
    nurick=_or_blank(_grades("nurick")),
    profile=("clinic", "clinic", "clinic", "wild"),
)


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
_MOSTLY_FALSE = (False,) * 12 + (True, None)
_CLINIC = _fields(
    age_years=_span(18, 95),
    management=("untreated",) * 4 + ("supervised_rehabilitation",) * 2 + ("postoperative",),
    days=_span(0, 400),
    **{".".join(path): _MOSTLY_FALSE for path in _USUALLY_ABSENT},
    onset_tempo=("chronic",) * 8 + ("subacute", "acute", "hyperacute"),
    sphincter_change=("none",) * 6 + ("chronic", "new_acute"),
    sensory_level=("none",) * 8 + ("cervical", "thoracic"),
    mri_read=(True,) * 4 + (False,),
    read_level=LEVELS,
    **{f"kang.{level}": KANG_GRADES for level in LEVELS},
    **{f"flag.{name}": _MOSTLY_FALSE for name in MRI_FLAGS},
    # Clinic mJOA: mostly mild-to-moderate, so every band boundary is exercised.
    clinic_mjoa=(True,) * 6 + (False,),
    ue_motor=_span(2, 5),
    le_motor=_span(3, 7),
    ue_sensation=_span(1, 3),
    sphincter=_span(2, 3),
    summary=(None,) * 6 + ("normal", "radiculopathy", "neuropathy", "widespread_anterior_horn"),
)


def _clinic_profile(clinic: dict[str, Any], data: dict[str, Any]) -> None:
    """Reshape a drawn case into a typical spine-clinic case (adult, screen answered, MRI read)."""
    patient = data["patient"]
    patient["age_years"] = clinic["age_years"]
    patient["management"] = clinic["management"]
    if patient["management"] == "untreated":
        patient.pop("management_since", None)
    else:
        patient["management_since"] = (ASSESSED_ON - dt.timedelta(days=clinic["days"])).isoformat()
    for path in _USUALLY_ABSENT:
        _set(data, path, clinic[".".join(path)])
    symptoms = data["symptoms"]
    symptoms["onset_tempo"] = clinic["onset_tempo"]
    symptoms["sphincter_change"] = clinic["sphincter_change"]
    data["exam"]["sensation"]["sensory_level"] = clinic["sensory_level"]
    if clinic["mri_read"]:
        levels = data["mri"].get("levels", {}) if data["mri"].get("available") else {}
        levels.setdefault(clinic["read_level"], {})
        for level, finding in levels.items():
            if finding.get("kang") is None:
                finding["kang"] = clinic[f"kang.{level}"]
        data["mri"] = {"available": True, "levels": levels, "unlisted_levels_normal": True}
        for name in MRI_FLAGS:
            data["mri"][name] = clinic[f"flag.{name}"]
    if clinic["clinic_mjoa"]:
        items = {item: clinic[item] for item in _MJOA_MAX}
        data["mjoa"] = {**data.get("mjoa", {}), **items}
    data["electro"].pop("summary", None)
    if clinic["summary"] is not None:
        data["electro"]["summary"] = clinic["summary"]


def _findings_of(drawn: dict[str, Any], walk_seconds: float | None) -> dict[str, Any]:
    rest = _under(drawn, "rest:")
    data: dict[str, Any] = {
        "assessment_date": ASSESSED_ON.isoformat(),
        "patient": _patient_of(_under(drawn, "patient:")),
        "symptoms": _given(rest, "symptoms."),
        "exam": _exam_of(_under(drawn, "exam:"), walk_seconds),
        "mri": _mri_of(_under(drawn, "mri:")),
        "electro": _given(rest, "electro."),
    }
    if rest["mjoa"]:
        attributed = [item for item in _MJOA_MAX if rest[f"not_due.{item}"]]
        data["mjoa"] = {**_given(rest, "mjoa."), "not_due_to_myelopathy": attributed}
        if rest["earlier"]:
            data["earlier_mjoa"] = {
                **_given(rest, "earlier."),
                "date": (ASSESSED_ON - dt.timedelta(days=rest["earlier_days"])).isoformat(),
            }
    if rest["nurick"] is not None:
        data["nurick"] = rest["nurick"]
    if rest["profile"] == "clinic":
        _clinic_profile(_under(drawn, "clinic:"), data)
    return data


# A case is drawn as one string of bytes (and the walk time as a float). Not one per section:
# hypothesis's mutator copies one draw over another of the same kind, and a copy of the wrong
# length is replaced by zeros (blank sections) - in a third of the cases with two such draws.
_CASE = _fields(
    **_prefixed("patient:", _PATIENT),
    **_prefixed("exam:", _EXAM),
    **_prefixed("mri:", _MRI),
    **_prefixed("rest:", _REST),
    **_prefixed("clinic:", _CLINIC),
)
_FINDINGS = st.builds(_findings_of, _pieces(**_CASE), _walk_seconds)


def findings_dicts() -> st.SearchStrategy[dict[str, Any]]:
    """A valid findings input (as JSON-like data), with unknowns anywhere."""
    return _FINDINGS


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


_DCM_HISTORY = ("cancer", "iv_drug_use", "immunosuppression", "recent_trauma")
_DCM = _fields(
    sphincter_change=("none", "none", "chronic"),
    **{f"history.{name}": (False, False, False, True) for name in _DCM_HISTORY},
    total=_span(9, _MJOA_TOP),
    order=tuple(itertools.permutations(_MJOA_MAX)),
    not_due=((), (), (), ("ue_sensation",)),
    earlier=(False, True),
    change=_span(-3, 3),
    days=_span(29, 400),
    **{f"kang.{level}": KANG_GRADES for level in LEVELS},
)


def _dcm_clinic_of(drawn: dict[str, Any], walk_seconds: float | None) -> dict[str, Any]:
    data = _findings_of(drawn, walk_seconds)
    _clinic_profile(_under(drawn, "again:"), data)
    dcm = _under(drawn, "dcm:")
    symptoms, history = data["symptoms"], data["patient"]["history"]
    for name in ("fever", "rapid_loss_of_ambulation", "deficit_after_trauma", "breathing_difficulty"):
        symptoms[name] = False
    symptoms["onset_tempo"] = "chronic"
    symptoms["sphincter_change"] = dcm["sphincter_change"]
    for name in _DCM_HISTORY:
        history[name] = dcm[f"history.{name}"]
    items = dict(_MJOA_MAX)
    deficit = _MJOA_TOP - dcm["total"]
    for item in dcm["order"]:
        take = min(deficit, items[item] - (1 if item == "le_motor" else 0))
        items[item] -= take
        deficit -= take
    data["mjoa"] = {**items, "not_due_to_myelopathy": list(dcm["not_due"])}
    if dcm["earlier"]:
        before = dict(items)
        before["le_motor"] = max(0, min(_MJOA_MAX["le_motor"], before["le_motor"] - dcm["change"]))
        data["earlier_mjoa"] = {
            **before,
            "date": (ASSESSED_ON - dt.timedelta(days=dcm["days"])).isoformat(),
        }
    else:
        data.pop("earlier_mjoa", None)
    if not data["mri"].get("available"):
        data["mri"] = {"available": True, "levels": {"C5-C6": {}}}
    data["mri"]["unlisted_levels_normal"] = True
    for level, finding in data["mri"]["levels"].items():
        if finding.get("kang") is None:
            finding["kang"] = dcm[f"kang.{level}"]
    return data


_DCM_CLINIC = st.builds(
    _dcm_clinic_of,
    _pieces(**_CASE, **_prefixed("again:", _CLINIC), **_prefixed("dcm:", _DCM)),
    _walk_seconds,
)


def dcm_clinic_dicts() -> st.SearchStrategy[dict[str, Any]]:
    """A spine-clinic DCM case: red-flag screen negative, MRI read, mJOA near the band edges.

    These reach the guideline branches (mild / moderate / severe, deterioration, failure to
    improve, non-myelopathic compression) that uniformly random inputs rarely reach.
    """
    return _DCM_CLINIC


def any_findings_dicts() -> st.SearchStrategy[dict[str, Any]]:
    """Uniformly wild inputs and clinic-shaped DCM cases, half and half."""
    return st.one_of(findings_dicts(), dcm_clinic_dicts())
