"""The findings a clinician entered, as the history and examination of a clinic letter.

Only known values are written. A finding left empty was not examined, and saying nothing about
it is the only honest rendering: it never appears under "absent" (clinical reference, decision
logic: unknown is not absent). A default the clinician did not choose (management "untreated",
no attribution of an mJOA item to another cause) is not written as a finding either.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from pydantic import BaseModel

from myelo_cds.exports._document import Block, Entry, Section
from myelo_cds.findings import MRI, Findings, LevelFinding, Management, ReflexPair, StrengthPair
from myelo_cds.scales import mjoa_scale, nurick_grade, severity_band

__all__ = ["NOT_RECORDED", "letter_findings", "words"]

NOT_RECORDED = "not recorded"

# Short labels a clinician would write; anything not here is the field name in words.
_LABELS = {
    "iv_drug_use": "IV drug use",
    "prior_cervical_surgery": "prior cervical surgery",
    "spinal_radiotherapy": "radiotherapy with the cord in the field",
    "optic_neuritis": "optic neuritis or unexplained visual loss",
    "recent_trauma": "recent trauma or fall",
    "renal_failure": "renal failure or dialysis",
    "recent_spinal_procedure": "recent spinal surgery, injection or instrumentation",
    "nondermatomal_numbness": "non-dermatomal numbness",
    "lhermitte": "Lhermitte sign",
    "radicular_arm_pain": "radicular arm pain",
    "sphincter_change": "bladder/bowel change",
    "sphincter_other_cause": "bladder/bowel change has a non-myelopathic cause",
    "rapid_loss_of_ambulation": "lost walking within days",
    "deficit_after_trauma": "deficit new or worse since trauma",
    "wound_problem": "wound problem",
    "hoffmann_tromner": "Hoffmann/Tromner",
    "babinski": "Babinski",
    "sustained_clonus": "sustained ankle clonus",
    "inverted_brachioradialis": "inverted brachioradialis",
    "pectoralis": "hyperactive pectoralis reflex",
    "scapulohumeral": "hyperactive scapulohumeral reflex",
    "jaw_jerk_brisk": "brisk jaw jerk",
    "new_since_last_visit": "UMN sign new since last visit",
    "tandem_gait_abnormal": "abnormal tandem gait",
    "romberg_positive": "Romberg sign",
    "vibration_proprioception_loss": "vibration/proprioception loss",
    "dissociated_cape_loss": "dissociated cape-like loss",
    "stocking_glove_loss": "stocking-glove loss",
    "fasciculations_widespread": "fasciculations beyond cervical myotomes",
    "tongue_signs": "tongue or bulbar signs",
    "deficits_attributed_to_myelopathy": "deficits attributed to myelopathy by the examiner",
    "t1_hypointensity": "T1 hypointensity",
    "opll": "OPLL",
    "k_line": "K-line",
    "longitudinally_extensive_lesion": "longitudinally extensive T2 lesion (>= 3 segments)",
    "dorsal_column_signal": "dorsal-column-only T2 signal",
    "intramedullary_mass": "intramedullary or enhancing mass",
    "compression_band_enhancement": "band of enhancement below the compression",
    "epidural_collection": "epidural collection",
    "thoracic_cord_compression": "thoracic cord compression",
    "dynamic_instability": "instability on flexion-extension",
    "sep_mep_abnormal": "SEP/MEP abnormal",
    "psychiatric_comorbidity": "psychiatric comorbidity",
}


def words(name: str) -> str:
    """A field, feature or option name as a clinician writes it (``sustained_clonus`` ->
    ``sustained ankle clonus``, ``new_acute`` -> ``new acute``), the same words the form shows."""
    return _LABELS.get(name, name.replace("_", " "))


def _word(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return words(str(value.value))
    return str(value)


def _known(value: object) -> str:
    return NOT_RECORDED if value is None else _word(value)


def _yes_no(model: BaseModel, names: Iterable[str], topic: str) -> list[Block]:
    """``{topic} - present: ...; absent: ...`` for the known yes/no findings; unknown ones are
    left out (and the line too when none is known)."""
    names = list(names)
    present = [words(name) for name in names if getattr(model, name) is True]
    absent = [words(name) for name in names if getattr(model, name) is False]
    parts = []
    if present:
        parts.append("present: " + ", ".join(present))
    if absent:
        parts.append("absent: " + ", ".join(absent))
    return [Entry(f"{topic} - " + "; ".join(parts))] if parts else []


def _joined(blocks: list[Block], topic: str, text: str) -> list[Block]:
    """``text`` added to the last line when it is about ``topic``, else a line of its own."""
    last = blocks[-1] if blocks else None
    if isinstance(last, Entry) and last.text.startswith(topic):
        return [*blocks[:-1], Entry(f"{last.text}; {text}")]
    return [*blocks, Entry(topic + text)]


def _flags_of(model: BaseModel) -> list[str]:
    """The three-valued yes/no fields of a model, in declaration order."""
    return [name for name, field in type(model).model_fields.items() if field.annotation == (bool | None)]


def _history(findings: Findings) -> list[Block]:
    patient, symptoms = findings.patient, findings.symptoms
    facts = [f"Age {patient.age_years}" if patient.age_years is not None else "Age not entered"]
    if patient.sex.value != "unknown":
        facts.append(patient.sex.value)
    if patient.symptom_duration_months is not None:
        facts.append(f"myelopathic symptoms for {patient.symptom_duration_months:g} months")
    if symptoms.onset_tempo is not None:
        facts.append(f"{_word(symptoms.onset_tempo)} onset")
    if patient.comorbidity_count is not None:
        facts.append(f"relevant comorbidities: {patient.comorbidity_count}")
    blocks: list[Block] = [Entry("; ".join(facts), bullet=False)]
    if patient.management is not Management.untreated or patient.management_since is not None:
        management = _word(patient.management)
        if patient.management_since is not None:
            management += f" since {patient.management_since}"
        if patient.surgical_approach is not None:
            management += f" ({_word(patient.surgical_approach)} approach)"
        if patient.rehabilitation_start_mjoa is not None:
            management += f"; mJOA {patient.rehabilitation_start_mjoa} at the start of rehabilitation"
        blocks.append(Entry(f"Management: {management}"))
    flags = [name for name in _flags_of(symptoms) if name != "sphincter_other_cause"]
    blocks += _yes_no(symptoms, flags, "Symptoms")
    if symptoms.sphincter_change is not None:
        bladder = f"bladder/bowel change: {_word(symptoms.sphincter_change)}"
        if symptoms.sphincter_other_cause is not None:
            bladder += f", non-myelopathic cause: {_word(symptoms.sphincter_other_cause)}"
        blocks = _joined(blocks, "Symptoms - ", bladder)
    blocks += _yes_no(patient.history, _flags_of(patient.history), "Past history")
    blocks += _yes_no(patient, ("smoker", "psychiatric_comorbidity", "diabetes"), "Risk factors")
    return blocks


def _pairs(rows: Iterable[tuple[str, ReflexPair | StrengthPair]]) -> list[str]:
    """``biceps 3/3`` per known pair (left/right); a side not recorded is said so."""
    return [
        f"{name} {_known(pair.left)}/{_known(pair.right)}"
        for name, pair in rows
        if pair.left is not None or pair.right is not None
    ]


def _examination(findings: Findings) -> list[Block]:
    exam = findings.exam
    blocks: list[Block] = []
    reflexes = _pairs((name, getattr(exam.reflexes, name)) for name in type(exam.reflexes).model_fields)
    if reflexes:
        blocks.append(Entry("Reflexes (NINDS 0-4, left/right): " + ", ".join(reflexes)))
    blocks += _yes_no(exam.umn, _flags_of(exam.umn), "Upper-motor-neuron signs")
    power = _pairs((name, getattr(exam.strength, name)) for name in type(exam.strength).model_fields)
    if power:
        blocks.append(Entry("Power (MRC 0-5, left/right): " + ", ".join(power)))
    coordination = exam.coordination
    measured = []
    if coordination.grip_release_10s is not None:
        measured.append(f"grip-and-release {coordination.grip_release_10s} in 10 s (weaker hand)")
    walk = [
        text
        for text in (
            f"{coordination.walk_30m_seconds:g} s" if coordination.walk_30m_seconds is not None else "",
            f"{coordination.walk_30m_steps} steps" if coordination.walk_30m_steps is not None else "",
        )
        if text
    ]
    if walk:
        measured.append("30-m walk " + ", ".join(walk))
    blocks += _yes_no(coordination, _flags_of(coordination), "Gait and balance")
    if measured:
        blocks = _joined(blocks, "Gait and balance - ", "; ".join(measured))
    sensation = exam.sensation
    blocks += _yes_no(sensation, _flags_of(sensation), "Sensation")
    if sensation.sensory_level is not None:
        blocks = _joined(blocks, "Sensation - ", f"sensory level: {_word(sensation.sensory_level)}")
    blocks += _yes_no(
        exam, ("fasciculations_widespread", "tongue_signs", "deficits_attributed_to_myelopathy"), "Other"
    )
    return blocks or [Entry("No examination findings recorded")]


def _mjoa(findings: Findings) -> list[Block]:
    spec = mjoa_scale()
    mjoa = findings.mjoa
    if mjoa is None:
        return [Entry("mJOA not scored")]
    other_cause = {item.value for item in mjoa.not_due_to_myelopathy}
    items = []
    for item in spec["items"]:
        score = getattr(mjoa, item["id"])
        cause = ", deficit from another cause" if item["id"] in other_cause else ""
        items.append(f"{item['label'].lower()} {score}/{item['max']} ({item['levels'][score]}{cause})")
    total = mjoa.ue_motor + mjoa.le_motor + mjoa.ue_sensation + mjoa.sphincter
    return [Entry(f"mJOA {total}/{spec['scale']['max_total']} ({severity_band(total)}): " + "; ".join(items))]


def _nurick(findings: Findings) -> list[Block]:
    if findings.nurick is None:
        return [Entry("Nurick grade not recorded")]
    grade = nurick_grade(findings.nurick)
    return [Entry(f"Nurick {grade.grade}: {grade.wording}")]


def _level(level: str, finding: LevelFinding) -> str:
    parts = [
        f"Kang {_known(finding.kang)}",
        f"T2 signal {_known(finding.t2_signal)}",
    ]
    if finding.t2_extent_segments is not None:
        parts.append(f"over {finding.t2_extent_segments} segments")
    for name in ("t1_hypointensity", "snake_eyes"):
        value = getattr(finding, name)
        if value is not None:
            parts.append(f"{words(name)} {'present' if value else 'absent'}")
    return f"{level}: " + ", ".join(parts)


def _mri(mri: MRI) -> list[Block]:
    if not mri.available:
        return [Entry("No cervical MRI recorded", bullet=False)]
    blocks: list[Block] = [
        Entry(_level(level.value, finding))
        for level, finding in sorted(mri.levels.items(), key=lambda item: item[0].value)
    ]
    if not blocks:
        blocks.append(Entry("No level findings entered"))
    if mri.unlisted_levels_normal is not None:
        blocks.append(
            Entry(f"Levels not listed: {'reviewed, normal' if mri.unlisted_levels_normal else 'not normal'}")
        )
    if mri.k_line is not None:
        blocks.append(Entry(f"K-line: {_word(mri.k_line)}"))
    diameters = mri.cord_diameters
    if diameters is not None:
        blocks.append(
            Entry(
                f"Cord AP diameters: {diameters.di_mm:g} mm at maximal compression, "
                f"{diameters.da_mm:g} mm above, {diameters.db_mm:g} mm below"
            )
        )
    names = [name for name in _flags_of(mri) if name != "unlisted_levels_normal"]
    return blocks + _yes_no(mri, names, "Other MRI findings")


def _electro(findings: Findings) -> list[Block]:
    electro = findings.electro
    entries: list[Block] = []
    if electro.summary is not None:
        entries.append(Entry(f"EMG/nerve conduction: {_word(electro.summary)}"))
    if electro.not_done and electro.summary is None and electro.sep_mep_abnormal is None:
        entries.append(Entry("Electrodiagnostics: not done"))  # a documented answer, not a blank
    return entries + _yes_no(electro, ["sep_mep_abnormal"], "Evoked potentials")


def letter_findings(findings: Findings) -> list[Section]:
    """History, examination, mJOA and Nurick, and imaging, as a clinic letter orders them.

    Args:
        findings: the validated input of the assessment.

    Returns:
        Four sections; only recorded values are written (unknown is not absent).
    """
    electro = _electro(findings)
    return [
        Section("History", tuple(_history(findings)), level=2),
        Section("Examination", tuple(_examination(findings)), level=2),
        Section("mJOA and Nurick", (*_mjoa(findings), *_nurick(findings)), level=2),
        Section("MRI and neurophysiology" if electro else "MRI", (*_mri(findings.mri), *electro), level=2),
    ]
