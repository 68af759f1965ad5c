"""The knowledge artifacts behind an export, as FHIR R4 canonical resources.

* the mJOA ``Questionnaire`` (from ``data/scales/mjoa.toml``): an http canonical ``url`` and
  ``version``, each answer's weight as the ``ordinalValue`` extension on its ``answerOption``
  (the R4 core extension, as in HL7/sdc ``input/fsh/instances/
  questionnaire-sdc-profile-example-ordinal-value.fsh``), and a read-only total computed by the
  SDC ``calculatedExpression`` extension with the FHIRPath of that same SDC example;
* the rule set as a ``Library`` (from ``data/rules/``): canonical ``url``, ``version`` = the
  rule-set version, the file's SHA-256 as an identifier and its size and SHA-1 on the content
  attachment, and one ``relatedArtifact`` citation per rule with the rule's source.

Why a Library and not a PlanDefinition: a PlanDefinition states its logic as actions with
conditions in CQL or FHIRPath, which would be a second copy of the decision table, translated
and free to drift from it. The rule set is a decision table our engine interprets; a Library is
the R4 resource for a shareable logic artifact (``library-type`` ``logic-library``,
HL7/UTG ``input/sourceOfTruth/fhir/codeSystems/CodeSystem-library-type.xml``) that a
GuidanceResponse names in ``moduleCanonical``. Both are built from the data files on every call:
no rule is restated here.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from typing import Any

from myelo_cds._paths import data_dir
from myelo_cds.exports._fhir_canonical import canonical, identifier_system
from myelo_cds.rules.result import RuleSetRef
from myelo_cds.rules.ruleset import PathwayRule, RuleSet, ScreenRule, UrgencyRule, default_rule_set
from myelo_cds.scales import mjoa_scale

__all__ = [
    "MJOA_ITEMS",
    "ORDINAL_VALUE",
    "QUESTIONNAIRE_URL",
    "RULE_SET_SHA256_SYSTEM",
    "attachment_hash",
    "code_systems",
    "is_mjoa_questionnaire",
    "library_canonical",
    "mjoa_answer_system",
    "mjoa_questionnaire",
    "questionnaire_reference",
    "rule_set_library",
    "shipped_code_systems",
    "total_text",
]

PATHWAY_SYSTEM = canonical("CodeSystem", "pathway")
URGENCY_SYSTEM = canonical("CodeSystem", "urgency")
RULE_SYSTEM = canonical("CodeSystem", "rule")
QUESTIONNAIRE_URL = canonical("Questionnaire", "mjoa")
"""The mJOA Questionnaire's canonical URL (a QuestionnaireResponse cites it as ``url|version``)."""
_LEGACY_QUESTIONNAIRE_URL = "urn:myelo-cds:questionnaire:mjoa"
"""What exports before the http canonical cited: still read back."""
MJOA_ITEMS = ("ue_motor", "le_motor", "ue_sensation", "sphincter")
TOTAL_LINK_ID = "total"


def total_text() -> str:
    """The calculated total item's text, in the Questionnaire and in each response."""
    return f"mJOA total (0-{mjoa_scale()['scale']['max_total']})"


ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
"""R4 core extension: the score an answer adds (HL7/sdc ordinal-value example)."""
CALCULATED_EXPRESSION = (
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
)
RULE_SET_SHA256_SYSTEM = identifier_system("rule-set-sha256")


def mjoa_answer_system(item: str) -> str:
    """The code system of one mJOA item's answers: the code is the item score."""
    return canonical("CodeSystem", f"mjoa-{item.replace('_', '-')}")


def questionnaire_reference() -> str:
    """``url|version`` of the mJOA Questionnaire, as a QuestionnaireResponse cites it."""
    return f"{QUESTIONNAIRE_URL}|{mjoa_scale()['scale']['version']}"


def is_mjoa_questionnaire(reference: object) -> bool:
    """Whether a ``QuestionnaireResponse.questionnaire`` names our mJOA (any version, or the
    unversioned canonical, or the urn that earlier exports used)."""
    if not isinstance(reference, str):
        return False
    url = reference.partition("|")[0]
    return url in (QUESTIONNAIRE_URL, _LEGACY_QUESTIONNAIRE_URL)


def _total_expression() -> str:
    # The FHIRPath of HL7/sdc's ordinal-value example (ordinalValue() of every answer, summed),
    # over the four scored items.
    items = " or ".join(f"linkId = '{item}'" for item in MJOA_ITEMS)
    return f"%resource.item.where({items}).answer.ordinalValue().aggregate($this + $total, 0)"


def mjoa_questionnaire() -> dict[str, Any]:
    """The mJOA as a FHIR R4 Questionnaire, from the scale's data file (wording, scores, maximum)."""
    scale = mjoa_scale()
    head = scale["scale"]
    items: list[dict[str, Any]] = [
        {
            "linkId": item["id"],
            "text": item["label"],
            "type": "choice",
            "required": True,
            "answerOption": [
                {
                    "extension": [{"url": ORDINAL_VALUE, "valueDecimal": score}],
                    "valueCoding": {
                        "system": mjoa_answer_system(item["id"]),
                        "code": str(score),
                        "display": text,
                    },
                }
                for score, text in enumerate(item["levels"])
            ],
        }
        for item in scale["items"]
    ]
    items.append(
        {
            "extension": [
                {
                    "url": CALCULATED_EXPRESSION,
                    "valueExpression": {
                        "description": "mJOA total: the sum of the item scores",
                        "language": "text/fhirpath",
                        "expression": _total_expression(),
                    },
                }
            ],
            "linkId": TOTAL_LINK_ID,
            "text": total_text(),
            "type": "integer",
            "readOnly": True,
        }
    )
    return {
        "resourceType": "Questionnaire",
        "id": "mjoa",
        "url": QUESTIONNAIRE_URL,
        "version": head["version"],
        "name": "MJOA",
        "title": head["name"],
        "status": "active",
        "subjectType": ["Patient"],
        "description": f"Source: {head['citation']}",
        "item": items,
    }


def library_canonical(rule_set: RuleSetRef | RuleSet) -> str:
    """``url|version`` of the rule set's Library (what ``moduleCanonical`` cites)."""
    return f"{canonical('Library', rule_set.id)}|{rule_set.version}"


def _rule_citation(row: ScreenRule | PathwayRule | UrgencyRule, rule_set: RuleSet) -> dict[str, Any]:
    return {
        "type": "citation",
        "label": row.id,
        "display": f"{row.id} v{row.version}: {row.title}" if row.title else f"{row.id} v{row.version}",
        "citation": f"{rule_set.sources[row.source].citation} (evidence: {row.evidence})",
    }


def attachment_hash(data: bytes) -> str:
    """R4 ``Attachment.hash``: the SHA-1 of the data, base64 (what R4 defines, not our choice)."""
    return base64.b64encode(hashlib.sha1(data).digest()).decode("ascii")


@cache
def _file_facts(name: str, sha256: str) -> tuple[int, str] | None:
    """(size, base64 SHA-1) of the rule-set file, when the shipped file is the one hashed."""
    path = data_dir() / "rules" / name
    raw = path.read_bytes() if path.is_file() else b""
    if hashlib.sha256(raw).hexdigest() != sha256:
        return None
    return len(raw), attachment_hash(raw)


def _library_head(head: RuleSet | RuleSetRef) -> dict[str, Any]:
    """What names a rule set: canonical, version and the file's SHA-256."""
    return {
        "resourceType": "Library",
        "url": canonical("Library", head.id),
        "identifier": [{"system": RULE_SET_SHA256_SYSTEM, "value": head.sha256}],
        "version": head.version,
        "name": "".join(part.capitalize() for part in head.id.replace("_", "-").split("-")) + "RuleSet",
        "status": "active",
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/library-type",
                    "code": "logic-library",
                    "display": "Logic Library",
                }
            ]
        },
    }


def rule_set_library(ref: RuleSetRef | None = None) -> dict[str, Any]:
    """The rule set as a FHIR R4 Library (see the module docstring).

    Args:
        ref: the rule set a recommendation names; default the shipped one. When it is not the
            shipped file (another version or hash), the Library names it by canonical, version
            and hash only, and cites no rule: its rows are not here to cite.
    """
    shipped = default_rule_set()
    if ref is not None and ref.sha256 != shipped.sha256:
        return _library_head(ref)
    rule_set = shipped
    library = _library_head(rule_set)
    library["title"] = rule_set.title
    library["description"] = rule_set.intended_use
    library["usage"] = "Limitations: " + " ".join(rule_set.limitations)
    library["relatedArtifact"] = [_rule_citation(row, rule_set) for row in rule_set.all_rows()]
    content: dict[str, Any] = {"contentType": "application/toml", "title": rule_set.path}
    facts = _file_facts(rule_set.path, rule_set.sha256)
    if facts is not None:
        content["size"], content["hash"] = facts
    library["content"] = [content]
    return library


def _code_system(
    url: str, version: str, title: str, about: str, concepts: list[dict[str, str]]
) -> dict[str, Any]:
    name = "".join(part.capitalize() for part in url.rsplit("/", 1)[-1].split("-"))
    return {
        "resourceType": "CodeSystem",
        "url": url,
        "version": version,
        "name": f"MyeloCds{name}",
        "title": title,
        "status": "active",
        "description": about,
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "concept": concepts,
    }


def _mjoa_answers(scale: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    return _code_system(
        mjoa_answer_system(item["id"]),
        scale["scale"]["version"],
        f"mJOA {item['label']}: answers",
        f"The answers of the mJOA item {item['label']}; the code is the item score."
        f" Source: {scale['scale']['citation']}",
        [{"code": str(score), "display": text} for score, text in enumerate(item["levels"])],
    )


def code_systems() -> list[dict[str, Any]]:
    """Our CodeSystems behind the recommendation and the mJOA answers, built from the data files:
    the mJOA answers per item (``mjoa.toml``; code = the item score), the pathways, the urgency
    tiers and the rules (``data/rules``; version = the rule-set version)."""
    from myelo_cds.exports.consult_note import URGENCY_WORDS
    from myelo_cds.rules.engine import PATHWAY_LABELS

    scale = mjoa_scale()
    rule_set = default_rule_set()
    version = rule_set.version
    rules = [
        {
            "code": row.id,
            "display": row.title or row.id,
            "definition": _rule_citation(row, rule_set)["citation"],
        }
        for row in rule_set.all_rows()
    ]
    urgencies = [
        {"code": code, "display": code.capitalize(), "definition": words}
        for code, words in URGENCY_WORDS.items()
    ]
    pathways = [{"code": code, "display": label} for code, label in PATHWAY_LABELS.items()]
    return [
        *(_mjoa_answers(scale, item) for item in scale["items"]),
        _code_system(
            PATHWAY_SYSTEM, version, "myelo-cds pathways", "The pathway a recommendation proposes.", pathways
        ),
        _code_system(URGENCY_SYSTEM, version, "myelo-cds urgency tiers", "Most urgent first.", urgencies),
        _code_system(
            RULE_SYSTEM,
            version,
            f"Rules of {rule_set.title}",
            f"The rules of rule set {rule_set.id} (Library {library_canonical(rule_set)}).",
            rules,
        ),
    ]


def shipped_code_systems() -> list[dict[str, Any]]:
    """The CodeSystem files shipped in ``data/fhir`` (``codesystem-*.json``), as they are."""
    import json

    return [
        json.loads(path.read_text("utf-8"))
        for path in sorted((data_dir() / "fhir").glob("codesystem-*.json"))
    ]
