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

from fhirpathpy import compile as compile_path
from fhirpathpy.models import models
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
    return errors + invariant_errors(resource)


# --- invariants (FHIRPath constraints) ---------------------------------------------------------

_R4_MODEL = models["r4"]


@cache
def invariants() -> dict[str, dict[str, dict[str, Any]]]:
    """Per type (resource or complex data type), per element path: the element's types, its
    ``contentReference`` and its error-level invariants (``r4-invariants.json.gz``)."""
    data = json.loads(gzip.decompress((DATA / "r4-invariants.json.gz").read_bytes()))
    types: dict[str, dict[str, dict[str, Any]]] = data["types"]
    return types


def _child(elements: dict[str, dict[str, Any]], path: str, key: str) -> tuple[str, str | None] | None:
    """The element path of JSON property ``key`` under ``path`` and the type it holds there
    (``valueQuantity`` -> ``Observation.value[x]``, ``Quantity``); ``None`` when not an element."""
    if f"{path}.{key}" in elements:
        element = elements[f"{path}.{key}"]
        types = element["types"]
        return f"{path}.{key}", types[0] if len(types) == 1 else None
    for name, element in elements.items():
        prefix = name.removesuffix("[x]")
        if name.endswith("[x]") and name.startswith(f"{path}.") and "." not in name[len(path) + 1 :]:
            suffix = key.removeprefix(prefix[len(path) + 1 :])
            if suffix != key and suffix[:1].isupper():
                kind = next((t for t in element["types"] if t[:1].upper() + t[1:] == suffix), None)
                if kind is not None:
                    return name, kind
    return None


_OPTIONS = {"traceFn": lambda *_: None}  # dom-3's trace() stays quiet


def _holds(key: str, expression: str, node: dict[str, Any], resource: dict[str, Any]) -> bool:
    """Whether invariant ``key`` holds on the complex element ``node``.

    fhirpathpy has no ``hasValue()``. ``ele-1`` (``hasValue() or (children().count() >
    id.count())``) is asked here of complex elements only, for which ``hasValue()`` is false, so
    it says "a child besides ``id``", checked directly (fhirpathpy cannot list the children of an
    element handed to it without its type). Elsewhere ``hasValue()`` is asked of primitives,
    which in this JSON always carry their value, so ``exists()`` answers the same. An empty
    result holds: R4's ``ref-1`` is empty for a Reference that has no ``reference`` (only an
    identifier or a display), which the specification allows (R5 wrote ``reference.exists()
    implies`` in front to say so). Each resource is its own ``%rootResource`` (nothing here is
    contained).
    """
    if key == "ele-1":
        return any(name != "id" for name in node)
    if key == "dom-3":
        return _contained_referenced(node)
    found: list[Any] = _compiled(expression)(node, {"resource": resource, "rootResource": resource})
    if found not in ([True], [False], []):
        raise ValueError(f"not a boolean: {found!r:.80}")
    return found != [False]


def _strings(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set().union(*(_strings(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_strings(value) for value in node))
    return {node} if isinstance(node, str) else set()


def _contained_referenced(resource: dict[str, Any]) -> bool:
    """R4 ``dom-3``, checked directly: every contained resource is referenced from the
    resource (``#id``) or refers to it (``#``). Its FHIRPath applies ``as(canonical)`` to all
    the descendants at once, which fhirpathpy (rightly, by the FHIRPath specification) refuses
    for more than one item."""
    strings = _strings(resource)
    return all(
        f"#{inner.get('id')}" in strings or "#" in _strings(inner) for inner in resource.get("contained", [])
    )


def _with_choices(node: dict[str, Any], elements: dict[str, dict[str, Any]], path: str) -> dict[str, Any]:
    """``node`` with each choice element also under its base name (``valueCoding`` as
    ``value``): fhirpathpy resolves ``value`` to ``value[x]`` only when it knows the node's
    type, which it does for a resource but not for an element handed to it alone (``inv-1``
    of Parameters.parameter and ``ext-1`` of Extension ask for ``value``)."""
    if isinstance(node.get("resourceType"), str):
        return node
    extra = {}
    for key, value in node.items():
        found = None if key.startswith("_") else _child(elements, path, key)
        if found is not None and found[0].endswith("[x]"):
            extra[found[0].rsplit(".", 1)[-1].removesuffix("[x]")] = value
    return {**node, **extra}


@cache
def _compiled(expression: str) -> Any:
    """The expression parsed once (parsing is most of fhirpathpy's time)."""
    return compile_path(expression.replace("hasValue()", "exists()"), _R4_MODEL, _OPTIONS)


def _evaluate(
    node: dict[str, Any],
    constraints: list[list[str]],
    resource: dict[str, Any],
    label: str,
    errors: list[str],
) -> None:
    for key, expression, human in constraints:
        try:
            holds = _holds(key, expression, node, resource)
        except Exception as error:  # an engine failure is reported, never taken for a pass
            errors.append(f"{label}: invariant {key} could not be evaluated: {error}")
            continue
        if not holds:
            errors.append(f"{label}: invariant {key} fails: {human}")


def _check(
    node: dict[str, Any], kind: str, path: str, *, resource: dict[str, Any], where: str, errors: list[str]
) -> None:
    """Evaluate the invariants of element ``path`` of type ``kind`` on ``node``, then descend
    into its elements: a backbone element with the same type's table, a complex data type with
    its own (a Quantity's ``qty-3``, a Period's ``per-1``)."""
    table = invariants()
    elements = table[kind]
    typed = _with_choices(node, elements, path)
    _evaluate(typed, elements[path].get("constraints", []), resource, f"{where} ({path})", errors)
    for key, value in node.items():
        found = None if key.startswith("_") or key == "resourceType" else _child(elements, path, key)
        if found is None:
            continue
        child_path, child_kind = found
        child = elements[child_path]
        inner_path = child.get("ref", child_path)  # Questionnaire.item.item -> Questionnaire.item
        backbone = any(name.startswith(inner_path + ".") for name in elements)
        for index, item in enumerate(value if isinstance(value, list) else [value]):
            at = f"{where}.{key}" + (f"[{index}]" if isinstance(value, list) else "")
            if not isinstance(item, dict) or isinstance(item.get("resourceType"), str):
                # A primitive (its one invariant, ele-1, is the schema's "no empty value"), or a
                # resource inside (Bundle.entry.resource: checked as a resource of its own).
                continue
            if backbone:
                _check(item, kind, inner_path, resource=resource, where=at, errors=errors)
                continue
            own = (
                {c[0] for c in table[child_kind][child_kind].get("constraints", [])}
                if child_kind in table
                else set()
            )
            placed = [c for c in child.get("constraints", []) if c[0] not in own]  # no invariant twice
            alone = _with_choices(item, table[child_kind], child_kind) if child_kind in table else item
            _evaluate(alone, placed, resource, f"{at} ({child_path})", errors)
            if child_kind in table:
                _check(item, child_kind, child_kind, resource=resource, where=at, errors=errors)


def invariant_errors(resource: dict[str, Any]) -> list[str]:
    """Every R4 4.0.1 invariant (FHIRPath constraint of severity error) that ``resource`` or a
    resource inside it breaks, evaluated by fhirpathpy with ``%resource`` set; empty when none."""
    errors: list[str] = []
    table = invariants()
    resource = copy.deepcopy(resource)  # fhirpathpy writes type information into what it reads
    known = official_schema()["discriminator"]["mapping"]
    for where, found in _resources(resource, "$"):
        kind = found["resourceType"]
        if kind not in known:
            continue  # not an R4 resource: r4_errors says so
        if kind not in table:
            errors.append(
                f"{where}: no invariants for {kind}: add it to RESOURCES in"
                " tests/data/fhir/make_invariants.py and regenerate"
            )
            continue
        _check(found, kind, kind, resource=found, where=where, errors=errors)
    return errors
