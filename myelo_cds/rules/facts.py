"""From findings to facts: the named, three-valued clinical statements the rule tables read.

Two layers, so that the engine can ask "what if this unknown were known?":

* :func:`observe` reads the :class:`~myelo_cds.findings.Findings` once into *leaves*: simple
  values (``True``/``False``/``None`` for unknown, or a number) each traceable to input fields
  (:data:`LEAF_INPUTS`). It reads each part of the findings with one function
  (:func:`patient_leaves`, :func:`symptom_leaves`, :func:`exam_leaves`, :func:`mjoa_leaves`,
  :func:`mri_leaves`, :func:`electro_leaves`), and the patient and the examination each with
  smaller functions of a few fields (:func:`age_leaves`, :func:`reflex_leaves`...).
* :func:`combine` derives the composite facts (myelopathy, compression, course...) and the
  decision-table features from the leaves alone, with Kleene three-valued logic: unknown
  never becomes "absent" by accident. Each composite fact is a plain function named after
  it, whose parameters name the facts it reads (:data:`FACT_FUNCTIONS`, :data:`FACT_INPUTS`),
  so a reader sees what each fact depends on, and the batch can call each once per distinct
  value of its inputs.

Thresholds come from the rule set's ``[parameters]`` (``params``) and the scale data; none is
written here.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Iterable, Mapping
from operator import itemgetter
from typing import Any

from myelo_cds._dates import add_months
from myelo_cds.findings import (
    MJOA,
    MRI,
    CervicalLevel,
    Coordination,
    EarlierMJOA,
    EdxSummary,
    Electrodiagnostics,
    Exam,
    Findings,
    History,
    KLine,
    LevelFinding,
    Management,
    MJOAItem,
    OnsetTempo,
    Patient,
    Reflexes,
    Sensation,
    SensoryLevel,
    SphincterChange,
    Strength,
    SurgicalApproach,
    Symptoms,
    T2Signal,
    UMNSigns,
    field_spec,
)
from myelo_cds.scales import mjoa_max_total, mjoa_scale, severity_band

__all__ = [
    "FACT_FUNCTIONS",
    "FACT_INPUTS",
    "FEATURES",
    "FEATURE_ORDER",
    "INTERMEDIATE",
    "LEAF_INPUTS",
    "PARAMS",
    "Leaves",
    "age_leaves",
    "all3",
    "any3",
    "approach_leaves",
    "care_leaves",
    "combine",
    "coordination_leaves",
    "duration_leaves",
    "electro_leaves",
    "exam_leaves",
    "history_leaves",
    "known_fact_names",
    "mjoa_leaves",
    "mri_leaves",
    "not3",
    "observe",
    "patient_leaves",
    "reflex_leaves",
    "risk_factor_leaves",
    "sensation_leaves",
    "sign_leaves",
    "strength_leaves",
    "symptom_leaves",
    "umn_leaves",
]

Tri = bool | None
Leaves = dict[str, Any]
Params = Mapping[str, Any]

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
    # Seen within days: subacute progression, unable to walk, suspected motor neuron disease.
    "time_critical": ("no", "yes"),
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
    "time_critical": (("no", "yes"),),
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


def _and_not(value: Tri, other: Tri) -> Tri:
    """``value`` and not ``other``, three-valued."""
    return all3((value, not3(other)))


def _at_least(value: float | None, threshold: float) -> Tri:
    return None if value is None else value >= threshold


def _at_most(value: float | None, threshold: float) -> Tri:
    return None if value is None else value <= threshold


def _is(value: Any, member: Any) -> Tri:
    """Whether a recorded choice is ``member`` (unknown when nothing was recorded)."""
    return None if value is None else value is member


# --- leaves -------------------------------------------------------------------------------

_SIDES = ("left", "right")
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
_SENSATION_FLAGS = (
    "dermatomal_loss",
    "stocking_glove_loss",
    "vibration_proprioception_loss",
    "dissociated_cape_loss",
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
_ALL_LEVELS: tuple[CervicalLevel, ...] = tuple(CervicalLevel)

#: Which input fields each leaf is read from (for "what would change this" messages).
LEAF_INPUTS: dict[str, tuple[str, ...]] = {
    **{name: (f"patient.history.{name}",) for name in History.model_fields},
    "smoker": ("patient.smoker",),
    "diabetes": ("patient.diabetes",),
    "paediatric": ("patient.age_years",),
    "short_duration": ("patient.symptom_duration_months",),
    "early_postoperative": ("patient.management", "patient.management_since"),
    "approach_anterior": ("patient.surgical_approach",),
    "deficits_attributed_to_myelopathy": ("exam.deficits_attributed_to_myelopathy",),
    "nurick": ("nurick",),
    "rehab_start_mjoa": ("patient.rehabilitation_start_mjoa",),
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


# --- observe: findings to leaves ----------------------------------------------------------

# The top of the MRC scale (normal power), as the findings model bounds a strength grade.
_FULL_POWER = field_spec("exam.strength.C5.left").maximum
_HISTORY_ITEMS = tuple(History.model_fields)


def observe(findings: Findings, params: Params, on: dt.date) -> Leaves:
    """Read the findings once into leaves (see :data:`LEAF_INPUTS`), assessed on ``on``."""
    return {
        **patient_leaves(findings.patient, params, on),
        **symptom_leaves(findings.symptoms),
        **exam_leaves(findings.exam, params),
        **mjoa_leaves(findings.mjoa, findings.earlier_mjoa, on),
        **mri_leaves(findings.mri, params),
        **electro_leaves(findings.electro),
        "nurick": findings.nurick,
    }


def patient_leaves(patient: Patient, params: Params, on: dt.date) -> Leaves:
    """The history items, risk factors, age group and where the patient is in their care."""
    return {
        **history_leaves(patient.history),
        **risk_factor_leaves(patient.smoker, patient.psychiatric_comorbidity, patient.diabetes),
        **duration_leaves(patient.symptom_duration_months, params),
        **age_leaves(patient.age_years, params),
        **care_leaves(
            patient.management, patient.management_since, patient.rehabilitation_start_mjoa, params, on
        ),
        **approach_leaves(patient.surgical_approach),
    }


def history_leaves(history: History) -> Leaves:
    """Each item of the history, as recorded."""
    return {item: getattr(history, item) for item in _HISTORY_ITEMS}


def risk_factor_leaves(smoker: Tri, psychiatric_comorbidity: Tri, diabetes: Tri) -> Leaves:
    """The risk factors, as recorded."""
    return {"smoker": smoker, "psychiatric_comorbidity": psychiatric_comorbidity, "diabetes": diabetes}


def duration_leaves(months: float | None, params: Params) -> Leaves:
    """Symptoms of long standing, or of recent onset."""
    return {
        "long_duration": _at_least(months, params["long_duration_months"]),
        "short_duration": _at_most(months, params["recent_onset_months"]),
    }


def age_leaves(age_years: int | None, params: Params) -> Leaves:
    """A child, below the adult age of the rule set."""
    return {"paediatric": None if age_years is None else age_years < params["adult_min_age"]}


def care_leaves(
    management: Management, since: dt.date | None, rehab_start_mjoa: int | None, params: Params, on: dt.date
) -> Leaves:
    """Where the patient is in their care on ``on``."""
    return {
        "management": _management(management, since, params, on),
        "early_postoperative": _early_postoperative(management, since, params, on),
        # Failure to improve is judged against the mJOA at the start of rehabilitation.
        "rehab_start_mjoa": rehab_start_mjoa if management is Management.supervised_rehabilitation else None,
    }


def approach_leaves(approach: SurgicalApproach | None) -> Leaves:
    """The approach of the operation, as it bears on the airway."""
    return {"approach_anterior": _approach_anterior(approach)}


def _early_postoperative(management: Management, since: dt.date | None, params: Params, on: dt.date) -> bool:
    """Within the early post-operative period (airway, new deficit, wound infection)."""
    if management is not Management.postoperative or since is None:
        return False
    return (on - since).days <= int(params["early_postoperative_days"])


def _approach_anterior(approach: SurgicalApproach | None) -> Tri:
    """The operation included an anterior approach (retropharyngeal haematoma risk)."""
    return None if approach is None else approach is not SurgicalApproach.posterior


def _management(management: Management, since: dt.date | None, params: Params, on: dt.date) -> str:
    """Untreated, post-operative, or in supervised rehabilitation before or after its trial period."""
    if management is Management.postoperative:
        return "postoperative"
    if management is Management.supervised_rehabilitation:
        assert since is not None  # enforced by the Patient model
        trial_over = add_months(since, params["rehab_trial_months"]) <= on
        return "rehab_trial_complete" if trial_over else "rehab_early"
    return "untreated"


def symptom_leaves(symptoms: Symptoms) -> Leaves:
    """Each yes/no symptom, the bladder or bowel change and the onset tempo, as recorded."""
    return {
        **{name: getattr(symptoms, name) for name in _SYMPTOM_FLAGS},
        "sphincter": symptoms.sphincter_change,
        "sphincter_other_cause": symptoms.sphincter_other_cause,
        "tempo": symptoms.onset_tempo,
    }


def exam_leaves(exam: Exam, params: Params) -> Leaves:
    """Reflexes, upper-motor-neuron signs, power, gait, sensation and the signs of other diseases."""
    return {
        **reflex_leaves(exam.reflexes, params),
        **umn_leaves(exam.umn),
        **strength_leaves(exam.strength),
        **coordination_leaves(exam.coordination),
        **sensation_leaves(exam.sensation),
        **sign_leaves(
            exam.fasciculations_widespread, exam.tongue_signs, exam.deficits_attributed_to_myelopathy
        ),
    }


def reflex_leaves(reflexes: Reflexes, params: Params) -> Leaves:
    """Brisk reflexes in the arms and in the legs."""
    return {
        "hyperreflexia_arms": _hyperreflexia(reflexes, _ARM_REFLEXES, params),
        "hyperreflexia_legs": _hyperreflexia(reflexes, _LEG_REFLEXES, params),
    }


def umn_leaves(umn: UMNSigns) -> Leaves:
    """Each upper-motor-neuron sign, and whether one is new since the last visit."""
    return {**{sign: getattr(umn, sign) for sign in _UMN_SIGNS}, "new_umn_sign": umn.new_since_last_visit}


def strength_leaves(strength: Strength) -> Leaves:
    """Power below normal in any myotome."""
    return {"weakness": _weakness(strength)}


def coordination_leaves(coordination: Coordination) -> Leaves:
    """Gait and Romberg's test."""
    return {
        "gait_deviation": coordination.gait_deviation,
        "romberg_positive": coordination.romberg_positive,
    }


def sensation_leaves(sensation: Sensation) -> Leaves:
    """A sensory level and each pattern of sensory loss."""
    return {
        "sensory_level": sensation.sensory_level,
        **{name: getattr(sensation, name) for name in _SENSATION_FLAGS},
    }


def sign_leaves(
    fasciculations_widespread: Tri, tongue_signs: Tri, deficits_attributed_to_myelopathy: Tri
) -> Leaves:
    """The signs of other diseases, and whether the clinician attributes the deficits to myelopathy."""
    return {
        "fasciculations_widespread": fasciculations_widespread,
        "tongue_signs": tongue_signs,
        "deficits_attributed_to_myelopathy": deficits_attributed_to_myelopathy,
    }


def _hyperreflexia(reflexes: Reflexes, names: tuple[str, ...], params: Params) -> Tri:
    """Any of these reflexes, on either side, at or above the brisk grade."""
    grades = (getattr(getattr(reflexes, name), side) for name in names for side in _SIDES)
    return any3(_at_least(grade, params["hyperreflexia_min_grade"]) for grade in grades)


def _weakness(strength: Strength) -> Tri:
    """Power below normal in any myotome, on either side."""
    grades = (getattr(getattr(strength, myotome), side) for myotome in _MYOTOMES for side in _SIDES)
    return any3(None if grade is None else grade < _FULL_POWER for grade in grades)


def mjoa_leaves(mjoa: MJOA | None, earlier: EarlierMJOA | None, on: dt.date) -> Leaves:
    """The mJOA totals and their change since the earlier score (unknown without an mJOA).

    Bands and the course are derived later, from the scale data.
    """
    if mjoa is None:
        return dict.fromkeys(_MJOA_LEAVES)
    maxima = {item["id"]: item["max"] for item in mjoa_scale()["items"]}
    scores = _item_scores(mjoa)
    not_due = mjoa.not_due_to_myelopathy
    deficits = {item for item, score in scores.items() if score < maxima[item.value]}
    # Severity is graded on the deficits the clinician attributes to myelopathy: an item
    # marked "not due to myelopathy" counts as normal (design; clinical reference s1.1).
    severity = _attributed(scores, not_due, maxima)
    total = sum(scores.values())
    # The course is judged on the attributed totals: an item the clinician attributes to
    # another cause today counts as normal in the earlier score too.
    change = None if earlier is None else severity - _attributed(_item_scores(earlier), not_due, maxima)
    return {
        "mjoa_total": total,
        "mjoa_severity_total": severity,
        "mjoa_not_attributed": bool(deficits & not_due),
        "mjoa_delta": change,
        "mjoa_days": None if earlier is None else _days_between(earlier.date, on),
        "mjoa_le_motor": mjoa.le_motor,
        "mjoa_bladder": mjoa.sphincter,
    }


_MJOA_LEAVES = (
    "mjoa_total",
    "mjoa_severity_total",
    "mjoa_not_attributed",
    "mjoa_delta",
    "mjoa_days",
    "mjoa_le_motor",
    "mjoa_bladder",
)


def _attributed(
    scores: Mapping[MJOAItem, int], not_due: Iterable[MJOAItem], maxima: Mapping[str, int]
) -> int:
    """The mJOA total with each item marked "not due to myelopathy" counted as normal."""
    skipped = set(not_due)
    return sum(maxima[item.value] if item in skipped else score for item, score in scores.items())


def _item_scores(mjoa: MJOA | EarlierMJOA) -> dict[MJOAItem, int]:
    return {item: getattr(mjoa, item.value) for item in MJOAItem}


def _days_between(earlier: dt.date, on: dt.date) -> int | None:
    """Days from the earlier score to the assessment.

    An assessment dated before the earlier score cannot time a decline: unknown, not 0.
    """
    days = (on - earlier).days
    return days if days >= 0 else None


def mri_leaves(mri: MRI, params: Params) -> Leaves:
    """Cord compression and cord signal across the cervical levels, and the other MRI findings.

    A level leaf is true when any cervical level shows it; every MRI leaf is unknown when no
    MRI is available (the K-line is read as given).
    """
    scanned = mri.available
    levels = {
        level: _level_leaves(mri.levels.get(level), mri.unlisted_levels_normal, params)
        for level in _ALL_LEVELS
    }

    def any_level(name: str, among: Iterable[CervicalLevel] = _ALL_LEVELS) -> Tri:
        return any3([levels[level][name] for level in among]) if scanned else None

    return {
        "compression": any_level("compression"),
        "high_cervical_compression": any_level("compression", _high_cervical_levels(params)),
        "thoracic_compression": mri.thoracic_cord_compression if scanned else None,
        **{name: any_level(name) for name in _LEVEL_SIGNALS},
        "k_line_negative": _is(mri.k_line, KLine.negative),
        **{name: getattr(mri, name) if scanned else None for name in _MRI_FLAGS},
    }


# Cord signal leaves read across the levels (compression is read across them too).
_LEVEL_SIGNALS = ("t1_hypointensity", "t2_signal_any", "multisegment_sharp_t2", "snake_eyes")


def _level_leaves(finding: LevelFinding | None, unlisted_normal: Tri, params: Params) -> dict[str, Tri]:
    """What one cervical level shows: compression and each cord signal (three-valued).

    A level not listed counts as normal only if the reader said so
    (``mri.unlisted_levels_normal``); otherwise it is unknown.
    """
    if finding is None:
        unlisted: Tri = False if unlisted_normal else None
        return dict.fromkeys(("compression", *_LEVEL_SIGNALS), unlisted)
    signal = finding.t2_signal
    long_extent = _at_least(finding.t2_extent_segments, params["multisegment_min_segments"])
    return {
        "compression": _at_least(finding.kang, params["compression_min_kang"]),
        "t1_hypointensity": finding.t1_hypointensity,
        "t2_signal_any": None if signal is None else signal is not T2Signal.none,
        "multisegment_sharp_t2": all3((_is(signal, T2Signal.sharp), long_extent)),
        "snake_eyes": finding.snake_eyes,
    }


def _high_cervical_levels(params: Params) -> tuple[CervicalLevel, ...]:
    """The levels whose compression can affect breathing (every level if none are named)."""
    names = params["high_cervical_levels"]
    return tuple(CervicalLevel(name) for name in names) if names else _ALL_LEVELS


def electro_leaves(electro: Electrodiagnostics) -> Leaves:
    """The electrodiagnostic summary and evoked potentials, as recorded."""
    return {"edx": electro.summary, "sep_mep_abnormal": electro.sep_mep_abnormal}


# --- composite facts and features ---------------------------------------------------------
#
# Each composite fact is a plain function named after it, of the facts its parameters name
# (leaves, or facts derived before it) and, where it reads a threshold, of the rule
# parameters (``params``). :func:`combine` calls them in the order of :data:`FACT_FUNCTIONS`,
# so a fact is derived after every fact it reads. What a fact reads is its signature: nothing
# else reaches it.


def mjoa_deficit_attributed(mjoa_severity_total: int | None) -> Tri:
    """An mJOA deficit attributed to myelopathy (an attributed total below the maximum)."""
    return None if mjoa_severity_total is None else mjoa_severity_total < mjoa_max_total()


def tempo_hyperacute(tempo: OnsetTempo | None) -> Tri:
    return _is(tempo, OnsetTempo.hyperacute)


def tempo_acute_or_faster(tempo: OnsetTempo | None) -> Tri:
    return None if tempo is None else tempo in (OnsetTempo.hyperacute, OnsetTempo.acute)


def tempo_subacute(tempo: OnsetTempo | None) -> Tri:
    return _is(tempo, OnsetTempo.subacute)


def tempo_not_chronic(tempo: OnsetTempo | None) -> Tri:
    return None if tempo is None else tempo is not OnsetTempo.chronic


def edx_radiculopathy(edx: EdxSummary | None) -> Tri:
    return _is(edx, EdxSummary.radiculopathy)


def edx_neuropathy(edx: EdxSummary | None) -> Tri:
    return _is(edx, EdxSummary.neuropathy)


def edx_carpal_tunnel(edx: EdxSummary | None) -> Tri:
    return _is(edx, EdxSummary.carpal_tunnel)


def edx_anterior_horn(edx: EdxSummary | None) -> Tri:
    return _is(edx, EdxSummary.widespread_anterior_horn)


def sphincter_myelopathic(sphincter: SphincterChange | None, sphincter_other_cause: Tri) -> Tri:
    """A bladder or bowel change, unless the clinician attributes it to another cause."""
    if sphincter is None:
        return None
    return sphincter is not SphincterChange.none and sphincter_other_cause is not True


def sphincter_new_acute_cord(sphincter: SphincterChange | None, sphincter_other_cause: Tri) -> Tri:
    """A new, acute bladder or bowel change, unless the clinician attributes it to another cause."""
    if sphincter is None:
        return None
    return sphincter is SphincterChange.new_acute and sphincter_other_cause is not True


def sensory_level_any(sensory_level: SensoryLevel | None) -> Tri:
    return None if sensory_level is None else sensory_level is not SensoryLevel.none


def trunk_sensory_level(sensory_level: SensoryLevel | None) -> Tri:
    return _is(sensory_level, SensoryLevel.thoracic)


def hyperreflexia(hyperreflexia_arms: Tri, hyperreflexia_legs: Tri) -> Tri:
    return any3([hyperreflexia_arms, hyperreflexia_legs])


def myelopathic_symptom(  # noqa: PLR0917 - one parameter per fact it reads
    hand_clumsiness: Tri,
    gait_imbalance: Tri,
    falls: Tri,
    nondermatomal_numbness: Tri,
    sphincter_myelopathic: Tri,
    mjoa_deficit_attributed: Tri,
) -> Tri:
    """A symptom of myelopathy. An mJOA with no deficit attributed to myelopathy is a
    structured inventory of the same symptoms (hands, walking, sensation, bladder): the blanks
    among them are then absent."""
    symptom = any3([hand_clumsiness, gait_imbalance, falls, nondermatomal_numbness, sphincter_myelopathic])
    return False if symptom is None and mjoa_deficit_attributed is False else symptom


def pathological_sign(  # noqa: PLR0917 - one parameter per fact it reads
    hoffmann_tromner: Tri,
    babinski: Tri,
    sustained_clonus: Tri,
    inverted_brachioradialis: Tri,
    finger_escape: Tri,
    pectoralis: Tri,
    scapulohumeral: Tri,
) -> Tri:
    """A pathological upper-motor-neuron sign: every one but the brisk jaw jerk, which points
    above the cervical cord (an alternative diagnosis). Brisk reflexes alone are not among them:
    they are non-specific (present in many people without myelopathy, Rhee 2009)."""
    return any3(
        [
            hoffmann_tromner,
            babinski,
            sustained_clonus,
            inverted_brachioradialis,
            finger_escape,
            pectoralis,
            scapulohumeral,
        ]
    )


def umn_sign(hyperreflexia: Tri, pathological_sign: Tri) -> Tri:
    return any3([hyperreflexia, pathological_sign])


def peripheral_cause(edx_carpal_tunnel: Tri, edx_neuropathy: Tri) -> Tri:
    return any3([edx_carpal_tunnel, edx_neuropathy])


def myelopathy(  # noqa: PLR0917 - one parameter per fact it reads
    myelopathic_symptom: Tri,
    pathological_sign: Tri,
    deficits_attributed_to_myelopathy: Tri,
    mjoa_deficit_attributed: Tri,
    umn_sign: Tri,
    peripheral_cause: Tri,
) -> Tri:
    """Myelopathy present (design definition from the clinical reference's decision logic,
    tightened after Rhee 2009): a myelopathic symptom with a pathological sign; or the
    clinician's explicit attribution of the deficits to myelopathy; or an mJOA deficit left
    attributed to myelopathy with an upper-motor-neuron sign (brisk reflexes count here),
    unless nerve conduction proves a peripheral cause (carpal tunnel, neuropathy) or the
    clinician attributes the deficits elsewhere.
    """
    explicit = deficits_attributed_to_myelopathy
    deficit = all3((mjoa_deficit_attributed, umn_sign))
    if peripheral_cause is True:
        deficit = False
    return any3(
        (
            all3((myelopathic_symptom, pathological_sign)),
            explicit is True,
            False if explicit is False else deficit,
        )
    )


def neuro_deficit(
    myelopathy: Tri, myelopathic_symptom: Tri, umn_sign: Tri, weakness: Tri, sensory_level_any: Tri
) -> Tri:
    return any3([myelopathy, myelopathic_symptom, umn_sign, weakness, sensory_level_any])


# The facts the red-flag screen and the urgent tier read (issue 13: fail-safe triage).


def trauma_or_implied(recent_trauma: Tri, deficit_after_trauma: Tri) -> Tri:
    return any3([recent_trauma, deficit_after_trauma])


def infection_risk(
    iv_drug_use: Tri, immunosuppression: Tri, diabetes: Tri, renal_failure: Tri, recent_spinal_procedure: Tri
) -> Tri:
    return any3([iv_drug_use, immunosuppression, diabetes, renal_failure, recent_spinal_procedure])


def infection_context(fever: Tri, tempo_not_chronic: Tri) -> Tri:
    """Fever, or a deficit that is new or progressing: neck pain alone is too common in DCM to
    raise a risk factor (diabetes is common too) to an emergency."""
    return any3([fever, tempo_not_chronic])


def onset_may_be_recent(tempo: OnsetTempo | None, tempo_not_chronic: Tri, short_duration: Tri) -> bool:
    """Plausibility, never unknown: the onset may be recent unless the tempo is known to be
    chronic, or, with the tempo blank, the symptoms are known to be older than the NICE NG127
    window of days up to about 4 weeks."""
    return bool(tempo_not_chronic) if tempo is not None else short_duration is not False


def non_ambulant(mjoa_le_motor: int | None, nurick: int | None, params: Params) -> Tri:
    """Unable to walk, by the mJOA lower-limb motor score or the Nurick grade."""
    return any3(
        (
            _at_most(mjoa_le_motor, params["non_ambulant_max_le_motor"]),
            _is_value(nurick, params["nurick_non_ambulant_grade"]),
        )
    )


def mjoa_unable_to_void(mjoa_bladder: int | None) -> Tri:
    return _is_value(mjoa_bladder, 0)


def rapid_mjoa_decline(mjoa_delta: int | None, mjoa_days: int | None, params: Params) -> Tri:
    return _falling_at(
        mjoa_delta, mjoa_days, params["rapid_decline_points"], params["rapid_decline_window_days"]
    )


def subacute_mjoa_decline(mjoa_delta: int | None, mjoa_days: int | None, params: Params) -> Tri:
    return _falling_at(
        mjoa_delta, mjoa_days, params["deterioration_drop_points"], params["subacute_decline_window_days"]
    )


def suspected_mnd(fasciculations_widespread: Tri, tongue_signs: Tri, edx_anterior_horn: Tri) -> Tri:
    return any3([fasciculations_widespread, tongue_signs, edx_anterior_horn])


def radiculopathy(
    radicular_arm_pain: Tri, dermatomal_numbness: Tri, dermatomal_loss: Tri, edx_radiculopathy: Tri
) -> Tri:
    return any3([radicular_arm_pain, dermatomal_numbness, dermatomal_loss, edx_radiculopathy])


def alternative(
    fasciculations_widespread: Tri,
    tongue_signs: Tri,
    jaw_jerk_brisk: Tri,
    optic_neuritis: Tri,
    edx_anterior_horn: Tri,
) -> Tri:
    """Signs of another disease (motor neuron disease, a lesion above the cord, demyelination)."""
    return any3([fasciculations_widespread, tongue_signs, jaw_jerk_brisk, optic_neuritis, edx_anterior_horn])


def atypical_lesion(
    longitudinally_extensive_lesion: Tri, dorsal_column_signal: Tri, intramedullary_mass: Tri, syrinx: Tri
) -> Tri:
    return any3([longitudinally_extensive_lesion, dorsal_column_signal, intramedullary_mass, syrinx])


def discordant(trunk_sensory_level: Tri, thoracic_compression: Tri) -> Tri:
    return any3([trunk_sensory_level, thoracic_compression])


def leg_only_umn(  # noqa: PLR0917 - one parameter per fact it reads
    hyperreflexia_legs: Tri,
    babinski: Tri,
    sustained_clonus: Tri,
    hyperreflexia_arms: Tri,
    hoffmann_tromner: Tri,
    inverted_brachioradialis: Tri,
    finger_escape: Tri,
) -> Tri:
    """Upper-motor-neuron signs in the legs and none in the arms."""
    legs = any3([hyperreflexia_legs, babinski, sustained_clonus])
    arms = any3([hyperreflexia_arms, hoffmann_tromner, inverted_brachioradialis, finger_escape])
    return all3((legs, not3(arms)))


def myelomalacia(t1_hypointensity: Tri, t2_signal_any: Tri) -> Tri:
    """Myelomalacia on imaging, one definition for every surface: T1 hypointensity with T2 signal."""
    return all3((t1_hypointensity, t2_signal_any))


def sensory_ataxia(romberg_positive: Tri, vibration_proprioception_loss: Tri) -> Tri:
    return all3((romberg_positive, vibration_proprioception_loss))


def lhermitte_without_compression(lhermitte: Tri, compression: Tri) -> Tri:
    return _and_not(lhermitte, compression)


def compression_without_myelopathy(compression: Tri, myelopathy: Tri) -> Tri:
    return _and_not(compression, myelopathy)


def gait_impairment(gait_deviation: Tri, gait_imbalance: Tri) -> Tri:
    return any3([gait_deviation, gait_imbalance])


def very_severe(mjoa_total: int | None) -> Tri:
    return None if mjoa_total is None else mjoa_total <= mjoa_scale()["very_severe"]["max"]


def mjoa_18_with_myelopathy(mjoa_severity_total: int | None, myelopathy: Tri) -> Tri:
    """No mJOA deficit attributed to myelopathy, with myelopathy present."""
    no_deficit = None if mjoa_severity_total is None else mjoa_severity_total == mjoa_max_total()
    return all3((no_deficit, myelopathy))


def course(
    mjoa_delta: int | None,
    mjoa_severity_total: int | None,
    new_umn_sign: Tri,
    rehab_start_mjoa: int | None,
    params: Params,
) -> str:
    """The ``course`` feature (see :func:`_course`): against the earlier mJOA and, in
    supervised rehabilitation, against the mJOA at its start."""
    severity = mjoa_severity_total
    rehab_change = None if rehab_start_mjoa is None or severity is None else severity - rehab_start_mjoa
    return _course(mjoa_delta, severity, new_umn_sign, params, rehab_change)


def possible_deterioration(course: str) -> bool:
    return course == "possible_deterioration"


def band(mjoa_severity_total: int | None) -> str:
    """The ``band`` feature: the severity band of the attributed mJOA total."""
    return "unknown" if mjoa_severity_total is None else severity_band(mjoa_severity_total)


def new_deficit(course: str, new_umn_sign: Tri, rapid_loss_of_ambulation: Tri) -> Tri:
    """A deficit that is new: a deteriorated course, a new upper-motor-neuron sign, or a rapid
    loss of walking."""
    deteriorated: Tri = None if course == "unknown" else course == "deteriorated"
    return any3((deteriorated, new_umn_sign, rapid_loss_of_ambulation))


def time_critical(  # noqa: PLR0917 - one parameter per fact it reads
    subacute_mjoa_decline: Tri,
    non_ambulant: Tri,
    neuro_deficit: Tri,
    tempo_subacute: Tri,
    band: str,
    suspected_mnd: Tri,
) -> Tri:
    """To be seen within days: subacute progression, unable to walk, suspected motor neuron disease."""
    return any3(
        (
            subacute_mjoa_decline,
            all3((non_ambulant, neuro_deficit)),
            all3((tempo_subacute, _is_band(band, _MODERATE_OR_WORSE))),
            suspected_mnd,
        )
    )


def features(  # noqa: PLR0917 - one parameter per fact it reads
    paediatric: Tri,
    management: str,
    compression: Tri,
    myelopathy: Tri,
    band: str,
    course: str,
    radiculopathy: Tri,
    alternative: Tri,
    atypical_lesion: Tri,
    discordant: Tri,
    time_critical: Tri,
) -> dict[str, str]:
    """The decision-table features (all but ``red_flag``, which the red-flag screen sets)."""
    return {
        "scope": "paediatric" if paediatric else "adult",
        "management": management,
        "compression": _tri(compression),
        "myelopathy": _tri(myelopathy),
        "band": band,
        "course": course,
        "radiculopathy": _tri(radiculopathy),
        "alternative": _tri(alternative),
        "atypical_lesion": _tri(atypical_lesion),
        "discordant": _tri(discordant),
        "time_critical": "yes" if time_critical else "no",
    }


#: The composite facts in the order :func:`combine` derives them (each after what it reads).
FACT_FUNCTIONS: tuple[Callable[..., Any], ...] = (
    mjoa_deficit_attributed,
    tempo_hyperacute,
    tempo_acute_or_faster,
    tempo_subacute,
    tempo_not_chronic,
    edx_radiculopathy,
    edx_neuropathy,
    edx_carpal_tunnel,
    edx_anterior_horn,
    sphincter_myelopathic,
    sphincter_new_acute_cord,
    sensory_level_any,
    trunk_sensory_level,
    hyperreflexia,
    myelopathic_symptom,
    pathological_sign,
    umn_sign,
    peripheral_cause,
    myelopathy,
    neuro_deficit,
    trauma_or_implied,
    infection_risk,
    infection_context,
    onset_may_be_recent,
    non_ambulant,
    mjoa_unable_to_void,
    rapid_mjoa_decline,
    subacute_mjoa_decline,
    suspected_mnd,
    radiculopathy,
    alternative,
    atypical_lesion,
    discordant,
    leg_only_umn,
    myelomalacia,
    sensory_ataxia,
    lhermitte_without_compression,
    compression_without_myelopathy,
    gait_impairment,
    very_severe,
    mjoa_18_with_myelopathy,
    course,
    possible_deterioration,
    band,
    new_deficit,
    time_critical,
    features,
)

PARAMS = "params"
"""The parameter name under which a fact function reads the rule parameters."""

#: Values derived on the way to the features, not kept among the facts (the features hold them).
INTERMEDIATE = ("band", "course")

#: What each composite fact reads: its function's parameter names, in order.
FACT_INPUTS: dict[str, tuple[str, ...]] = {
    function.__name__: tuple(inspect.signature(function).parameters) for function in FACT_FUNCTIONS
}

# Each fact with a reader of its inputs (``itemgetter`` of two or more names gives a tuple;
# of one name, the value: a fact of one input is called with it directly).
_DERIVATIONS = tuple(
    (function.__name__, function, itemgetter(*reads), len(reads) == 1)
    for function, reads in zip(FACT_FUNCTIONS, FACT_INPUTS.values(), strict=True)
)


def combine(leaves: Leaves, params: Params) -> dict[str, Any]:
    """Every fact (leaves included) and the decision-table features, from the leaves alone:
    each function of :data:`FACT_FUNCTIONS` in turn, given the facts its parameters name."""
    f: dict[str, Any] = dict(leaves)
    f[PARAMS] = params
    for name, derive, inputs, single in _DERIVATIONS:
        f[name] = derive(inputs(f)) if single else derive(*inputs(f))
    del f[PARAMS]
    for name in INTERMEDIATE:
        del f[name]
    return f


_MODERATE_OR_WORSE = ("moderate", "severe")


def _is_band(band: str, bands: tuple[str, ...]) -> Tri:
    return None if band == "unknown" else band in bands


def _is_value(value: int | None, target: int) -> Tri:
    return None if value is None else value == target


def _falling_at(delta: int | None, days: int | None, points: int, window_days: int) -> Tri:
    """The mJOA fell by at least ``points`` at a rate of at least ``points`` per ``window_days``.

    A rate, not a window: a faster fall is never judged less urgent than a slower one.
    """
    if delta is None:
        return None
    fell = -delta >= points
    fast = None if days is None else -delta * window_days >= points * days
    return all3((fell, fast))


# For a change of band, 18 counts as mild: the guideline bands stop at 17 and rule R7 treats
# mJOA 18 with myelopathic signs as mild, so 18 -> 17 is a 1-point fall within the mild band
# ("possible deterioration"), not a change of band (clinical reference s1.2, s2.2).
_CHANGE_RANK = {"normal": 1, "mild": 1, "moderate": 2, "severe": 3}


def _course(
    delta: int | None, total: int | None, new_umn_sign: Tri, params: Params, rehab_change: int | None = None
) -> str:
    """The course of the attributed mJOA total: deteriorated, possible deterioration, improved
    or not improved.

    Deterioration is judged against the earlier mJOA and, in rehabilitation, against its
    baseline too; improvement (the failure-to-improve clause) against the mJOA at the start of
    supervised rehabilitation when it is recorded, else against the earlier mJOA.
    """
    changes = [change for change in (delta, rehab_change) if change is not None]
    if total is None or not changes:
        drop: Tri = None
        band_worse: Tri = None
    else:
        drop = any(change <= -params["deterioration_drop_points"] for change in changes)
        band_worse = any(
            _CHANGE_RANK[severity_band(total)] > _CHANGE_RANK[severity_band(total - change)]
            for change in changes
        )
    if any3((drop, band_worse, new_umn_sign)) is True:
        return "deteriorated"
    if total is None or not changes:
        return "unknown"
    judged = rehab_change if rehab_change is not None else changes[0]
    if judged == -1 or (delta is not None and delta == -1):
        return "possible_deterioration"
    mcid = int(mjoa_scale()["mcid"][severity_band(total - judged)])
    return "not_improved" if judged < mcid else "improved"


def _tri(value: Tri) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def known_fact_names(params: Params) -> set[str]:
    """Every fact name :func:`combine` produces (the vocabulary the screen tables may use)."""
    blank = Findings(patient=Patient(age_years=50))
    facts = combine(observe(blank, params, dt.date(2000, 1, 1)), params)
    return set(facts) - {"features"}
