"""The findings a clinician entered, as sections of a consult note.

Only known values are listed. A finding left empty is not examined, and saying nothing about it
is the only honest rendering: it never appears under "absent" (clinical reference, decision
logic: unknown is not absent).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from pydantic import BaseModel

from myelo_cds.exports._document import Block, Entry, Paragraph, Section, Table
from myelo_cds.findings import MRI, Findings, LevelFinding, ReflexPair, Strength, StrengthPair
from myelo_cds.scales import mjoa_scale, nurick_grade, severity_band

__all__ = ["NOT_RECORDED", "entered_findings"]

NOT_RECORDED = "not recorded"

# Short labels a clinician would write; anything not here is the field name in words.
_LABELS = {
    "iv_drug_use": "IV drug use",
    "prior_cervical_surgery": "prior cervical surgery",
    "spinal_radiotherapy": "radiotherapy with the cord in the field",
    "optic_neuritis": "optic neuritis or unexplained visual loss",
    "recent_trauma": "recent trauma or fall",
    "nondermatomal_numbness": "non-dermatomal numbness",
    "lhermitte": "Lhermitte sign",
    "radicular_arm_pain": "radicular arm pain",
    "sphincter_change": "bladder/bowel change",
    "sphincter_other_cause": "bladder/bowel change has a non-myelopathic cause",
    "rapid_loss_of_ambulation": "lost walking within days",
    "deficit_after_trauma": "deficit new or worse since trauma",
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
    "t1_hypointensity": "T1 hypointensity",
    "opll": "OPLL",
    "k_line": "K-line",
    "longitudinally_extensive_lesion": "longitudinally extensive T2 lesion (>= 3 segments)",
    "dorsal_column_signal": "dorsal-column-only T2 signal",
    "intramedullary_mass": "intramedullary or enhancing mass",
    "epidural_collection": "epidural collection",
    "thoracic_cord_compression": "thoracic cord compression",
    "dynamic_instability": "instability on flexion-extension",
    "sep_mep_abnormal": "SEP/MEP abnormal",
    "psychiatric_comorbidity": "psychiatric comorbidity",
}


def _label(name: str) -> str:
    return _LABELS.get(name, name.replace("_", " "))


def _word(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return str(value.value).replace("_", " ")
    return str(value)


def _yes_no(model: BaseModel, names: Iterable[str]) -> list[Entry]:
    """``Present: ...`` and ``Absent: ...`` for the known yes/no findings; unknown ones are left out."""
    present = [_label(name) for name in names if getattr(model, name) is True]
    absent = [_label(name) for name in names if getattr(model, name) is False]
    entries = []
    if present:
        entries.append(Entry("Present: " + "; ".join(present)))
    if absent:
        entries.append(Entry("Absent: " + "; ".join(absent)))
    return entries


def _flags_of(model: BaseModel) -> list[str]:
    """The three-valued yes/no fields of a model, in declaration order."""
    return [name for name, field in type(model).model_fields.items() if field.annotation == (bool | None)]


def _patient(findings: Findings) -> list[Block]:
    patient = findings.patient
    facts = [f"age {patient.age_years}" if patient.age_years is not None else "age not entered"]
    if patient.sex.value != "unknown":
        facts.append(f"sex {patient.sex.value}")
    if patient.symptom_duration_months is not None:
        facts.append(f"myelopathic symptoms for {patient.symptom_duration_months:g} months")
    if patient.comorbidity_count is not None:
        facts.append(f"{patient.comorbidity_count} relevant comorbidities")
    management = _word(patient.management)
    if patient.management_since is not None:
        management += f" since {patient.management_since}"
    facts.append(f"management: {management}")
    blocks: list[Block] = [Entry("; ".join(facts))]
    risks = _yes_no(patient, ("smoker", "psychiatric_comorbidity", "diabetes"))
    blocks.extend(Entry(f"Risk factors - {entry.text[0].lower()}{entry.text[1:]}") for entry in risks)
    history = _yes_no(patient.history, _flags_of(patient.history))
    blocks.extend(Entry(f"History - {entry.text[0].lower()}{entry.text[1:]}") for entry in history)
    return blocks


def _symptoms(findings: Findings) -> list[Block]:
    symptoms = findings.symptoms
    blocks: list[Block] = list(_yes_no(symptoms, _flags_of(symptoms)))
    others = [
        f"{_label(name)}: {_word(getattr(symptoms, name))}"
        for name in ("sphincter_change", "onset_tempo")
        if getattr(symptoms, name) is not None
    ]
    if others:
        blocks.append(Entry("; ".join(others)))
    return blocks


def _side(value: int | None) -> str:
    return NOT_RECORDED if value is None else str(value)


def _pairs_table(
    rows: list[tuple[str, ReflexPair | StrengthPair]], first: str, widths: tuple[int, ...] = (4, 2, 2)
) -> Table | None:
    known = [(name, pair) for name, pair in rows if pair.left is not None or pair.right is not None]
    if not known:
        return None
    return Table(
        header=(first, "Left", "Right"),
        rows=tuple((name, _side(pair.left), _side(pair.right)) for name, pair in known),
        widths=widths,
    )


def _exam(findings: Findings) -> list[Block]:
    exam = findings.exam
    blocks: list[Block] = []
    reflexes = _pairs_table(
        [(name, getattr(exam.reflexes, name)) for name in type(exam.reflexes).model_fields],
        "Reflex (NINDS 0-4; 3 brisk, 4 clonus)",
    )
    if reflexes:
        blocks.append(reflexes)
    umn = _yes_no(exam.umn, _flags_of(exam.umn))
    blocks.extend(Entry(f"Upper-motor-neuron signs - {e.text[0].lower()}{e.text[1:]}") for e in umn)
    strength = _pairs_table(
        [
            (f"{name} {(field.description or '').rstrip('.').lower()}", getattr(exam.strength, name))
            for name, field in Strength.model_fields.items()
        ],
        "Myotome (MRC 0-5)",
        widths=(5, 2, 2),
    )
    if strength:
        blocks.append(strength)
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
    if measured:
        blocks.append(Entry("Hand and gait tests: " + "; ".join(measured)))
    gait = _yes_no(coordination, _flags_of(coordination))
    blocks.extend(Entry(f"Gait and balance - {e.text[0].lower()}{e.text[1:]}") for e in gait)
    sensation = exam.sensation
    if sensation.sensory_level is not None:
        blocks.append(Entry(f"Sensory level: {_word(sensation.sensory_level)}"))
    sensory = _yes_no(sensation, _flags_of(sensation))
    blocks.extend(Entry(f"Sensation - {e.text[0].lower()}{e.text[1:]}") for e in sensory)
    other = _yes_no(exam, ("fasciculations_widespread", "tongue_signs"))
    blocks.extend(Entry(f"Other - {e.text[0].lower()}{e.text[1:]}") for e in other)
    return blocks


def _mjoa(findings: Findings) -> list[Block]:
    spec = mjoa_scale()
    blocks: list[Block] = []
    mjoa = findings.mjoa
    if mjoa is not None:
        rows = []
        other_cause = {item.value for item in mjoa.not_due_to_myelopathy}
        for item in spec["items"]:
            score = getattr(mjoa, item["id"])
            attributed = "no - other cause" if item["id"] in other_cause else "yes"
            rows.append((item["label"], f"{score}/{item['max']}", item["levels"][score], attributed))
        blocks.append(
            Table(
                header=("Item", "Score", "Wording", "Due to myelopathy"),
                rows=tuple(rows),
                widths=(5, 2, 9, 3),
            )
        )
        total = mjoa.ue_motor + mjoa.le_motor + mjoa.ue_sensation + mjoa.sphincter
        blocks.append(
            Entry(
                f"Total {total}/{spec['scale']['max_total']} ({severity_band(total)})"
                f" [{spec['scale']['id']} {spec['scale']['version']}]",
                bullet=False,
            )
        )
    earlier = findings.earlier_mjoa
    if earlier is not None:
        items = ", ".join(f"{item['label'].lower()} {getattr(earlier, item['id'])}" for item in spec["items"])
        total = earlier.ue_motor + earlier.le_motor + earlier.ue_sensation + earlier.sphincter
        top = spec["scale"]["max_total"]
        blocks.append(Entry(f"Earlier mJOA on {earlier.date}: {total}/{top} ({items})"))
    return blocks


def _nurick(findings: Findings) -> list[Block]:
    if findings.nurick is None:
        return []
    grade = nurick_grade(findings.nurick)
    return [Entry(f"Nurick {grade.grade}: {grade.wording} [{grade.scale.id} {grade.scale.version}]")]


def _level_row(level: str, finding: LevelFinding) -> tuple[str, ...]:
    def known(value: object) -> str:
        return NOT_RECORDED if value is None else _word(value)

    return (
        level,
        known(finding.kang),
        known(finding.t2_signal),
        known(finding.t2_extent_segments),
        known(finding.t1_hypointensity),
        known(finding.snake_eyes),
    )


def _mri(mri: MRI) -> list[Block]:
    if not mri.available:
        return [Entry("No cervical MRI available (not yet done or not read)")]
    blocks: list[Block] = []
    if mri.levels:
        blocks.append(
            Table(
                header=(
                    "Level",
                    "Kang grade",
                    "T2 signal",
                    "T2 extent (segments)",
                    "T1 hypointensity",
                    "Snake-eyes",
                ),
                rows=tuple(
                    _level_row(level.value, finding)
                    for level, finding in sorted(mri.levels.items(), key=lambda item: item[0].value)
                ),
                widths=(3, 3, 3, 4, 4, 3),
            )
        )
    else:
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
    other = _yes_no(mri, [name for name in _flags_of(mri) if name != "unlisted_levels_normal"])
    blocks.extend(Entry(f"Other MRI findings - {e.text[0].lower()}{e.text[1:]}") for e in other)
    return blocks


def _electro(findings: Findings) -> list[Block]:
    electro = findings.electro
    entries: list[Block] = []
    if electro.summary is not None:
        entries.append(Entry(f"EMG/nerve conduction: {_word(electro.summary)}"))
    entries.extend(_yes_no(electro, ["sep_mep_abnormal"]))
    return entries


def entered_findings(findings: Findings) -> list[Section]:
    """The findings as entered, grouped as a clinician records them; empty groups are left out.

    Args:
        findings: the validated input of the assessment.

    Returns:
        A level-1 "Findings entered" section followed by level-2 sections per group.
    """
    intro = Section(
        "Findings entered",
        (
            Paragraph(
                "Only recorded values are listed. A finding that is not listed was not examined: "
                "unknown, not absent."
            ),
        ),
    )
    groups: list[tuple[str, list[Block]]] = [
        ("Patient and history", _patient(findings)),
        ("Symptoms", _symptoms(findings)),
        ("Examination", _exam(findings)),
        ("mJOA (item by item)", _mjoa(findings)),
        ("Nurick grade", _nurick(findings)),
        ("MRI", _mri(findings.mri)),
        ("Electrodiagnostics", _electro(findings)),
    ]
    return [intro, *(Section(title, tuple(blocks), level=2) for title, blocks in groups if blocks)]
