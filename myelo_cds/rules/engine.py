"""The assessment engine: findings in, one recommendation with its full basis out.

Every surface (CLI, batch, pages, exports) calls :func:`assess`; there is no second copy of
any rule. The pathway is a pure function of the derived features, so the same inputs always
give the same answer, and every valid input gets exactly one (proved by ``verify``).

The engine assembles the parts, each in a private module of this room: the decision
(:mod:`._evaluation`), its basis (:mod:`._basis`), what would change it (:mod:`._what_if`)
and the clinical picture in words (:mod:`._clinical_picture`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import cache
from typing import Any

from myelo_cds.findings import Findings, not_done_inputs
from myelo_cds.followup import follow_up_schedule
from myelo_cds.rules._basis import Basis
from myelo_cds.rules._clinical_picture import clinical_picture
from myelo_cds.rules._evaluation import Evaluation, evaluate
from myelo_cds.rules._triage import Completion, Escalation, Triage, escalation, triage
from myelo_cds.rules._warnings import consistency_warnings
from myelo_cds.rules._what_if import WhatIf
from myelo_cds.rules.facts import Leaves, observe
from myelo_cds.rules.result import Counterfactual, Recommendation, RuleSetRef, Scores, UnknownImpact
from myelo_cds.rules.ruleset import URGENCIES, RuleSet, default_rule_set
from myelo_cds.rules.table import Decision, DecisionTable
from myelo_cds.scales import cook_cluster, mjoa_change, mjoa_score, mscc, nurick_grade

__all__ = ["PATHWAY_LABELS", "PATHWAY_NEEDED_FACTS", "Engine", "Evaluation", "assess", "default_engine"]

PATHWAY_LABELS: dict[str, str] = {
    "emergency_referral": "Emergency referral",
    "surgical_referral": "Surgical referral",
    "surgery_or_structured_rehab": "Surgery or supervised structured rehabilitation",
    "surveillance": "Surveillance",
    "further_workup": "Further work-up",
    "postoperative_follow_up": "Post-operative follow-up",
}

DISCLAIMER = (
    "Decision support, not a decision: the clinician decides. Check the rules, inputs and "
    "sources shown; unknown findings were not assumed absent."
)


class Engine:
    """A rule set, compiled once, ready to assess findings."""

    def __init__(self, rule_set: RuleSet | None = None) -> None:
        self.rule_set = rule_set or default_rule_set()
        self.params = self.rule_set.params
        self.table = DecisionTable(self.rule_set)
        self._ref = RuleSetRef(
            id=self.rule_set.id, version=self.rule_set.version, sha256=self.rule_set.sha256
        )
        self._basis = Basis(self.rule_set)
        emergency = next(row for row in self.rule_set.pathway if row.when.get("red_flag") == "yes")
        self._emergency_pathway: tuple[str, tuple[str, ...]] = (emergency.pathway, (emergency.id,))
        self._what_if = WhatIf(self.evaluate, self.table.decide, self.params)

    # --- the decision ---------------------------------------------------------------------

    def evaluate(self, leaves: Leaves) -> Evaluation:
        """Facts, screens, features and decision for one set of leaves."""
        return evaluate(leaves, self.params, self.rule_set.red_flags, self.table)

    def leaves(self, findings: Findings, on: dt.date | None = None) -> Leaves:
        when = on or findings.assessment_date or dt.date.today()
        return observe(findings, self.params, when)

    def decide(self, findings: Findings, on: dt.date | None = None) -> Evaluation:
        """The decision alone, without the explanation (the batch path)."""
        return self.evaluate(self.leaves(findings, on))

    # --- what would change it -------------------------------------------------------------

    def headline(self, evaluation: Evaluation) -> tuple[str, tuple[str, ...], str, bool]:
        """The pathway, deciding rules and urgency to act on now, and whether they are provisional.

        The decision tables' answer, raised while a red flag is plausible but not excluded
        (its ``if_not_excluded``); with ``refer`` the pathway becomes the emergency referral
        until the questions are answered (the table's own rule stays in the basis). Every
        surface (consult, batch, hooks) reports this, never the bare table answer.
        """
        raised = escalation(self.rule_set.red_flags, evaluation.facts)
        pathway, deciding, urgency, provisional, _ = self._settle(evaluation, raised)
        return pathway, deciding, urgency, provisional

    def _settle(
        self, evaluation: Evaluation, raised: Escalation
    ) -> tuple[str, tuple[str, ...], str, bool, bool]:
        """:meth:`headline` from a computed escalation, and whether the pathway was switched."""
        decision = evaluation.decision
        pathway, deciding, urgency = decision.pathway, decision.deciding, decision.urgency
        referred = False
        if raised.urgency is not None and URGENCIES.index(raised.urgency) < URGENCIES.index(urgency):
            urgency = raised.urgency
            if raised.refer:
                pathway, deciding = self._emergency_pathway
                referred = True
        provisional = bool(raised.rows or missing_for_pathway(evaluation.facts))
        return pathway, deciding, urgency, provisional, referred

    def completions(self, leaves: Leaves) -> list[Completion]:
        """Each blank input completed with each plausible value, with the facts that follow."""
        return [completion for completion, _, _ in self._what_if.completions(leaves)]

    def unknowns(self, leaves: Leaves, base: Decision) -> list[UnknownImpact]:
        """Each unknown input whose possible values would change the pathway or urgency."""
        return self._what_if.unknowns(self._what_if.completions(leaves), base)

    def counterfactuals(self, leaves: Leaves, evaluation: Evaluation) -> list[Counterfactual]:
        """Nearby known situations that would change the answer."""
        return self._what_if.counterfactuals(leaves, evaluation)

    # --- the public entry point -----------------------------------------------------------

    def assess(self, findings: Findings, on: dt.date | None = None) -> Recommendation:
        """Assess one patient's findings.

        Args:
            findings: validated findings.
            on: the assessment date (default: ``findings.assessment_date``, else today).

        Returns:
            The recommendation with its basis, unknowns, counterfactuals and follow-up plan.
        """
        when = on or findings.assessment_date or dt.date.today()
        leaves = observe(findings, self.params, when)
        evaluation = self.evaluate(leaves)
        decision = evaluation.decision
        facts = evaluation.facts
        flags, differentials = self._basis.screens(facts)
        fired = self._basis.fired(evaluation)
        deciding_title = next(rule.title for rule in fired if rule.kind == "pathway")
        scores = _scores(findings, when)
        completions = self._what_if.completions(leaves)
        screen = triage(self.rule_set.red_flags, facts, [completion for completion, _, _ in completions])
        pathway, deciding, urgency, provisional, referred = self._settle(evaluation, screen.raised)
        incomplete = missing_for_pathway(facts)
        plan = follow_up_schedule(when, deciding, urgency, [flag.id for flag in flags])
        return Recommendation(
            case_id=findings.case_id,
            assessment_date=when,
            pathway=pathway,
            urgency=urgency,
            headline=_headline(pathway, urgency, deciding_title, screen, incomplete, referred=referred),
            rules_fired=tuple(fired),
            superseded=decision.superseded,
            features=evaluation.named_features,
            clinical_picture=clinical_picture(findings.mri, facts, scores, self.params),
            flags=tuple(flags),
            differentials=tuple(differentials),
            unknowns=tuple(self._what_if.unknowns(completions, decision, not_done_inputs(findings))),
            counterfactuals=tuple(self.counterfactuals(leaves, evaluation)),
            scores=scores,
            follow_up=plan,
            rule_set=self._ref,
            disclaimer=DISCLAIMER,
            provisional=provisional,
            to_confirm=screen.to_confirm,
            warnings=consistency_warnings(findings, facts, self.params),
            incomplete=incomplete,
        )


def _headline(
    pathway: str, urgency: str, title: str, screen: Triage, incomplete: tuple[str, ...], *, referred: bool
) -> str:
    """The answer in one line; a provisional answer says so and what would settle it."""
    if referred:
        title = "red flag not excluded (" + ", ".join(screen.raised.rows) + ")"
    text = f"{PATHWAY_LABELS[pathway]} ({urgency}): {title}"
    if screen.raised.rows:
        asks = [question.input for question in screen.to_confirm if question.escalated]
        text += f" - {urgency} not excluded (provisional): ask " + "; ".join(asks)
    if incomplete:
        text += " - incomplete: enter " + ", ".join(_NEEDED[path][1] for path in incomplete)
    return text


#: The inputs every pathway needs: the fact that is unknown while each is blank, and the input
#: in words for the "incomplete" state.
_NEEDED = {"patient.age_years": ("paediatric", "the age")}
#: The facts :func:`missing_for_pathway` reads.
PATHWAY_NEEDED_FACTS = tuple(dict.fromkeys(fact for fact, _ in _NEEDED.values()))


def missing_for_pathway(facts: Mapping[str, Any]) -> tuple[str, ...]:
    """Input paths a pathway needs that are blank (the answer is provisional until entered)."""
    return tuple(path for path, (fact, _) in _NEEDED.items() if facts[fact] is None)


def _scores(findings: Findings, when: dt.date) -> Scores:
    mjoa = mjoa_score(findings.mjoa) if findings.mjoa else None
    change = (
        mjoa_change(findings.mjoa, findings.earlier_mjoa, on=when)
        if findings.mjoa and findings.earlier_mjoa
        else None
    )
    diameters = findings.mri.cord_diameters
    return Scores(
        mjoa=mjoa,
        mjoa_change=change,
        nurick=nurick_grade(findings.nurick) if findings.nurick is not None else None,
        mscc=mscc(diameters.di_mm, diameters.da_mm, diameters.db_mm) if diameters else None,
        cook=cook_cluster(findings),
    )


@cache
def default_engine() -> Engine:
    """The engine for the shipped rule set (compiled once per process)."""
    return Engine()


def assess(findings: Findings, on: dt.date | None = None) -> Recommendation:
    """Assess findings with the shipped rule set. See :meth:`Engine.assess`."""
    return default_engine().assess(findings, on)
