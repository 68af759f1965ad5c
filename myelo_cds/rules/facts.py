"""From findings to facts: the named, three-valued clinical statements the rule tables read.

Two layers, so that the engine can ask "what if this unknown were known?":

* :func:`observe` reads the :class:`~myelo_cds.findings.Findings` once into *leaves*: simple
  values (``True``/``False``/``None`` for unknown, or a number) each traceable to input fields
  (:data:`LEAF_INPUTS`).
* :func:`combine` derives the composite facts (myelopathy, compression, course...) and the
  decision-table features from the leaves alone, with Kleene three-valued logic: unknown
  never becomes "absent" by accident.

Thresholds come from the rule set's ``[parameters]``; none is written here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from myelo_cds._dates import add_months
from myelo_cds.findings import (
    MRI,
    CervicalLevel,
    EdxSummary,
    Findings,
    KLine,
    LevelFinding,
    Management,
    MJOAItem,
    OnsetTempo,
    SensoryLevel,
    SphincterChange,
    Symptoms,
    T2Signal,
)
from myelo_cds.scales import mjoa_scale, severity_band

__all__ = [
    "FEATURES",
    "FEATURE_ORDER",
    "LEAF_INPUTS",
    "Leaves",
    "SectionMemo",
    "all3",
    "any3",
    "combine",
    "known_fact_names",
    "not3",
    "observe",
]

Tri = bool | None
Leaves = dict[str, Any]

#: The decision-table columns and the values each may take.
FEATURES: dict[str, tuple[str, ...]] = {
    "red_flag": ("no", "yes"),
    "scope": ("adult", "paediatric"),
    "management": ("untreated", "rehab_early", "rehab_trial_complete", "postoperative"),
    "compression": ("no", "unknown", "yes"),
    "myelopathy": ("no", "unknown", "yes"),
    "band": ("normal", "mild", "moderate", "severe", "unknown"),
    "course": ("improved", "not_improved", "possible_deterioration", "deteriorated", "unknown"),
    "radiculopathy": ("no", "unknown", "yes"),
    "alternative": ("no", "unknown", "yes"),
    "atypical_lesion": ("no", "unknown", "yes"),
    "discordant": ("no", "unknown", "yes"),
}

#: Clinical worsening per feature as covering pairs (better, worse). A finding that gets worse
#: moves a three-valued fact up the order no < unknown < yes (Kleene logic is monotone in it),
#: the mJOA band down the scale, and the course towards deterioration. Scope and management
#: are context, not findings, and have no order.
FEATURE_ORDER: dict[str, tuple[tuple[str, str], ...]] = {
    "red_flag": (("no", "yes"),),
    "compression": (("no", "unknown"), ("unknown", "yes")),
    "myelopathy": (("no", "unknown"), ("unknown", "yes")),
    "band": (("normal", "mild"), ("mild", "moderate"), ("moderate", "severe")),
    "course": (
        ("improved", "not_improved"),
        ("not_improved", "possible_deterioration"),
        ("possible_deterioration", "deteriorated"),
        ("unknown", "deteriorated"),
    ),
    "radiculopathy": (("no", "unknown"), ("unknown", "yes")),
    "alternative": (("no", "unknown"), ("unknown", "yes")),
    "atypical_lesion": (("no", "unknown"), ("unknown", "yes")),
    "discordant": (("no", "unknown"), ("unknown", "yes")),
}


# --- Kleene logic -------------------------------------------------------------------------


def any3(values: Iterable[Tri]) -> Tri:
    """Three-valued OR: True if any is True, False if all are False, else unknown."""
    unknown = False
    for value in values:
        if value is True:
            return True
        if value is None:
            unknown = True
    return None if unknown else False


def all3(values: Iterable[Tri]) -> Tri:
    """Three-valued AND: False if any is False, True if all are True, else unknown."""
    unknown = False
    for value in values:
        if value is False:
            return False
        if value is None:
            unknown = True
    return None if unknown else True


def not3(value: Tri) -> Tri:
    return None if value is None else not value


def _tri(value: Tri) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


# --- leaves -------------------------------------------------------------------------------

_ARM_REFLEXES = ("biceps", "triceps", "brachioradialis")
_LEG_REFLEXES = ("patellar", "achilles")
_UMN_SIGNS = (
    "hoffmann_tromner",
    "babinski",
    "sustained_clonus",
    "inverted_brachioradialis",
    "finger_escape",
    "pectoralis",
    "scapulohumeral",
    "jaw_jerk_brisk",
)
_MYOTOMES = ("C5", "C6", "C7", "C8", "T1", "L2", "L3", "L4", "L5", "S1")
# Yes/no symptoms read as leaves of their own (the bladder items form the "sphincter" leaf).
_SYMPTOM_FLAGS = tuple(
    name
    for name, info in Symptoms.model_fields.items()
    if info.annotation == (bool | None) and name != "sphincter_other_cause"
)
_MRI_FLAGS = (
    "opll",
    "kyphosis",
    "dynamic_instability",
    "longitudinally_extensive_lesion",
    "dorsal_column_signal",
    "intramedullary_mass",
    "syrinx",
    "epidural_collection",
)

#: Which input fields each leaf is read from (for "what would change this" messages).
LEAF_INPUTS: dict[str, tuple[str, ...]] = {
    **{
        name: (f"patient.history.{name}",)
        for name in (
            "cancer",
            "iv_drug_use",
            "immunosuppression",
            "bariatric_surgery",
            "prior_cervical_surgery",
            "spinal_radiotherapy",
            "optic_neuritis",
            "recent_trauma",
        )
    },
    "smoker": ("patient.smoker",),
    "psychiatric_comorbidity": ("patient.psychiatric_comorbidity",),
    "long_duration": ("patient.symptom_duration_months",),
    **{name: (f"symptoms.{name}",) for name in _SYMPTOM_FLAGS},
    "sphincter": ("symptoms.sphincter_change", "symptoms.sphincter_other_cause"),
    "tempo": ("symptoms.onset_tempo",),
    "hyperreflexia_arms": tuple(
        f"exam.reflexes.{name}.{side}" for name in _ARM_REFLEXES for side in ("left", "right")
    ),
    "hyperreflexia_legs": tuple(
        f"exam.reflexes.{name}.{side}" for name in _LEG_REFLEXES for side in ("left", "right")
    ),
    **{name: (f"exam.umn.{name}",) for name in _UMN_SIGNS},
    "new_umn_sign": ("exam.umn.new_since_last_visit",),
    "weakness": tuple(f"exam.strength.{m}.{side}" for m in _MYOTOMES for side in ("left", "right")),
    "gait_deviation": ("exam.coordination.gait_deviation",),
    "romberg_positive": ("exam.coordination.romberg_positive",),
    "sensory_level": ("exam.sensation.sensory_level",),
    "dermatomal_loss": ("exam.sensation.dermatomal_loss",),
    "stocking_glove_loss": ("exam.sensation.stocking_glove_loss",),
    "vibration_proprioception_loss": ("exam.sensation.vibration_proprioception_loss",),
    "dissociated_cape_loss": ("exam.sensation.dissociated_cape_loss",),
    "fasciculations_widespread": ("exam.fasciculations_widespread",),
    "tongue_signs": ("exam.tongue_signs",),
    "mjoa": ("mjoa",),
    "earlier_mjoa": ("earlier_mjoa",),
    "compression": ("mri.available", "mri.levels.*.kang", "mri.unlisted_levels_normal"),
    "high_cervical_compression": ("mri.levels.C2-C3/C3-C4/C4-C5.kang",),
    "thoracic_compression": ("mri.thoracic_cord_compression",),
    "t1_hypointensity": ("mri.levels.*.t1_hypointensity",),
    "t2_signal_any": ("mri.levels.*.t2_signal",),
    "multisegment_sharp_t2": ("mri.levels.*.t2_signal", "mri.levels.*.t2_extent_segments"),
    "snake_eyes": ("mri.levels.*.snake_eyes",),
    "k_line_negative": ("mri.k_line",),
    **{name: (f"mri.{name}",) for name in _MRI_FLAGS},
    "edx": ("electro.summary",),
    "sep_mep_abnormal": ("electro.sep_mep_abnormal",),
}


def _max_grade(values: Iterable[int | None], threshold: int) -> Tri:
    """True if any grade reaches the threshold, False if all are known and below it."""
    return any3(None if value is None else value >= threshold for value in values)


_ALL_LEVELS: tuple[CervicalLevel, ...] = tuple(CervicalLevel)


@cache
def _levels(names: tuple[str, ...] | None) -> tuple[CervicalLevel, ...]:
    return tuple(CervicalLevel(name) for name in names) if names else _ALL_LEVELS


def _mri_field(mri: MRI, name: str) -> Tri:
    value: Tri = getattr(mri, name)
    return value if mri.available else None


def _management(findings: Findings, on: dt.date, rehab_months: int) -> str:
    patient = findings.patient
    if patient.management is Management.postoperative:
        return "postoperative"
    if patient.management is Management.supervised_rehabilitation:
        since = patient.management_since
        assert since is not None  # enforced by the Patient model
        return "rehab_trial_complete" if add_months(since, rehab_months) <= on else "rehab_early"
    return "untreated"


class SectionMemo:
    """Leaves already read from section instances that are shared between findings.

    The batch path reuses one validated, immutable instance for every row with the same
    cells of a section (:mod:`myelo_cds.row_builder`), so the leaves read from it can be
    reused too. Entries are keyed by identity and keep their instance alive, so an id is
    never mistaken for another object's; the memo is cleared when it grows past a bound.
    A memo belongs to one parameter set.
    """

    _BOUND = 20_000

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = params
        self._entries: dict[tuple[int, int], tuple[object, Leaves]] = {}

    def read(self, reader: Any, section: Any) -> Leaves:
        key = (id(reader), id(section))
        entry = self._entries.get(key)
        if entry is not None and entry[0] is section:
            return entry[1]
        leaves: Leaves = reader(section, self.params)
        if len(self._entries) >= self._BOUND:
            self._entries.clear()
        self._entries[key] = (section, leaves)
        return leaves


def _history_leaves(history: Any, params: Mapping[str, Any]) -> Leaves:
    return {name: getattr(history, name) for name in type(history).model_fields}


def _symptom_leaves(symptoms: Symptoms, params: Mapping[str, Any]) -> Leaves:
    leaves: Leaves = {name: getattr(symptoms, name) for name in _SYMPTOM_FLAGS}
    leaves["sphincter"] = symptoms.sphincter_change
    leaves["sphincter_other_cause"] = symptoms.sphincter_other_cause
    leaves["tempo"] = symptoms.onset_tempo
    return leaves


def _reflex_leaves(reflexes: Any, params: Mapping[str, Any]) -> Leaves:
    grade = params["hyperreflexia_min_grade"]
    arms = [getattr(getattr(reflexes, r), s) for r in _ARM_REFLEXES for s in ("left", "right")]
    legs = [getattr(getattr(reflexes, r), s) for r in _LEG_REFLEXES for s in ("left", "right")]
    return {"hyperreflexia_arms": _max_grade(arms, grade), "hyperreflexia_legs": _max_grade(legs, grade)}


def _umn_leaves(umn: Any, params: Mapping[str, Any]) -> Leaves:
    leaves: Leaves = {name: getattr(umn, name) for name in _UMN_SIGNS}
    leaves["new_umn_sign"] = umn.new_since_last_visit
    return leaves


def _strength_leaves(strength: Any, params: Mapping[str, Any]) -> Leaves:
    grades = [getattr(getattr(strength, m), s) for m in _MYOTOMES for s in ("left", "right")]
    return {"weakness": any3(None if g is None else g < 5 for g in grades)}


def _sensation_leaves(sensation: Any, params: Mapping[str, Any]) -> Leaves:
    leaves: Leaves = {"sensory_level": sensation.sensory_level}
    for name in (
        "dermatomal_loss",
        "stocking_glove_loss",
        "vibration_proprioception_loss",
        "dissociated_cape_loss",
    ):
        leaves[name] = getattr(sensation, name)
    return leaves


def _mjoa_leaves(mjoa: Any, params: Mapping[str, Any]) -> Leaves:
    """mJOA totals only; bands and change are derived in combine() from the scale data."""
    maxima = {item["id"]: item["max"] for item in mjoa_scale()["items"]}
    deficits = {item for item in MJOAItem if getattr(mjoa, item.value) < maxima[item.value]}
    total = mjoa.ue_motor + mjoa.le_motor + mjoa.ue_sensation + mjoa.sphincter
    return {
        "mjoa_total": total,
        # Severity is graded on the deficits the clinician attributes to myelopathy: an item
        # marked "not due to myelopathy" counts as normal (design; clinical reference s1.1).
        "mjoa_severity_total": sum(
            maxima[item.value] if item in mjoa.not_due_to_myelopathy else getattr(mjoa, item.value)
            for item in MJOAItem
        ),
        "mjoa_not_attributed": bool(deficits & mjoa.not_due_to_myelopathy),
    }


def _level_leaves(level: LevelFinding, params: Mapping[str, Any]) -> Leaves:
    """What one graded cervical level shows (three-valued)."""
    sharp = None if level.t2_signal is None else level.t2_signal is T2Signal.sharp
    extent = (
        None
        if level.t2_extent_segments is None
        else level.t2_extent_segments >= params["multisegment_min_segments"]
    )
    return {
        "compression": None if level.kang is None else level.kang >= params["compression_min_kang"],
        "t1_hypointensity": level.t1_hypointensity,
        "t2_signal_any": None if level.t2_signal is None else level.t2_signal is not T2Signal.none,
        "multisegment_sharp_t2": all3((sharp, extent)),
        "snake_eyes": level.snake_eyes,
    }


# Cord signal leaves true when any cervical level shows them (unknown without an MRI).
_ANY_LEVEL_SIGNALS = ("t1_hypointensity", "t2_signal_any", "multisegment_sharp_t2", "snake_eyes")


def _mri_leaves(mri: MRI, params: Mapping[str, Any], read: Any) -> Leaves:
    """Leaves from the MRI; a level not listed counts as normal only if the reader said so.

    (``mri.unlisted_levels_normal``); otherwise it is unknown. Without an MRI all are unknown.
    """
    leaves: Leaves = {}
    if mri.available:
        unlisted: Tri = False if mri.unlisted_levels_normal else None
        graded = {level: read(_level_leaves, finding) for level, finding in mri.levels.items()}

        def any_level(name: str, levels: tuple[CervicalLevel, ...]) -> Tri:
            return any3(graded[level][name] if level in graded else unlisted for level in levels)

        high = _levels(tuple(params["high_cervical_levels"]))
        leaves["compression"] = any_level("compression", _ALL_LEVELS)
        leaves["high_cervical_compression"] = any_level("compression", high)
        leaves["thoracic_compression"] = mri.thoracic_cord_compression
        for name in _ANY_LEVEL_SIGNALS:
            leaves[name] = any_level(name, _ALL_LEVELS)
    else:
        leaves.update(
            dict.fromkeys(
                ("compression", "high_cervical_compression", "thoracic_compression", *_ANY_LEVEL_SIGNALS)
            )
        )
    leaves["k_line_negative"] = None if mri.k_line is None else mri.k_line is KLine.negative
    for name in _MRI_FLAGS:
        leaves[name] = _mri_field(mri, name)
    return leaves


def observe(
    findings: Findings, params: Mapping[str, Any], on: dt.date, memo: SectionMemo | None = None
) -> Leaves:
    """Read the findings once into leaves (see :data:`LEAF_INPUTS`).

    ``memo`` (for ``params``) reuses the leaves of section instances seen before.
    """
    if memo is None:

        def read(reader: Any, section: Any) -> Leaves:
            result: Leaves = reader(section, params)
            return result

    else:
        assert memo.params is params, "a section memo belongs to one parameter set"
        read = memo.read
    patient, exam = findings.patient, findings.exam
    leaves: Leaves = dict(read(_history_leaves, patient.history))
    leaves["smoker"] = patient.smoker
    leaves["psychiatric_comorbidity"] = patient.psychiatric_comorbidity
    duration = patient.symptom_duration_months
    leaves["long_duration"] = None if duration is None else duration >= params["long_duration_months"]
    leaves["paediatric"] = patient.age_years < params["adult_min_age"]
    leaves["management"] = _management(findings, on, params["rehab_trial_months"])
    leaves.update(read(_symptom_leaves, findings.symptoms))
    leaves.update(read(_reflex_leaves, exam.reflexes))
    leaves.update(read(_umn_leaves, exam.umn))
    leaves.update(read(_strength_leaves, exam.strength))
    leaves["gait_deviation"] = exam.coordination.gait_deviation
    leaves["romberg_positive"] = exam.coordination.romberg_positive
    leaves.update(read(_sensation_leaves, exam.sensation))
    leaves["fasciculations_widespread"] = exam.fasciculations_widespread
    leaves["tongue_signs"] = exam.tongue_signs

    mjoa = findings.mjoa
    if mjoa is None:
        leaves["mjoa_total"] = None
        leaves["mjoa_severity_total"] = None
        leaves["mjoa_not_attributed"] = None
    else:
        leaves.update(read(_mjoa_leaves, mjoa))
    earlier = findings.earlier_mjoa
    if earlier is None or mjoa is None:
        leaves["mjoa_delta"] = None
        leaves["mjoa_days"] = None
    else:
        before = earlier.ue_motor + earlier.le_motor + earlier.ue_sensation + earlier.sphincter
        leaves["mjoa_delta"] = leaves["mjoa_total"] - before
        days = (on - earlier.date).days
        # An assessment dated before the earlier score cannot time a decline: unknown, not 0.
        leaves["mjoa_days"] = days if days >= 0 else None

    leaves.update(_mri_leaves(findings.mri, params, read))
    leaves["edx"] = findings.electro.summary
    leaves["sep_mep_abnormal"] = findings.electro.sep_mep_abnormal
    return leaves


# --- composite facts and features ---------------------------------------------------------


def _tempo_facts(tempo: OnsetTempo | None) -> dict[str, Tri]:
    if tempo is None:
        return dict.fromkeys(
            ("tempo_hyperacute", "tempo_acute_or_faster", "tempo_subacute", "tempo_not_chronic")
        )
    return {
        "tempo_hyperacute": tempo is OnsetTempo.hyperacute,
        "tempo_acute_or_faster": tempo in (OnsetTempo.hyperacute, OnsetTempo.acute),
        "tempo_subacute": tempo is OnsetTempo.subacute,
        "tempo_not_chronic": tempo is not OnsetTempo.chronic,
    }


def _edx_facts(summary: EdxSummary | None) -> dict[str, Tri]:
    names = {
        "edx_radiculopathy": EdxSummary.radiculopathy,
        "edx_neuropathy": EdxSummary.neuropathy,
        "edx_carpal_tunnel": EdxSummary.carpal_tunnel,
        "edx_anterior_horn": EdxSummary.widespread_anterior_horn,
    }
    return {name: None if summary is None else summary is value for name, value in names.items()}


def _sphincter_facts(change: SphincterChange | None, other_cause: Tri) -> dict[str, Tri]:
    if change is None:
        return {"sphincter_myelopathic": None, "sphincter_new_acute_cord": None}
    # A change counts for the cord unless the clinician attributes it to another cause.
    cord = other_cause is not True
    return {
        "sphincter_myelopathic": change is not SphincterChange.none and cord,
        "sphincter_new_acute_cord": change is SphincterChange.new_acute and cord,
    }


# For a change of band, 18 counts as mild: the guideline bands stop at 17 and rule R7 treats
# mJOA 18 with myelopathic signs as mild, so 18 -> 17 is a 1-point fall within the mild band
# ("possible deterioration"), not a change of band (clinical reference s1.2, s2.2).
_CHANGE_RANK = {"normal": 1, "mild": 1, "moderate": 2, "severe": 3}


def _course(facts: dict[str, Any], params: Mapping[str, Any]) -> str:
    delta: int | None = facts["mjoa_delta"]
    total: int | None = facts["mjoa_total"]
    if delta is None or total is None:
        drop: Tri = None
        band_worse: Tri = None
    else:
        drop = delta <= -params["deterioration_drop_points"]
        band_worse = _CHANGE_RANK[severity_band(total)] > _CHANGE_RANK[severity_band(total - delta)]
    if any3((drop, band_worse, facts["new_umn_sign"])) is True:
        return "deteriorated"
    if delta is None or total is None:
        return "unknown"
    if delta == -1:
        return "possible_deterioration"
    mcid = int(mjoa_scale()["mcid"][severity_band(total - delta)])
    return "not_improved" if delta < mcid else "improved"


def combine(leaves: Leaves, params: Mapping[str, Any]) -> dict[str, Any]:
    """Every fact (leaves included) and the decision-table features, from the leaves alone."""
    f: dict[str, Any] = dict(leaves)
    severity_total = leaves["mjoa_severity_total"]
    f["mjoa_deficit_attributed"] = None if severity_total is None else severity_total < 18
    f.update(_tempo_facts(leaves["tempo"]))
    f.update(_edx_facts(leaves["edx"]))
    f.update(_sphincter_facts(leaves["sphincter"], leaves["sphincter_other_cause"]))
    level = leaves["sensory_level"]
    f["sensory_level_any"] = None if level is None else level is not SensoryLevel.none
    f["trunk_sensory_level"] = None if level is None else level is SensoryLevel.thoracic
    f["hyperreflexia"] = any3((f["hyperreflexia_arms"], f["hyperreflexia_legs"]))

    f["myelopathic_symptom"] = any3(
        f[name]
        for name in (
            "hand_clumsiness",
            "gait_imbalance",
            "falls",
            "nondermatomal_numbness",
            "sphincter_myelopathic",
        )
    )
    f["umn_sign"] = any3(
        f[name]
        for name in (
            "hyperreflexia",
            "hoffmann_tromner",
            "babinski",
            "sustained_clonus",
            "inverted_brachioradialis",
            "finger_escape",
            "pectoralis",
            "scapulohumeral",
        )
    )
    # Design definition (clinical reference, decision logic summary): a myelopathic symptom
    # with an objective sign, or an mJOA deficit the clinician attributes to myelopathy.
    f["myelopathy"] = any3((all3((f["myelopathic_symptom"], f["umn_sign"])), f["mjoa_deficit_attributed"]))
    f["neuro_deficit"] = any3(
        (f["myelopathy"], f["myelopathic_symptom"], f["umn_sign"], f["weakness"], f["sensory_level_any"])
    )
    f["infection_risk"] = any3((f["iv_drug_use"], f["immunosuppression"]))
    f["radiculopathy"] = any3(
        f[name]
        for name in ("radicular_arm_pain", "dermatomal_numbness", "dermatomal_loss", "edx_radiculopathy")
    )
    f["alternative"] = any3(
        f[name]
        for name in (
            "fasciculations_widespread",
            "tongue_signs",
            "jaw_jerk_brisk",
            "optic_neuritis",
            "edx_anterior_horn",
        )
    )
    f["atypical_lesion"] = any3(
        f[name]
        for name in (
            "longitudinally_extensive_lesion",
            "dorsal_column_signal",
            "intramedullary_mass",
            "syrinx",
            "epidural_collection",
        )
    )
    f["discordant"] = any3((f["trunk_sensory_level"], f["thoracic_compression"]))
    arm_signs = any3(
        f[name]
        for name in (
            "hyperreflexia_arms",
            "hoffmann_tromner",
            "inverted_brachioradialis",
            "finger_escape",
        )
    )
    leg_signs = any3((f["hyperreflexia_legs"], f["babinski"], f["sustained_clonus"]))
    f["leg_only_umn"] = all3((leg_signs, not3(arm_signs)))
    f["sensory_ataxia"] = all3((f["romberg_positive"], f["vibration_proprioception_loss"]))
    f["lhermitte_without_compression"] = all3((f["lhermitte"], not3(f["compression"])))
    f["compression_without_myelopathy"] = all3((f["compression"], not3(f["myelopathy"])))
    f["gait_impairment"] = any3((f["gait_deviation"], f["gait_imbalance"]))

    total: int | None = f["mjoa_total"]
    severity: int | None = f["mjoa_severity_total"]
    band = "unknown" if severity is None else severity_band(severity)
    f["very_severe"] = None if total is None else total <= mjoa_scale()["very_severe"]["max"]
    f["mjoa_18_with_myelopathy"] = all3((None if severity is None else severity == 18, f["myelopathy"]))
    delta, days = f["mjoa_delta"], f["mjoa_days"]
    if delta is None:
        f["rapid_mjoa_decline"] = None
    else:
        fell = delta <= -params["rapid_decline_points"]
        within = None if days is None else days <= params["rapid_decline_window_days"]
        f["rapid_mjoa_decline"] = all3((fell, within))
    course = _course(f, params)
    f["possible_deterioration"] = course == "possible_deterioration"

    f["features"] = {
        "scope": "paediatric" if f["paediatric"] else "adult",
        "management": f["management"],
        "compression": _tri(f["compression"]),
        "myelopathy": _tri(f["myelopathy"]),
        "band": band,
        "course": course,
        "radiculopathy": _tri(f["radiculopathy"]),
        "alternative": _tri(f["alternative"]),
        "atypical_lesion": _tri(f["atypical_lesion"]),
        "discordant": _tri(f["discordant"]),
    }
    return f


def known_fact_names(params: Mapping[str, Any]) -> set[str]:
    """Every fact name :func:`combine` produces (the vocabulary the screen tables may use)."""
    from myelo_cds.findings import Patient

    blank = Findings(patient=Patient(age_years=50))
    facts = combine(observe(blank, params, dt.date(2000, 1, 1)), params)
    return set(facts) - {"features"}
