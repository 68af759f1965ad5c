"""The patient's problem list in a SMART launch: mimics and history shown, few findings changed.

The Conditions are seeded in the real test EHR (``tests/smart_ehr``) and read by the launch
through its FHIR search. Every code used here is read from the project's tables
(``data/fhir/ehr-conditions.csv``, ``data/fhir/terminology.csv``), never written by hand.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from myelo_cds.ehr import EhrImport, LaunchError, import_record
from myelo_cds.records import Store
from tests.smart_ehr import (
    APP_URL,
    EhrUnderTest,
    ehr_record,
    launch_routes,
    launched,
    running_test_ehr,
)

ROOT = Path(__file__).resolve().parents[1]
PATIENT = "ehr-pt-3307"
SUBJECT = {"reference": f"Patient/{PATIENT}"}
VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CLIN = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def _coding(table: str, display: str) -> dict[str, str]:
    with (ROOT / "data" / "fhir" / table).open(newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["display"] == display)
    return {"system": row["system"], "code": row["code"], "display": row["display"]}


def _condition(
    cid: str, coding: dict[str, str], clinical: str | None, verification: str | None, **more: Any
) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "resourceType": "Condition",
        "id": cid,
        "subject": SUBJECT,
        "code": {"coding": [coding]},
    }
    if clinical:
        condition["clinicalStatus"] = {"coding": [{"system": CLIN, "code": clinical}]}
    if verification:
        condition["verificationStatus"] = {"coding": [{"system": VER, "code": verification}]}
    return condition | more


def _problem_list() -> list[dict[str, Any]]:
    ips = "ehr-conditions.csv"
    return [
        _condition("ms", _coding(ips, "Multiple sclerosis"), "active", "confirmed", onsetDateTime="2019-05-02"),
        _condition("b12", _coding(ips, "Cobalamin deficiency"), "resolved", "confirmed"),
        _condition("als", _coding(ips, "Amyotrophic lateral sclerosis"), "active", "entered-in-error"),
        _condition("cts", _coding(ips, "Carpal tunnel syndrome"), "active", "refuted"),
        _condition("ms-query", _coding(ips, "Relapsing remitting multiple sclerosis"), "active", "provisional"),
        _condition("lami", _coding(ips, "Cervical post-laminectomy syndrome"), "active", "confirmed"),
        _condition("on", _coding("terminology.csv", "Optic neuritis"), "resolved", "confirmed",
                   recordedDate="2012-03-01"),
        _condition("dm", _coding("terminology.csv", "Diabetes mellitus"), "resolved", "confirmed"),
        _condition("gout", {"system": "http://hospital.example.org/problems", "code": "G-17"}, "active",
                   "confirmed", code={"text": "Gout", "coding": [{"system": "http://hospital.example.org/problems",
                                                                  "code": "G-17"}]}),
        _condition("nostatus", _coding(ips, "Myasthenia gravis"), None, "confirmed"),
    ]  # fmt: skip


@pytest.fixture
def ehr(tmp_path: Path) -> Iterator[EhrUnderTest]:
    record = ehr_record("moderate_dcm", PATIENT) + _problem_list()
    with running_test_ehr(APP_URL, record, tmp_path) as running:
        yield running


@pytest.fixture
def launch(ehr: EhrUnderTest, monkeypatch: pytest.MonkeyPatch, database: Store) -> EhrImport:
    return launched(launch_routes(ehr, monkeypatch, database), ehr, PATIENT)


def test_confirmed_mimics_and_history_are_shown_from_the_ehr(launch: EhrImport) -> None:
    shown = {c.resource: c for c in launch.conditions}
    assert set(shown) == {"Condition/ms", "Condition/b12", "Condition/lami", "Condition/on"}
    assert (shown["Condition/ms"].group, shown["Condition/ms"].status, shown["Condition/ms"].when) == (
        "mimic",
        "active",
        "2019-05-02",
    )
    assert shown["Condition/ms"].about.startswith("MS / demyelinating disease")
    assert (shown["Condition/b12"].group, shown["Condition/b12"].status) == ("mimic", "past")
    assert shown["Condition/lami"].group == "history"
    assert "cervical spine surgery" in shown["Condition/lami"].about


def test_what_was_not_counted_is_reported_with_why(launch: EhrImport) -> None:
    notes = "\n".join(launch.notes)
    assert "Condition/als (Amyotrophic lateral sclerosis): entered-in-error, not counted" in notes
    assert "Condition/cts (Carpal tunnel syndrome): refuted, not counted" in notes
    assert "Condition/ms-query (Relapsing remitting multiple sclerosis): not confirmed (provisional)" in notes
    assert "Condition/gout (Gout): a condition this app does not recognise" in notes
    assert "Condition/nostatus (Myasthenia gravis): no clinical status" in notes
    assert (
        "Condition/dm (Diabetes mellitus): resolved, not counted as a current finding (patient.diabetes)"
        in notes
    )


def test_only_a_mapped_code_changes_a_finding_and_the_mimics_do_not_change_the_pathway(
    launch: EhrImport,
) -> None:
    without = import_record(launch.iss, PATIENT, ehr_record("moderate_dcm", PATIENT))
    assert without.values()["patient.history.optic_neuritis"] is False  # the Observation said no
    expected = {**without.values(), "patient.history.optic_neuritis": True}
    assert launch.values() == expected  # one field changed: the one the terminology table maps
    source = next(s for s in launch.sources if s.path == "patient.history.optic_neuritis")
    assert (source.resource, source.when) == ("Condition/on", "2012-03-01")
    assert any("the problem list says yes where an Observation said no" in note for note in launch.notes)
    # Without the mapped Condition, the whole problem list (mimics, history) changes nothing.
    others = [condition for condition in _problem_list() if condition["id"] != "on"]
    record = ehr_record("moderate_dcm", PATIENT)
    assert import_record(launch.iss, PATIENT, record, others).values() == without.values()


def test_a_problem_list_holding_another_patients_condition_is_not_imported() -> None:
    stray = _condition("x", _coding("ehr-conditions.csv", "Multiple sclerosis"), "active", "confirmed")
    stray["subject"] = {"reference": "Patient/someone-else"}
    with pytest.raises(LaunchError, match="another patient"):
        import_record("http://127.0.0.1:1", PATIENT, ehr_record("moderate_dcm", PATIENT), [stray])


def test_a_problem_list_the_ehr_would_not_give_is_said_so_and_the_launch_goes_on() -> None:
    imported = import_record(
        "http://127.0.0.1:1",
        PATIENT,
        ehr_record("moderate_dcm", PATIENT),
        "The EHR's FHIR server refused (HTTP 403).",
    )
    assert imported.conditions == ()
    assert any(note.startswith("The problem list (Conditions) was not read: ") for note in imported.notes)


def test_every_problem_list_code_names_the_published_value_set_it_was_checked_in() -> None:
    with (ROOT / "data" / "fhir" / "ehr-conditions.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 20
    for row in rows:
        assert row["system"] == "http://snomed.info/sct"
        assert row["code"].isdigit()
        assert row["group"] in ("mimic", "history")
        assert row["source"].startswith("HL7/fhir-ips@")
        assert row["source"].endswith(":input/fsh/valuesets/ProblemsSnomedCtIpsFreeSet.fsh")


def test_a_diagnosis_never_fills_an_imaging_or_examination_finding() -> None:
    """Syringomyelia has a verified code the terminology table maps to the MRI finding ``syrinx``
    (for an imaging Observation); on the problem list it is a mimic shown, the MRI left alone."""
    syrinx = _condition("syr", _coding("ehr-conditions.csv", "Syringomyelia"), "active", "confirmed")
    imported = import_record("http://127.0.0.1:1", PATIENT, ehr_record("moderate_dcm", PATIENT), [syrinx])
    without = import_record("http://127.0.0.1:1", PATIENT, ehr_record("moderate_dcm", PATIENT))
    assert imported.values() == without.values()
    assert [(c.resource, c.group) for c in imported.conditions] == [("Condition/syr", "mimic")]


def test_problem_list_answers_that_do_not_fit_the_form_leave_the_records_own_findings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Were a diagnosis ever mapped to a finding the form cannot take (an MRI finding with no
    scan on record), the launch still goes on with the record's findings and says what was not
    prefilled."""
    from myelo_cds.ehr import _conditions

    monkeypatch.setattr(_conditions, "_ANSWERABLE", ("patient.", "symptoms.", "mri."))
    syrinx = _condition("syr", _coding("ehr-conditions.csv", "Syringomyelia"), "active", "confirmed")
    record = [r for r in ehr_record("moderate_dcm", PATIENT) if "mri." not in str(r.get("code"))]
    imported = import_record("http://127.0.0.1:1", PATIENT, record, [syrinx])
    assert "mri.syrinx" not in imported.values()
    assert all(source.resource != "Condition/syr" for source in imported.sources)
    assert any(
        "Condition/syr (Syringomyelia): could not be prefilled (mri.syrinx)" in n for n in imported.notes
    )
