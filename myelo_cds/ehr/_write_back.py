"""The write-back on request: the findings and the consult note created at the EHR."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import httpx

from myelo_cds.ehr._record import EhrImport
from myelo_cds.exports.fhir import findings_from_bundle

__all__ = ["WriteBackError", "write_back", "write_back_resources"]

_TIMEOUT = httpx.Timeout(10.0)


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


def write_back_resources(launch: EhrImport, bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """What a write-back sends: the finding Observations and the mJOA response (those the FHIR
    import reads as findings) and the consult note (DocumentReference) of an exported ``bundle``,
    each about the launch's patient, without ids or references the EHR cannot resolve."""
    read = findings_from_bundle(bundle)
    findings = {source.resource for source in read.sources.values()}
    chosen: list[dict[str, Any]] = []
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") or {}
        name = entry.get("fullUrl") or f"{resource.get('resourceType')}/{resource.get('id')}"
        if name in findings or resource.get("resourceType") == "DocumentReference":
            cleaned = _local_references_dropped(
                {k: v for k, v in resource.items() if k not in ("id", "subject")}
            )
            chosen.append({**cleaned, "subject": {"reference": f"Patient/{launch.patient}"}})
    return chosen


def write_back(launch: EhrImport, resources: list[dict[str, Any]]) -> list[str]:
    """Create ``resources`` on the launch's FHIR server with its access token, in one FHIR
    ``transaction`` (all or nothing: a refusal leaves nothing of the write-back at the EHR).

    Returns:
        The created resources' references (``Observation/<id>``), in order.

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
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
            for resource in resources
        ],
    }
    headers = {"Authorization": f"Bearer {grant.access_token}", "Content-Type": "application/fhir+json"}
    try:
        with httpx.Client(timeout=_TIMEOUT, follow_redirects=False) as client:
            response = client.post(launch.iss, json=transaction, headers=headers)
    except httpx.HTTPError as error:
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
    one per entry sent; ``None`` unless the server answered OK with every entry created."""
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
        if not isinstance(answer, dict) or not str(answer.get("status", "")).startswith("201"):
            return None
        found = _CREATED.search(str(answer.get("location", "")))
        if found is None:
            return None
        created.append(f"{found.group(1)}/{found.group(2)}")
    return created if len(created) == count else None
