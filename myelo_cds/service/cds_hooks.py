"""A CDS Hooks 2.0 ``patient-view`` service: the myelo-cds recommendation as one card.

The discovery endpoint (``GET /cds-services``) describes the service and the FHIR data it
asks the EHR to prefetch: the patient, the observations of entered findings (the codes our
FHIR export writes) and the mJOA QuestionnaireResponse. ``POST
/cds-services/myelo-cds-patient-view`` reads the findings back from the prefetch (the same
import as a FHIR bundle; the most recent assessment date wins), calls the engine and returns
one card: summary (at most 140 characters), indicator (critical for emergency, warning for
urgent and expedited, info for routine), detail with the rules that fired, their inputs and sources,
the source (rule-set version) and a link to open the consult.

Missing prefetch: the specification lets a service fetch what it needs from the FHIR server
(with ``fhirServer`` and ``fhirAuthorization``) or decline. This service never calls out: with
no usable prefetch it answers ``{"cards": []}`` (HTTP 200), which the specification allows, so
an EHR never waits on a second round trip. Pure functions build the responses; the Starlette
routes are a thin shell that :mod:`asgi` mounts on ``st.App``.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from myelo_cds.errors import HookRequestError
from myelo_cds.exports.fhir import FINDING_SYSTEM, QUESTIONNAIRE_URL, findings_from_bundle
from myelo_cds.rules.engine import PATHWAY_LABELS, assess
from myelo_cds.rules.result import Recommendation

__all__ = ["SERVICE_ID", "card_for", "discovery", "routes", "service_response"]

SERVICE_ID = "myelo-cds-patient-view"
# CDS Hooks has three indicators for our four tiers. "critical" stays for emergencies only (act
# now; EHRs show it in red and may interrupt), so an urgent answer (seen within days) is
# "warning" like an expedited one, and its summary says URGENT in words: an EHR never shows a
# days-not-weeks answer as informational, nor an emergency-coloured card that is not one.
_INDICATOR = {"emergency": "critical", "urgent": "warning", "expedited": "warning", "routine": "info"}
_SUMMARY_MAX = 140


def discovery() -> dict[str, Any]:
    """The discovery document (``GET /cds-services``)."""
    return {
        "services": [
            {
                "hook": "patient-view",
                "id": SERVICE_ID,
                "title": "myelo-cds: degenerative cervical myelopathy pathway",
                "description": (
                    "The guideline pathway and urgency for the patient's most recent DCM assessment, "
                    "with every rule that fired and its source. Decision support: the clinician decides."
                ),
                "prefetch": {
                    "patient": "Patient/{{context.patientId}}",
                    "findings": f"Observation?patient={{{{context.patientId}}}}&code={FINDING_SYSTEM}|",
                    "mjoa": (
                        "QuestionnaireResponse?subject=Patient/{{context.patientId}}"
                        f"&questionnaire={QUESTIONNAIRE_URL}"
                    ),
                },
            }
        ]
    }


def _resources(value: Any) -> list[dict[str, Any]]:
    """The resources in one prefetch value: a resource, or a search Bundle of them."""
    if not isinstance(value, dict):
        return []
    if value.get("resourceType") == "Bundle":
        return [
            entry["resource"] for entry in value.get("entry") or [] if isinstance(entry.get("resource"), dict)
        ]
    return [value] if "resourceType" in value else []


def _latest_assessment(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The patient, and the findings and mJOA of the most recent assessment date only."""

    def day(resource: dict[str, Any]) -> str:
        return str(resource.get("effectiveDateTime") or resource.get("authored") or "")[:10]

    dated = [r for r in resources if r.get("resourceType") in ("Observation", "QuestionnaireResponse")]
    latest = max((day(r) for r in dated), default="")
    return [r for r in resources if r.get("resourceType") == "Patient" or (r in dated and day(r) == latest)]


def card_for(rec: Recommendation, consult_url: str) -> dict[str, Any]:
    """One CDS Hooks card for a recommendation.

    An incomplete assessment (an input every pathway needs, such as the age, is missing) is never
    summarised as a pathway: below emergency and urgent its summary says what to enter; an
    emergency or urgent answer keeps its urgency, marked provisional.
    """
    rule_set = rec.rule_set
    provisional = "PROVISIONAL " if rec.provisional or rec.incomplete else ""
    summary = f"DCM: {PATHWAY_LABELS[rec.pathway]} ({provisional}{rec.urgency.upper()})"
    deciding = next((rule for rule in rec.rules_fired if rule.kind == "pathway"), None)
    if rec.incomplete and rec.urgency in ("expedited", "routine"):
        summary = f"DCM: incomplete - enter {', '.join(rec.incomplete)} to get a pathway"
    elif deciding is not None and len(summary) + len(deciding.title) + 3 <= _SUMMARY_MAX:
        summary += f" - {deciding.title}"
    lines = [f"**{rec.headline}**", ""]
    if rec.incomplete:
        lines += ["**Incomplete** - enter: " + ", ".join(rec.incomplete), ""]
    if rec.to_confirm:
        lines += [
            "**Provisional - ask, most dangerous first:** "
            + "; ".join(f"{item.input} ({item.urgency_if_positive} if positive)" for item in rec.to_confirm),
            "",
        ]
    if rec.warnings:
        lines += ["Check: " + "; ".join(warning.message for warning in rec.warnings), ""]
    lines.append("Basis (rules fired):")
    for rule in rec.rules_fired:
        inputs = ", ".join(f"{name}={value}" for name, value in rule.inputs.items())
        lines.append(
            f"- {rule.kind} **{rule.id}** v{rule.version}: {rule.title} (inputs: {inputs}). "
            f"Source: {rule.citation}; strength {rule.strength}, evidence {rule.evidence}."
        )
    if rec.flags:
        lines += ["", "Flags: " + "; ".join(flag.text for flag in rec.flags)]
    if rec.unknowns:
        lines += [
            "",
            "Not examined, and would change the answer: " + "; ".join(u.input for u in rec.unknowns),
        ]
    lines += ["", rec.disclaimer]
    return {
        "uuid": str(uuid.uuid4()),
        "summary": summary[:_SUMMARY_MAX],
        "indicator": _INDICATOR[rec.urgency],
        "detail": "\n".join(lines),
        "source": {
            "label": f"myelo-cds rule set {rule_set.id} {rule_set.version} (sha256 {rule_set.sha256[:12]})",
            "topic": {
                "system": "urn:myelo-cds:topic",
                "code": "dcm",
                "display": "Degenerative cervical myelopathy",
            },
        },
        "links": [{"label": "Open the consult in myelo-cds", "url": consult_url, "type": "absolute"}],
    }


def service_response(request: Any, consult_url: str) -> dict[str, Any]:
    """The response to a ``patient-view`` call: one card, or no cards without usable prefetch.

    Raises:
        HookRequestError: the body is not a patient-view request (hook, hookInstance, context).
    """
    if not isinstance(request, dict):
        raise HookRequestError("the request body must be a JSON object")
    if request.get("hook") != "patient-view":
        raise HookRequestError(f"this service answers the patient-view hook, not {request.get('hook')!r}")
    if not isinstance(request.get("hookInstance"), str):
        raise HookRequestError("hookInstance (a string) is required")
    context = request.get("context")
    if not isinstance(context, dict) or not isinstance(context.get("patientId"), str):
        raise HookRequestError("context.patientId (a string) is required")
    prefetch = request.get("prefetch")
    if not isinstance(prefetch, dict):
        return {"cards": []}
    resources = [resource for value in prefetch.values() for resource in _resources(value)]
    chosen = _latest_assessment(resources)
    if not any(r.get("resourceType") == "Observation" for r in chosen):
        return {"cards": []}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in chosen]}
    try:
        findings = findings_from_bundle(json.dumps(bundle))
    except (ValidationError, ValueError):
        return {"cards": []}  # incomplete findings (e.g. no age): no card rather than a wrong one
    return {"cards": [card_for(assess(findings), consult_url)]}


def _consult_url(request: Request) -> str:
    base = os.environ.get("MYELO_CDS_APP_URL") or str(request.base_url)
    return base.rstrip("/") + "/"


async def _discovery(request: Request) -> JSONResponse:
    return JSONResponse(discovery())


async def _service(request: Request) -> JSONResponse:
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"error": "the request body is not JSON"}, status_code=400)
    try:
        return JSONResponse(service_response(body, _consult_url(request)))
    except HookRequestError as error:
        return JSONResponse({"error": str(error)}, status_code=400)


def routes() -> list[Route]:
    """The Starlette routes of the service (mount them on ``st.App(..., routes=...)``)."""
    return [
        Route("/cds-services", _discovery, methods=["GET"]),
        Route(f"/cds-services/{SERVICE_ID}", _service, methods=["POST"]),
    ]
