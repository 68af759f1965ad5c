"""A plain hand-written Python version of the DCM rules: the benchmark's comparison point.

``baseline_pathway`` answers the same question as ``default_engine().decide(findings, on)``
(pathway and urgency) with a direct if/else chain over the :class:`~myelo_cds.Findings` model.
It does not read ``data/rules/dcm_rules.toml`` or import anything from ``myelo_cds.rules``: the
parameters below are copied by hand from the rule set's ``[parameters]`` and the tables are
written out as code, so that it is also an independent reference implementation of the rule
set (``tests/test_bench_baseline.py`` checks the two agree).

Three-valued logic throughout: ``None`` is "not examined", never "absent". A red-flag row
fires only when every one of its facts is known to be true; composite facts (myelopathy,
compression) stay unknown when an unknown input could still make them true.

This module is benchmark code, not a second engine: nothing outside ``bench/`` and its test
may call it.
"""

from __future__ import annotations

import calendar
from datetime import date

from myelo_cds.findings import (
    MRI,
    CervicalLevel,
    EdxSummary,
    Findings,
    Management,
    MJOAItem,
    OnsetTempo,
    SensoryLevel,
    SphincterChange,
)

__all__ = ["baseline_pathway"]

# Parameters, copied from [parameters] in data/rules/dcm_rules.toml (version 1.0.0).
ADULT_MIN_AGE = 18
COMPRESSION_MIN_KANG = 2
HIGH_CERVICAL_LEVELS = (CervicalLevel.C2_C3, CervicalLevel.C3_C4, CervicalLevel.C4_C5)
ALL_LEVELS = tuple(CervicalLevel)
HYPERREFLEXIA_MIN_GRADE = 3
DETERIORATION_DROP_POINTS = 2
RAPID_DECLINE_POINTS = 2
RAPID_DECLINE_WINDOW_DAYS = 28
REHAB_TRIAL_MONTHS = 3

# mJOA (data/scales/mjoa.toml): item maxima, MCID by the earlier band.
MJOA_MAX = {MJOAItem.ue_motor: 5, MJOAItem.le_motor: 7, MJOAItem.ue_sensation: 3, MJOAItem.sphincter: 3}
MCID = {"severe": 3, "moderate": 2, "mild": 1, "normal": 1}
# For a change of band, 18 counts as mild (mJOA 18 with signs is treated as mild).
CHANGE_RANK = {"normal": 1, "mild": 1, "moderate": 2, "severe": 3}


def _band(total: int) -> str:
    if total <= 11:
        return "severe"
    if total <= 14:
        return "moderate"
    if total <= 17:
        return "mild"
    return "normal"


def _or(*values: bool | None) -> bool | None:
    """Kleene OR over True / False / None."""
    if True in values:
        return True
    if None in values:
        return None
    return False


def _and(*values: bool | None) -> bool | None:
    """Kleene AND over True / False / None."""
    if False in values:
        return False
    if None in values:
        return None
    return True


def _some_grade(grades: tuple[int | None, ...], test_low: bool, threshold: int) -> bool | None:
    """Some grade is >= threshold (or < threshold if test_low); unknown if undecided."""
    unknown = False
    for grade in grades:
        if grade is None:
            unknown = True
        elif (grade < threshold) if test_low else (grade >= threshold):
            return True
    return None if unknown else False


def _cord_compressed(mri: MRI, levels: tuple[CervicalLevel, ...]) -> bool | None:
    """Kang >= 2 at some level; an unlisted level is normal only if the reader said so."""
    if not mri.available:
        return None
    unknown = False
    for level in levels:
        finding = mri.levels.get(level)
        if finding is None:
            if mri.unlisted_levels_normal is not True:
                unknown = True
        elif finding.kang is None:
            unknown = True
        elif finding.kang >= COMPRESSION_MIN_KANG:
            return True
    return None if unknown else False


def _rehab_trial_done(since: date, on: date) -> bool:
    """At least REHAB_TRIAL_MONTHS calendar months (same day, clamped to month end)."""
    index = since.month - 1 + REHAB_TRIAL_MONTHS
    year, month = since.year + index // 12, index % 12 + 1
    end = date(year, month, min(since.day, calendar.monthrange(year, month)[1]))
    return end <= on


def baseline_pathway(findings: Findings, on: date) -> tuple[str, str]:
    """(pathway, urgency) for ``findings`` assessed on ``on``, by hand-written rules."""
    patient = findings.patient
    history = patient.history
    symptoms = findings.symptoms
    exam = findings.exam
    umn = exam.umn
    mri = findings.mri
    edx = findings.electro.summary

    # --- management ------------------------------------------------------------------
    if patient.management is Management.postoperative:
        management = "postoperative"
    elif patient.management is Management.supervised_rehabilitation:
        assert patient.management_since is not None
        trial_done = _rehab_trial_done(patient.management_since, on)
        management = "rehab_trial_complete" if trial_done else "rehab_early"
    else:
        management = "untreated"

    # --- mJOA: severity band, change over time ---------------------------------------
    mjoa = findings.mjoa
    earlier = findings.earlier_mjoa
    if mjoa is None:
        band = "unknown"
        deficit_attributed: bool | None = None
        delta = None
    else:
        total = mjoa.ue_motor + mjoa.le_motor + mjoa.ue_sensation + mjoa.sphincter
        other_cause = mjoa.not_due_to_myelopathy
        attributed_total = total
        for item in other_cause:
            attributed_total += MJOA_MAX[item] - getattr(mjoa, item.value)
        band = _band(attributed_total)
        deficit_attributed = attributed_total < 18
        delta = None
        if earlier is not None:
            before = earlier.ue_motor + earlier.le_motor + earlier.ue_sensation + earlier.sphincter
            delta = total - before
            days = (on - earlier.date).days

    new_umn_sign = umn.new_since_last_visit
    if delta is None:
        course = "deteriorated" if new_umn_sign is True else "unknown"
        rapid_decline = False  # unknown: cannot fire
    else:
        if (
            delta <= -DETERIORATION_DROP_POINTS
            or CHANGE_RANK[_band(total)] > CHANGE_RANK[_band(before)]
            or new_umn_sign is True
        ):
            course = "deteriorated"
        elif delta == -1:
            course = "possible_deterioration"
        elif delta < MCID[_band(before)]:
            course = "not_improved"
        else:
            course = "improved"
        rapid_decline = delta <= -RAPID_DECLINE_POINTS and days <= RAPID_DECLINE_WINDOW_DAYS

    # --- syndrome: myelopathic symptom + upper-motor-neuron sign, or attributed mJOA deficit
    sphincter = symptoms.sphincter_change
    if sphincter is None:
        sphincter_cord: bool | None = None
    else:
        sphincter_cord = sphincter is not SphincterChange.none and symptoms.sphincter_other_cause is not True
    symptom = _or(
        symptoms.hand_clumsiness,
        symptoms.gait_imbalance,
        symptoms.falls,
        symptoms.nondermatomal_numbness,
        sphincter_cord,
    )
    reflexes = exam.reflexes
    hyperreflexia = _some_grade(
        (
            reflexes.biceps.left,
            reflexes.biceps.right,
            reflexes.triceps.left,
            reflexes.triceps.right,
            reflexes.brachioradialis.left,
            reflexes.brachioradialis.right,
            reflexes.patellar.left,
            reflexes.patellar.right,
            reflexes.achilles.left,
            reflexes.achilles.right,
        ),
        False,
        HYPERREFLEXIA_MIN_GRADE,
    )
    sign = _or(
        hyperreflexia,
        umn.hoffmann_tromner,
        umn.babinski,
        umn.sustained_clonus,
        umn.inverted_brachioradialis,
        umn.finger_escape,
        umn.pectoralis,
        umn.scapulohumeral,
    )
    myelopathy = _or(_and(symptom, sign), deficit_attributed)

    compression = _cord_compressed(mri, ALL_LEVELS)
    scanned = mri.available
    atypical = scanned and (
        mri.longitudinally_extensive_lesion is True
        or mri.dorsal_column_signal is True
        or mri.intramedullary_mass is True
        or mri.syrinx is True
        or mri.epidural_collection is True
    )
    alternative = (
        exam.fasciculations_widespread is True
        or exam.tongue_signs is True
        or umn.jaw_jerk_brisk is True
        or history.optic_neuritis is True
        or edx is EdxSummary.widespread_anterior_horn
    )
    discordant = exam.sensation.sensory_level is SensoryLevel.thoracic or (
        scanned and mri.thoracic_cord_compression is True
    )

    # --- red-flag screen: a row fires only when all its facts are known true -----------
    tempo = symptoms.onset_tempo
    not_chronic = tempo is not None and tempo is not OnsetTempo.chronic
    strength = exam.strength
    deficit = (
        symptom is True
        or sign is True
        or deficit_attributed is True
        or exam.sensation.sensory_level in (SensoryLevel.cervical, SensoryLevel.thoracic)
        or _some_grade(
            (
                strength.C5.left,
                strength.C5.right,
                strength.C6.left,
                strength.C6.right,
                strength.C7.left,
                strength.C7.right,
                strength.C8.left,
                strength.C8.right,
                strength.T1.left,
                strength.T1.right,
                strength.L2.left,
                strength.L2.right,
                strength.L3.left,
                strength.L3.right,
                strength.L4.left,
                strength.L4.right,
                strength.L5.left,
                strength.L5.right,
                strength.S1.left,
                strength.S1.right,
            ),
            True,
            5,
        )
        is True
    )
    red_flag = (
        (history.recent_trauma is True and symptoms.deficit_after_trauma is True)
        or symptoms.rapid_loss_of_ambulation is True
        or rapid_decline
        or (deficit and tempo in (OnsetTempo.acute, OnsetTempo.hyperacute))
        or (sphincter is SphincterChange.new_acute and symptoms.sphincter_other_cause is not True)
        or (symptoms.breathing_difficulty is True and _cord_compressed(mri, HIGH_CERVICAL_LEVELS) is True)
        or (deficit and symptoms.fever is True)
        or (
            deficit
            and not_chronic
            and symptoms.neck_pain is True
            and (history.iv_drug_use is True or history.immunosuppression is True)
        )
        or (deficit and scanned and mri.epidural_collection is True)
        or (deficit and not_chronic and history.cancer is True)
    )

    # --- pathway (priority order) ------------------------------------------------------
    if red_flag:
        pathway = "emergency_referral"
    elif patient.age_years < ADULT_MIN_AGE:
        pathway = "further_workup"
    elif management == "postoperative":
        pathway = "surgical_referral" if course == "deteriorated" else "postoperative_follow_up"
    elif compression is None and myelopathy is not False:
        pathway = "further_workup"  # no MRI yet for a possible myelopathy
    elif atypical or alternative or (discordant and myelopathy is not False):
        pathway = "further_workup"
    elif myelopathy is True and compression is False:
        pathway = "further_workup"  # non-compressive myelopathy
    elif compression is True and myelopathy is None:
        pathway = "further_workup"  # complete the examination
    elif compression is True and myelopathy is True:
        if band == "unknown":
            pathway = "further_workup"  # score the mJOA
        elif band in ("moderate", "severe"):
            pathway = "surgical_referral"
        elif course == "deteriorated":
            pathway = "surgical_referral"  # mild (or 18) deteriorating without surgery
        elif (
            band == "mild"
            and management == "rehab_trial_complete"
            and course in ("not_improved", "possible_deterioration")
        ):
            pathway = "surgical_referral"  # failed structured rehabilitation
        else:
            pathway = "surgery_or_structured_rehab"
    elif compression is True:  # compression without myelopathy
        radiculopathy = (
            symptoms.radicular_arm_pain is True
            or symptoms.dermatomal_numbness is True
            or exam.sensation.dermatomal_loss is True
            or edx is EdxSummary.radiculopathy
        )
        pathway = "surgery_or_structured_rehab" if radiculopathy else "surveillance"
    else:
        pathway = "further_workup"  # not DCM on current findings

    # --- urgency -----------------------------------------------------------------------
    if pathway == "emergency_referral":
        urgency = "emergency"
    elif (
        pathway in ("surgical_referral", "further_workup")
        and myelopathy is True
        and (band in ("moderate", "severe", "unknown") or course == "deteriorated")
    ) or (pathway == "further_workup" and atypical):
        urgency = "expedited"
    else:
        urgency = "routine"
    return pathway, urgency
