"""The decision for one set of leaves: facts, the red-flag screen, the features, the tables.

This is all the batch path needs; the explanation (:mod:`._basis`), the what-ifs
(:mod:`._what_if`) and the words (:mod:`._clinical_picture`) are built on top of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from myelo_cds.rules.facts import Leaves, combine
from myelo_cds.rules.ruleset import ScreenRule
from myelo_cds.rules.table import FEATURE_NAMES, Decision, DecisionTable, screen, true_facts

__all__ = ["Evaluation", "evaluate"]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Facts, screens, features and decision for one set of leaves."""

    facts: dict[str, Any]
    red_flags: tuple[str, ...]
    """Ids of the red-flag rows that fired."""
    features: tuple[str, ...]
    decision: Decision
    true_facts: frozenset[str] = frozenset()
    """Names of the facts known to be true (for screening further tables cheaply)."""

    @property
    def named_features(self) -> dict[str, str]:
        """The feature vector by feature name."""
        return dict(zip(FEATURE_NAMES, self.features, strict=True))


def evaluate(
    leaves: Leaves, params: Mapping[str, Any], red_flags: tuple[ScreenRule, ...], table: DecisionTable
) -> Evaluation:
    """Facts from the leaves, then the red-flag screen, then the pathway and urgency tables."""
    facts = combine(leaves, params)
    true = true_facts(facts)
    red = screen(red_flags, facts, true)
    named = facts["features"]
    named["red_flag"] = "yes" if red else "no"
    features = tuple([named[name] for name in FEATURE_NAMES])
    return Evaluation(facts, red, features, table.decide(features), true)
