"""Importing an EHR's FHIR record (issue 15): standard codes through the mapping table, units,
age from the birth date, retracted data left out, and everything not understood reported.

``tests/data/fhir_import/ehr_record.json`` is written by hand, not by our exporter: its Patient
is the FHIR R4 specification's Patient example (``Patient/example``: Peter James Chalmers, male,
born 1974-12-25), its body weight the specification's Observation example (``Observation/
example``, LOINC 29463-7, 185 [lb_av]), its smoking status shaped like the IPS tobacco-use
example (HL7/fhir-ips ``input/fsh/instances/observation-tobaccouse-1.fsh``: LOINC 72166-2 with a
SNOMED CT answer), a retracted fever (``entered-in-error``), a Condition, and two findings in our
CodeSystem as an EHR holding the app's written-back findings has them.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from myelo_cds import Findings, assess
from myelo_cds.errors import InputError
from myelo_cds.exports import findings_from_bundle as exported_entry_point
from myelo_cds.exports.fhir import FINDING_SYSTEM, NotUnderstood, bundle_json, findings_from_bundle
from myelo_cds.service._prefetch import HookLimits, gather
from tests.fhir_r4 import r4_errors

RECORD = Path(__file__).resolve().parent / "data" / "fhir_import" / "ehr_record.json"
ROOT = Path(__file__).resolve().parents[1]
INCOMPLETE = sorted((ROOT / "data" / "validation" / "incomplete").glob("*.json"))


@pytest.fixture
def record() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RECORD.read_text("utf-8"))
    return data


def _resource(record: dict[str, Any], rid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(e["resource"] for e in record["entry"] if e["resource"]["id"] == rid)
    return found


def _reasons(not_understood: tuple[NotUnderstood, ...]) -> dict[str, str]:
    return {item.resource: item.reason for item in not_understood}


def test_the_hand_written_ehr_record_is_valid_r4(record: dict[str, Any]) -> None:
    assert r4_errors(record) == []


def test_an_ehr_record_imports_to_the_expected_findings(record: dict[str, Any]) -> None:
    imported = findings_from_bundle(json.dumps(record))
    findings = imported.findings
    assert findings.assessment_date == dt.date(2025, 3, 4)  # the newest counted Observation
    assert findings.patient.age_years == 50  # born 1974-12-25, assessed 2025-03-04
    assert findings.patient.sex.value == "male"
    assert findings.patient.smoker is True  # LOINC 72166-2 = SNOMED 449868002 smokes daily
    assert findings.patient.history.immunosuppression is False  # SNOMED 370388006 = HL7 "N"
    assert findings.patient.symptom_duration_months == 1.84  # 8 wk, not 8 months
    assert findings.exam.umn.babinski is True  # the 2025 value, not the 2024 one listed first
    assert findings.symptoms.fever is None  # retracted: blank, never False
    assert findings.symptoms.breathing_difficulty is None  # see the narrower-code test
    assert imported.sources["exam.umn.babinski"].resource == "Observation/babinski-2025"
    assert imported.sources["patient.age_years"].resource == "Patient/example"


def test_what_the_import_did_not_read_is_reported_with_why(record: dict[str, Any]) -> None:
    reasons = _reasons(findings_from_bundle(record).not_understood)
    assert set(reasons) == {
        "Observation/fever-retracted",
        "Observation/dyspnea-absent",
        "Observation/example",
        "Condition/example",
    }
    assert reasons["Observation/fever-retracted"] == "status entered-in-error: not counted"
    assert "not in the mapping table" in reasons["Observation/example"]  # body weight
    assert "narrower" in reasons["Observation/dyspnea-absent"]
    assert "Condition" in reasons["Condition/example"]
    (weight,) = [
        item for item in findings_from_bundle(record).not_understood if item.resource == "Observation/example"
    ]
    assert weight.code == "http://loinc.org|29463-7"


def test_the_absence_of_a_narrower_finding_does_not_answer_the_wider_one(record: dict[str, Any]) -> None:
    """SNOMED CT Dyspnea is narrower than "shortness of breath, orthopnoea, weak cough": dyspnea
    present means the finding is present; dyspnea absent says nothing about a weak cough."""
    dyspnea = _resource(record, "dyspnea-absent")
    dyspnea["valueBoolean"] = True
    assert findings_from_bundle(record).findings.symptoms.breathing_difficulty is True


def test_cancelled_and_preliminary_observations_do_not_count(record: dict[str, Any]) -> None:
    for status in ("cancelled", "preliminary", "registered", "unknown"):
        changed = copy.deepcopy(record)
        smoking = _resource(changed, "smoking")
        smoking["status"] = status
        imported = findings_from_bundle(changed)
        assert imported.findings.patient.smoker is None
        assert _reasons(imported.not_understood)["Observation/smoking"] == f"status {status}: not counted"


def test_a_bundle_without_a_patient_stays_blank_instead_of_failing() -> None:
    """Once "patient: Field required"; now the patient section is empty: unknown, not normal."""
    imported = findings_from_bundle('{"resourceType": "Bundle", "type": "collection", "entry": []}')
    assert imported.findings.patient.age_years is None
    assert imported.findings.patient.smoker is None
    assert imported.not_understood == ()
    assert assess(imported.findings).incomplete  # the pathway says the age is missing


def test_a_birth_year_alone_leaves_the_age_blank_and_says_so(record: dict[str, Any]) -> None:
    record["entry"][0]["resource"]["birthDate"] = "1974"
    imported = findings_from_bundle(record)
    assert imported.findings.patient.age_years is None
    assert "not a whole date" in _reasons(imported.not_understood)["Patient/example"]


def test_the_age_is_counted_on_the_assessment_date_given(record: dict[str, Any]) -> None:
    imported = findings_from_bundle(record, assessment_date=dt.date(2025, 12, 24))
    assert imported.findings.patient.age_years == 50
    imported = findings_from_bundle(record, assessment_date=dt.date(2025, 12, 25))
    assert imported.findings.patient.age_years == 51


def _duration_in(record: dict[str, Any], value: float, unit: str) -> None:
    """The record's symptom duration set to ``value`` ``unit`` (UCUM)."""
    duration = _resource(record, "symptom-duration")
    duration["valueQuantity"] = {
        "value": value,
        "unit": unit,
        "system": "http://unitsofmeasure.org",
        "code": unit,
    }


def test_a_value_out_of_range_is_left_out_and_reported_or_refused_when_strict(record: dict[str, Any]) -> None:
    _duration_in(record, 900, "a")
    imported = findings_from_bundle(record)
    assert imported.findings.patient.symptom_duration_months is None
    (problem,) = [item for item in imported.not_understood if item.code == "patient.symptom_duration_months"]
    assert problem.resource == "Observation/symptom-duration"
    with pytest.raises(ValidationError):
        findings_from_bundle(record, strict=True)


def test_a_unit_that_cannot_be_converted_is_reported(record: dict[str, Any]) -> None:
    _duration_in(record, 8, "mm")
    imported = findings_from_bundle(record)
    assert imported.findings.patient.symptom_duration_months is None
    assert "cannot be converted" in _reasons(imported.not_understood)["Observation/symptom-duration"]


def test_a_bundle_about_two_patients_is_refused(record: dict[str, Any]) -> None:
    other = copy.deepcopy(record["entry"][0])
    other["fullUrl"] = "http://ehr.example.org/fhir/Patient/other"
    other["resource"]["id"] = "other"
    record["entry"].append(other)
    with pytest.raises(InputError, match="2 Patients"):
        findings_from_bundle(record)


def test_an_observation_about_someone_else_is_refused(record: dict[str, Any]) -> None:
    record["entry"][1]["resource"]["subject"] = {"reference": "Patient/someone-else"}
    with pytest.raises(InputError, match="not about the bundle's Patient"):
        findings_from_bundle(record)


def test_the_public_entry_point_is_the_one_in_exports() -> None:
    assert exported_entry_point is findings_from_bundle


def test_the_hooks_prefetch_reads_standard_codes_through_the_same_table(record: dict[str, Any]) -> None:
    observations = [e for e in record["entry"] if e["resource"]["resourceType"] == "Observation"]
    prefetch = {
        "patient": record["entry"][0]["resource"],
        "findings": {"resourceType": "Bundle", "type": "searchset", "entry": observations},
    }
    gathered = gather(prefetch, "example", HookLimits())
    codes = {
        r["code"]["coding"][0]["code"]: r for r in gathered.resources if r["resourceType"] == "Observation"
    }
    assert {"patient.smoker", "patient.history.immunosuppression"} <= set(codes)
    assert codes["patient.smoker"]["code"]["coding"][0]["system"] == FINDING_SYSTEM
    assert codes["patient.symptom_duration_months"]["valueQuantity"] == {"value": 1.84}
    assert gathered.ignored["Observation with status entered-in-error"] == 1
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in gathered.resources],
    }
    findings = findings_from_bundle(bundle, strict=True).findings
    assert findings.patient.smoker is True
    assert findings.patient.age_years == 50


@pytest.mark.parametrize("path", INCOMPLETE, ids=lambda p: p.stem)
def test_an_incomplete_validation_case_round_trips_with_its_blanks_blank(path: Path) -> None:
    """The cases with findings left blank (data/validation/incomplete): export, import, and the
    same findings, blanks included (a blank exported as not examined comes back blank), the same
    answer, and nothing unread."""
    data = json.loads(path.read_text("utf-8"))
    findings = Findings.model_validate(data.get("findings", data))
    rec = assess(findings)
    imported = findings_from_bundle(bundle_json(findings, rec))
    assert imported.not_understood == ()
    assert imported.findings == findings.model_copy(update={"assessment_date": rec.assessment_date})
    again = assess(imported.findings)
    assert (again.pathway, again.urgency) == (rec.pathway, rec.urgency)
