"""Validate FHIR JSON against R4 4.0.1: the official schema plus its required bindings.

``tests/data/fhir/fhir.schema.json.gz`` is HL7's ``fhir.schema.json`` for R4 4.0.1, byte for
byte (its SHA-256 is checked on load; see ``tests/data/fhir/SOURCE.md``). That schema enumerates
a required binding only when the value set is a whole code system, so ``CarePlan.intent: "foo"``
passes it; the 93 other required bindings on ``code`` elements, expanded from the official 4.0.1
definitions into ``r4-required-bindings.json``, are added to it here as ``enum``. No network:
everything is read from the files.

Each resource (the Bundle and every resource inside it) is validated against its own
definition: the schema's ``ResourceList`` (a ``oneOf`` over all 146 resource types, slow and
with unreadable errors) is replaced by a dispatch on ``resourceType``, which is what its
``discriminator`` says.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft6Validator  # type: ignore[import-untyped]  # no stubs in the lock

DATA = Path(__file__).resolve().parent / "data" / "fhir"
SCHEMA_SHA256 = "2230406893b4cf002a4ee1e5e2bbeca22ac5d2d4931b3e9ef7b9594bbc376a01"
SCHEMA_ID = "http://hl7.org/fhir/json-schema/4.0"


@cache
def official_schema() -> dict[str, Any]:
    """HL7's R4 4.0.1 ``fhir.schema.json``, unchanged (its SHA-256 checked)."""
    raw = gzip.decompress((DATA / "fhir.schema.json.gz").read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SCHEMA_SHA256:
        raise RuntimeError(f"fhir.schema.json.gz holds SHA-256 {digest}, not the R4 4.0.1 {SCHEMA_SHA256}")
    schema: dict[str, Any] = json.loads(raw)
    return schema


@cache
def required_bindings() -> list[dict[str, Any]]:
    """The required bindings the schema leaves as plain ``code``, with their codes."""
    data: dict[str, Any] = json.loads((DATA / "r4-required-bindings.json").read_text("utf-8"))
    bindings: list[dict[str, Any]] = data["bindings"]
    return bindings


@cache
def _schema_with_bindings() -> dict[str, Any]:
    schema = copy.deepcopy(official_schema())
    definitions = schema["definitions"]
    for binding in required_bindings():
        props = definitions[binding["definition"]]["properties"]
        prop = props[binding["property"]]
        # Draft 6 ignores keywords beside "$ref": wrap the reference so the enum counts.
        if prop.get("type") == "array":
            prop["items"] = {"allOf": [prop["items"]], "enum": binding["codes"]}
        else:
            props[binding["property"]] = {
                "description": prop.get("description", ""),
                "allOf": [{"$ref": prop["$ref"]}],
                "enum": binding["codes"],
            }
    # Resources inside resources are validated one by one against their own definition.
    definitions["ResourceList"] = {"type": "object", "required": ["resourceType"]}
    return schema


@cache
def _validator(resource_type: str) -> Draft6Validator:
    schema = _schema_with_bindings()
    return Draft6Validator(
        {"id": SCHEMA_ID, "$ref": f"#/definitions/{resource_type}", "definitions": schema["definitions"]}
    )


def _resources(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every resource in ``node`` (itself included), with where it is; in FHIR JSON only a
    resource has a ``resourceType``."""
    if isinstance(node, dict):
        if isinstance(node.get("resourceType"), str):
            yield where, node
        for key, value in node.items():
            yield from _resources(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _resources(value, f"{where}[{index}]")


def r4_errors(resource: dict[str, Any]) -> list[str]:
    """Every way ``resource`` (and each resource inside it) breaks R4 4.0.1, as
    ``where.path: message`` lines; empty when it is valid."""
    errors: list[str] = []
    known = official_schema()["discriminator"]["mapping"]
    for where, found in _resources(resource, "$"):
        kind = found["resourceType"]
        if kind not in known:
            errors.append(f"{where}: resourceType {kind!r} is not an R4 4.0.1 resource")
            continue
        for error in sorted(_validator(kind).iter_errors(found), key=lambda e: list(e.absolute_path)):
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
            errors.append(f"{where}{path} ({kind}): {error.message}")
    return errors
