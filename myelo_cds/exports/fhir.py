"""FHIR R4 (R4B models) export of an assessment, and import of its findings back.

The Bundle (type ``collection``) holds, all referring to each other by ``urn:uuid``:

* Patient: pseudonymous (the case id as an identifier; no name, no date of birth);
* QuestionnaireResponse: the mJOA item by item, against the Questionnaire we ship in
  ``data/fhir/mjoa-questionnaire.json`` (built from ``data/scales/mjoa.toml``);
* Observations: one per finding entered (code = the input path, e.g. ``exam.umn.babinski``;
  what :func:`findings_from_bundle` reads back), the scores (mJOA total and band, Nurick) and
  the key findings the decision read (the 11 decision-table features);
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
from functools import cache
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from myelo_cds._paths import data_dir
from myelo_cds.exports import _fhir_resources as _made
from myelo_cds.exports._fhir_canonical import identifier_system
from myelo_cds.exports._fhir_knowledge import (
    MJOA_ITEMS,
    QUESTIONNAIRE_URL,
    TOTAL_LINK_ID,
    is_mjoa_questionnaire,
    mjoa_answer_system,
    mjoa_questionnaire,
    questionnaire_reference,
    rule_set_library,
)
from myelo_cds.exports._fhir_resources import REQUEST_PRIORITY, Export
from myelo_cds.exports._fhir_transaction import artifacts_transaction, as_transaction
from myelo_cds.findings import Findings, field_spec
from myelo_cds.rules.result import Recommendation
from myelo_cds.scales import mjoa_scale

__all__ = [
    "FINDING_SYSTEM",
    "QUESTIONNAIRE_URL",
    "REQUEST_PRIORITY",
    "artifacts_json",
    "assessment_bundle",
    "bundle_json",
    "findings_from_bundle",
    "mjoa_questionnaire",
    "shipped_questionnaire",
    "transaction_json",
]

FINDING_SYSTEM = "urn:myelo-cds:finding"
"""Observation codes for entered findings: the code is the input path."""
SCORE_SYSTEM = "urn:myelo-cds:score"
FEATURE_SYSTEM = "urn:myelo-cds:feature"
_NAMESPACE = uuid.UUID("5b0b1c55-6f0e-4c55-9a8b-2d1b8e7c0a11")
_MJOA_ITEMS = MJOA_ITEMS
# Not findings observations: the case id is the Patient identifier, the date the effective time.
_NOT_OBSERVED = {"schema_version", "case_id", "assessment_date"}
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


def _value(value: Any) -> dict[str, Any]:
    """A finding's value as the matching Observation ``value[x]``."""
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float):
        return {"valueQuantity": {"value": value}}
    if isinstance(value, dt.date):
        return {"valueDateTime": value.isoformat()}
    if isinstance(value, Enum):
        return {"valueString": str(value.value)}
    if isinstance(value, (set, frozenset, tuple, list)):
        return {"valueString": ";".join(sorted(str(getattr(v, "value", v)) for v in value))}
    return {"valueString": str(value)}


def _entered(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(input path, value) of every finding given, in model order."""
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = key.value if isinstance(key, Enum) else str(key)
        path = prefix + name
        if isinstance(value, dict):
            out.extend(_entered(value, path + "."))
        elif value is not None and value not in ((), frozenset()):
            out.append((path, value))
    return out


def _observation(subject: str, on: dt.date, code: dict[str, Any], value: dict[str, Any], **extra: Any) -> Any:
    return Observation.model_validate(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": code,
            "subject": _ref(subject),
            "effectiveDateTime": on.isoformat(),
            **value,
            **extra,
        }
    )


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
            {"linkId": TOTAL_LINK_ID, "text": "mJOA total", "answer": [{"valueInteger": score.total}]}
        )
    return QuestionnaireResponse.model_validate(response)


_OBSERVATION_SYSTEMS = {"finding": FINDING_SYSTEM, "score": SCORE_SYSTEM, "feature": FEATURE_SYSTEM}


def _observed(
    about: _Assessment, kind: str, name: str, display: str | None, value: dict[str, Any], **extra: Any
) -> _Entry:
    """One Observation coded ``name`` in the ``kind``'s system, with the id ``kind/name``."""
    code = _coding(_OBSERVATION_SYSTEMS[kind], name, display)
    return about.id(f"{kind}/{name}"), _observation(about.patient, about.on, code, value, **extra)


def _finding_observations(about: _Assessment) -> list[_Entry]:
    """One per finding entered, coded by its input path (the mJOA items are in the
    QuestionnaireResponse, the case id and date in the Patient and the effective time)."""
    mjoa_items = {f"mjoa.{item}" for item in _MJOA_ITEMS}
    # A level listed with nothing graded is not the same as a level left out (left out, it
    # counts as normal when the reader marked the unlisted levels normal): say it is listed.
    listed = [
        _observed(about, "finding", f"mri.levels.{level.value}", f"{level.value}: listed", _LISTED)
        for level, finding in about.findings.mri.levels.items()
        if not finding.model_dump(exclude_none=True)
    ]
    return [
        _observed(about, "finding", path, _spec_label(path), _value(value))
        for path, value in _entered(about.findings.model_dump(exclude_none=True))
        if path not in _NOT_OBSERVED and path not in mjoa_items
    ] + listed


_LISTED = {"valueString": "listed, nothing graded"}


def _score_observations(about: _Assessment) -> list[_Entry]:
    """The mJOA totals and band (derived from the QuestionnaireResponse) and the Nurick grade."""
    scores = about.rec.scores
    entries: list[_Entry] = []
    if scores.mjoa is not None:
        mjoa = scores.mjoa
        derived = {"derivedFrom": [_ref(about.id("qr"))]} if about.findings.mjoa is not None else {}
        for name, display, value in (
            ("mjoa_total", "mJOA total (raw)", {"valueInteger": mjoa.total}),
            (
                "mjoa_attributed_total",
                "mJOA total attributed to myelopathy",
                {"valueInteger": mjoa.attributed_total},
            ),
            ("mjoa_band", "mJOA severity band", {"valueString": mjoa.attributed_band}),
        ):
            entries.append(_observed(about, "score", name, display, value, **derived))
    if scores.nurick is not None:
        entries.append(
            _observed(about, "score", "nurick", "Nurick grade", {"valueInteger": scores.nurick.grade})
        )
    return entries


def _feature_observations(about: _Assessment) -> list[_Entry]:
    """The key findings the decision read (the decision-table features)."""
    return [
        _observed(about, "feature", feature, feature.replace("_", " "), {"valueString": value})
        for feature, value in about.rec.features.items()
    ]


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
    entries += _finding_observations(about)
    entries += _score_observations(about)
    entries += _feature_observations(about)
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


@cache
def _spec_label(path: str) -> str | None:
    try:
        return field_spec(path).label
    except KeyError:
        return None


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


def _observed_value(obs: Any) -> Any:
    for name in ("valueBoolean", "valueInteger", "valueDateTime", "valueString"):
        value = getattr(obs, name, None)
        if value is not None:
            return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value
    if obs.valueQuantity is not None:
        return float(obs.valueQuantity.value)
    return None


def findings_from_bundle(text: str) -> Findings:
    """Findings read back from a Bundle this module exported (entered-finding observations,
    the mJOA QuestionnaireResponse, and the Patient's case id). Raises ``ValueError`` (a
    pydantic ``ValidationError`` for bad findings) when it cannot."""
    bundle = Bundle.model_validate_json(text)
    nested: dict[str, Any] = {}

    def put(path: str, value: Any) -> None:
        target = nested
        parts = path.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value

    when: str | None = None
    for entry in bundle.entry or []:
        resource = entry.resource
        if isinstance(resource, Patient):
            for identifier in resource.identifier or []:
                if identifier.system in (identifier_system("case-id"), "urn:myelo-cds:case-id"):
                    put("case_id", identifier.value)
        elif isinstance(resource, QuestionnaireResponse) and is_mjoa_questionnaire(resource.questionnaire):
            for item in resource.item or []:
                answer = item.answer[0].valueCoding if item.answer else None
                if item.linkId in _MJOA_ITEMS and answer is not None:
                    put(f"mjoa.{item.linkId}", int(str(answer.code)))
        elif isinstance(resource, Observation):
            coding = resource.code.coding[0] if resource.code.coding else None
            if coding is None or coding.system != FINDING_SYSTEM:
                continue
            path = str(coding.code)
            value = _observed_value(resource)
            section, _, level = path.rpartition(".")
            if section == "mri.levels":  # a level listed with nothing graded
                nested.setdefault("mri", {}).setdefault("levels", {}).setdefault(level, {})
                continue
            if _spec_kind(path) == "set" and isinstance(value, str):
                value = [part for part in value.split(";") if part]
            put(path, value)
            if resource.effectiveDateTime is not None:  # the newest finding's date, not the last listed
                when = max(when or "", str(resource.effectiveDateTime)[:10])
    if when is not None:
        nested["assessment_date"] = when
    return Findings.model_validate(nested)


@cache
def _spec_kind(path: str) -> str | None:
    try:
        return field_spec(path).kind
    except KeyError:
        return None
