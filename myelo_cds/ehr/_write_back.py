"""The write-back on request: the findings and the consult note created at the EHR."""

from __future__ import annotations

import time
from typing import Any

import httpx

from myelo_cds.ehr._record import EhrImport
from myelo_cds.exports.fhir import findings_from_bundle

__all__ = ["WriteBackError", "write_back", "write_back_resources"]

_TIMEOUT = httpx.Timeout(10.0)


class WriteBackError(Exception):
    """A write-back that did not happen (or only in part): the message says what was written."""


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
    """Create ``resources`` on the launch's FHIR server with its access token, one by one.

    Returns:
        The created resources' references (``Observation/<id>``), in order.

    Raises:
        WriteBackError: no grant or an expired one (launch again from the EHR), or a refused or
            failed request; the message says how many were written before it.
    """
    grant = launch.grant
    if grant is None or grant.expires_at <= time.time():
        raise WriteBackError(
            "The EHR's access for this launch has expired: open myelo-cds again from the EHR."
        )
    created: list[str] = []
    headers = {"Authorization": f"Bearer {grant.access_token}", "Content-Type": "application/fhir+json"}
    with httpx.Client(timeout=_TIMEOUT, follow_redirects=False) as client:
        for resource in resources:
            kind = resource["resourceType"]
            try:
                response = client.post(f"{launch.iss}/{kind}", json=resource, headers=headers)
            except httpx.HTTPError as error:
                raise WriteBackError(
                    f"The EHR's FHIR server did not answer ({type(error).__name__}); "
                    f"{len(created)} of {len(resources)} resources were written."
                ) from None
            try:
                body = response.json()
            except ValueError:
                body = None
            if response.status_code not in (200, 201) or not isinstance(body, dict) or not body.get("id"):
                raise WriteBackError(
                    f"The EHR refused a {kind} (HTTP {response.status_code}); "
                    f"{len(created)} of {len(resources)} resources were written."
                )
            created.append(f"{kind}/{body['id']}")
    return created
