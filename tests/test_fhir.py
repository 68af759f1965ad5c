"""FHIR R4 (R4B models) export: every resource validates, the basis is carried, findings round-trip."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaire import Questionnaire
from hypothesis import HealthCheck, given, settings

from myelo_cds import Findings, assess
from myelo_cds.exports.fhir import (
    FINDING_SYSTEM,
    assessment_bundle,
    bundle_json,
    findings_from_bundle,
    mjoa_questionnaire,
    shipped_questionnaire,
)
from tests.strategies import any_findings_dicts

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "data" / "examples").glob("*.json"))
VALIDATION = sorted((ROOT / "data" / "validation").glob("*.json"))


def _case(path: Path) -> Findings:
    data = json.loads(path.read_text())
    return Findings.model_validate(data.get("findings", data))


def _resources(text: str) -> dict[str, list[dict[str, Any]]]:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in json.loads(text)["entry"]:
        by_type.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return by_type


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_exported_resource_validates_with_its_r4b_model(path: Path) -> None:
    findings = _case(path)
    text = bundle_json(findings, assess(findings))
    Bundle.model_validate_json(text)
    for entry in json.loads(text)["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert entry["fullUrl"].startswith("urn:uuid:")
    kinds = set(_resources(text))
    assert {"Patient", "Observation", "GuidanceResponse", "CarePlan", "Provenance"} <= kinds


def test_the_bundle_carries_the_recommendation_its_basis_schedule_and_rule_set() -> None:
    findings = _case(ROOT / "data" / "examples" / "moderate_dcm.json")
    rec = assess(findings)
    resources = _resources(bundle_json(findings, rec))
    guidance = resources["GuidanceResponse"][0]
    output = guidance["contained"][0]
    assert guidance["outputParameters"] == {"reference": f"#{output['id']}"}
    values = {p["name"]: p.get("valueCoding", {}).get("code") for p in output["parameter"]}
    assert (values["pathway"], values["urgency"]) == ("surgical_referral", "expedited")
    fired = [p["part"] for p in output["parameter"] if p["name"] == "firedRule"]
    assert "R11" in {part["valueCoding"]["code"] for parts in fired for part in parts if part["name"] == "id"}
    assert "Fehlings" in json.dumps(fired)
    assert "clinician decides" in " ".join(note["text"] for note in guidance["note"])
    assert guidance["moduleCanonical"].endswith(f"|{rec.rule_set.version}")
    plan = resources["CarePlan"][0]
    assert len(plan["activity"]) == len(rec.follow_up.visits)
    assert (
        plan["activity"][0]["detail"]["scheduledPeriod"]["end"]
        == rec.follow_up.visits[0].window_end.isoformat()
    )
    provenance = resources["Provenance"][0]
    hashes = {entity["what"]["identifier"]["value"] for entity in provenance["entity"]}
    assert rec.rule_set.sha256 in hashes
    # Everything the export produced; not the agents (Device, Practitioner) or the rule set.
    produced = {"Provenance", "Device", "Practitioner", "Library"}
    assert len(provenance["target"]) == sum(len(v) for k, v in resources.items() if k not in produced)
    patient = resources["Patient"][0]
    assert "name" not in patient
    assert "birthDate" not in patient
    response = resources["QuestionnaireResponse"][0]
    answers = {item["linkId"]: item["answer"][0] for item in response["item"]}
    items = ("ue_motor", "le_motor", "ue_sensation", "sphincter")
    assert [answers[item]["valueCoding"]["code"] for item in items] == [
        str(getattr(findings.mjoa, item)) for item in items
    ]
    assert answers["total"] == {"valueInteger": 13}  # the Questionnaire's calculated total
    scores = {
        coding["code"]: obs
        for obs in resources["Observation"]
        for coding in obs["code"]["coding"]
        if coding["system"] == FINDING_SYSTEM and coding["code"].startswith("score.")
    }
    assert scores["score.mjoa_total"]["valueInteger"] == 13
    # The decision table's features are the engine's working, not findings: no Observation.
    codes = {coding["code"] for obs in resources["Observation"] for coding in obs["code"]["coding"]}
    assert not codes & set(rec.features)


def test_the_shipped_questionnaire_is_the_scale_and_validates() -> None:
    Questionnaire.model_validate(shipped_questionnaire())
    assert shipped_questionnaire() == mjoa_questionnaire()


@pytest.mark.parametrize("path", [*EXAMPLES, *VALIDATION], ids=lambda p: p.stem)
def test_findings_round_trip_through_the_bundle(path: Path) -> None:
    findings = _case(path)
    rec = assess(findings)
    imported = findings_from_bundle(bundle_json(findings, rec))
    assert imported.not_understood == ()
    back = imported.findings
    assert back == findings.model_copy(update={"assessment_date": rec.assessment_date})
    assert assess(back).pathway == rec.pathway


def _first_coding(observation: Observation) -> tuple[str | None, str | None]:
    """(system, code) of the Observation's first coding; every exported Observation has one."""
    assert observation.code.coding, observation
    return observation.code.coding[0].system, observation.code.coding[0].code


@pytest.mark.no_cover  # repeats measured code many times: see the no_cover hook in conftest
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_findings_dicts())
def test_any_findings_round_trip(data: dict[str, Any]) -> None:
    findings = Findings.model_validate(data)
    rec = assess(findings)
    bundle = assessment_bundle(findings, rec)
    back = findings_from_bundle(bundle.model_dump_json()).findings
    assert back == findings.model_copy(update={"assessment_date": rec.assessment_date})
    assert bundle.entry is not None
    observations = [entry.resource for entry in bundle.entry if isinstance(entry.resource, Observation)]
    observed = [code for system, code in map(_first_coding, observations) if system == FINDING_SYSTEM]
    assert "mjoa.ue_motor" not in observed  # the items travel in the QuestionnaireResponse


def test_cli_export_fhir_writes_a_valid_bundle(tmp_path: Path) -> None:
    target = tmp_path / "bundle.json"
    result = subprocess.run(
        [sys.executable, "-m", "myelo_cds", "export-fhir", "data/examples/mild_dcm.json", "-o", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    bundle = Bundle.model_validate_json(target.read_text())
    assert bundle.type == "collection"
    bad = subprocess.run(
        [sys.executable, "-m", "myelo_cds", "export-fhir", "-"],
        cwd=ROOT,
        input='{"patient": {"age_years": 300}}',
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "patient.age_years" in bad.stderr


def test_the_consult_page_offers_the_fhir_bundle() -> None:
    from tests.test_pages import _app_with_case

    at = _app_with_case("moderate_dcm")
    labels = [button.proto.label for button in at.get("download_button")]
    assert "FHIR R4 Bundle (JSON)" in labels


def _ids(findings: Findings) -> set[str]:
    bundle = json.loads(bundle_json(findings, assess(findings)))
    return {entry["fullUrl"] for entry in bundle["entry"]}


def _anonymous(name: str, on: str = "2026-03-02") -> Findings:
    return _case(ROOT / "data" / "examples" / f"{name}.json").model_copy(
        update={"case_id": None, "assessment_date": dt.date.fromisoformat(on)}
    )


def test_two_patients_without_case_id_on_the_same_day_share_no_resource_id() -> None:
    mild, emergency = _anonymous("mild_dcm"), _anonymous("moderate_dcm")
    assert assess(mild).pathway != assess(emergency).pathway
    assert _ids(mild).isdisjoint(_ids(emergency))
    # The same findings without a case id may be two people: two exports share nothing either.
    assert _ids(mild).isdisjoint(_ids(mild))


def test_the_same_assessment_with_a_case_id_gives_the_same_bundle() -> None:
    findings = _case(ROOT / "data" / "examples" / "moderate_dcm.json")
    assert findings.case_id
    findings = findings.model_copy(update={"assessment_date": dt.date(2026, 3, 2)})
    rec = assess(findings)
    at = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)  # the export instant is recorded as it is
    assert bundle_json(findings, rec, recorded=at) == bundle_json(findings, rec, recorded=at)


def test_a_changed_assessment_of_the_same_case_shares_only_the_patient() -> None:
    findings = _case(ROOT / "data" / "examples" / "moderate_dcm.json").model_copy(
        update={"assessment_date": dt.date(2026, 3, 2)}
    )
    assert findings.mjoa is not None
    changed = findings.model_copy(update={"mjoa": findings.mjoa.model_copy(update={"sphincter": 1})})
    later = findings.model_copy(update={"assessment_date": dt.date(2026, 3, 9)})
    patient = json.loads(bundle_json(findings, assess(findings)))["entry"][0]
    assert patient["resource"]["resourceType"] == "Patient"
    for other in (changed, later):
        assert _ids(findings) & _ids(other) == {patient["fullUrl"]}  # one Patient per case id


def test_the_same_assessment_gives_the_same_bundle_in_another_process() -> None:
    """Set-valued findings are hashed sorted: string hashing differs between processes."""
    script = (
        "import datetime as dt, hashlib, json, sys;"
        "from myelo_cds import Findings, assess;"
        "from myelo_cds.exports.fhir import bundle_json;"
        "data = json.load(open('data/examples/moderate_dcm.json'));"
        "f = Findings.model_validate(data.get('findings', data));"
        "data = f.model_dump(mode='json');"
        "data['assessment_date'] = '2026-03-02';"
        "data['mjoa']['not_due_to_myelopathy'] = ['ue_motor', 'le_motor', 'sphincter'];"
        "f = Findings.model_validate(data);"
        "at = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC);"
        "print(hashlib.sha256(bundle_json(f, assess(f), recorded=at).encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(digests) == 1
    assert len(digests.pop().strip()) == 64
