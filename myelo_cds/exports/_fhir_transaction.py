"""The export as a FHIR ``transaction`` Bundle, for writing to a server in one all-or-nothing call.

The same resources as the ``collection`` Bundle, each entry with a ``request`` (R4 http.html
"transaction", Bundle.entry.request). References between them stay ``urn:uuid:`` full URLs,
which the server replaces with the ids it assigns, all in one transaction.

* Shared resources are created only when the server does not hold them yet (conditional create,
  ``ifNoneExist``): the Patient by its case-id identifier, the software Device and the
  clinician's Practitioner by identifier, the rule-set Library by canonical ``url`` and
  ``version``. A Patient without a case id is a new Patient (nothing says it is one already
  held).
* The assessment's own resources: with a case id their ids are derived from the assessment
  (see ``fhir._assessment_key``), so they are written with ``PUT`` to those ids (update as
  create): sending the same assessment twice leaves one copy. Without a case id every export
  is new (``POST``).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

__all__ = ["artifacts_transaction", "as_transaction"]

_CANONICAL = ("Library", "Questionnaire", "CodeSystem")
"""Knowledge artifacts: one per canonical url and version, found by them."""


def _encoded(value: str) -> str:
    """A search parameter value: FHIR's escapes first (``\\``, ``|``, ``,`` and ``$`` get a
    backslash, R4 search.html "Escaping Search Parameters"), then percent-encoded for the URL
    (a clinician id may hold a space or ``&``)."""
    for special in ("\\", "|", ",", "$"):
        value = value.replace(special, "\\" + special)
    return quote(value, safe=":/")


def _search(identifier: dict[str, Any]) -> str:
    return f"identifier={_encoded(identifier['system'])}|{_encoded(identifier['value'])}"


def _condition(resource: dict[str, Any]) -> str | None:
    """The search that finds a shared resource the server may hold already, else ``None``."""
    kind = resource["resourceType"]
    if kind in _CANONICAL:
        return f"url={_encoded(resource['url'])}&version={_encoded(resource['version'])}"
    identifiers = resource.get("identifier") or []
    if kind in ("Patient", "Device", "Practitioner") and identifiers:
        return _search(identifiers[0])
    return None


def as_transaction(collection: dict[str, Any], *, repeatable: bool) -> dict[str, Any]:
    """``collection`` (a collection Bundle as JSON) as a transaction Bundle.

    Args:
        collection: the export, ``type`` ``collection``, every ``fullUrl`` a ``urn:uuid:``.
        repeatable: whether the ids are derived from the assessment (a case id was given): then
            the assessment's resources are written with ``PUT`` to those ids.
    """
    entries = []
    for entry in collection["entry"]:
        resource = dict(entry["resource"])
        kind = resource["resourceType"]
        uid = entry["fullUrl"].removeprefix("urn:uuid:")
        condition = _condition(resource)
        if condition is not None:
            request = {"method": "POST", "url": kind, "ifNoneExist": condition}
        elif repeatable:
            resource["id"] = uid
            request = {"method": "PUT", "url": f"{kind}/{uid}"}
        else:
            request = {"method": "POST", "url": kind}
        entries.append({"fullUrl": entry["fullUrl"], "resource": resource, "request": request})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "transaction"}
    if collection.get("timestamp"):
        bundle["timestamp"] = collection["timestamp"]
    bundle["entry"] = entries
    return bundle


def artifacts_transaction() -> dict[str, Any]:
    """The knowledge an EHR needs to read our exports, as a transaction Bundle to load once: the
    mJOA Questionnaire, the rule set's Library and our CodeSystems (built from the data files,
    plus any CodeSystem shipped in ``data/fhir``), each created only if the server lacks that
    url and version."""
    from myelo_cds.exports._fhir_knowledge import (
        code_systems,
        mjoa_questionnaire,
        rule_set_library,
        shipped_code_systems,
    )

    resources = [mjoa_questionnaire(), rule_set_library(), *code_systems(), *shipped_code_systems()]
    entries = []
    for resource in resources:
        sent = {key: value for key, value in resource.items() if key != "id"}  # the server names it
        kind = sent["resourceType"]
        uid = uuid.uuid5(uuid.NAMESPACE_URL, f"{sent['url']}|{sent['version']}")
        condition = _condition(sent)
        request = {"method": "POST", "url": kind, **({"ifNoneExist": condition} if condition else {})}
        entries.append({"fullUrl": f"urn:uuid:{uid}", "resource": sent, "request": request})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
