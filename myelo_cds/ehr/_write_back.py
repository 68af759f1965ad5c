"""The write-back on request: the findings and the consult note created at the EHR.

One FHIR ``transaction`` (all or nothing). Every resource of one write-back carries the same
identifier of ours (``https://myelo-cds.org/fhir/sid/ehr-write-back``): a SHA-256 digest of
the FHIR server, the patient and the content of every resource written (the note's creation
instant left out), so the same consult gives the same identifier however often it is sent.

* Before writing, the app searches the consult note (DocumentReference) by that identifier:
  when the EHR holds it, the consult is there already (one transaction: all of it or none),
  nothing is sent, and the references held are returned (a retry after a lost answer, a second
  click, a second tab).
* In the transaction the consult note is a conditional create (``ifNoneExist`` on the
  identifier, R4 http.html "Conditional create"), so two write-backs racing past the search
  still leave one note; the findings are plain creates (a conditional create per finding costs
  the EHR one search each, about 100 per consult).

A finding changed since an earlier write-back changes the identifier: the new consult is
written beside the old one (the newest counts when read back). The clinician named by the
launch's verified ``fhirUser`` is the Observations' ``performer`` and the response's and note's
``author``. The Patient is the EHR's and is never written.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import quote

import httpx

from myelo_cds.ehr._record import EhrImport
from myelo_cds.exports._fhir_canonical import identifier_system
from myelo_cds.exports.fhir import findings_from_bundle

__all__ = ["WriteBackError", "write_back", "write_back_resources"]

_TIMEOUT = httpx.Timeout(10.0)
#: The identifier system of every resource a write-back creates.
WRITE_BACK_SYSTEM = identifier_system("ehr-write-back")
#: Values that differ between two exports of the same consult (the note's creation instant).
_VOLATILE = {"DocumentReference": ("date",)}
_WRITTEN_TYPES = ("Observation", "QuestionnaireResponse", "DocumentReference")


class WriteBackError(Exception):
    """A write-back that did not happen: the message says why (nothing was written)."""


def _local_references_dropped(value: Any) -> Any:
    """The resource without references into its export bundle (``urn:uuid:``): the EHR cannot
    resolve them. A reference with a display keeps the display."""
    if isinstance(value, list):
        items = [_local_references_dropped(item) for item in value]
        return [item for item in items if item not in (None, {}, [])]
    if not isinstance(value, dict):
        return value
    reference = value.get("reference")
    if isinstance(reference, str) and reference.startswith("urn:uuid:"):
        return {"display": value["display"]} if value.get("display") else None
    out = {key: _local_references_dropped(item) for key, item in value.items()}
    return {key: item for key, item in out.items() if item not in (None, {}, [])}


def _content(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource without what changes between two exports of one consult."""
    volatile = _VOLATILE.get(str(resource.get("resourceType")), ())
    kept = {key: value for key, value in resource.items() if key not in volatile}
    if kept.get("resourceType") == "DocumentReference":
        kept["content"] = [
            {**item, "attachment": {k: v for k, v in item.get("attachment", {}).items() if k != "creation"}}
            for item in kept.get("content") or []
            if isinstance(item, dict)
        ]
    return kept


def _digest(value: Any) -> str:
    return hashlib.sha256(
        json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")
    ).hexdigest()


def _identified(resources: list[dict[str, Any]], iss: str) -> list[dict[str, Any]]:
    """The resources with the write-back identifier of the consult they make up (a digest of
    the server and every resource's content, in no particular order)."""
    consult = _digest([iss, sorted(_digest(_content(resource)) for resource in resources)])
    identifier = {"system": WRITE_BACK_SYSTEM, "value": consult}
    return [
        {**resource, "identifier": identifier}
        if resource["resourceType"] == "QuestionnaireResponse"  # 0..1 there, a list elsewhere
        else {**resource, "identifier": [identifier]}
        for resource in resources
    ]


def _by_clinician(resource: dict[str, Any], fhir_user: str | None) -> dict[str, Any]:
    if fhir_user is None:
        return resource
    who = {"reference": fhir_user}
    kind = resource["resourceType"]
    if kind == "Observation":
        return {**resource, "performer": [who]}
    if kind == "QuestionnaireResponse":
        return {**resource, "author": who}
    return {**resource, "author": [who, *(resource.get("author") or [])]}


def write_back_resources(launch: EhrImport, bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """What a write-back sends: the finding Observations and the mJOA response (those the FHIR
    import reads as findings) and the consult note (DocumentReference) of an exported ``bundle``,
    each about the launch's patient, without ids or references the EHR cannot resolve, authored
    by the launch's ``fhirUser`` when the EHR named one, each with its write-back identifier."""
    read = findings_from_bundle(bundle)
    findings = {source.resource for source in read.sources.values()}
    chosen: list[dict[str, Any]] = []
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") or {}
        name = entry.get("fullUrl") or f"{resource.get('resourceType')}/{resource.get('id')}"
        kind = resource.get("resourceType")
        if kind in _WRITTEN_TYPES and (name in findings or kind == "DocumentReference"):
            cleaned = _local_references_dropped(
                {k: v for k, v in resource.items() if k not in ("id", "subject", "identifier")}
            )
            about = {**cleaned, "subject": {"reference": f"Patient/{launch.patient}"}}
            chosen.append(_by_clinician(about, launch.fhir_user))
    return _identified(chosen, launch.iss)


def _consult_search(resource: dict[str, Any]) -> str | None:
    """The search for the resource's write-back identifier (``identifier=system|value``)."""
    identifiers = resource.get("identifier")
    found = identifiers if isinstance(identifiers, list) else [identifiers]
    for identifier in found:
        if isinstance(identifier, dict) and identifier.get("system") == WRITE_BACK_SYSTEM:
            return f"identifier={quote(WRITE_BACK_SYSTEM, safe=':/')}|{quote(str(identifier['value']))}"
    return None


def _held(
    client: httpx.Client, launch: EhrImport, headers: dict[str, str], resources: list[dict[str, Any]]
) -> list[str] | None:
    """The references of this consult's resources when the EHR holds its note already, else
    ``None`` (the note is searched first; the other kinds only when it is there)."""
    anchor = next((r for r in resources if r["resourceType"] == "DocumentReference"), None)
    search = _consult_search(anchor) if anchor is not None else None
    if search is None:
        return None
    patient = f"patient={quote(f'Patient/{launch.patient}', safe='/')}"

    def found(kind: str) -> list[str]:
        response = client.get(f"{launch.iss}/{kind}?{patient}&{search}&_count=500", headers=headers)
        if response.status_code != httpx.codes.OK:
            raise WriteBackError(
                f"The EHR refused the search for an earlier write-back of this consult (HTTP "
                f"{response.status_code}); nothing was written."
            )
        body = response.json()
        entries = body.get("entry") if isinstance(body, dict) else None
        return [
            f"{kind}/{entry['resource']['id']}"
            for entry in entries or []
            if isinstance(entry, dict)
            and isinstance(entry.get("resource"), dict)
            and entry["resource"].get("id")
        ]

    notes = found("DocumentReference")
    if not notes:
        return None
    kinds = dict.fromkeys(r["resourceType"] for r in resources if r["resourceType"] != "DocumentReference")
    return [ref for kind in kinds for ref in found(kind)] + notes


def write_back(launch: EhrImport, resources: list[dict[str, Any]]) -> list[str]:
    """Create ``resources`` on the launch's FHIR server with its access token, in one FHIR
    ``transaction`` (all or nothing: a refusal leaves nothing of the write-back at the EHR),
    each only if the server holds none with its write-back identifier.

    Returns:
        The resources' references (``Observation/<id>``), in order: created now, or held
        already from an earlier write-back of the same consult.

    Raises:
        WriteBackError: no grant or an expired one (launch again from the EHR), or a refused or
            failed transaction; the message says that nothing was written.
    """
    grant = launch.grant
    if grant is None or grant.expires_at <= time.time():
        raise WriteBackError(
            "The EHR's access for this launch has expired: open myelo-cds again from the EHR."
        )
    transaction = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]}
                | (
                    {"ifNoneExist": search}
                    if resource["resourceType"] == "DocumentReference"
                    and (search := _consult_search(resource))
                    else {}
                ),
            }
            for resource in resources
        ],
    }
    headers = {"Authorization": f"Bearer {grant.access_token}", "Accept": "application/fhir+json"}
    try:
        with httpx.Client(timeout=_TIMEOUT, follow_redirects=False) as client:
            held = _held(client, launch, headers, resources)
            if held is not None:
                return held
            response = client.post(
                launch.iss, json=transaction, headers={**headers, "Content-Type": "application/fhir+json"}
            )
    except (httpx.HTTPError, ValueError) as error:
        raise WriteBackError(
            f"The EHR's FHIR server did not answer ({type(error).__name__}); nothing was written "
            "(one transaction: all or nothing)."
        ) from None
    created = _created(response, len(resources))
    if created is None:
        raise WriteBackError(
            f"The EHR refused the write-back (HTTP {response.status_code}); nothing was written "
            "(one transaction: all or nothing)."
        )
    return created


_CREATED = re.compile(r"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def _created(response: httpx.Response, count: int) -> list[str] | None:
    """The references a ``transaction-response`` names (``location``, relative or absolute),
    one per entry sent; ``None`` unless the server answered OK with every entry created (201)
    or found already held (200, a conditional create that matched)."""
    try:
        body = response.json()
    except ValueError:
        return None
    if response.status_code != httpx.codes.OK or not isinstance(body, dict):
        return None
    if body.get("type") != "transaction-response":
        return None
    created: list[str] = []
    for entry in body.get("entry") or []:
        answer = entry.get("response") if isinstance(entry, dict) else None
        if not isinstance(answer, dict) or not str(answer.get("status", "")).startswith(("200", "201")):
            return None
        found = _CREATED.search(str(answer.get("location", "")))
        if found is None:
            return None
        created.append(f"{found.group(1)}/{found.group(2)}")
    return created if len(created) == count else None
