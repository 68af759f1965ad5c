"""A CDS Hooks 2.0 ``patient-view`` service: the myelo-cds recommendation as one card.

The discovery endpoint (``GET /cds-services``) describes the service and the FHIR data it
asks the EHR to prefetch: the patient, the observations of entered findings (the codes our
FHIR export writes) and the mJOA QuestionnaireResponse. ``POST
/cds-services/myelo-cds-patient-view`` reads the findings back from the prefetch (the same
import as a FHIR bundle; the most recent assessment date wins), calls the engine and returns
one card: summary (at most 140 characters), indicator (critical for emergency, warning for
urgent and expedited, info for routine), detail with the rules that fired, their inputs and sources,
the source (rule-set version), a link to open the app (its configured public address,
``MYELO_CDS_APP_URL``, never the request's Host header; no link without it) and a suggestion:
the pathway as a ServiceRequest proposal with its priority. Every call but discovery needs a
signed token from a trusted CDS client, answers CORS preflights for the configured origins and
is audited (:mod:`myelo_cds.service._hook_security`); ``POST
/cds-services/myelo-cds-patient-view/feedback`` takes the clinician's feedback on a card
(:mod:`myelo_cds.service._hook_feedback`).

What counts, and missing data (:mod:`myelo_cds.service._prefetch`): the body and the number
of resources are capped (413), the reading and the assessment run in a worker thread, only
final/amended/corrected Observations count, a resource about another patient refuses the call
(400), the latest value per code wins and quantities are converted to the field's unit. A
prefetch key left out, failed (OperationOutcome) or paginated is fetched from ``fhirServer``
with ``fhirAuthorization`` (allow-listed servers only); when that is impossible the answer is
412, as the specification says. ``{"cards": []}`` means only that the record holds no DCM
findings; findings that cannot be assessed give a card saying so. Pure functions build the
responses; the Starlette routes are a thin shell that :mod:`asgi` mounts on ``st.App``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from myelo_cds.errors import HookRequestError, SettingsError
from myelo_cds.exports._fhir_codes import terminology
from myelo_cds.exports._fhir_resources import PATHWAY_SYSTEM
from myelo_cds.exports.fhir import QUESTIONNAIRE_URL, REQUEST_PRIORITY, findings_from_bundle
from myelo_cds.rules.engine import PATHWAY_LABELS, assess
from myelo_cds.rules.result import Recommendation
from myelo_cds.service._hook_feedback import feedback_endpoint
from myelo_cds.service._hook_security import current_trust, guarded
from myelo_cds.service._prefetch import (
    AppLink,
    HookLimits,
    HookRefusal,
    complete_prefetch,
    gather,
    hook_limits,
    in_worker,
    not_assessed_card,
    read_request,
    unavailable_keys,
    validation_problems,
)
from myelo_cds.service.smart import LAUNCH_PATH
from myelo_cds.settings import smart_settings

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
                    "findings": (
                        f"Observation?patient={{{{context.patientId}}}}&code={terminology().search_codes()}"
                    ),
                    "mjoa": (
                        "QuestionnaireResponse?subject=Patient/{{context.patientId}}"
                        f"&questionnaire={QUESTIONNAIRE_URL}"
                    ),
                },
            }
        ]
    }


@cache
def _prefetch_templates() -> Mapping[str, str]:
    """The prefetch templates by key: what the service needs (fetched when the EHR left it out).

    Built by the first call that needs them (then kept: the data files do not change while the
    server runs), never at import: the query names the mapped codes from
    ``data/fhir/terminology.csv``, and a server whose data cannot be read must still start and
    report it on ``/readyz`` (the warm-up), not fail to import."""
    return MappingProxyType(discovery()["services"][0]["prefetch"])


def _referral_suggestion(rec: Recommendation, patient_id: str) -> dict[str, Any]:
    """The pathway as a ServiceRequest proposal the clinician may accept into the EHR.

    ``priority`` is from the FHIR R4 RequestPriority value set
    (http://hl7.org/fhir/R4/valueset-request-priority.html: routine | urgent | asap | stat), one
    step per urgency tier as in the FHIR export: emergency -> stat, urgent -> asap, expedited ->
    urgent, routine -> routine. ``status`` is ``draft``: nothing is ordered until a clinician
    completes and signs it in the EHR.
    """
    priority = REQUEST_PRIORITY[rec.urgency]
    label = PATHWAY_LABELS[rec.pathway]
    provisional = " (provisional)" if rec.provisional else ""
    notes = [f"myelo-cds decision support, urgency {rec.urgency}: {rec.headline}"]
    if rec.provisional:
        notes.append("Provisional: the answer changes once the open questions are answered.")
    return {
        "label": f"Propose: {label}, priority {priority}{provisional}",
        "uuid": str(uuid.uuid4()),
        "actions": [
            {
                "type": "create",
                "description": f"Propose {label} (priority {priority}); the clinician decides.",
                "resource": {
                    "resourceType": "ServiceRequest",
                    "status": "draft",
                    "intent": "proposal",
                    "priority": priority,
                    "code": {
                        "coding": [{"system": PATHWAY_SYSTEM, "code": rec.pathway, "display": label}],
                        "text": label,
                    },
                    "subject": {"reference": f"Patient/{patient_id}"},
                    "authoredOn": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "note": [{"text": text} for text in notes],
                },
            }
        ],
    }


def card_for(
    rec: Recommendation, consult: AppLink | str | None, patient_id: str | None = None
) -> dict[str, Any]:
    """One CDS Hooks card for a recommendation.

    An incomplete assessment (an input every pathway needs, such as the age, is missing) is never
    summarised as a pathway: below emergency and urgent its summary says what to enter; an
    emergency or urgent answer keeps its urgency, marked provisional. With ``patient_id`` a card
    that gives a pathway carries it as a suggestion (a ServiceRequest proposal); with no
    ``consult`` (no configured app address) the card has no link and says so; a plain URL is an
    ``absolute`` link.
    """
    consult = AppLink(consult) if isinstance(consult, str) else consult
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
    if consult is None:
        lines += ["", "No link to myelo-cds: its public address is not configured."]
    lines += ["", rec.disclaimer]
    card: dict[str, Any] = {
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
    }
    if consult is not None:
        card["links"] = [consult.link("Open the consult in myelo-cds")]
    gives_pathway = not (rec.incomplete and rec.urgency in ("expedited", "routine"))
    if patient_id is not None and gives_pathway:
        card["suggestions"] = [_referral_suggestion(rec, patient_id)]
        card["selectionBehavior"] = "at-most-one"
    return card


def service_response(
    request: Any, consult: AppLink | None, limits: HookLimits | None = None
) -> dict[str, Any]:
    """The response to a ``patient-view`` call: one card; no cards only when the record holds no
    DCM findings at all; a "not assessed" card when it holds findings that cannot be used.

    Raises:
        HookRequestError: the body is not a patient-view request (hook, hookInstance, context).
        HookRefusal: 412 when a prefetch key is left out, failed or has more pages (the route
            fetches those first when it can); 400 for a resource about another patient; 413
            past the resource limit.
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
    missing = unavailable_keys(prefetch, _prefetch_templates())
    if missing:
        reasons = "; ".join(f"{key}: {reason}" for key, reason in missing.items())
        raise HookRefusal(412, f"required data is missing ({reasons})", "not-found")
    gathered = gather(prefetch, context["patientId"], limits or hook_limits())
    notes = gathered.notes()
    chosen = gathered.resources
    if not any(r.get("resourceType") == "Observation" for r in chosen):
        if not gathered.observations_seen:
            return {"cards": []}  # the record holds no DCM findings: nothing to say
        summary = "DCM: not assessed - no final DCM findings in the record"
        return {"cards": [not_assessed_card(summary, notes, consult)]}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in chosen]}
    try:
        imported = findings_from_bundle(bundle, strict=True)
    except ValidationError as error:
        problems = validation_problems(error)
        summary = "DCM: not assessed - findings in the record are out of range or inconsistent"
        return {"cards": [not_assessed_card(summary, problems + notes, consult)]}
    except ValueError:
        summary = "DCM: not assessed - the findings in the record could not be read"
        return {"cards": [not_assessed_card(summary, notes, consult)]}
    for item in imported.not_understood:  # e.g. a narrower code's absence: reported, not read
        gathered.ignore(f"{item.code}: {item.reason}")
    notes = gathered.notes()
    card = card_for(assess(imported.findings), consult, context["patientId"])
    if notes:
        card["detail"] += "\n\nNot counted from the EHR record: " + "; ".join(notes) + "."
    return {"cards": [card]}


def _consult_link() -> AppLink | None:
    """The card's link, from the app's configured public address, or ``None``: never from the
    request's Host header, which a caller chooses (a forged Host would point the clinician's link
    elsewhere). With the EHR launch configured (``MYELO_CDS_SMART_*``) it is a ``smart`` link to
    the launch URL, so the consult opens with the patient in context and the EHR's record
    imported; otherwise the consult page."""
    base = current_trust().settings.app_url
    if base is None:
        return None
    try:
        smart = smart_settings()
    except SettingsError:  # a wrong launch setting: the plain link still works
        smart = None
    if smart is not None and smart.enabled:
        return AppLink(base.rstrip("/") + LAUNCH_PATH, "smart")
    return AppLink(base.rstrip("/") + "/")


async def _discovery(request: Request) -> JSONResponse:
    return JSONResponse(discovery())


async def _service(request: Request) -> JSONResponse:
    # The body is read in chunks up to a limit; parsing, fetching and assessing never run on the
    # event loop's thread for long (health and pages stay fast during the largest call).
    try:
        limits = hook_limits()
        body = await read_request(request, limits)
    except SettingsError as error:
        return JSONResponse({"error": f"the service is not configured: {error}"}, status_code=503)
    except HookRefusal as refusal:
        return JSONResponse(refusal.body(), status_code=refusal.status)
    except ValueError as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    context = body.get("context") if isinstance(body, dict) else None
    request.state.patient_id = context.get("patientId") if isinstance(context, dict) else None  # audit
    try:
        body = await complete_prefetch(body, _prefetch_templates(), limits)
        return JSONResponse(await in_worker(limits, service_response, body, _consult_link(), limits))
    except HookRefusal as refusal:
        return JSONResponse(refusal.body(), status_code=refusal.status)
    except HookRequestError as error:
        return JSONResponse({"error": str(error)}, status_code=400)


def routes() -> list[Route]:
    """The Starlette routes of the service (mount them on ``st.App(..., routes=...)``).

    Discovery stays open (no patient data); the service and its feedback need a token whose
    ``aud`` is the endpoint's URL (feedback also accepts the service's own), and are audited.
    """
    service = f"/cds-services/{SERVICE_ID}"
    return [
        Route("/cds-services", guarded(_discovery, paths=None, methods=("GET",)), methods=["GET", "OPTIONS"]),
        Route(service, guarded(_service, paths=(service,)), methods=["POST", "OPTIONS"]),
        Route(
            f"{service}/feedback",
            guarded(feedback_endpoint, paths=(f"{service}/feedback", service), action="cds_hook_feedback"),
            methods=["POST", "OPTIONS"],
        ),
    ]
