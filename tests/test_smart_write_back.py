"""The write-back of a SMART launch is idempotent and names the clinician (issue 15).

Against the real test EHR (``tests/smart_ehr``: Medplum's FHIR router over its in-memory
repository): the same consult written back twice leaves one copy of each resource on the
server, counted there; the resources name the clinician from the verified id_token.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from myelo_cds import Findings, assess
from myelo_cds.ehr import EhrImport, write_back, write_back_resources
from myelo_cds.ehr import _write_back as write_back_module
from myelo_cds.exports.fhir import assessment_bundle
from myelo_cds.records import Store
from tests.smart_ehr import (
    APP_URL,
    EHR_USER,
    EhrUnderTest,
    ehr_record,
    launch_routes,
    launched,
    running_test_ehr,
)

PATIENT = "ehr-pt-8804"
KINDS = ("Observation", "QuestionnaireResponse", "DocumentReference")


@pytest.fixture
def ehr(tmp_path: Path) -> Iterator[EhrUnderTest]:
    with running_test_ehr(APP_URL, ehr_record("moderate_dcm", PATIENT), tmp_path) as running:
        yield running


@pytest.fixture
def launch(ehr: EhrUnderTest, monkeypatch: pytest.MonkeyPatch, database: Store) -> EhrImport:
    return launched(launch_routes(ehr, monkeypatch, database), ehr, PATIENT)


def _held(ehr: EhrUnderTest, launch: EhrImport) -> dict[str, list[dict[str, Any]]]:
    """Every resource of each kind the EHR holds about the patient."""
    assert launch.grant is not None
    bearer = {"Authorization": f"Bearer {launch.grant.access_token}"}
    held = {}
    for kind in KINDS:
        found = httpx.get(f"{ehr.iss}/{kind}?patient=Patient/{PATIENT}&_count=1000", headers=bearer).json()
        held[kind] = [entry["resource"] for entry in found.get("entry", [])]
    return held


def _consult(launch: EhrImport, **changes: Any) -> list[dict[str, Any]]:
    findings = Findings.model_validate(launch.data)
    if changes:
        findings = findings.model_copy(update={"patient": findings.patient.model_copy(update=changes)})
    bundle = json.loads(assessment_bundle(findings, assess(findings)).model_dump_json(exclude_none=True))
    return write_back_resources(launch, bundle)


def test_writing_the_same_consult_back_twice_leaves_one_copy_at_the_ehr(
    ehr: EhrUnderTest, launch: EhrImport
) -> None:
    before = {kind: len(found) for kind, found in _held(ehr, launch).items()}
    first = write_back(launch, _consult(launch))
    after_first = {kind: len(found) for kind, found in _held(ehr, launch).items()}
    added = {kind: after_first[kind] - before[kind] for kind in KINDS}
    assert added["DocumentReference"] == 1
    assert added["QuestionnaireResponse"] == 1
    assert added["Observation"] >= 30
    # A second write-back of the same consult (exported again: a new instant on the note).
    second = write_back(launch, _consult(launch))
    assert {kind: len(found) for kind, found in _held(ehr, launch).items()} == after_first
    assert sorted(second) == sorted(first)  # the references held, not new ones


def test_two_write_backs_racing_past_the_search_still_leave_one_note(
    ehr: EhrUnderTest, launch: EhrImport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search before writing is skipped (as when two sessions search at the same moment):
    the note's conditional create still finds the first note and makes no second one."""
    resources = _consult(launch)
    write_back(launch, resources)
    monkeypatch.setattr(write_back_module, "_held", lambda *args: None)
    again = write_back(launch, resources)
    notes = _held(ehr, launch)["DocumentReference"]
    assert len(notes) == 1
    assert f"DocumentReference/{notes[0]['id']}" in again


def test_a_changed_consult_is_written_as_a_new_one(ehr: EhrUnderTest, launch: EhrImport) -> None:
    write_back(launch, _consult(launch))
    changed = _consult(launch, smoker=not launch.values().get("patient.smoker", False))
    write_back(launch, changed)
    notes = _held(ehr, launch)["DocumentReference"]
    assert len(notes) == 2
    assert notes[0]["identifier"] != notes[1]["identifier"]


def test_the_written_resources_name_the_clinician_from_the_id_token(
    ehr: EhrUnderTest, launch: EhrImport
) -> None:
    assert launch.fhir_user == f"Practitioner/{EHR_USER}"
    resources = _consult(launch)
    assert "Patient" not in {resource["resourceType"] for resource in resources}  # the EHR's own
    write_back(launch, resources)
    held = _held(ehr, launch)
    who = {"reference": f"Practitioner/{EHR_USER}"}
    written = [obs for obs in held["Observation"] if obs.get("identifier")]
    assert written
    assert all(obs["performer"] == [who] for obs in written)
    assert held["QuestionnaireResponse"][-1]["author"] == who
    assert held["DocumentReference"][0]["author"][0] == who
