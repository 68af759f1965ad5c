"""The transaction bundle written to a real FHIR R4 server (Medplum's FHIR router over its
in-memory repository, the test EHR's npm packages): the server resolves our references, creates
the shared resources once and keeps one copy of an assessment sent twice (issue 15)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from myelo_cds import Findings, assess
from myelo_cds.exports._fhir_knowledge import questionnaire_reference, rule_set_library
from myelo_cds.exports.fhir import artifacts_json, transaction_json
from tests.smart_ehr import node_command

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
PACKAGES = TESTS / "smart_ehr"
KINDS = (
    "Patient",
    "Observation",
    "QuestionnaireResponse",
    "Questionnaire",
    "GuidanceResponse",
    "RequestGroup",
    "ServiceRequest",
    "CarePlan",
    "DocumentReference",
    "Device",
    "Practitioner",
    "Library",
    "Provenance",
    "CodeSystem",
)


def _case(name: str, **changes: Any) -> tuple[Findings, Any]:
    data = json.loads((ROOT / "data" / "examples" / f"{name}.json").read_text())
    findings = Findings.model_validate(data.get("findings", data)).model_copy(update=changes)
    return findings, assess(findings)


def _written(bundles: list[str], tmp_path: Path) -> dict[str, Any]:
    """What the server answered to each Bundle, posted in order, and what it then holds."""
    node = node_command()
    given = tmp_path / "bundles.json"
    given.write_text(json.dumps([json.loads(bundle) for bundle in bundles]))
    done = subprocess.run(
        [node, str(TESTS / "fhir_write.mjs"), str(PACKAGES / "package.json"), str(given), *KINDS],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return own + [ref for value in node.values() for ref in _references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _references(value)]
    return []


@pytest.fixture(scope="module")
def server_after_two_assessments_and_a_repeat(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The artifacts, then moderate_dcm (clinician clin-042), the same again, then mild_dcm
    (another case id, the same clinician)."""
    moderate = _case("moderate_dcm")
    mild = _case("mild_dcm")
    bundles = [
        artifacts_json(),
        transaction_json(*moderate, clinician_id="clin-042"),
        transaction_json(*moderate, clinician_id="clin-042"),
        transaction_json(*mild, clinician_id="clin-042"),
    ]
    return _written(bundles, tmp_path_factory.mktemp("fhir-server"))


def test_the_server_accepts_every_transaction_whole(
    server_after_two_assessments_and_a_repeat: dict[str, Any],
) -> None:
    for answer in server_after_two_assessments_and_a_repeat["answers"]:
        assert answer["status"] == 200, answer["outcome"]
        assert answer["response"]["type"] == "transaction-response"
        statuses = {entry["response"]["status"] for entry in answer["response"]["entry"]}
        assert statuses <= {"200", "201"}, statuses


def test_shared_resources_are_held_once_and_each_assessment_once(
    server_after_two_assessments_and_a_repeat: dict[str, Any],
) -> None:
    held = server_after_two_assessments_and_a_repeat["held"]
    counts = {kind: len(resources) for kind, resources in held.items()}
    assert counts["Patient"] == 2  # one per case id
    assert (counts["Device"], counts["Practitioner"], counts["Library"], counts["Questionnaire"]) == (
        1,
        1,
        1,
        1,
    )
    assert counts["GuidanceResponse"] == counts["DocumentReference"] == counts["Provenance"] == 2
    # moderate_dcm sent twice is held once: as many Observations as its export and mild_dcm's.
    expected = sum(
        1
        for name in ("moderate_dcm", "mild_dcm")
        for entry in json.loads(transaction_json(*_case(name)))["entry"]
        if entry["resource"]["resourceType"] == "Observation"
    )
    assert counts["Observation"] == expected


def test_every_reference_points_at_what_the_server_holds(
    server_after_two_assessments_and_a_repeat: dict[str, Any],
) -> None:
    held = server_after_two_assessments_and_a_repeat["held"]
    ids = {f"{kind}/{resource['id']}" for kind, resources in held.items() for resource in resources}
    references = [ref for resources in held.values() for ref in _references(resources)]
    assert references
    local = {ref for ref in references if ref.startswith("#")}  # outputParameters: contained
    assert local == {"#output"}
    assert set(references) - local <= ids
    for guidance in held["GuidanceResponse"]:
        assert guidance["result"]["reference"].startswith("RequestGroup/")


def test_the_response_and_the_guidance_name_the_artifacts_the_server_holds(
    server_after_two_assessments_and_a_repeat: dict[str, Any],
) -> None:
    held = server_after_two_assessments_and_a_repeat["held"]
    (questionnaire,) = held["Questionnaire"]
    (library,) = held["Library"]
    assert f"{questionnaire['url']}|{questionnaire['version']}" == questionnaire_reference()
    assert {response["questionnaire"] for response in held["QuestionnaireResponse"]} == {
        questionnaire_reference()
    }
    assert library["url"] == rule_set_library()["url"]
    canonical = f"{library['url']}|{library['version']}"
    assert {guidance["moduleCanonical"] for guidance in held["GuidanceResponse"]} == {canonical}


def test_without_a_case_id_each_export_is_a_new_patient(tmp_path: Path) -> None:
    anonymous = _case("mild_dcm", case_id=None)
    written = _written([transaction_json(*anonymous), transaction_json(*anonymous)], tmp_path)
    assert [answer["status"] for answer in written["answers"]] == [200, 200]
    assert len(written["held"]["Patient"]) == 2
    assert len(written["held"]["GuidanceResponse"]) == 2
