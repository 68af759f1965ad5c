"""The engine's output: one pathway with its full basis."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict

from myelo_cds.followup import FollowUpPlan
from myelo_cds.rules.ruleset import Pathway, Urgency
from myelo_cds.scales import MSCC, CookCluster, MJOAChange, MJOAScore, NurickGrade

__all__ = [
    "Counterfactual",
    "Differential",
    "FiredRule",
    "Flag",
    "Pathway",
    "Recommendation",
    "RuleSetRef",
    "Scenario",
    "Scores",
    "UnknownImpact",
    "Urgency",
]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class RuleSetRef(_Out):
    id: str
    version: str
    sha256: str


class FiredRule(_Out):
    """A rule that fired, with the inputs that matched and its source."""

    id: str
    version: str
    kind: Literal["red_flag", "pathway", "urgency"]
    title: str
    action: str
    inputs: dict[str, str]
    """What matched: fact or feature name -> the value seen."""
    citation: str
    recommendation: str
    strength: str
    quality: str
    evidence: str


class Flag(_Out):
    id: str
    text: str
    triggers: tuple[str, ...]
    citation: str
    evidence: str


class Differential(_Out):
    id: str
    condition: str
    workup: str
    triggers: tuple[str, ...]
    citation: str
    evidence: str


class Scenario(_Out):
    value: str
    pathway: Pathway
    urgency: Urgency


class UnknownImpact(_Out):
    """An input that was not examined and would change the answer if it were known."""

    input: str
    fields: tuple[str, ...]
    scenarios: tuple[Scenario, ...]
    """Only the values that change the pathway or urgency."""


class Counterfactual(_Out):
    change: str
    pathway: Pathway
    urgency: Urgency


class Scores(_Out):
    mjoa: MJOAScore | None
    mjoa_change: MJOAChange | None
    nurick: NurickGrade | None
    mscc: MSCC | None
    cook: CookCluster


class Recommendation(_Out):
    """One pathway, its urgency and everything a clinician needs to check it."""

    case_id: str | None
    assessment_date: dt.date
    pathway: Pathway
    urgency: Urgency
    headline: str
    rules_fired: tuple[FiredRule, ...]
    superseded: tuple[str, ...]
    """Pathway rules that also matched but lost to a higher-priority rule."""
    features: dict[str, str]
    clinical_picture: dict[str, str]
    flags: tuple[Flag, ...]
    differentials: tuple[Differential, ...]
    unknowns: tuple[UnknownImpact, ...]
    counterfactuals: tuple[Counterfactual, ...]
    scores: Scores
    follow_up: FollowUpPlan
    rule_set: RuleSetRef
    disclaimer: str
