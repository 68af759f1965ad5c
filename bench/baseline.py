"""A plain hand-written Python version of the DCM rules: the benchmark's comparison point.

``baseline_pathway`` answers the same question as ``default_engine().decide(findings, on)``
(pathway and urgency, without the provisional escalation that ``assess`` adds for a red flag
that is not excluded) with a direct if/else chain over the :class:`~myelo_cds.Findings` model.
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
    MJOA,
    MRI,
    CervicalLevel,
    EarlierMJOA,
    EdxSummary,
    Findings,
    Management,
    MJOAItem,
    OnsetTempo,
    SensoryLevel,
    SphincterChange,
)

__all__ = ["baseline_pathway"]

Tri = bool | None

# Parameters, copied from [parameters] in data/rules/dcm_rules.toml (rule set 1.0.0, issue 13).
# high_cervical_levels only feeds a planning flag now (RF-RESPIRATORY reads no level): unused.
ADULT_MIN_AGE = 18
COMPRESSION_MIN_KANG = 2
HYPERREFLEXIA_MIN_GRADE = 3
DETERIORATION_DROP_POINTS = 2
RAPID_DECLINE_POINTS = 2
RAPID_DECLINE_WINDOW_DAYS = 28
REHAB_TRIAL_MONTHS = 3
NON_AMBULANT_MAX_LE_MOTOR = 2
NURICK_NON_AMBULANT_GRADE = 5
SUBACUTE_DECLINE_WINDOW_DAYS = 91
EARLY_POSTOPERATIVE_DAYS = 42

# mJOA (data/scales/mjoa.toml): item maxima, MCID by the earlier band.
MJOA_MAX = {MJOAItem.ue_motor: 5, MJOAItem.le_motor: 7, MJOAItem.ue_sensation: 3, MJOAItem.sphincter: 3}
MJOA_TOP = 18
MCID = {"severe": 3, "moderate": 2, "mild": 1, "normal": 1}
# For a change of band, 18 counts as mild (mJOA 18 with signs is treated as mild).
CHANGE_RANK = {"normal": 1, "mild": 1, "moderate": 2, "severe": 3}
FULL_POWER = 5


def _band(total: int) -> str:
    if total <= 11:
        return "severe"
    if total <= 14:
        return "moderate"
    if total <= 17:
        return "mild"
    return "normal"


def _or(*values: Tri) -> Tri:
    """Kleene OR over True / False / None."""
    if True in values:
        return True
    if None in values:
        return None
    return False


def _and(*values: Tri) -> Tri:
    """Kleene AND over True / False / None."""
    if False in values:
        return False
    if None in values:
        return None
    return True


def _some_grade(grades: tuple[int | None, ...], test_low: bool, threshold: int) -> Tri:
    """Some grade is >= threshold (or < threshold if test_low); unknown if undecided."""
    unknown = False
    for grade in grades:
        if grade is None:
            unknown = True
        elif (grade < threshold) if test_low else (grade >= threshold):
            return True
    return None if unknown else False


def _cord_compressed(mri: MRI) -> Tri:
    """Kang >= 2 at some cervical level; an unlisted level is normal only if the reader said so."""
    if not mri.available:
        return None
    unknown = False
    for level in CervicalLevel:
        finding = mri.levels.get(level)
        if finding is None:
            if mri.unlisted_levels_normal is not True:
                unknown = True
        elif finding.kang is None:
            unknown = True
        elif finding.kang >= COMPRESSION_MIN_KANG:
            return True
    return None if unknown else False


def _attributed_total(scores: MJOA | EarlierMJOA, today: MJOA) -> int:
    """The mJOA total with each item today's score marks "not due to myelopathy" counted as normal."""
    total = 0
    for item, top in MJOA_MAX.items():
        total += top if item in today.not_due_to_myelopathy else getattr(scores, item.value)
    return total


def _rehab_trial_done(since: date, on: date) -> bool:
    """At least REHAB_TRIAL_MONTHS calendar months (same day, clamped to month end)."""
    index = since.month - 1 + REHAB_TRIAL_MONTHS
    year, month = since.year + index // 12, index % 12 + 1
    end = date(year, month, min(since.day, calendar.monthrange(year, month)[1]))
    return end <= on


def _falling(delta: int | None, days: int | None, window_days: int, points: int) -> Tri:
    """The mJOA fell by ``points`` or more, at least as fast as ``points`` per ``window_days``."""
    if delta is None:
        return None
    if -delta < points:
        return False
    if days is None:
        return None
    return -delta * window_days >= points * days


def baseline_pathway(findings: Findings, on: date) -> tuple[str, str]:
    """(pathway, urgency) for ``findings`` assessed on ``on``, by hand-written rules."""
    patient = findings.patient
    history = patient.history
    symptoms = findings.symptoms
    exam = findings.exam
    umn = exam.umn
    mri = findings.mri
    edx = findings.electro.summary
    scanned = mri.available

    # --- context: age group, management, the early post-operative weeks ----------------
    paediatric = patient.age_years is not None and patient.age_years < ADULT_MIN_AGE
    since = patient.management_since
    if patient.management is Management.postoperative:
        management = "postoperative"
    elif patient.management is Management.supervised_rehabilitation:
        assert since is not None
        management = "rehab_trial_complete" if _rehab_trial_done(since, on) else "rehab_early"
    else:
        management = "untreated"
    early_postop = (
        management == "postoperative" and since is not None and (on - since).days <= EARLY_POSTOPERATIVE_DAYS
    )

    # --- mJOA: severity band (attributed items only), change over time ----------------
    # The course is judged on the attributed totals: an item the clinician attributes to another
    # cause today counts as normal in the earlier score too. In supervised rehabilitation the
    # mJOA at its start (when recorded) is a second baseline: deterioration against either,
    # improvement (the failure-to-improve clause) against it.
    mjoa = findings.mjoa
    earlier = findings.earlier_mjoa
    attributed_total: int | None = None
    delta: int | None = None
    days: int | None = None
    if mjoa is None:
        band = "unknown"
        deficit_attributed: Tri = None
        le_motor: int | None = None
    else:
        attributed_total = _attributed_total(mjoa, mjoa)
        band = _band(attributed_total)
        deficit_attributed = attributed_total < MJOA_TOP
        le_motor = mjoa.le_motor
        if earlier is not None:
            delta = attributed_total - _attributed_total(earlier, mjoa)
            elapsed = (on - earlier.date).days
            days = elapsed if elapsed >= 0 else None  # an earlier score after the assessment: untimed
    rehab_start = patient.rehabilitation_start_mjoa
    rehab_change: int | None = None
    in_rehab = management in ("rehab_early", "rehab_trial_complete")
    if in_rehab and rehab_start is not None and attributed_total is not None:
        rehab_change = attributed_total - rehab_start

    new_umn_sign = umn.new_since_last_visit
    changes = [change for change in (delta, rehab_change) if change is not None]
    if attributed_total is None or not changes:
        course = "deteriorated" if new_umn_sign is True else "unknown"
    else:
        now = CHANGE_RANK[_band(attributed_total)]
        judged = rehab_change if rehab_change is not None else changes[0]
        if (
            any(change <= -DETERIORATION_DROP_POINTS for change in changes)
            or any(now > CHANGE_RANK[_band(attributed_total - change)] for change in changes)
            or new_umn_sign is True
        ):
            course = "deteriorated"
        elif judged == -1 or delta == -1:
            course = "possible_deterioration"
        elif judged < MCID[_band(attributed_total - judged)]:
            course = "not_improved"
        else:
            course = "improved"
    rapid_decline = _falling(delta, days, RAPID_DECLINE_WINDOW_DAYS, RAPID_DECLINE_POINTS)
    subacute_decline = _falling(delta, days, SUBACUTE_DECLINE_WINDOW_DAYS, DETERIORATION_DROP_POINTS)

    # --- syndrome -------------------------------------------------------------------------
    sphincter = symptoms.sphincter_change
    cord_cause = symptoms.sphincter_other_cause is not True
    sphincter_cord: Tri = (
        None if sphincter is None else (sphincter is not SphincterChange.none and cord_cause)
    )
    symptom = _or(
        symptoms.hand_clumsiness,
        symptoms.gait_imbalance,
        symptoms.falls,
        symptoms.nondermatomal_numbness,
        sphincter_cord,
    )
    if symptom is None and deficit_attributed is False:
        symptom = False  # an mJOA with no attributed deficit answers the symptom questions
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
    # Pathological signs: not brisk reflexes alone, not the brisk jaw jerk (above the cord).
    pathological = _or(
        umn.hoffmann_tromner,
        umn.babinski,
        umn.sustained_clonus,
        umn.inverted_brachioradialis,
        umn.finger_escape,
        umn.pectoralis,
        umn.scapulohumeral,
    )
    any_umn = _or(hyperreflexia, pathological)
    explicit = exam.deficits_attributed_to_myelopathy
    scored: Tri
    if explicit is False:
        scored = False  # the clinician attributes the deficits elsewhere
    elif edx in (EdxSummary.carpal_tunnel, EdxSummary.neuropathy):
        scored = False  # nerve conduction proves a peripheral cause
    else:
        scored = _and(deficit_attributed, any_umn)
    myelopathy = _or(_and(symptom, pathological), explicit is True, scored)

    strength = exam.strength
    weakness = _some_grade(
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
        FULL_POWER,
    )
    level = exam.sensation.sensory_level
    deficit = (
        myelopathy is True
        or symptom is True
        or any_umn is True
        or weakness is True
        or level in (SensoryLevel.cervical, SensoryLevel.thoracic)
    )

    compression = _cord_compressed(mri)
    if scanned:
        atypical = _or(
            mri.longitudinally_extensive_lesion, mri.dorsal_column_signal, mri.intramedullary_mass, mri.syrinx
        )
    else:
        atypical = None  # no MRI: an atypical lesion is neither shown nor excluded
    alternative = _or(
        exam.fasciculations_widespread,
        exam.tongue_signs,
        umn.jaw_jerk_brisk,
        history.optic_neuritis,
        None if edx is None else edx is EdxSummary.widespread_anterior_horn,
    )
    discordant = _or(
        None if level is None else level is SensoryLevel.thoracic,
        mri.thoracic_cord_compression if scanned else None,
    )
    radiculopathy = (
        symptoms.radicular_arm_pain is True
        or symptoms.dermatomal_numbness is True
        or exam.sensation.dermatomal_loss is True
        or edx is EdxSummary.radiculopathy
    )

    # --- red-flag screen: a row fires only when all its facts are known true -----------
    tempo = symptoms.onset_tempo
    fever = symptoms.fever is True
    breathing = symptoms.breathing_difficulty is True
    infection_risk = (
        history.iv_drug_use is True
        or history.immunosuppression is True
        or patient.diabetes is True
        or history.renal_failure is True
        or history.recent_spinal_procedure is True
    )
    new_deficit = (
        course == "deteriorated" or new_umn_sign is True or symptoms.rapid_loss_of_ambulation is True
    )
    not_chronic = tempo is not None and tempo is not OnsetTempo.chronic
    red_flag = (
        symptoms.deficit_after_trauma is True  # RF-TRAUMA: the yes implies the trauma
        or symptoms.rapid_loss_of_ambulation is True  # RF-RAPID-AMBULATION
        or rapid_decline is True  # RF-RAPID-MJOA
        or (deficit and tempo in (OnsetTempo.acute, OnsetTempo.hyperacute))  # RF-ACUTE-DEFICIT, RF-INFARCTION
        or (sphincter is SphincterChange.new_acute and cord_cause)  # RF-SPHINCTER
        or (deficit and breathing)  # RF-RESPIRATORY
        or (deficit and fever)  # RF-INFECTION-FEVER
        or (deficit and infection_risk and (fever or not_chronic))  # RF-INFECTION-RISK
        or (scanned and mri.epidural_collection is True)  # RF-EPIDURAL
        or (deficit and history.cancer is True)  # RF-CANCER
        or (early_postop and breathing)  # RF-POSTOP-AIRWAY
        or (early_postop and new_deficit)  # RF-POSTOP-DEFICIT
        or (early_postop and symptoms.wound_problem is True and fever)  # RF-POSTOP-INFECTION
    )

    # --- pathway (priority order) ------------------------------------------------------
    if red_flag:
        pathway = "emergency_referral"
    elif paediatric:
        pathway = "further_workup"
    elif management == "postoperative" and course == "deteriorated":
        pathway = "surgical_referral"
    elif management == "postoperative" and True not in (atypical, alternative, discordant):
        pathway = "postoperative_follow_up"
    elif compression is None and myelopathy is not False:
        pathway = "further_workup"  # no MRI yet for a possible myelopathy
    elif atypical is True or alternative is True or (discordant is True and myelopathy is not False):
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
        elif course == "deteriorated" and management != "postoperative":
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
        pathway = "surgery_or_structured_rehab" if radiculopathy else "surveillance"
    else:
        pathway = "further_workup"  # not DCM on current findings

    # --- urgency: the most urgent matching row -------------------------------------------
    non_ambulant = _or(
        None if le_motor is None else le_motor <= NON_AMBULANT_MAX_LE_MOTOR,
        None if findings.nurick is None else findings.nurick == NURICK_NON_AMBULANT_GRADE,
    )
    time_critical = (
        subacute_decline is True
        or (non_ambulant is True and deficit)
        or (tempo is OnsetTempo.subacute and band in ("moderate", "severe"))
        or exam.fasciculations_widespread is True
        or exam.tongue_signs is True
        or edx is EdxSummary.widespread_anterior_horn
    )
    referral_or_workup = pathway in ("surgical_referral", "further_workup")
    if pathway == "emergency_referral":
        urgency = "emergency"
    elif time_critical:
        urgency = "urgent"
    elif (
        (referral_or_workup and myelopathy is True and band in ("moderate", "severe", "unknown"))
        or (management == "postoperative" and course == "deteriorated")
        or (referral_or_workup and myelopathy is True and course == "deteriorated")
        or (pathway == "further_workup" and atypical is True)
        or (pathway == "further_workup" and discordant is True and myelopathy is not False)
        or (paediatric and compression is not False and myelopathy is not False)
        or (
            pathway in ("further_workup", "surgical_referral", "surgery_or_structured_rehab")
            and myelopathy is True
            and management == "untreated"
        )
    ):
        urgency = "expedited"
    else:
        urgency = "routine"
    return pathway, urgency
