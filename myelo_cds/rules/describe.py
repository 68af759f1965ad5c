"""The rule set in words: one readable row per rule, for review and for the evidence page."""

from __future__ import annotations

from typing import Any

from myelo_cds.rules.ruleset import RuleSet, ScreenRule

__all__ = ["FEATURE_WORDS", "conditions_in_words", "feature_words", "rule_tables"]

FEATURE_WORDS: dict[str, str] = {
    "red_flag": "a red flag",
    "scope": "age group",
    "management": "management",
    "compression": "cervical cord compression",
    "myelopathy": "myelopathy (symptom with UMN sign, or attributed mJOA deficit)",
    "band": "mJOA severity band",
    "course": "course since the earlier mJOA",
    "radiculopathy": "radiculopathy",
    "alternative": "features of an alternative disease",
    "atypical_lesion": "an atypical cord lesion",
    "discordant": "thoracic-level findings",
    "pathway": "pathway",
}


def feature_words(rule_set: RuleSet) -> dict[str, str]:
    """The features in words, with the thresholds of this rule set."""
    kang = rule_set.params["compression_min_kang"]
    return {**FEATURE_WORDS, "compression": f"cervical cord compression (Kang >= {kang})"}


def conditions_in_words(when: dict[str, Any], names: dict[str, str] = FEATURE_WORDS) -> str:
    """``{"band": ["mild", "normal"]}`` -> ``"mJOA severity band is mild or normal"``."""
    if not when:
        return "always (default)"
    parts = []
    for feature, value in when.items():
        values = [value] if isinstance(value, str) else list(value)
        values_in_words = " or ".join(v.replace("_", " ") for v in values)
        parts.append(f"{names.get(feature, feature)} is {values_in_words}")
    return "; ".join(parts)


def _screen_words(row: ScreenRule) -> str:
    parts = []
    if row.all:
        parts.append("all of: " + ", ".join(name.replace("_", " ") for name in row.all))
    if row.any:
        parts.append("any of: " + ", ".join(name.replace("_", " ") for name in row.any))
    return "; ".join(parts)


def rule_tables(rule_set: RuleSet) -> dict[str, list[dict[str, Any]]]:
    """Every table of the rule set as rows of plain values (for a dataframe or a CSV)."""
    cite = {key: source.citation for key, source in rule_set.sources.items()}
    words = feature_words(rule_set)
    return {
        "red_flags": [
            {
                "id": row.id,
                "version": row.version,
                "when": _screen_words(row),
                "title": row.title,
                "action": row.action,
                "strength": row.strength,
                "evidence": row.evidence,
                "source": cite[row.source],
            }
            for row in rule_set.red_flags
        ],
        "pathway": [
            {
                "id": row.id,
                "version": row.version,
                "priority": row.priority,
                "when": conditions_in_words(row.when, words),
                "pathway": row.pathway.replace("_", " "),
                "title": row.title,
                "recommendation": row.recommendation,
                "strength": row.strength,
                "quality": row.quality,
                "evidence": row.evidence,
                "source": cite[row.source],
            }
            for row in sorted(rule_set.pathway, key=lambda r: r.priority)
        ],
        "urgency": [
            {
                "id": row.id,
                "version": row.version,
                "when": conditions_in_words(row.when, words),
                "urgency": row.urgency,
                "title": row.title,
                "evidence": row.evidence,
                "source": cite[row.source],
            }
            for row in rule_set.urgency
        ],
        "differentials": [
            {
                "id": row.id,
                "when": _screen_words(row),
                "condition": row.condition,
                "work-up": row.workup,
                "evidence": row.evidence,
                "source": cite[row.source],
            }
            for row in rule_set.differentials
        ],
        "flags": [
            {
                "id": row.id,
                "when": _screen_words(row),
                "text": row.text,
                "evidence": row.evidence,
                "source": cite[row.source],
            }
            for row in rule_set.flags
        ],
        "parameters": [
            {
                "parameter": name,
                "value": str(parameter.value),
                "meaning": parameter.note,
                "evidence": parameter.evidence,
                "source": cite[parameter.source],
            }
            for name, parameter in rule_set.parameters.items()
        ],
    }
