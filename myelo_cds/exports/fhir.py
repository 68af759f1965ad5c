"""FHIR R4 (R4B models) export of an assessment, and import of its findings back.

The Bundle (type ``collection``) holds, all referring to each other by ``urn:uuid``:

* Patient: pseudonymous (the case id as an identifier; no name, no date of birth);
* QuestionnaireResponse: the mJOA item by item, against the Questionnaire we ship in
  ``data/fhir/mjoa-questionnaire.json`` (built from ``data/scales/mjoa.toml``);
* Observations: one per finding entered (code = the input path, e.g. ``exam.umn.babinski``;
  what :func:`findings_from_bundle` reads back), the scores (mJOA total and band, Nurick) and
  the key findings the decision read (the 11 decision-table features);
* GuidanceResponse: the pathway and urgency, every rule that fired with its inputs and source;
* CarePlan: the dated follow-up visits with their windows;
* ServiceRequest: the pathway as a proposed referral, its ``priority`` from the urgency
  (:data:`REQUEST_PRIORITY`);
* Provenance: the rule-set and follow-up protocol versions and SHA-256 hashes.

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
from fhir.resources.R4B.guidanceresponse import GuidanceResponse
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.provenance import Provenance
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.servicerequest import ServiceRequest

from myelo_cds import __version__
from myelo_cds._paths import data_dir
from myelo_cds.findings import Findings, field_spec
from myelo_cds.rules.result import FiredRule, Recommendation
from myelo_cds.scales import mjoa_scale

__all__ = [
    "FINDING_SYSTEM",
    "QUESTIONNAIRE_URL",
    "REQUEST_PRIORITY",
    "assessment_bundle",
    "bundle_json",
    "findings_from_bundle",
    "mjoa_questionnaire",
    "shipped_questionnaire",
]

FINDING_SYSTEM = "urn:myelo-cds:finding"
"""Observation codes for entered findings: the code is the input path."""
SCORE_SYSTEM = "urn:myelo-cds:score"
FEATURE_SYSTEM = "urn:myelo-cds:feature"
RULE_SYSTEM = "urn:myelo-cds:rule"
QUESTIONNAIRE_URL = "urn:myelo-cds:questionnaire:mjoa"
_NAMESPACE = uuid.UUID("5b0b1c55-6f0e-4c55-9a8b-2d1b8e7c0a11")
_MJOA_ITEMS = ("ue_motor", "le_motor", "ue_sensation", "sphincter")
# Not findings observations: the case id is the Patient identifier, the date the effective time.
_NOT_OBSERVED = {"schema_version", "case_id", "assessment_date"}
_GENDER = {"female": "female", "male": "male", "other": "other", "unknown": "unknown"}
#: FHIR RequestPriority (routine < urgent < asap < stat) per urgency tier, one step each, so the
#: four tiers stay four: an emergency is ``stat`` (now), an urgent answer (seen within days)
#: ``asap``, an expedited one (within weeks) ``urgent`` and a routine one ``routine``.
REQUEST_PRIORITY = {"emergency": "stat", "urgent": "asap", "expedited": "urgent", "routine": "routine"}


def _answer_system(item: str) -> str:
    return f"{QUESTIONNAIRE_URL}:{item}"


def mjoa_questionnaire() -> dict[str, Any]:
    """The mJOA as a FHIR Questionnaire, from the scale's data file (wording and maxima)."""
    scale = mjoa_scale()
    head = scale["scale"]
    return {
        "resourceType": "Questionnaire",
        "url": QUESTIONNAIRE_URL,
        "version": head["version"],
        "name": "mJOA",
        "title": head["name"],
        "status": "active",
        "subjectType": ["Patient"],
        "description": f"Source: {head['citation']}",
        "item": [
            {
                "linkId": item["id"],
                "text": item["label"],
                "type": "choice",
                "required": True,
                "answerOption": [
                    {
                        "valueCoding": {
                            "system": _answer_system(item["id"]),
                            "code": str(score),
                            "display": text,
                        }
                    }
                    for score, text in enumerate(item["levels"])
                ],
            }
            for item in scale["items"]
        ],
    }


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
        patient["identifier"] = [{"system": "urn:myelo-cds:case-id", "value": findings.case_id}]
    return Patient.model_validate(patient)


def _mjoa_response(about: _Assessment) -> QuestionnaireResponse | None:
    """The mJOA item by item against our Questionnaire, or ``None`` when no mJOA was entered."""
    mjoa = about.findings.mjoa
    if mjoa is None:
        return None
    wording = {item["id"]: item for item in mjoa_scale()["items"]}
    response = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": QUESTIONNAIRE_URL,
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
                            "system": _answer_system(item),
                            "code": str(getattr(mjoa, item)),
                            "display": wording[item]["levels"][getattr(mjoa, item)],
                        }
                    }
                ],
            }
            for item in _MJOA_ITEMS
        ],
    }
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


def _referral(about: _Assessment) -> ServiceRequest:
    """The pathway as a proposed request (decision support proposes, the clinician orders)."""
    rec = about.rec
    notes = [f"Urgency {rec.urgency}: {rec.headline}"]
    if rec.provisional:
        notes.append("Provisional: the answer changes once the open questions are answered.")
    notes += [f"To confirm ({item.urgency_if_positive} if positive): {item.input}" for item in rec.to_confirm]
    notes += [f"Incomplete: enter {path}" for path in rec.incomplete]
    notes += [f"Check: {warning.message}" for warning in rec.warnings]
    request = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "proposal",
        "priority": REQUEST_PRIORITY[rec.urgency],
        "code": _coding("urn:myelo-cds:pathway", rec.pathway, rec.headline),
        "subject": _ref(about.patient),
        "authoredOn": about.on.isoformat(),
        "note": [{"text": text} for text in notes],
    }
    return ServiceRequest.model_validate(request)


def _rule_note(rule: FiredRule) -> dict[str, str]:
    inputs = ", ".join(f"{name}={value}" for name, value in rule.inputs.items())
    source = f"{rule.citation} (strength {rule.strength}, evidence {rule.evidence})"
    return {
        "text": f"{rule.kind} {rule.id} v{rule.version}: {rule.title}. Inputs: {inputs}."
        f" Action: {rule.action} Source: {source}."
    }


def _guidance(about: _Assessment) -> GuidanceResponse:
    """The pathway and urgency, and every rule that fired with its inputs and source."""
    rec = about.rec
    rule_set = rec.rule_set
    guidance = {
        "resourceType": "GuidanceResponse",
        "requestIdentifier": {"system": "urn:myelo-cds:assessment", "value": about.id("guidance")},
        "moduleUri": f"urn:myelo-cds:rule-set:{rule_set.id}:{rule_set.version}",
        "status": "success",
        "subject": _ref(about.patient),
        "occurrenceDateTime": about.on.isoformat(),
        "reasonCode": [
            _coding("urn:myelo-cds:pathway", rec.pathway, rec.headline),
            _coding("urn:myelo-cds:urgency", rec.urgency),
            *(_coding(RULE_SYSTEM, rule.id, f"{rule.title} (v{rule.version})") for rule in rec.rules_fired),
        ],
        "note": [
            {"text": rec.headline},
            *(_rule_note(rule) for rule in rec.rules_fired),
            {"text": rec.disclaimer},
        ],
        "result": _ref(about.id("careplan")),
    }
    return GuidanceResponse.model_validate(guidance)


def _midnight_utc(on: dt.date) -> str:
    return dt.datetime.combine(on, dt.time(0, 0), tzinfo=dt.UTC).isoformat()


def _provenance(about: _Assessment, targets: list[str]) -> Provenance:
    """Which rule set and follow-up protocol (versions and SHA-256) produced ``targets``."""
    rule_set = about.rec.rule_set
    plan = about.rec.follow_up
    provenance = {
        "resourceType": "Provenance",
        "target": [_ref(uid) for uid in targets],
        "recorded": _midnight_utc(about.on),
        "policy": [f"urn:myelo-cds:rule-set:{rule_set.id}:{rule_set.version}"],
        "agent": [
            {
                "type": _coding(
                    "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                    "assembler",
                    "Assembler",
                ),
                "who": {"display": f"myelo-cds {__version__} rule engine"},
            }
        ],
        "entity": [
            {
                "role": "source",
                "what": {
                    "identifier": {"system": "urn:myelo-cds:rule-set-sha256", "value": rule_set.sha256},
                    "display": f"Rule set {rule_set.id} {rule_set.version}",
                },
            },
            {
                "role": "source",
                "what": {
                    "identifier": {"system": "urn:myelo-cds:protocol-sha256", "value": plan.protocol_sha256},
                    "display": f"Follow-up protocol {plan.protocol_id} {plan.protocol_version}",
                },
            },
        ],
    }
    return Provenance.model_validate(provenance)


def assessment_bundle(findings: Findings, rec: Recommendation) -> Bundle:
    """The assessment as a validated FHIR R4B Bundle (see the module docstring)."""
    about = _Assessment(findings, rec, _assessment_key(findings, rec))
    entries: list[_Entry] = [(about.patient, _patient(findings))]
    response = _mjoa_response(about)
    if response is not None:
        entries.append((about.id("qr"), response))
    entries += _finding_observations(about)
    entries += _score_observations(about)
    entries += _feature_observations(about)
    entries += [
        (about.id("careplan"), _care_plan(about)),
        (about.id("referral"), _referral(about)),
        (about.id("guidance"), _guidance(about)),
    ]
    entries.append((about.id("provenance"), _provenance(about, [uid for uid, _ in entries])))
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": _midnight_utc(about.on),
            "entry": [{"fullUrl": f"urn:uuid:{uid}", "resource": resource} for uid, resource in entries],
        }
    )


@cache
def _spec_label(path: str) -> str | None:
    try:
        return field_spec(path).label
    except KeyError:
        return None


def bundle_json(findings: Findings, rec: Recommendation) -> str:
    """The Bundle as FHIR JSON text."""
    text: str = assessment_bundle(findings, rec).model_dump_json(indent=2)
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
                if identifier.system == "urn:myelo-cds:case-id":
                    put("case_id", identifier.value)
        elif isinstance(resource, QuestionnaireResponse) and resource.questionnaire == QUESTIONNAIRE_URL:
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
