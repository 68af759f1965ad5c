"""What the clinician examined: the typed input of an assessment.

Every finding that can be left unexamined is ``None`` when unknown. Unknown is
not absent: the engine never reads ``None`` as "no", and it reports which
unknowns would change its answer. Field descriptions, units and ranges live
here so that the JSON Schema, the form labels and the error messages come from
one place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, model_validator

from myelo_cds.errors import InputError

__all__ = [
    "CROSS_FIELD_CHECKS",
    "MJOA",
    "MRI",
    "NOT_DONE_ANSWERS",
    "CervicalLevel",
    "Coordination",
    "CordDiameters",
    "EarlierMJOA",
    "EdxSummary",
    "Electrodiagnostics",
    "Exam",
    "Findings",
    "History",
    "KLine",
    "LevelFinding",
    "MJOAItem",
    "Management",
    "OnsetTempo",
    "Patient",
    "ReflexPair",
    "Reflexes",
    "Sensation",
    "SensoryLevel",
    "Sex",
    "SphincterChange",
    "Strength",
    "StrengthPair",
    "SurgicalApproach",
    "Symptoms",
    "T2Signal",
    "UMNSigns",
    "Unknown",
    "field_model",
    "not_done_inputs",
]

#: A finding that may be present (True), absent (False) or not examined (None).
Unknown = bool | None


def field_model(annotation: Any) -> tuple[type[BaseModel] | None, bool, bool]:
    """What a field annotation holds: (its model or None, a mapping of models?, may be None?).

    ``MJOA | None`` -> (MJOA, False, True); ``dict[CervicalLevel, LevelFinding]`` ->
    (LevelFinding, True, False); ``int | None`` -> (None, False, True).
    """
    optional = type(None) in get_args(annotation)
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate, False, optional
        if get_origin(candidate) is dict:
            value = get_args(candidate)[1]
            if isinstance(value, type) and issubclass(value, BaseModel):
                return value, True, optional
    return None, False, optional


def _finding(description: str) -> Unknown:
    return Field(default=None, description=description + " Leave empty if not examined.")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Sex(StrEnum):
    female = "female"
    male = "male"
    other = "other"
    unknown = "unknown"


class Management(StrEnum):
    """Where the patient is in their care."""

    untreated = "untreated"
    supervised_rehabilitation = "supervised_rehabilitation"
    postoperative = "postoperative"


class OnsetTempo(StrEnum):
    """How fast the neurological symptoms developed (worst first)."""

    hyperacute = "hyperacute"  # minutes to hours
    acute = "acute"  # hours to days
    subacute = "subacute"  # days to weeks
    chronic = "chronic"  # months or longer


class SurgicalApproach(StrEnum):
    """Approach of the cervical operation (early complications differ: airway after anterior)."""

    anterior = "anterior"
    posterior = "posterior"
    combined = "combined"


class SphincterChange(StrEnum):
    none = "none"
    chronic = "chronic"
    new_acute = "new_acute"


class T2Signal(StrEnum):
    """Intramedullary T2 hyperintensity grade (0 none, 1 faint, 2 sharp)."""

    none = "none"
    faint = "faint"
    sharp = "sharp"


class KLine(StrEnum):
    positive = "positive"
    negative = "negative"


class SensoryLevel(StrEnum):
    """Highest dermatome of a sensory level, grouped by region."""

    none = "none"
    cervical = "cervical"
    thoracic = "thoracic"


class EdxSummary(StrEnum):
    normal = "normal"
    radiculopathy = "radiculopathy"
    neuropathy = "neuropathy"
    carpal_tunnel = "carpal_tunnel"
    widespread_anterior_horn = "widespread_anterior_horn"


class CervicalLevel(StrEnum):
    C2_C3 = "C2-C3"
    C3_C4 = "C3-C4"
    C4_C5 = "C4-C5"
    C5_C6 = "C5-C6"
    C6_C7 = "C6-C7"
    C7_T1 = "C7-T1"


class MJOAItem(StrEnum):
    ue_motor = "ue_motor"
    le_motor = "le_motor"
    ue_sensation = "ue_sensation"
    sphincter = "sphincter"


# --- patient -----------------------------------------------------------------------------


class History(_Model):
    cancer: Unknown = _finding("Current or past cancer.")
    iv_drug_use: Unknown = _finding("Intravenous drug use.")
    immunosuppression: Unknown = _finding("Immunosuppression, including steroids.")
    bariatric_surgery: Unknown = _finding("Bariatric or other gastric surgery.")
    prior_cervical_surgery: Unknown = _finding("Earlier cervical spine surgery.")
    spinal_radiotherapy: Unknown = _finding("Radiotherapy with the cord in the field.")
    optic_neuritis: Unknown = _finding("Past optic neuritis or unexplained visual loss.")
    recent_trauma: Unknown = _finding("Recent trauma to the neck or a fall.")
    renal_failure: Unknown = _finding("Renal failure or dialysis (a risk factor for epidural abscess).")
    recent_spinal_procedure: Unknown = _finding(
        "Recent spinal surgery, injection or instrumentation (a risk factor for epidural abscess)."
    )


class Patient(_Model):
    age_years: int | None = Field(
        default=None,
        ge=0,
        le=120,
        description="Age in whole years (0-120). Leave empty if not yet known: the red-flag screen "
        "still runs, and the pathway is marked incomplete until the age is entered.",
    )
    sex: Sex = Field(default=Sex.unknown, description="Sex recorded for norms.")
    symptom_duration_months: float | None = Field(
        default=None, ge=0, le=600, description="Months since myelopathic symptoms began (0-600)."
    )
    smoker: Unknown = _finding("Current smoker.")
    comorbidity_count: int | None = Field(
        default=None, ge=0, le=30, description="Number of relevant comorbidities (0-30)."
    )
    psychiatric_comorbidity: Unknown = _finding("Depression, anxiety or other psychiatric illness.")
    diabetes: Unknown = _finding("Diabetes mellitus.")
    history: History = Field(default_factory=History)
    management: Management = Field(
        default=Management.untreated, description="Current management of the cervical condition."
    )
    management_since: dt.date | None = Field(
        default=None,
        description="Date supervised rehabilitation started or surgery was done.",
    )
    surgical_approach: SurgicalApproach | None = Field(
        default=None, description="Approach of the cervical operation: anterior, posterior or combined."
    )
    rehabilitation_start_mjoa: int | None = Field(
        default=None,
        ge=0,
        le=18,
        description="mJOA total at the start of supervised rehabilitation (0-18): the baseline "
        "against which failure to improve is judged.",
    )

    @model_validator(mode="after")
    def _management_needs_a_date(self) -> Patient:
        problem = management_date_problem(self.management, self.management_since)
        if problem:
            raise InputError(problem)
        return self


def management_date_problem(management: Management, since: dt.date | None) -> str | None:
    """Why a management without its start date is invalid (None if it is valid)."""
    if management is not Management.untreated and since is None:
        return (
            f"management_since is required when management is {management.value}"
            " (the date rehabilitation started or surgery was done)"
        )
    return None


# --- symptoms ----------------------------------------------------------------------------


class Symptoms(_Model):
    hand_clumsiness: Unknown = _finding("Clumsy hands, dropping things, trouble with buttons.")
    gait_imbalance: Unknown = _finding("Unsteady walking or imbalance.")
    falls: Unknown = _finding("Falls in recent months.")
    nondermatomal_numbness: Unknown = _finding("Numbness not in a dermatomal pattern.")
    lhermitte: Unknown = _finding("Electric sensation down the spine on neck flexion.")
    neck_pain: Unknown = _finding("Neck pain or stiffness.")
    radicular_arm_pain: Unknown = _finding("Radicular (root) pain in an arm.")
    dermatomal_numbness: Unknown = _finding("Numbness in a dermatomal pattern.")
    sphincter_change: SphincterChange | None = Field(
        default=None, description="Bladder or bowel change: none, chronic, or new and acute."
    )
    sphincter_other_cause: Unknown = _finding(
        "The bladder/bowel change has a non-myelopathic cause (e.g. prostatic)."
    )
    breathing_difficulty: Unknown = _finding("Shortness of breath, orthopnoea, weak cough.")
    swallowing_difficulty: Unknown = _finding("Difficulty swallowing.")
    fever: Unknown = _finding("Fever or signs of sepsis.")
    rapid_loss_of_ambulation: Unknown = _finding("Lost the ability to walk within days.")
    deficit_after_trauma: Unknown = _finding("Neurological deficit new or worse since the trauma.")
    wound_problem: Unknown = _finding("Surgical wound red, swollen, discharging or breaking down.")
    onset_tempo: OnsetTempo | None = Field(
        default=None, description="Tempo of onset: hyperacute, acute, subacute or chronic."
    )


# --- examination -------------------------------------------------------------------------

ReflexGrade = Annotated[int, Field(ge=0, le=4)]
MRCGrade = Annotated[int, Field(ge=0, le=5)]


class ReflexPair(_Model):
    """Reflex grade per side, 0-4 (NINDS scale: 0 absent, 2 normal, 3 brisk, 4 clonus)."""

    left: ReflexGrade | None = Field(default=None, description="Left side grade (0-4).")
    right: ReflexGrade | None = Field(default=None, description="Right side grade (0-4).")


class Reflexes(_Model):
    biceps: ReflexPair = Field(default_factory=ReflexPair)
    triceps: ReflexPair = Field(default_factory=ReflexPair)
    brachioradialis: ReflexPair = Field(default_factory=ReflexPair)
    patellar: ReflexPair = Field(default_factory=ReflexPair)
    achilles: ReflexPair = Field(default_factory=ReflexPair)


class UMNSigns(_Model):
    hoffmann_tromner: Unknown = _finding("Hoffmann or Tromner sign.")
    babinski: Unknown = _finding("Extensor plantar response.")
    sustained_clonus: Unknown = _finding("Sustained ankle clonus.")
    inverted_brachioradialis: Unknown = _finding("Inverted brachioradialis (supinator) reflex.")
    finger_escape: Unknown = _finding("Finger escape sign.")
    pectoralis: Unknown = _finding("Hyperactive pectoralis reflex.")
    scapulohumeral: Unknown = _finding("Hyperactive scapulohumeral reflex.")
    jaw_jerk_brisk: Unknown = _finding("Brisk jaw jerk (points above the foramen magnum).")
    new_since_last_visit: Unknown = _finding("An upper-motor-neuron sign new since the last visit.")


class StrengthPair(_Model):
    """MRC grade per side, 0-5."""

    left: MRCGrade | None = Field(default=None, description="Left side MRC grade (0-5).")
    right: MRCGrade | None = Field(default=None, description="Right side MRC grade (0-5).")


class Strength(_Model):
    C5: StrengthPair = Field(default_factory=StrengthPair, description="Shoulder abduction.")
    C6: StrengthPair = Field(default_factory=StrengthPair, description="Elbow flexion, wrist ext.")
    C7: StrengthPair = Field(default_factory=StrengthPair, description="Elbow extension.")
    C8: StrengthPair = Field(default_factory=StrengthPair, description="Finger flexion.")
    T1: StrengthPair = Field(default_factory=StrengthPair, description="Finger abduction.")
    L2: StrengthPair = Field(default_factory=StrengthPair, description="Hip flexion.")
    L3: StrengthPair = Field(default_factory=StrengthPair, description="Knee extension.")
    L4: StrengthPair = Field(default_factory=StrengthPair, description="Ankle dorsiflexion.")
    L5: StrengthPair = Field(default_factory=StrengthPair, description="Great toe extension.")
    S1: StrengthPair = Field(default_factory=StrengthPair, description="Ankle plantarflexion.")


class Coordination(_Model):
    grip_release_10s: int | None = Field(
        default=None, ge=0, le=60, description="Grip-and-release cycles in 10 s, weaker hand (0-60)."
    )
    gait_deviation: Unknown = _finding("Observed gait deviation (broad-based, spastic, ataxic).")
    tandem_gait_abnormal: Unknown = _finding("Cannot walk heel-to-toe.")
    romberg_positive: Unknown = _finding("Romberg sign.")
    walk_30m_seconds: float | None = Field(
        default=None, gt=0, le=600, description="Time to walk 30 m, seconds (0-600)."
    )
    walk_30m_steps: int | None = Field(
        default=None, ge=1, le=500, description="Steps taken over 30 m (1-500)."
    )


class Sensation(_Model):
    sensory_level: SensoryLevel | None = Field(
        default=None, description="Sensory level on the trunk or neck: none, cervical, thoracic."
    )
    dermatomal_loss: Unknown = _finding("Sensory loss in a dermatomal pattern.")
    stocking_glove_loss: Unknown = _finding("Distal stocking-glove sensory loss.")
    vibration_proprioception_loss: Unknown = _finding("Loss of vibration or joint position.")
    dissociated_cape_loss: Unknown = _finding("Cape-like loss of pain and temperature only.")


class Exam(_Model):
    reflexes: Reflexes = Field(default_factory=Reflexes)
    umn: UMNSigns = Field(default_factory=UMNSigns)
    strength: Strength = Field(default_factory=Strength)
    coordination: Coordination = Field(default_factory=Coordination)
    sensation: Sensation = Field(default_factory=Sensation)
    fasciculations_widespread: Unknown = _finding("Fasciculations beyond the cervical myotomes.")
    tongue_signs: Unknown = _finding("Tongue wasting or fasciculation, or bulbar signs.")
    deficits_attributed_to_myelopathy: Unknown = _finding(
        "The examining clinician attributes the deficits to myelopathy (clinical judgement)."
    )


# --- scales ------------------------------------------------------------------------------


class MJOA(_Model):
    """Modified JOA (Benzel 18-point), scored item by item; higher is better."""

    ue_motor: int = Field(ge=0, le=5, description="Upper-extremity motor (0-5).")
    le_motor: int = Field(ge=0, le=7, description="Lower-extremity motor (0-7).")
    ue_sensation: int = Field(ge=0, le=3, description="Upper-extremity sensation (0-3).")
    sphincter: int = Field(ge=0, le=3, description="Bladder function (0-3).")
    not_due_to_myelopathy: frozenset[MJOAItem] = Field(
        default=frozenset(),
        description="Items whose deficit the clinician attributes to another cause.",
    )


class EarlierMJOA(_Model):
    """An earlier mJOA (item level) and its date, to measure change."""

    date: dt.date = Field(description="Date of the earlier mJOA.")
    ue_motor: int = Field(ge=0, le=5, description="Upper-extremity motor (0-5).")
    le_motor: int = Field(ge=0, le=7, description="Lower-extremity motor (0-7).")
    ue_sensation: int = Field(ge=0, le=3, description="Upper-extremity sensation (0-3).")
    sphincter: int = Field(ge=0, le=3, description="Bladder function (0-3).")


# --- imaging and electrophysiology -------------------------------------------------------


class LevelFinding(_Model):
    kang: int | None = Field(
        default=None, ge=0, le=3, description="Kang canal-stenosis grade at this level (0-3)."
    )
    t2_signal: T2Signal | None = Field(
        default=None, description="Intramedullary T2 signal: none, faint or sharp."
    )
    t2_extent_segments: int | None = Field(
        default=None, ge=1, le=20, description="Vertebral segments spanned by T2 signal (1-20)."
    )
    t1_hypointensity: Unknown = _finding("T1 hypointensity in the cord at this level.")
    snake_eyes: Unknown = _finding("Snake-eye T2 foci on axial images.")


class CordDiameters(_Model):
    """Antero-posterior cord diameters (mm) for the MSCC."""

    di_mm: float = Field(gt=0, le=20, description="AP diameter at maximal compression (mm).")
    da_mm: float = Field(gt=0, le=20, description="AP diameter at the normal level above (mm).")
    db_mm: float = Field(gt=0, le=20, description="AP diameter at the normal level below (mm).")


class MRI(_Model):
    available: bool = Field(default=False, description="A cervical MRI has been done and read.")
    levels: dict[CervicalLevel, LevelFinding] = Field(
        default_factory=dict, description="Findings per cervical level (C2-C3 .. C7-T1)."
    )
    unlisted_levels_normal: Unknown = _finding("Levels not listed were reviewed and are normal.")
    thoracic_cord_compression: Unknown = _finding("Cord compression in the thoracic spine.")
    cord_diameters: CordDiameters | None = None
    opll: Unknown = _finding("Ossification of the posterior longitudinal ligament.")
    k_line: KLine | None = Field(default=None, description="K-line: positive or negative.")
    kyphosis: Unknown = _finding("Cervical kyphosis.")
    dynamic_instability: Unknown = _finding("Instability on flexion-extension imaging.")
    longitudinally_extensive_lesion: Unknown = _finding(
        "T2 lesion over 3 or more segments without matching compression."
    )
    dorsal_column_signal: Unknown = _finding("T2 signal confined to the dorsal columns.")
    intramedullary_mass: Unknown = _finding(
        "Expansile intramedullary mass, or enhancement that is nodular, ring-like or away from "
        "the compressed level (suggests tumour or inflammation)."
    )
    compression_band_enhancement: Unknown = _finding(
        "Transverse band ('pancake') of enhancement just below the compressed level: seen in "
        "spondylotic myelopathy itself, not by itself a tumour (Flanagan 2014)."
    )
    syrinx: Unknown = _finding("Syrinx.")
    epidural_collection: Unknown = _finding("Epidural collection (abscess, haematoma).")

    @model_validator(mode="after")
    def _no_findings_without_a_scan(self) -> MRI:
        problem = scan_problem(self.available, *(getattr(self, name) for name in _MRI_FINDINGS))
        if problem:
            raise InputError(problem)
        return self


_MRI_FINDINGS = tuple(name for name in MRI.model_fields if name != "available")


def _filled(value: object) -> bool:
    """A finding was given: not empty and not "no" (a section reads as True when present)."""
    return value not in (None, {}) and value is not False


def scan_problem(available: bool, *findings: object) -> str | None:
    """Why MRI findings without a scan are invalid; ``findings`` in ``_MRI_FINDINGS`` order."""
    if available:
        return None
    filled = [name for name, value in zip(_MRI_FINDINGS, findings, strict=True) if _filled(value)]
    if not filled:
        return None
    return (
        "MRI findings were given but mri.available is false: "
        + ", ".join(sorted(filled))
        + " (set mri.available to true or remove them)"
    )


class Electrodiagnostics(_Model):
    summary: EdxSummary | None = Field(
        default=None,
        description="EMG/nerve conduction summary; leave empty if not done.",
    )
    sep_mep_abnormal: Unknown = _finding("Somatosensory or motor evoked potentials abnormal.")
    not_done: bool = Field(
        default=False,
        description="Electrodiagnostics documented as not done (an answer: the blank results "
        "leave the not-recorded list and stay unknown to the rules).",
    )


#: "Not done" answers and the blank inputs each one answers (``electro.not_done`` answers the
#: electrodiagnostic results). An answered input stays unknown to the rules (less certain, never
#: less safe); only the list of items not recorded leaves it out.
NOT_DONE_ANSWERS: dict[str, tuple[str, ...]] = {
    "electro.not_done": ("electro.summary", "electro.sep_mep_abnormal"),
}


#: A pseudonymous case id: 1 to ``CASE_ID_LENGTH`` letters, digits, '.', '_' or '-' (no names).
#: The record store checks patient ids with the same pattern and sizes its id columns by it.
CASE_ID_LENGTH = 64
CASE_ID_CHARACTER = "[A-Za-z0-9._-]"
CASE_ID_PATTERN = rf"^{CASE_ID_CHARACTER}{{1,{CASE_ID_LENGTH}}}$"


class Findings(_Model):
    """Everything the engine reads for one assessment."""

    schema_version: int = Field(default=1, ge=1, le=1, description="Input schema version (1).")
    case_id: str | None = Field(
        default=None,
        pattern=CASE_ID_PATTERN,
        description="Pseudonymous case id (letters, digits, . _ -; no names).",
    )
    assessment_date: dt.date | None = Field(
        default=None, description="Date of this assessment (defaults to today)."
    )
    patient: Patient
    symptoms: Symptoms = Field(default_factory=Symptoms)
    exam: Exam = Field(default_factory=Exam)
    mjoa: MJOA | None = None
    earlier_mjoa: EarlierMJOA | None = None
    nurick: int | None = Field(default=None, ge=0, le=5, description="Nurick grade (0-5).")
    mri: MRI = Field(default_factory=MRI)
    electro: Electrodiagnostics = Field(default_factory=Electrodiagnostics)

    @model_validator(mode="after")
    def _dates_in_order(self) -> Findings:
        earlier = None if self.earlier_mjoa is None else self.earlier_mjoa.date
        problem = dates_problem(self.assessment_date, earlier, self.patient.management_since)
        if problem:
            raise InputError(problem)
        return self


def dates_problem(when: dt.date | None, earlier: dt.date | None, since: dt.date | None) -> str | None:
    """Why dates out of order are invalid (None if they are in order)."""
    if when is not None:
        if earlier is not None and earlier > when:
            return "earlier_mjoa.date must not be after assessment_date"
        if since is not None and since > when:
            return "patient.management_since must not be after assessment_date"
    return None


#: The checks across fields, each with the fields it reads (dotted paths; a section path reads
#: as True when the section is given). The model validators above call the same functions, so
#: the batch path (:mod:`myelo_cds.batch._columnar`) can check whole columns of rows at once.
CROSS_FIELD_CHECKS: tuple[tuple[tuple[str, ...], Callable[..., str | None]], ...] = (
    (("patient.management", "patient.management_since"), management_date_problem),
    (("mri.available", *(f"mri.{name}" for name in _MRI_FINDINGS)), scan_problem),
    (("assessment_date", "earlier_mjoa.date", "patient.management_since"), dates_problem),
)


def not_done_inputs(findings: Findings) -> frozenset[str]:
    """The input paths documented as not done (each ``NOT_DONE_ANSWERS`` answer that is set)."""
    done: frozenset[str] = frozenset()
    for answer, paths in NOT_DONE_ANSWERS.items():
        value: Any = findings
        for name in answer.split("."):
            value = getattr(value, name)
        if value is True:
            done |= set(paths)
    return done
