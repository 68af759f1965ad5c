"""FHIR R4 (R4B models) export of an assessment, and import of findings from a FHIR Bundle.

:func:`findings_from_bundle` (``_fhir_import``) reads our export back and an EHR's
standard-coded record, and reports what it did not understand.

The Bundle (type ``collection``) holds, all referring to each other by ``urn:uuid``:

* Patient: pseudonymous (the case id as an identifier; no name, no date of birth);
* QuestionnaireResponse: the mJOA item by item, against the Questionnaire we ship in
  ``data/fhir/mjoa-questionnaire.json`` (built from ``data/scales/mjoa.toml``);
* Observations (``_fhir_observations``): one per finding entered, coded with LOINC/SNOMED CT
  where ``data/fhir/terminology.csv`` has a verified code and always in our CodeSystem
  (:data:`FINDING_SYSTEM`, code = the input path, e.g. ``exam.umn.babinski``), with category,
  laterality, spinal level and UCUM units; one with a ``dataAbsentReason`` per blank finding the
  answer depends on; the mJOA totals and band. The decision table's features are the engine's
  working and are not exported;
* CarePlan: the dated follow-up visits with their windows;
* ServiceRequest: the pathway as a proposed referral, its ``priority`` from the urgency
  (:data:`REQUEST_PRIORITY`), and RequestGroup: the actions proposed (referral and follow-up);
* GuidanceResponse: the answer as ``outputParameters`` (pathway, urgency, rule-set version and
  hash, each fired rule with its source), ``result`` the RequestGroup, ``moduleCanonical`` the
  rule set's Library;
* DocumentReference: the consult note (text, and PDF when asked);
* Device (the software and its version), Practitioner (the clinician id, when given) and the
  rule set as a Library citing each rule (``_fhir_knowledge``);
* Provenance: the real instant of the export, the clinician and the software, the rule-set and
  follow-up protocol versions and SHA-256 hashes (``_fhir_resources``).

:func:`transaction_json` gives the same resources as a ``transaction`` Bundle for a server.

Ids never collide between different assessments (:func:`_assessment_key`). With a case id,
each resource id is a UUID derived from a SHA-256 of the case id, the date, every finding and
the rule-set and follow-up protocol versions and hashes, so the same assessment exports the same
bundle and a changed one shares no resource id with it; the Patient's id comes from the case id
(and sex) alone, so one patient's assessments point at one Patient. Without a case id nothing
says two exports are the same person, so each export gets random ids. Every resource is
validated by the ``fhir.resources`` R4B model as it is built; the tests also validate every
bundle against the FHIR R4 4.0.1 schema with its required bindings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from myelo_cds._paths import data_dir
from myelo_cds.exports import _fhir_resources as _made
from myelo_cds.exports._fhir_canonical import identifier_system
from myelo_cds.exports._fhir_codes import CODE_SYSTEM
from myelo_cds.exports._fhir_import import FromEhr, ImportedFindings, NotUnderstood, findings_from_bundle
from myelo_cds.exports._fhir_knowledge import (
    MJOA_ITEMS,
    QUESTIONNAIRE_URL,
    TOTAL_LINK_ID,
    mjoa_answer_system,
    mjoa_questionnaire,
    questionnaire_reference,
    rule_set_library,
    total_text,
)
from myelo_cds.exports._fhir_observations import finding_observations, score_observations
from myelo_cds.exports._fhir_resources import REQUEST_PRIORITY, Export
from myelo_cds.exports._fhir_transaction import artifacts_transaction, as_transaction
from myelo_cds.findings import Findings
from myelo_cds.rules.result import Recommendation
from myelo_cds.scales import mjoa_scale

__all__ = [
    "FINDING_SYSTEM",
    "QUESTIONNAIRE_URL",
    "REQUEST_PRIORITY",
    "FromEhr",
    "ImportedFindings",
    "NotUnderstood",
    "artifacts_json",
    "assessment_bundle",
    "bundle_json",
    "findings_from_bundle",
    "mjoa_questionnaire",
    "shipped_questionnaire",
    "transaction_json",
]

FINDING_SYSTEM = CODE_SYSTEM
"""Our CodeSystem (:data:`~myelo_cds.exports._fhir_codes.CODE_SYSTEM`): a finding's code is its input path."""
_NAMESPACE = uuid.UUID("5b0b1c55-6f0e-4c55-9a8b-2d1b8e7c0a11")
_MJOA_ITEMS = MJOA_ITEMS
_GENDER = {"female": "female", "male": "male", "other": "other", "unknown": "unknown"}


def shipped_questionnaire() -> dict[str, Any]:
    """The Questionnaire file shipped in ``data/fhir`` (a test keeps it equal to the scale)."""
    data: dict[str, Any] = json.loads((data_dir() / "fhir" / "mjoa-questionnaire.json").read_text("utf-8"))
    return data


def _canonical(value: Any) -> Any:
    """``value`` as plain JSON with sets sorted and enums as their values, for hashing."""
    if isinstance(value, dict):
        return {str(_canonical(key)): _canonical(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_canonical(item) for item in value), key=lambda item: json.dumps(item, sort_keys=True))
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    if isinstance(value, Enum):
        return _canonical(value.value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _assessment_key(findings: Findings, rec: Recommendation) -> str:
    """What every resource id of one export is derived from.

    With a case id: a SHA-256 of the case id, the date, every finding and the versions and
    hashes of the rule set and follow-up protocol, so the same assessment gives the same ids and
    any other assessment (another day, another finding, another rule set) none of them. Without
    one, random: two patients entered without a case id on the same day with the same findings
    are still two people, and nothing in the bundle could tell their resources apart.
    """
    if not findings.case_id:
        return f"random/{uuid.uuid4()}"
    plan = rec.follow_up
    content = {
        "case_id": findings.case_id,
        "assessment_date": rec.assessment_date.isoformat(),
        "findings": _canonical(findings.model_dump()),
        "rule_set": [rec.rule_set.id, rec.rule_set.version, rec.rule_set.sha256],
        "protocol": [plan.protocol_id, plan.protocol_version, plan.protocol_sha256],
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _ref(uid: str, display: str | None = None) -> dict[str, str]:
    return {"reference": f"urn:uuid:{uid}", **({"display": display} if display else {})}


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, **({"display": display} if display else {})}]}


@dataclass(frozen=True)
class _Assessment:
    """What every builder reads: the findings, the recommendation, and the resources' ids."""

    findings: Findings
    rec: Recommendation
    key: str
    """:func:`_assessment_key` of the findings and recommendation."""

    @property
    def on(self) -> dt.date:
        return self.rec.assessment_date

    def id(self, kind: str) -> str:
        """The resource id of ``kind`` in this export (see :func:`_assessment_key`)."""
        return str(uuid.uuid5(_NAMESPACE, f"{self.key}/{kind}"))

    @property
    def patient(self) -> str:
        """The Patient's id: from the case id (and sex) alone, so that one patient's
        assessments refer to one Patient; random like the rest without a case id."""
        if not self.findings.case_id:
            return self.id("patient")
        sex = self.findings.patient.sex.value
        return str(uuid.uuid5(_NAMESPACE, f"patient/{self.findings.case_id}/{sex}"))


_Entry = tuple[str, Any]
"""A resource with its id, in the order the Bundle lists them."""


def _patient(findings: Findings) -> Patient:
    """Pseudonymous: the case id as an identifier, no name, no date of birth."""
    patient: dict[str, Any] = {"resourceType": "Patient", "gender": _GENDER[findings.patient.sex.value]}
    if findings.case_id:
        patient["identifier"] = [{"system": identifier_system("case-id"), "value": findings.case_id}]
    return Patient.model_validate(patient)


def _mjoa_response(about: _Assessment) -> QuestionnaireResponse | None:
    """The mJOA item by item against our Questionnaire, or ``None`` when no mJOA was entered."""
    mjoa = about.findings.mjoa
    if mjoa is None:
        return None
    wording = {item["id"]: item for item in mjoa_scale()["items"]}
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": questionnaire_reference(),
        "status": "completed",
        "subject": _ref(about.patient),
        "authored": about.on.isoformat(),
        "item": [
            {
                "linkId": item,
                "text": wording[item]["label"],
                "answer": [
                    {
                        "valueCoding": {
                            "system": mjoa_answer_system(item),
                            "code": str(getattr(mjoa, item)),
                            "display": wording[item]["levels"][getattr(mjoa, item)],
                        }
                    }
                ],
            }
            for item in _MJOA_ITEMS
        ],
    }
    score = about.rec.scores.mjoa
    if score is not None:  # the Questionnaire's calculated total, as the scale computed it
        response["item"].append(
            {"linkId": TOTAL_LINK_ID, "text": total_text(), "answer": [{"valueInteger": score.total}]}
        )
    return QuestionnaireResponse.model_validate(response)


def _care_plan(about: _Assessment) -> CarePlan:
    """The dated follow-up visits with their windows, and when to escalate."""
    plan = about.rec.follow_up
    care_plan = {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "title": plan.title,
        "description": f"{plan.protocol_id} {plan.protocol_version} ({plan.evidence})",
        "subject": _ref(about.patient),
        "period": {"start": plan.start.isoformat()},
        "created": about.on.isoformat(),
        "activity": [
            {
                "detail": {
                    "kind": "Appointment",
                    "status": "scheduled",
                    "description": f"{visit.label} (due {visit.due.isoformat()})",
                    "scheduledPeriod": {
                        "start": visit.window_start.isoformat(),
                        "end": visit.window_end.isoformat(),
                    },
                }
            }
            for visit in plan.visits
        ],
        "note": [{"text": text} for text in plan.escalation],
    }
    return CarePlan.model_validate(care_plan)


def _export(clinician_id: str | None, recorded: dt.datetime | None) -> Export:
    clinician = clinician_id.strip() if clinician_id and clinician_id.strip() else None
    return Export(recorded or dt.datetime.now(dt.UTC), clinician)


def assessment_bundle(
    findings: Findings,
    rec: Recommendation,
    *,
    clinician_id: str | None = None,
    recorded: dt.datetime | None = None,
    note_pdf: bool = False,
) -> Bundle:
    """The assessment as a validated FHIR Bundle (see the module docstring).

    Args:
        findings: what was examined.
        rec: the recommendation assessed from them.
        clinician_id: the clinician's pseudonymous id (as on the consult note), if given.
        recorded: the instant of the export (timezone-aware); default now.
        note_pdf: also attach the consult note as PDF (the text is always attached).

    Raises:
        ValueError: the consult note's refusal (another case's findings, an unsafe clinician id).
    """
    about = _Assessment(findings, rec, _assessment_key(findings, rec))
    export = _export(clinician_id, recorded)
    entries: list[_Entry] = [(about.patient, _patient(findings))]
    response = _mjoa_response(about)
    if response is not None:
        entries.append((about.id("qr"), response))
    entries += finding_observations(about)
    entries += score_observations(about)
    entries += [
        (about.id("careplan"), _care_plan(about)),
        (about.id("referral"), _made.referral(about, export)),
        (about.id("requestgroup"), _made.request_group(about, export)),
        (about.id("guidance"), _made.guidance(about, export)),
        (about.id("note"), _made.consult_document(about, export, pdf=note_pdf)),
    ]
    targets = [uid for uid, _ in entries]
    library = rule_set_library(rec.rule_set)
    library_id = about.id("library")
    entries += [*_made.agents(about, export), (library_id, library)]
    entries.append((about.id("provenance"), _made.provenance(about, export, targets, library_id)))
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": export.instant,
            "entry": [{"fullUrl": f"urn:uuid:{uid}", "resource": resource} for uid, resource in entries],
        }
    )


def bundle_json(findings: Findings, rec: Recommendation, **options: Any) -> str:
    """The Bundle as FHIR JSON text (``options`` as for :func:`assessment_bundle`)."""
    text: str = assessment_bundle(findings, rec, **options).model_dump_json(indent=2)
    return text


def artifacts_json() -> str:
    """The knowledge artifacts (Questionnaire, Library, CodeSystems) as a transaction Bundle to
    load once into a FHIR server (see ``_fhir_transaction.artifacts_transaction``)."""
    text: str = Bundle.model_validate(artifacts_transaction()).model_dump_json(indent=2)
    return text


def transaction_json(findings: Findings, rec: Recommendation, **options: Any) -> str:
    """The same resources as a ``transaction`` Bundle for a server (see ``_fhir_transaction``),
    as FHIR JSON text (``options`` as for :func:`assessment_bundle`)."""
    collection = json.loads(assessment_bundle(findings, rec, **options).model_dump_json())
    bundle = Bundle.model_validate(as_transaction(collection, repeatable=bool(findings.case_id)))
    text: str = bundle.model_dump_json(indent=2)
    return text
