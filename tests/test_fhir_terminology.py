"""Standard terminology in the FHIR export (issue 15): every code has a published source or is
in our shipped CodeSystem, Observations are modelled for an EHR (category, laterality, level,
UCUM units, dataAbsentReason), and the engine's internal features are not exported."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from myelo_cds import Findings, assess
from myelo_cds.exports import _fhir_codes, _fhir_import
from myelo_cds.exports._fhir_codes import CODE_SYSTEM, UCUM, code_system, terminology
from myelo_cds.exports.fhir import bundle_json, findings_from_bundle
from myelo_cds.findings import CervicalLevel
from myelo_cds.service import _prefetch

ROOT = Path(__file__).resolve().parents[1]
CASES = sorted((ROOT / "data" / "examples").glob("*.json")) + sorted(
    (ROOT / "data" / "validation").glob("*.json")
)
# A row's source: a file at a commit of a public repository, or HL7's FHIR R4 4.0.1 definitions.
# DICOM's own terminology as FHIR ValueSets (the DICOM PS3.16 context groups) counts as published too.
_REPO_SOURCE = re.compile(r"(HL7/[A-Za-z0-9_.-]+|bvdh/dicom-terminology-in-fhir)@[0-9a-f]{40}:\S+")
_R4_SOURCE = re.compile(
    r"FHIR R4 4\.0\.1 [a-z0-9-]+\.json (ValueSet|CodeSystem)/[a-z0-9-]+ \(HL7 definitions; .+\)"
)
# HL7 Terminology (THO), as its published package ships it: the SNOMED International Global
# Patient Set is there as ValueSet/snomed-intl-gps (every GPS concept with its fully specified name).
_THO_SOURCE = re.compile(r"HL7 Terminology \(THO\) [0-9.]+ (ValueSet|CodeSystem)/[a-z0-9-]+ \(.+\.json\)")
_STANDARD = {
    "http://loinc.org",
    "http://snomed.info/sct",
    UCUM,
    "http://terminology.hl7.org/CodeSystem/observation-category",
    "http://terminology.hl7.org/CodeSystem/data-absent-reason",
    "http://terminology.hl7.org/CodeSystem/v2-0136",
}


def _case(path: Path) -> Findings:
    data = json.loads(path.read_text())
    return Findings.model_validate(data.get("findings", data))


def _observations(findings: Findings) -> list[dict[str, Any]]:
    bundle = json.loads(bundle_json(findings, assess(findings)))
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]


def _by_code(observations: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        c["code"]: obs for obs in observations for c in obs["code"]["coding"] if c["system"] == CODE_SYSTEM
    }


def _codings(node: Any) -> list[dict[str, Any]]:
    """Every Coding in a resource (anything with a system and a code), Quantities included."""
    if isinstance(node, dict):
        found = [node] if isinstance(node.get("system"), str) and "code" in node else []
        return found + [c for value in node.values() for c in _codings(value)]
    if isinstance(node, list):
        return [c for value in node for c in _codings(value)]
    return []


def test_every_standard_code_in_the_table_has_a_published_source() -> None:
    rows = terminology().rows
    assert len(rows) >= 20
    for row in rows:
        assert row.system in _STANDARD, row
        assert any(source.fullmatch(row.source) for source in (_REPO_SOURCE, _R4_SOURCE, _THO_SOURCE)), row
        assert row.display, row
        assert row.direction in ("both", "import", "import-present"), row
    # One meaning per code: the import never has to choose between two rows.
    keys = [(row.key, row.role, row.system, row.code) for row in rows]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_every_exported_code_is_in_the_table_or_our_code_system(path: Path) -> None:
    table = {(row.system, row.code) for row in terminology().rows}
    ours = {concept["code"] for concept in code_system()["concept"]}
    for obs in _observations(_case(path)):
        for coding in _codings(obs):
            if coding["system"] == CODE_SYSTEM:
                assert coding["code"] in ours, coding
            else:
                assert (coding["system"], coding["code"]) in table, coding


def test_the_shipped_code_system_is_the_findings_model() -> None:
    shipped = json.loads((ROOT / "data" / "fhir" / "codesystem-myelo-cds.json").read_text("utf-8"))
    assert shipped == code_system()
    assert shipped["url"].startswith("https://")
    assert shipped["version"]
    codes = [concept["code"] for concept in shipped["concept"]]
    assert len(codes) == len(set(codes)) == shipped["count"]
    displays = [concept["display"] for concept in shipped["concept"]]
    assert not any("Left side grade" in text or "Right side" in text for text in displays)


def test_reflex_and_strength_rows_read_as_a_clinician_writes_them() -> None:
    displays = {concept["code"]: concept["display"] for concept in code_system()["concept"]}
    assert displays["exam.reflexes.biceps.left"] == "Biceps reflex, left (grade 0-4)"
    assert displays["exam.reflexes.achilles.right"] == "Achilles reflex, right (grade 0-4)"
    assert (
        displays["exam.strength.C5.left"] == "Strength, C5 myotome (shoulder abduction), left (MRC grade 0-5)"
    )
    assert displays["mri.levels.C5-C6.kang"] == "Kang canal-stenosis grade (0-3) at C5-C6"


def test_no_decision_table_feature_is_exported_as_an_observation() -> None:
    findings = _case(ROOT / "data" / "examples" / "moderate_dcm.json")
    rec = assess(findings)
    codes = {c["code"] for obs in _observations(findings) for c in obs["code"]["coding"]}
    assert rec.features
    assert not codes & set(rec.features)
    assert not any("feature" in c["system"] for obs in _observations(findings) for c in obs["code"]["coding"])


def test_observations_carry_category_laterality_level_and_ucum_units() -> None:
    findings = _case(ROOT / "data" / "examples" / "moderate_dcm.json")
    by_code = _by_code(_observations(findings))
    reflex = by_code["exam.reflexes.biceps.left"]
    assert reflex["category"][0]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
        "code": "exam",
    }
    (side,) = reflex["component"]
    assert side["valueCodeableConcept"]["coding"][0]["code"] == "419161000"  # Unilateral left
    duration = by_code["patient.symptom_duration_months"]["valueQuantity"]
    assert (duration["system"], duration["code"]) == (UCUM, "mo")
    age = by_code["patient.age_years"]["valueQuantity"]
    assert (age["system"], age["code"], age["value"]) == (UCUM, "a", findings.patient.age_years)
    smoker = by_code["patient.smoker"]
    assert smoker["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "72166-2",
        "display": "Tobacco smoking status",
    }
    levels = [obs for code, obs in by_code.items() if code.startswith("mri.levels.")]
    assert levels
    for obs in levels:
        assert obs["category"][0]["coding"][0]["code"] == "imaging"
        level = obs["bodySite"]["text"]
        standard, ours = obs["bodySite"]["coding"]
        assert ours == {"system": CODE_SYSTEM, "code": f"level.{level}"}
        assert standard == terminology().term("level", level).coding
        assert standard["system"] == "http://snomed.info/sct"
        assert standard["display"] == f"Level of {level.replace('-', '/')} intervertebral disc"


def test_a_blank_finding_the_answer_depends_on_is_exported_as_not_examined() -> None:
    findings = _case(ROOT / "data" / "examples" / "moderate_dcm.json")
    rec = assess(findings)
    needed = {path for unknown in rec.unknowns for path in unknown.fields}
    assert "mri.thoracic_cord_compression" in needed
    assert findings.mri.thoracic_cord_compression is None
    obs = _by_code(_observations(findings))["mri.thoracic_cord_compression"]
    assert obs["dataAbsentReason"]["coding"][0]["code"] == "not-performed"
    assert not any(key.startswith("value") for key in obs)
    # ... and read back as blank (unknown), never as "absent".
    back = findings_from_bundle(bundle_json(findings, rec)).findings
    assert back.mri.thoracic_cord_compression is None


def test_the_import_and_the_hooks_prefetch_share_one_unit_converter() -> None:
    assert vars(_prefetch)["in_field_unit"] is _fhir_codes.in_field_unit
    assert vars(_fhir_import)["in_field_unit"] is _fhir_codes.in_field_unit
    assert not hasattr(_prefetch, "_TO_BASE")
    assert _fhir_codes.in_field_unit("patient.symptom_duration_months", {"value": 8, "code": "wk"}) == (
        1.84,
        None,
    )
    assert _fhir_codes.in_field_unit("patient.age_years", {"value": 779, "code": "mo"}) == (64, None)


def test_the_hooks_prefetch_asks_for_every_code_the_table_reads() -> None:
    from myelo_cds.service.cds_hooks import discovery

    query = discovery()["services"][0]["prefetch"]["findings"]
    assert f"{CODE_SYSTEM}|" in query
    for row in terminology().rows:
        if row.role == "code" and "." in row.key:
            assert f"{row.system}|{row.code}" in query


_SCT = "http://snomed.info/sct"


def _ehr_observation(rid: str, code: str, answer: str) -> dict[str, Any]:
    """An EHR's Observation coded with a SNOMED CT problem code, answered Present or Absent
    (SNOMED CT qualifier values, as the IPS presence/absence value set has them)."""
    return {
        "fullUrl": f"urn:uuid:00000000-0000-4000-8000-{rid.rjust(12, '0')}",
        "resource": {
            "resourceType": "Observation",
            "id": rid,
            "status": "final",
            "code": {"coding": [{"system": _SCT, "code": code}]},
            "subject": {"reference": "Patient/p"},
            "effectiveDateTime": "2025-03-04",
            "valueCodeableConcept": {"coding": [{"system": _SCT, "code": answer}]},
        },
    }


def _ehr_bundle(*observations: dict[str, Any]) -> str:
    """An EHR's collection Bundle: the Patient and the given Observation entries."""
    patient = {
        "fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000000",
        "resource": {"resourceType": "Patient", "id": "p"},
    }
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [patient, *observations]})


_EQUAL_CODES = [
    ("patient.diabetes", True, "73211009", "Diabetes mellitus"),
    ("symptoms.swallowing_difficulty", False, "40739000", "Dysphagia"),
    ("symptoms.falls", True, "161898004", "Falls"),
    ("patient.history.iv_drug_use", False, "228388006", "Intravenous drug user (finding)"),
]


@pytest.mark.parametrize(("path", "value", "code", "display"), _EQUAL_CODES, ids=[c[0] for c in _EQUAL_CODES])
def test_a_finding_with_an_equal_snomed_code_is_exported_with_it_first_and_read_back(
    path: str, value: bool, code: str, display: str
) -> None:
    data = json.loads((ROOT / "data" / "examples" / "moderate_dcm.json").read_text())
    data = data.get("findings", data)
    *parents, name = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[name] = value
    findings = Findings.model_validate(data)
    observation = _by_code(_observations(findings))[path]
    assert observation["code"]["coding"][0] == {"system": _SCT, "code": code, "display": display}
    back: Any = findings_from_bundle(bundle_json(findings, assess(findings))).findings
    for part in path.split("."):
        back = getattr(back, part)
    assert back is value


def test_an_ehr_problem_code_answered_present_or_absent_is_read_as_the_table_says() -> None:
    """Dysphagia is our "difficulty swallowing" (equal: absent means absent); stiff neck and
    syringomyelia are narrower than "neck pain or stiffness" and an MRI syrinx: present answers
    them, absent leaves them blank and says why."""
    present, absent = "52101004", "2667000"
    imported = findings_from_bundle(
        _ehr_bundle(
            _ehr_observation("1", "40739000", absent),  # Dysphagia
            _ehr_observation("2", "161882006", present),  # Stiff neck
            _ehr_observation("3", "111496009", absent),  # Syringomyelia
            _ehr_observation("4", "73211009", present),  # Diabetes mellitus
        )
    )
    findings = imported.findings
    assert findings.symptoms.swallowing_difficulty is False
    assert findings.symptoms.neck_pain is True
    assert findings.patient.diabetes is True
    assert findings.mri.syrinx is None
    reasons = {item.resource: item.reason for item in imported.not_understood}
    assert "Syringomyelia is narrower" in reasons["Observation/3"]


def test_every_cervical_level_has_its_snomed_level_code() -> None:
    """The MRI levels' bodySite: SNOMED CT "Level of C5/C6 intervertebral disc" (DICOM CID 1003,
    anatomical reference basis of the spine), one per level the findings model takes."""
    codes = {terminology().term("level", level.value).code for level in CervicalLevel}
    assert len(codes) == len(CervicalLevel) == 6
    for level in CervicalLevel:
        row = terminology().term("level", level.value)
        assert row.display == f"Level of {level.value.replace('-', '/')} intervertebral disc"
        assert row.direction == "both"


def test_narrower_ehr_codes_answer_their_finding_when_present_and_leave_it_blank_when_absent() -> None:
    """Recurrent falls, orthopnoea, oropharyngeal dysphagia, a dehisced or infected surgical wound
    and dependence on dialysis each are one way of having our finding: present answers it,
    absent does not (the patient may still fall, be breathless, or be in renal failure)."""
    present, absent = "52101004", "2667000"
    falls_absent = _ehr_observation("7", "161898004", absent)  # Falls: our finding itself
    imported = findings_from_bundle(
        _ehr_bundle(
            _ehr_observation("1", "279992002", present),  # Recurrent falls
            _ehr_observation("2", "62744007", present),  # Orthopnea
            _ehr_observation("3", "105502003", present),  # Dependence on renal dialysis
            _ehr_observation("4", "22247000", present),  # Dehiscence of surgical wound
            _ehr_observation("5", "71457002", absent),  # Oropharyngeal dysphagia
            _ehr_observation("6", "58126003", absent),  # Postoperative wound infection
            falls_absent,
        )
    )
    findings = imported.findings
    assert findings.symptoms.breathing_difficulty is True
    assert findings.patient.history.renal_failure is True
    assert findings.symptoms.wound_problem is True
    assert findings.symptoms.swallowing_difficulty is None
    reasons = {item.resource: item.reason for item in imported.not_understood}
    assert "Oropharyngeal dysphagia is narrower" in reasons["Observation/5"]
    assert "Postoperative wound infection is narrower" in reasons["Observation/6"]
    # Recurrent falls (present) and Falls (absent) on the same day disagree: neither counts.
    assert findings.symptoms.falls is None
    assert "neither counted" in reasons["Observation/7"]
    # Falls is our finding itself: alone, its absence answers it.
    assert findings_from_bundle(_ehr_bundle(falls_absent)).findings.symptoms.falls is False
