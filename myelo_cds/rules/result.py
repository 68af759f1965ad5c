"""The engine's output: one pathway with its full basis."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict

from myelo_cds.followup import FollowUpPlan
from myelo_cds.rules.ruleset import Pathway, Urgency
from myelo_cds.scales import MSCC, CookCluster, MJOAChange, MJOAScore, NurickGrade

__all__ = [
    "ConsistencyWarning",
    "Counterfactual",
    "Differential",
    "FiredRule",
    "Flag",
    "Pathway",
    "Recommendation",
    "RuleSetRef",
    "Scenario",
    "Scores",
    "ToConfirm",
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
    not_done: bool = False
    """Documented as not done (e.g. electrodiagnostics): an answer, so it is not listed as
    not recorded; the rules still read it as unknown, so the answer stays as uncertain (and as
    safe) as with a blank."""


class ToConfirm(_Out):
    """A blank input that a red flag needs: ask it, because the answer could make this urgent.

    ``escalated`` says whether the headline urgency was raised while this stays unknown
    (the known findings make the red flag plausible); answering the question lowers it again.
    """

    input: str
    """The question in words."""
    fields: tuple[str, ...]
    """The input paths to fill (dotted, as in the findings)."""
    red_flags: tuple[str, ...]
    """The red-flag rows the answer settles."""
    urgency_if_positive: Urgency
    escalated: bool


class ConsistencyWarning(_Out):
    """Entered values that do not fit together: shown beside the answer, never a refusal."""

    code: str
    message: str
    fields: tuple[str, ...]


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
    provisional: bool = False
    """True when the urgency was raised because a red flag is not excluded, or inputs a
    pathway needs are missing: the answer will change once ``to_confirm``/``incomplete`` are
    answered."""
    to_confirm: tuple[ToConfirm, ...] = ()
    """Blank inputs a red flag needs, most dangerous first (none is ever left silent)."""
    warnings: tuple[ConsistencyWarning, ...] = ()
    incomplete: tuple[str, ...] = ()
    """Input paths a pathway needs that are missing (e.g. the age): the pathway is provisional."""

    @property
    def not_recorded(self) -> tuple[UnknownImpact, ...]:
        """The unknowns that would change the answer and were not answered at all."""
        return tuple(unknown for unknown in self.unknowns if not unknown.not_done)

    @property
    def not_done(self) -> tuple[UnknownImpact, ...]:
        """The unknowns that would change the answer and were documented as not done."""
        return tuple(unknown for unknown in self.unknowns if unknown.not_done)
