"""The recommendation, who and what produced it, and the consult note, as FHIR R4 resources.

* ``GuidanceResponse``: the answer in ``outputParameters`` (a contained ``Parameters``: pathway,
  urgency and request priority, provisional, the rule-set canonical, version and SHA-256, and
  each fired rule with its id, version, inputs and source), ``moduleCanonical`` = the rule set's
  Library ``url|version``, and ``result`` = a ``RequestGroup`` (R4 allows only CarePlan or
  RequestGroup there) whose actions are the referral ``ServiceRequest`` and the follow-up
  ``CarePlan``. ``status`` is ``data-requested`` while the answer is provisional or questions are
  open (R4 GuidanceResponseStatus: "more data may result in a more complete evaluation").
* ``ServiceRequest``: the pathway as a proposal (decision support proposes, the clinician
  orders), ``priority`` from the urgency (:data:`REQUEST_PRIORITY`).
* ``Provenance``: ``recorded`` = the real instant of the export (timezone-aware); agents the
  software as a ``Device`` (name and version, participant type ``assembler``: "a device that
  operates independently of an author on custodian's algorithms ... generating a new
  artifact") and, when a clinician id was given, the clinician as a ``Practitioner`` carrying
  only that pseudonymous id (``author``); entities the rule set (its Library, version, SHA-256)
  and the follow-up protocol (version, SHA-256). Participant types from HL7/UTG
  ``input/sourceOfTruth/fhir/codeSystems/CodeSystem-provenance-participant-type.xml``.
* ``DocumentReference``: the consult note (``consult_note_text``, and the PDF when asked), with
  content type, size, SHA-1 (R4 ``Attachment.hash``) and creation time; ``type`` LOINC 11488-4
  (in HL7/US-Core ``input/resources/ValueSet-us-core-clinical-note-type.json``, display as in
  its ``input/pagecontent/writing-clinical-notes.md``). ``docStatus`` is ``final`` when a
  clinician id says who reviewed it, else ``preliminary`` (unverified).
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

from myelo_cds import __version__
from myelo_cds.exports._fhir_canonical import Assessed, identifier_system
from myelo_cds.exports._fhir_knowledge import (
    PATHWAY_SYSTEM,
    RULE_SET_SHA256_SYSTEM,
    RULE_SYSTEM,
    URGENCY_SYSTEM,
    attachment_hash,
    library_canonical,
)
from myelo_cds.rules.engine import PATHWAY_LABELS
from myelo_cds.rules.result import FiredRule

__all__ = [
    "PATHWAY_SYSTEM",
    "REQUEST_PRIORITY",
    "URGENCY_SYSTEM",
    "Export",
    "agents",
    "consult_document",
    "guidance",
    "provenance",
    "referral",
    "request_group",
]

CLINICIAN_SYSTEM = identifier_system("clinician-id")
SOFTWARE_SYSTEM = identifier_system("software")
PROTOCOL_SHA256_SYSTEM = identifier_system("protocol-sha256")
_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
#: FHIR RequestPriority (routine < urgent < asap < stat) per urgency tier, one step each, so the
#: four tiers stay four: an emergency is ``stat`` (now), an urgent answer (seen within days)
#: ``asap``, an expedited one (within weeks) ``urgent`` and a routine one ``routine``.
REQUEST_PRIORITY = {"emergency": "stat", "urgent": "asap", "expedited": "urgent", "routine": "routine"}


@dataclass(frozen=True)
class Export:
    """When and by whom: the real instant of the export and the clinician id, if given."""

    recorded: dt.datetime
    clinician_id: str | None = None

    def __post_init__(self) -> None:
        if self.recorded.tzinfo is None:
            raise ValueError("the export instant must be timezone-aware (a FHIR instant has a zone)")

    @property
    def instant(self) -> str:
        return self.recorded.isoformat(timespec="seconds")


def _device(about: Assessed) -> str:
    """The software's Device in this export (its own id, like every resource of an export:
    a server finds the one it holds by identifier, see the transaction bundle)."""
    return about.id("device")


def _practitioner(about: Assessed, export: Export) -> str | None:
    """The clinician's Practitioner in this export, when a clinician id was given."""
    return about.id("practitioner") if export.clinician_id else None


def _ref(uid: str, display: str | None = None) -> dict[str, str]:
    return {"reference": f"urn:uuid:{uid}", **({"display": display} if display else {})}


def _coded(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def agents(about: Assessed, export: Export) -> list[tuple[str, dict[str, Any]]]:
    """The software's Device and, when given, the clinician's Practitioner (id only)."""
    device = {
        "resourceType": "Device",
        "identifier": [{"system": SOFTWARE_SYSTEM, "value": f"myelo-cds/{__version__}"}],
        "status": "active",
        "deviceName": [{"name": "myelo-cds", "type": "manufacturer-name"}],
        "version": [{"value": __version__}],
        "note": [{"text": "Clinical decision support software; the clinician decides."}],
    }
    found: list[tuple[str, dict[str, Any]]] = [(_device(about), device)]
    clinician = _practitioner(about, export)
    if clinician is not None:
        practitioner = {
            "resourceType": "Practitioner",
            "identifier": [{"system": CLINICIAN_SYSTEM, "value": export.clinician_id}],
        }
        found.append((clinician, practitioner))
    return found


def referral(about: Assessed, export: Export) -> dict[str, Any]:
    """The pathway as a proposed request (decision support proposes, the clinician orders)."""
    rec = about.rec
    notes = [f"Urgency {rec.urgency}: {rec.headline}"]
    if rec.provisional:
        notes.append("Provisional: the answer changes once the open questions are answered.")
    notes += [f"To confirm ({item.urgency_if_positive} if positive): {item.input}" for item in rec.to_confirm]
    notes += [f"Incomplete: enter {path}" for path in rec.incomplete]
    notes += [f"Check: {warning.message}" for warning in rec.warnings]
    label = PATHWAY_LABELS[rec.pathway]
    return {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "proposal",
        "priority": REQUEST_PRIORITY[rec.urgency],
        "code": {"coding": [_coded(PATHWAY_SYSTEM, rec.pathway, label)], "text": label},
        "subject": _ref(about.patient),
        "authoredOn": export.instant,
        "requester": _ref(_device(about), f"myelo-cds {__version__}"),
        "note": [{"text": text} for text in notes],
    }


def request_group(about: Assessed, export: Export) -> dict[str, Any]:
    """The actions the guidance proposes: the referral and the follow-up plan."""
    rec = about.rec
    priority = REQUEST_PRIORITY[rec.urgency]
    label = PATHWAY_LABELS[rec.pathway]
    return {
        "resourceType": "RequestGroup",
        "status": "active",
        "intent": "proposal",
        "priority": priority,
        "subject": _ref(about.patient),
        "authoredOn": export.instant,
        "author": _ref(_device(about)),
        "action": [
            {
                "title": label,
                "description": rec.headline,
                "priority": priority,
                "resource": _ref(about.id("referral")),
            },
            {
                "title": rec.follow_up.title,
                "description": f"Follow-up: {len(rec.follow_up.visits)} dated visits",
                "resource": _ref(about.id("careplan")),
            },
        ],
    }


def _fired(rule: FiredRule) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"name": "id", "valueCoding": _coded(RULE_SYSTEM, rule.id, rule.title)},
        {"name": "version", "valueString": rule.version},
        {"name": "kind", "valueString": rule.kind},
        {"name": "action", "valueString": rule.action},
        *({"name": "input", "valueString": f"{name}={value}"} for name, value in rule.inputs.items()),
        {"name": "source", "valueString": rule.citation},
        {"name": "strength", "valueString": rule.strength},
        {"name": "evidence", "valueString": rule.evidence},
    ]
    return {"name": "firedRule", "part": [part for part in parts if part.get("valueString", True)]}


def _output(about: Assessed) -> dict[str, Any]:
    rec = about.rec
    rule_set = rec.rule_set
    return {
        "resourceType": "Parameters",
        "id": "output",
        "parameter": [
            {
                "name": "pathway",
                "valueCoding": _coded(PATHWAY_SYSTEM, rec.pathway, PATHWAY_LABELS[rec.pathway]),
            },
            {"name": "urgency", "valueCoding": _coded(URGENCY_SYSTEM, rec.urgency)},
            {"name": "priority", "valueCode": REQUEST_PRIORITY[rec.urgency]},
            {"name": "headline", "valueString": rec.headline},
            {"name": "provisional", "valueBoolean": rec.provisional},
            {"name": "ruleSet", "valueCanonical": library_canonical(rule_set)},
            {"name": "ruleSetVersion", "valueString": rule_set.version},
            {"name": "ruleSetSha256", "valueString": rule_set.sha256},
            *(_fired(rule) for rule in rec.rules_fired),
        ],
    }


def guidance(about: Assessed, export: Export) -> dict[str, Any]:
    """The recommendation (see the module docstring)."""
    rec = about.rec
    settled = not (rec.provisional or rec.to_confirm or rec.incomplete)
    return {
        "resourceType": "GuidanceResponse",
        "contained": [_output(about)],
        "requestIdentifier": {"system": identifier_system("assessment"), "value": about.id("guidance")},
        "moduleCanonical": library_canonical(rec.rule_set),
        "status": "success" if settled else "data-requested",
        "subject": _ref(about.patient),
        "occurrenceDateTime": export.instant,
        "performer": _ref(_device(about), f"myelo-cds {__version__}"),
        "note": [{"text": rec.headline}, {"text": rec.disclaimer}],
        "outputParameters": {"reference": "#output"},
        "result": _ref(about.id("requestgroup")),
    }


def provenance(about: Assessed, export: Export, targets: list[str], library: str) -> dict[str, Any]:
    """Who and what produced ``targets``, and when (see the module docstring)."""
    rule_set = about.rec.rule_set
    plan = about.rec.follow_up
    who = [
        {
            "type": {"coding": [_coded(_PARTICIPANT, "assembler", "Assembler")]},
            "who": _ref(_device(about), f"myelo-cds {__version__}"),
        }
    ]
    clinician = _practitioner(about, export)
    if clinician is not None:
        author = {"coding": [_coded(_PARTICIPANT, "author", "Author")]}
        who.insert(0, {"type": author, "who": _ref(clinician)})
    return {
        "resourceType": "Provenance",
        "target": [_ref(uid) for uid in targets],
        "recorded": export.instant,
        "policy": [library_canonical(rule_set)],
        "agent": who,
        "entity": [
            {
                "role": "source",
                "what": {
                    **_ref(library),
                    "identifier": {"system": RULE_SET_SHA256_SYSTEM, "value": rule_set.sha256},
                    "display": f"Rule set {rule_set.id} {rule_set.version}",
                },
            },
            {
                "role": "source",
                "what": {
                    "identifier": {"system": PROTOCOL_SHA256_SYSTEM, "value": plan.protocol_sha256},
                    "display": f"Follow-up protocol {plan.protocol_id} {plan.protocol_version}",
                },
            },
        ],
    }


def _attachment(data: bytes, content_type: str, title: str, export: Export) -> dict[str, Any]:
    return {
        "contentType": content_type,
        "language": "en",
        "data": base64.b64encode(data).decode("ascii"),
        "size": len(data),
        "hash": attachment_hash(data),
        "title": title,
        "creation": export.instant,
    }


def consult_document(about: Assessed, export: Export, *, pdf: bool = False) -> dict[str, Any]:
    """The consult note as a DocumentReference about the Patient (text, and the PDF if asked).

    Raises:
        ValueError: the consult note's own refusal (findings of another case, an unsafe
            clinician id).
    """
    from myelo_cds.exports.consult_note import consult_note_pdf, consult_note_text

    rec, findings = about.rec, about.findings
    text = consult_note_text(rec, findings, export.clinician_id)
    content = [
        {"attachment": _attachment(text.encode("utf-8"), "text/plain; charset=utf-8", "Consult note", export)}
    ]
    if pdf:
        document = consult_note_pdf(rec, findings, export.clinician_id)
        content.append({"attachment": _attachment(document, "application/pdf", "Consult note (PDF)", export)})
    authors = [_ref(_device(about), f"myelo-cds {__version__}")]
    clinician = _practitioner(about, export)
    if clinician is not None:
        authors.insert(0, _ref(clinician))
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "docStatus": "final" if clinician is not None else "preliminary",
        "type": {"coding": [_coded("http://loinc.org", "11488-4", "Consultation note")]},
        "subject": _ref(about.patient),
        "date": export.instant,
        "author": authors,
        "description": f"Consult note: {rec.headline}",
        "content": content,
        "context": {"related": [_ref(about.id("guidance"))]},
    }
