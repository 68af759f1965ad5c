"""The recommendation, its rule set, its provenance, the consult note, the mJOA Questionnaire and
the transaction bundle as FHIR R4 resources an EHR can use (issue 15, "Modelling")."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from myelo_cds import Findings, __version__, assess
from myelo_cds.exports._fhir_canonical import CANONICAL_BASE
from myelo_cds.exports._fhir_knowledge import code_systems, rule_set_library
from myelo_cds.exports._fhir_resources import PATHWAY_SYSTEM
from myelo_cds.exports.consult_note import consult_note_text
from myelo_cds.exports.fhir import (
    QUESTIONNAIRE_URL,
    REQUEST_PRIORITY,
    artifacts_json,
    bundle_json,
    mjoa_questionnaire,
    transaction_json,
)
from myelo_cds.rules.result import RuleSetRef
from myelo_cds.scales import mjoa_scale
from tests.fhir_r4 import r4_errors

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "data" / "examples").glob("*.json"))
RULES = ROOT / "data" / "rules" / "dcm_rules.toml"
AT = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"


def _case(name: str) -> Findings:
    data = json.loads((ROOT / "data" / "examples" / f"{name}.json").read_text())
    return Findings.model_validate(data.get("findings", data))


def _bundle(findings: Findings, **options: Any) -> dict[str, Any]:
    bundle: dict[str, Any] = json.loads(bundle_json(findings, assess(findings), **options))
    return bundle


def _by_url(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["fullUrl"]: entry["resource"] for entry in bundle["entry"]}


def _only(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        entry["resource"] for entry in bundle["entry"] if entry["resource"]["resourceType"] == kind
    ]
    assert len(found) == 1, (kind, len(found))
    return found[0]


def _sha1(data: bytes) -> str:
    return base64.b64encode(hashlib.sha1(data).digest()).decode("ascii")


# --- GuidanceResponse, RequestGroup, ServiceRequest -------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_answer_is_in_output_parameters_not_in_reason_code(path: Path) -> None:
    findings = _case(path.stem)
    rec = assess(findings)
    bundle = _bundle(findings, recorded=AT)
    guidance = _only(bundle, "GuidanceResponse")
    assert "reasonCode" not in guidance
    (output,) = guidance["contained"]
    assert output["resourceType"] == "Parameters"
    assert guidance["outputParameters"] == {"reference": f"#{output['id']}"}
    values = {p["name"]: p for p in output["parameter"] if p["name"] != "firedRule"}
    assert values["pathway"]["valueCoding"] == {
        "system": PATHWAY_SYSTEM,
        "code": rec.pathway,
        "display": values["pathway"]["valueCoding"]["display"],
    }
    assert values["urgency"]["valueCoding"]["code"] == rec.urgency
    assert values["priority"]["valueCode"] == REQUEST_PRIORITY[rec.urgency]
    assert values["ruleSetVersion"]["valueString"] == rec.rule_set.version
    assert values["ruleSetSha256"]["valueString"] == rec.rule_set.sha256
    fired = [
        {part["name"]: part for part in p["part"]} for p in output["parameter"] if p["name"] == "firedRule"
    ]
    assert [rule["id"]["valueCoding"]["code"] for rule in fired] == [rule.id for rule in rec.rules_fired]
    for rule, given in zip(rec.rules_fired, fired, strict=True):
        assert given["source"]["valueString"] == rule.citation
        assert given["version"]["valueString"] == rule.version


def test_a_guidance_response_names_its_rule_set_library_by_url_and_version() -> None:
    findings = _case("moderate_dcm")
    rec = assess(findings)
    bundle = _bundle(findings, recorded=AT)
    library = _only(bundle, "Library")
    guidance = _only(bundle, "GuidanceResponse")
    assert guidance["moduleCanonical"] == f"{library['url']}|{library['version']}"
    assert library["url"].startswith("https://")
    assert library["version"] == rec.rule_set.version
    assert _only(bundle, "Provenance")["policy"] == [guidance["moduleCanonical"]]


@pytest.mark.parametrize("name", ["red_flag_trauma", "als_mimic", "moderate_dcm", "postoperative"])
def test_the_result_proposes_the_referral_with_its_priority_and_the_follow_up(name: str) -> None:
    findings = _case(name)
    rec = assess(findings)
    bundle = _bundle(findings, recorded=AT)
    resources = _by_url(bundle)
    group = resources[_only(bundle, "GuidanceResponse")["result"]["reference"]]
    assert group["resourceType"] == "RequestGroup"
    assert (group["intent"], group["priority"]) == ("proposal", REQUEST_PRIORITY[rec.urgency])
    referral, follow_up = (resources[action["resource"]["reference"]] for action in group["action"])
    assert referral["resourceType"] == "ServiceRequest"
    assert referral["intent"] == "proposal"
    assert referral["priority"] == REQUEST_PRIORITY[rec.urgency]
    assert referral["code"]["coding"][0] == {
        "system": PATHWAY_SYSTEM,
        "code": rec.pathway,
        "display": referral["code"]["text"],
    }
    assert follow_up["resourceType"] == "CarePlan"
    assert len(follow_up["activity"]) == len(rec.follow_up.visits)


def test_an_emergency_is_proposed_stat() -> None:
    findings = _case("red_flag_trauma")
    assert assess(findings).urgency == "emergency"
    assert _only(_bundle(findings), "ServiceRequest")["priority"] == "stat"


def test_an_answer_with_open_questions_is_data_requested_and_a_settled_one_success() -> None:
    open_case = _case("moderate_dcm")
    assert assess(open_case).to_confirm
    assert _only(_bundle(open_case), "GuidanceResponse")["status"] == "data-requested"
    data = json.loads((ROOT / "data" / "validation" / "v29_deterioration_two_points.json").read_text())
    settled = Findings.model_validate(data.get("findings", data))
    rec = assess(settled)
    assert not rec.provisional
    assert not rec.to_confirm
    assert not rec.incomplete
    assert _only(_bundle(settled), "GuidanceResponse")["status"] == "success"


def test_the_cds_hooks_proposal_codes_the_pathway_as_the_export_does() -> None:
    from myelo_cds.service.cds_hooks import card_for

    findings = _case("moderate_dcm")
    rec = assess(findings)
    card = card_for(rec, None, patient_id="example-1")
    proposed = card["suggestions"][0]["actions"][0]["resource"]
    exported = _only(_bundle(findings), "ServiceRequest")
    assert proposed["code"]["coding"] == exported["code"]["coding"]
    assert proposed["priority"] == exported["priority"]


# --- the rule set as a Library ----------------------------------------------------------------


def test_the_library_follows_the_rule_file() -> None:
    """Read independently of the engine's loader: every row of every table, with its source's
    citation, and the file's own bytes for the hashes and size."""
    raw = RULES.read_bytes()
    data = tomllib.loads(raw.decode("utf-8"))
    rows = [
        row for table in ("red_flags", "pathway", "urgency", "differentials", "flags") for row in data[table]
    ]
    library = rule_set_library()
    assert library["version"] == data["rule_set"]["version"]
    assert library["url"].endswith(f"/Library/{data['rule_set']['id']}")
    assert library["identifier"][0]["value"] == hashlib.sha256(raw).hexdigest()
    (content,) = library["content"]
    assert (content["size"], content["hash"]) == (len(raw), _sha1(raw))
    cited = {artifact["label"]: artifact for artifact in library["relatedArtifact"]}
    assert len(cited) == len(library["relatedArtifact"]) == len(rows)
    for row in rows:
        artifact = cited[row["id"]]
        assert artifact["type"] == "citation"
        assert artifact["citation"].startswith(data["sources"][row["source"]]["citation"])
        assert f"v{row['version']}" in artifact["display"]
    assert r4_errors(library) == []


def test_a_recommendation_from_another_rule_set_names_it_and_cites_none_of_ours() -> None:
    other = RuleSetRef(id="dcm-cds", version="9.9.9", sha256="0" * 64)
    library = rule_set_library(other)
    assert (library["version"], library["identifier"][0]["value"]) == ("9.9.9", "0" * 64)
    assert "relatedArtifact" not in library
    assert "content" not in library


# --- Provenance: the clinician, the software, the real instant --------------------------------


def test_provenance_names_the_clinician_the_software_and_the_real_instant() -> None:
    findings = _case("moderate_dcm")
    rec = assess(findings)
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    bundle = json.loads(bundle_json(findings, rec, clinician_id="  clin-042 "))
    after = dt.datetime.now(dt.UTC)
    provenance = _only(bundle, "Provenance")
    recorded = dt.datetime.fromisoformat(provenance["recorded"].replace("Z", "+00:00"))
    assert recorded.tzinfo is not None
    assert before <= recorded <= after
    assert bundle["timestamp"] == provenance["recorded"]
    resources = _by_url(bundle)
    agents = {
        agent["type"]["coding"][0]["code"]: resources[agent["who"]["reference"]]
        for agent in provenance["agent"]
    }
    assert agents["author"] == {
        "resourceType": "Practitioner",
        "identifier": [{"system": "https://myelo-cds.org/fhir/sid/clinician-id", "value": "clin-042"}],
    }  # the pseudonymous id only: no name, no contact
    device = agents["assembler"]
    assert device["resourceType"] == "Device"
    assert device["deviceName"] == [{"name": "myelo-cds", "type": "manufacturer-name"}]
    assert device["version"] == [{"value": __version__}]
    hashes = {entity["what"]["identifier"]["value"] for entity in provenance["entity"]}
    assert hashes == {rec.rule_set.sha256, rec.follow_up.protocol_sha256}
    library = next(e for e in provenance["entity"] if e["what"].get("reference"))
    assert resources[library["what"]["reference"]]["resourceType"] == "Library"


def test_without_a_clinician_id_no_practitioner_and_the_note_is_preliminary() -> None:
    bundle = _bundle(_case("mild_dcm"))
    kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert "Practitioner" not in kinds
    assert [agent["type"]["coding"][0]["code"] for agent in _only(bundle, "Provenance")["agent"]] == [
        "assembler"
    ]
    assert _only(bundle, "DocumentReference")["docStatus"] == "preliminary"


def test_an_export_instant_without_a_time_zone_is_refused() -> None:
    findings = _case("mild_dcm")
    with pytest.raises(ValueError, match="timezone-aware"):
        bundle_json(findings, assess(findings), recorded=dt.datetime(2026, 3, 2, 9, 30))


def test_an_unsafe_clinician_id_is_refused_as_on_the_note() -> None:
    findings = _case("mild_dcm")
    with pytest.raises(ValueError, match="clinician id refused"):
        bundle_json(findings, assess(findings), clinician_id="dr-1\nCase: someone-else")


# --- the consult note as a DocumentReference --------------------------------------------------


def test_the_consult_note_is_a_document_reference_about_the_patient() -> None:
    findings = _case("moderate_dcm")
    rec = assess(findings)
    bundle = _bundle(findings, clinician_id="clin-042", recorded=AT, note_pdf=True)
    document = _only(bundle, "DocumentReference")
    assert document["subject"]["reference"] == bundle["entry"][0]["fullUrl"]  # the Patient
    assert document["type"]["coding"][0]["system"] == "http://loinc.org"
    assert document["type"]["coding"][0]["code"] == "11488-4"
    assert document["docStatus"] == "final"
    assert document["date"] == "2026-03-02T09:30:00Z"
    text, pdf = (content["attachment"] for content in document["content"])
    data = base64.b64decode(text["data"])
    assert data.decode("utf-8") == consult_note_text(rec, findings, "clin-042")
    assert text["contentType"] == "text/plain; charset=utf-8"
    assert (text["size"], text["hash"]) == (len(data), _sha1(data))
    document_bytes = base64.b64decode(pdf["data"])
    assert document_bytes.startswith(b"%PDF-")
    assert pdf["contentType"] == "application/pdf"
    assert (pdf["size"], pdf["hash"]) == (len(document_bytes), _sha1(document_bytes))
    related = _by_url(bundle)[document["context"]["related"][0]["reference"]]
    assert related["resourceType"] == "GuidanceResponse"
    assert r4_errors(bundle) == []


# --- the mJOA Questionnaire -------------------------------------------------------------------


def test_the_questionnaire_has_an_http_canonical_version_and_answer_weights() -> None:
    questionnaire = mjoa_questionnaire()
    scale = mjoa_scale()
    assert questionnaire["url"] == QUESTIONNAIRE_URL
    assert QUESTIONNAIRE_URL.startswith("https://")
    assert questionnaire["version"] == scale["scale"]["version"]
    items = {item["linkId"]: item for item in questionnaire["item"]}
    for spec in scale["items"]:
        weights = [
            next(e["valueDecimal"] for e in option["extension"] if e["url"] == ORDINAL_VALUE)
            for option in items[spec["id"]]["answerOption"]
        ]
        assert weights == list(range(spec["max"] + 1))  # level i scores i points (Benzel 1991)
    total = items["total"]
    assert (total["type"], total["readOnly"]) == ("integer", True)
    (expression,) = total["extension"]
    assert expression["url"].endswith("/sdc-questionnaire-calculatedExpression")
    assert expression["valueExpression"]["language"] == "text/fhirpath"
    assert "ordinalValue()" in expression["valueExpression"]["expression"]


def test_the_response_cites_the_questionnaire_by_url_and_version_and_its_total_is_the_weights_sum() -> None:
    findings = _case("moderate_dcm")
    questionnaire = mjoa_questionnaire()
    response = _only(_bundle(findings), "QuestionnaireResponse")
    assert response["questionnaire"] == f"{questionnaire['url']}|{questionnaire['version']}"
    weight = {
        (item["linkId"], option["valueCoding"]["code"]): option["extension"][0]["valueDecimal"]
        for item in questionnaire["item"]
        for option in item.get("answerOption", [])
    }
    answers = {item["linkId"]: item["answer"][0] for item in response["item"]}
    asked = {item["linkId"]: item["text"] for item in questionnaire["item"]}
    assert all(item["text"] == asked[item["linkId"]] for item in response["item"])
    summed = sum(
        weight[(link, answer["valueCoding"]["code"])] for link, answer in answers.items() if link != "total"
    )
    assert answers["total"]["valueInteger"] == summed == assess(findings).scores.mjoa.total  # type: ignore[union-attr]


# --- the transaction bundle -------------------------------------------------------------------


def _requests(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["resource"]["resourceType"]: entry["request"] for entry in bundle["entry"]}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_transaction_holds_the_same_resources_and_validates(path: Path) -> None:
    findings = _case(path.stem)
    rec = assess(findings)
    collection = json.loads(bundle_json(findings, rec, recorded=AT))
    transaction = json.loads(transaction_json(findings, rec, recorded=AT))
    assert transaction["type"] == "transaction"
    assert r4_errors(transaction) == []
    assert [e["fullUrl"] for e in transaction["entry"]] == [e["fullUrl"] for e in collection["entry"]]
    for sent, kept in zip(transaction["entry"], collection["entry"], strict=True):
        assert {k: v for k, v in sent["resource"].items() if k != "id"} == kept["resource"]


def test_shared_resources_are_created_only_if_the_server_has_none() -> None:
    findings = _case("moderate_dcm")
    rec = assess(findings)
    requests = _requests(json.loads(transaction_json(findings, rec, clinician_id="clin-042")))
    system = "https://myelo-cds.org/fhir/sid/"
    assert requests["Patient"] == {
        "method": "POST",
        "url": "Patient",
        "ifNoneExist": f"identifier={system}case-id|{findings.case_id}",
    }
    assert requests["Practitioner"]["ifNoneExist"] == f"identifier={system}clinician-id|clin-042"
    assert requests["Device"]["ifNoneExist"] == f"identifier={system}software|myelo-cds/{__version__}"
    assert requests["Library"] == {
        "method": "POST",
        "url": "Library",
        "ifNoneExist": f"url=https://myelo-cds.org/fhir/Library/{rec.rule_set.id}&version={rec.rule_set.version}",
    }


def test_with_a_case_id_the_assessment_is_put_to_its_own_ids_so_sending_it_twice_keeps_one() -> None:
    findings = _case("moderate_dcm")
    rec = assess(findings)
    first = json.loads(transaction_json(findings, rec))
    again = json.loads(transaction_json(findings, rec))
    put = [entry for entry in first["entry"] if entry["request"]["method"] == "PUT"]
    assert {entry["resource"]["resourceType"] for entry in put} >= {
        "Observation",
        "GuidanceResponse",
        "ServiceRequest",
        "DocumentReference",
        "Provenance",
    }
    for entry in put:
        uid = entry["fullUrl"].removeprefix("urn:uuid:")
        assert entry["request"]["url"] == f"{entry['resource']['resourceType']}/{uid}"
        assert entry["resource"]["id"] == uid
    assert [e["request"] for e in first["entry"]] == [e["request"] for e in again["entry"]]


def test_without_a_case_id_every_export_is_new() -> None:
    findings = _case("mild_dcm").model_copy(update={"case_id": None})
    bundle = json.loads(transaction_json(findings, assess(findings)))
    methods = {entry["request"]["method"] for entry in bundle["entry"]}
    assert methods == {"POST"}
    assert "ifNoneExist" not in _requests(bundle)["Patient"]
    assert r4_errors(bundle) == []


def test_a_search_value_is_escaped_and_encoded() -> None:
    findings = _case("mild_dcm")
    requests = _requests(json.loads(transaction_json(findings, assess(findings), clinician_id="dr a|b,c&d")))
    assert requests["Practitioner"]["ifNoneExist"].endswith("clinician-id|dr%20a%5C%7Cb%5C%2Cc%26d")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "myelo_cds", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_cli_writes_a_transaction_with_the_clinician(tmp_path: Path) -> None:
    target = tmp_path / "transaction.json"
    case = "data/examples/mild_dcm.json"
    done = _cli("export-fhir", case, "--transaction", "--clinician-id", "clin-042", "-o", str(target))
    assert done.returncode == 0, done.stderr
    bundle = json.loads(target.read_text())
    assert bundle["type"] == "transaction"
    assert "Practitioner" in _requests(bundle)
    refused = _cli("export-fhir", case, "--clinician-id", "a\u0085b")
    assert refused.returncode == 2
    assert "clinician id refused" in refused.stderr


# --- the knowledge an EHR loads once -----------------------------------------------------------


def _codings(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        own = [node] if "system" in node and "code" in node else []
        return own + [coding for value in node.values() for coding in _codings(value)]
    if isinstance(node, list):
        return [coding for value in node for coding in _codings(value)]
    return []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_code_of_ours_in_the_guidance_and_answers_is_in_a_code_system_we_ship(path: Path) -> None:
    concepts = {
        (system["url"], concept["code"]): concept
        for system in code_systems()
        for concept in system["concept"]
    }
    ours = {system["url"] for system in code_systems()}
    findings = _case(path.stem)
    bundle = _bundle(findings, recorded=AT)
    kinds = ("GuidanceResponse", "ServiceRequest", "QuestionnaireResponse", "RequestGroup")
    used = [
        c for e in bundle["entry"] if e["resource"]["resourceType"] in kinds for c in _codings(e["resource"])
    ]
    mine = [coding for coding in used if coding["system"] in ours]
    assert len(mine) >= 3  # the pathway twice, the urgency, the rules fired (and mJOA answers)
    for coding in mine:
        concept = concepts[(coding["system"], coding["code"])]
        if coding["system"].endswith(("/pathway", "-motor", "-sensation", "-sphincter")):
            assert coding.get("display") == concept["display"], coding
    foreign = {
        c["system"] for c in used if c["system"].startswith(CANONICAL_BASE) and c["system"] not in ours
    }
    assert not foreign


def test_the_questionnaire_answers_are_their_code_systems() -> None:
    systems = {system["url"]: system for system in code_systems()}
    for item in mjoa_questionnaire()["item"]:
        for option in item.get("answerOption", []):
            coding = option["valueCoding"]
            concept = next(c for c in systems[coding["system"]]["concept"] if c["code"] == coding["code"])
            assert concept["display"] == coding["display"]


def test_the_artifacts_load_once_by_url_and_version(tmp_path: Path) -> None:
    target = tmp_path / "artifacts.json"
    done = _cli("fhir-artifacts", "-o", str(target))
    assert done.returncode == 0, done.stderr
    bundle = json.loads(target.read_text())
    assert bundle == json.loads(artifacts_json())
    assert bundle["type"] == "transaction"
    assert r4_errors(bundle) == []
    by_url = {entry["resource"]["url"]: entry for entry in bundle["entry"]}
    assert QUESTIONNAIRE_URL in by_url
    assert rule_set_library()["url"] in by_url
    assert {system["url"] for system in code_systems()} <= set(by_url)
    for url, entry in by_url.items():
        version = entry["resource"]["version"]
        assert entry["request"]["ifNoneExist"] == f"url={url}&version={version}"


# --- the gate sees what these resources could get wrong ----------------------------------------


def _guidance() -> dict[str, Any]:
    return _only(_bundle(_case("mild_dcm"), recorded=AT), "GuidanceResponse")


def test_the_gate_refuses_an_answer_option_weight_beside_extensions() -> None:
    questionnaire = mjoa_questionnaire()
    weight = questionnaire["item"][0]["answerOption"][0]["extension"][0]
    weight["extension"] = [{"url": "https://example.org/note", "valueString": "both"}]
    assert r4_errors(questionnaire) == [
        "$.item[0].answerOption[0].extension[0] (Extension): invariant ext-1 fails:"
        " Must have either extensions or value[x], not both"
    ]


def test_the_gate_refuses_output_parameters_no_one_refers_to() -> None:
    guidance = _guidance()
    assert r4_errors(guidance) == []
    guidance["outputParameters"] = {"display": "the answer, not referenced"}
    (error,) = r4_errors(guidance)
    assert "invariant dom-3 fails" in error


def test_the_gate_refuses_a_parameter_with_a_value_and_parts() -> None:
    guidance = _guidance()
    guidance["contained"][0]["parameter"][0]["part"] = [{"name": "extra", "valueString": "x"}]
    assert r4_errors(guidance) == [
        "$.contained[0].parameter[0] (Parameters.parameter): invariant inv-1 fails:"
        " A parameter must have one and only one of (value, resource, part)"
    ]
