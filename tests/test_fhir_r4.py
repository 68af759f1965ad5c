"""Every exported Bundle validates against FHIR R4 4.0.1 (HL7's schema) with its required
bindings, and the gate refuses what R4 refuses (issue 15)."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft6Validator  # type: ignore[import-untyped]  # no stubs in the lock

from myelo_cds import Findings, assess
from myelo_cds.exports.fhir import REQUEST_PRIORITY, bundle_json
from tests.fhir_r4 import (
    SCHEMA_ID,
    invariant_errors,
    invariants,
    official_schema,
    r4_errors,
    required_bindings,
)
from tests.strategies import any_findings_dicts

ROOT = Path(__file__).resolve().parents[1]
CASES = sorted((ROOT / "data" / "examples").glob("*.json")) + sorted(
    (ROOT / "data" / "validation").glob("*.json")
)


def _bundle(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    findings = Findings.model_validate(data.get("findings", data))
    bundle: dict[str, Any] = json.loads(bundle_json(findings, assess(findings)))
    return bundle


@pytest.fixture(scope="module")
def moderate() -> dict[str, Any]:
    return _bundle(ROOT / "data" / "examples" / "moderate_dcm.json")


def _first(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    resource: dict[str, Any] = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind
    )
    return resource


def test_the_schema_is_hl7s_r4_4_0_1_unchanged() -> None:
    schema = official_schema()  # raises unless the SHA-256 is the published 4.0.1 file's
    assert schema["id"] == "http://hl7.org/fhir/json-schema/4.0"
    assert schema["$schema"] == "http://json-schema.org/draft-06/schema#"
    resources = set(schema["discriminator"]["mapping"])
    assert "MedicinalProduct" in resources  # R4 only: R4B (4.3) replaced it
    assert "SubscriptionTopic" not in resources  # R4B (4.3) and later only


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_every_exported_bundle_validates_against_r4_4_0_1_with_bindings(path: Path) -> None:
    bundle = _bundle(path)
    assert r4_errors(bundle) == []
    assert len(bundle["entry"]) > 5


@pytest.mark.no_cover  # repeats measured code many times: see the no_cover hook in conftest
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_findings_dicts())
def test_any_findings_export_validates_against_r4_4_0_1(data: dict[str, Any]) -> None:
    findings = Findings.model_validate(data)
    assert r4_errors(json.loads(bundle_json(findings, assess(findings)))) == []


def test_careplan_intent_foo_fails_the_gate(moderate: dict[str, Any]) -> None:
    bundle = copy.deepcopy(moderate)
    _first(bundle, "CarePlan")["intent"] = "foo"
    errors = r4_errors(bundle)
    assert len(errors) == 1
    assert "intent (CarePlan)" in errors[0]
    assert "'foo' is not one of ['option', 'order', 'plan', 'proposal']" in errors[0]


def test_the_schema_alone_lets_careplan_intent_foo_pass(moderate: dict[str, Any]) -> None:
    """Why the binding table exists: HL7's schema types CarePlan.intent as any ``code``."""
    plan = copy.deepcopy(_first(moderate, "CarePlan"))
    plan["intent"] = "foo"
    schema = official_schema()
    plain = Draft6Validator(
        {"id": SCHEMA_ID, "$ref": "#/definitions/CarePlan", "definitions": schema["definitions"]}
    )
    assert list(plain.iter_errors(plan)) == []


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("ServiceRequest", "priority", "soon"),
        ("ServiceRequest", "intent", "suggestion"),
        ("ServiceRequest", "status", "open"),
        ("CarePlan", "status", "current"),
        ("Observation", "status", "done"),  # an enum in the schema itself
        ("Patient", "gender", "f"),
    ],
)
def test_a_code_outside_its_required_binding_fails(
    moderate: dict[str, Any], kind: str, field: str, value: str
) -> None:
    bundle = copy.deepcopy(moderate)
    _first(bundle, kind)[field] = value
    errors = r4_errors(bundle)
    assert len(errors) == 1
    assert f"{field} ({kind}): '{value}' is not one of" in errors[0]


def test_an_element_r4_does_not_have_fails(moderate: dict[str, Any]) -> None:
    bundle = copy.deepcopy(moderate)
    _first(bundle, "Provenance")["patient"] = {"reference": "Patient/x"}  # R5 only
    errors = r4_errors(bundle)
    assert len(errors) == 1
    assert "'patient' was unexpected" in errors[0]


def test_a_resource_type_r4_does_not_have_fails(moderate: dict[str, Any]) -> None:
    bundle = copy.deepcopy(moderate)
    bundle["entry"][0]["resource"] = {"resourceType": "SubscriptionTopic", "status": "active"}
    assert r4_errors(bundle) == [
        "$.entry[0].resource: resourceType 'SubscriptionTopic' is not an R4 4.0.1 resource"
    ]


def test_a_wrong_primitive_fails(moderate: dict[str, Any]) -> None:
    bundle = copy.deepcopy(moderate)
    _first(bundle, "CarePlan")["created"] = "6 December"
    errors = r4_errors(bundle)
    assert len(errors) == 1
    assert "created (CarePlan)" in errors[0]


def _observation(bundle: dict[str, Any]) -> dict[str, Any]:
    return next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation" and "valueQuantity" in e["resource"]
    )


def _value_and_absent_reason(bundle: dict[str, Any]) -> None:
    _observation(bundle)["dataAbsentReason"] = {"text": "not examined"}


def _unit_code_without_system(bundle: dict[str, Any]) -> None:
    _observation(bundle)["valueQuantity"].pop("system", None)
    _observation(bundle)["valueQuantity"]["code"] = "mo"


def _period_ending_before_it_starts(bundle: dict[str, Any]) -> None:
    _first(bundle, "CarePlan")["period"] = {"start": "2026-12-06", "end": "2026-01-01"}


def _empty_element(bundle: dict[str, Any]) -> None:
    _first(bundle, "Patient")["identifier"] = [{}]


def _extension_with_value_and_extensions(bundle: dict[str, Any]) -> None:
    _first(bundle, "Patient")["extension"] = [
        {"url": "http://example.org/x", "valueString": "a", "extension": [{"url": "y", "valueString": "b"}]}
    ]


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (_value_and_absent_reason, "obs-6"),
        (_unit_code_without_system, "qty-3"),
        (_period_ending_before_it_starts, "per-1"),
        (_empty_element, "ele-1"),
        (_extension_with_value_and_extensions, "ext-1"),
    ],
    ids=lambda value: value if isinstance(value, str) else value.__name__,
)
def test_an_invariant_r4_states_fails_the_gate(moderate: dict[str, Any], change: Any, key: str) -> None:
    bundle = copy.deepcopy(moderate)
    change(bundle)
    errors = r4_errors(bundle)
    assert [error for error in errors if f"invariant {key} fails" in error], errors
    assert invariant_errors(moderate) == []  # the export as it is keeps them all


def test_the_schema_and_bindings_alone_let_obs_6_pass(moderate: dict[str, Any]) -> None:
    """Why the invariants are checked: a value and a reason for its absence are both valid
    structure."""
    bundle = copy.deepcopy(moderate)
    _value_and_absent_reason(bundle)
    errors = r4_errors(bundle)
    assert len(errors) == 1
    assert "invariant obs-6 fails" in errors[0]


def test_the_invariant_table_holds_the_4_0_1_constraints() -> None:
    table = invariants()
    observation = {key: text for key, text, _ in table["Observation"]["Observation"]["constraints"]}
    assert observation["obs-6"] == "dataAbsentReason.empty() or value.empty()"
    assert table["Observation"]["Observation.value[x]"]["types"][0] == "Quantity"
    assert table["Questionnaire"]["Questionnaire.item.item"]["ref"] == "Questionnaire.item"
    period = {key: text for key, text, _ in table["Period"]["Period"]["constraints"]}
    assert period["per-1"] == "start.hasValue().not() or end.hasValue().not() or (start <= end)"
    folder = ROOT / "tests" / "data" / "fhir"
    bindings = json.loads((folder / "r4-required-bindings.json").read_text())["sources"]
    table_sources = json.loads(gzip.decompress((folder / "r4-invariants.json.gz").read_bytes()))["sources"]
    # the same 4.0.1 definitions as the binding table
    assert table_sources == {name: bindings[name] for name in table_sources}


def test_the_binding_table_holds_the_4_0_1_value_sets() -> None:
    by_path = {binding["path"]: binding for binding in required_bindings()}
    intent = by_path["CarePlan.intent"]
    assert intent["valueSet"] == "http://hl7.org/fhir/ValueSet/care-plan-intent|4.0.1"
    assert intent["codes"] == ["option", "order", "plan", "proposal"]
    assert set(REQUEST_PRIORITY.values()) == set(by_path["ServiceRequest.priority"]["codes"])
    assert "proposal" in by_path["ServiceRequest.intent"]["codes"]
    assert by_path["CarePlan.activity.detail.kind"]["definition"] == "CarePlan_Detail"
    schema = official_schema()["definitions"]
    for binding in by_path.values():  # each names an element of the schema that has no enum
        prop = schema[binding["definition"]]["properties"][binding["property"]]
        assert "enum" not in prop
        assert "enum" not in prop.get("items", {})


def test_every_cds_hooks_suggestion_validates_against_r4_4_0_1() -> None:
    from myelo_cds.service.cds_hooks import card_for

    checked = 0
    for path in CASES:
        data = json.loads(path.read_text())
        rec = assess(Findings.model_validate(data.get("findings", data)))
        card = card_for(rec, None, patient_id="example-1")
        for suggestion in card.get("suggestions", []):
            for action in suggestion["actions"]:
                assert action["resource"]["resourceType"] == "ServiceRequest"
                assert r4_errors(action["resource"]) == [], path.stem
                checked += 1
    assert checked >= 40  # most cases give a pathway, so a proposal
