"""A readable consult summary of a recommendation (plain text)."""

from __future__ import annotations

from myelo_cds.result import Recommendation
from myelo_cds.rules.engine import PATHWAY_LABELS

__all__ = ["consult_summary"]

_URGENCY_MARK = {"emergency": "!!! EMERGENCY", "expedited": "! EXPEDITED", "routine": "ROUTINE"}


def consult_summary(rec: Recommendation) -> str:
    """The recommendation with its basis, as a consult-note text block."""
    out: list[str] = []
    add = out.append
    add(f"myelo-cds assessment {rec.case_id or '(no case id)'} on {rec.assessment_date}")
    add(f"Rule set {rec.rule_set.id} {rec.rule_set.version}, sha256 {rec.rule_set.sha256}")
    add("")
    add(f"RECOMMENDATION: {PATHWAY_LABELS[rec.pathway]} [{_URGENCY_MARK[rec.urgency]}]")
    add(f"  {rec.headline}")
    add("")
    add("Clinical picture:")
    for key, value in rec.clinical_picture.items():
        add(f"  - {key.replace('_', ' ')}: {value}")
    scores = rec.scores
    add("Scores:")
    if scores.mjoa:
        m = scores.mjoa
        add(
            f"  - mJOA {m.total}/18 ({m.band}); items "
            + ", ".join(f"{k} {v}" for k, v in m.items.items())
            + f" [{m.scale.id} {m.scale.version}]"
        )
    if scores.mjoa_change:
        c = scores.mjoa_change
        add(
            f"  - mJOA change {c.earlier_total} -> {c.current_total} ({c.delta:+d}) over "
            f"{c.days} days; MCID for {c.earlier_band} = {c.mcid}"
        )
    if scores.nurick:
        add(f"  - Nurick {scores.nurick.grade}: {scores.nurick.wording}")
    if scores.mscc:
        add(f"  - MSCC {scores.mscc.percent}% ({scores.mscc.note})")
    add(f"  - Cook cluster: {scores.cook.interpretation}")
    add("")
    add("Basis (rules fired):")
    for rule in rec.rules_fired:
        inputs = ", ".join(f"{k}={v}" for k, v in rule.inputs.items())
        grade = f"; {rule.recommendation}" if rule.recommendation else ""
        add(f"  [{rule.kind}] {rule.id} v{rule.version}: {rule.title}")
        add(f"      inputs: {inputs}")
        add(f"      action: {rule.action}")
        add(
            f"      source: {rule.citation} (strength {rule.strength}, quality {rule.quality}, "
            f"evidence {rule.evidence}{grade})"
        )
    if rec.superseded:
        add(f"  Also matched but outranked: {', '.join(rec.superseded)}")
    if rec.flags:
        add("")
        add("Prognosis and planning flags:")
        for flag in rec.flags:
            add(f"  - {flag.text} [{flag.id}; {flag.evidence}]")
    if rec.differentials:
        add("")
        add("Differential diagnoses to consider:")
        for dx in rec.differentials:
            add(f"  - {dx.condition}: {dx.workup} (triggered by {', '.join(dx.triggers)})")
    if rec.unknowns:
        add("")
        add("Not examined, and would change the answer:")
        for unknown in rec.unknowns:
            options = "; ".join(f"{s.value} -> {s.pathway} ({s.urgency})" for s in unknown.scenarios)
            add(f"  - {unknown.input}: {options}")
    if rec.counterfactuals:
        add("")
        add("What would change this:")
        for cf in rec.counterfactuals:
            add(f"  - {cf.change} -> {cf.pathway} ({cf.urgency})")
    plan = rec.follow_up
    add("")
    add(f"Follow-up: {plan.title} [{plan.protocol_id} {plan.protocol_version}, {plan.evidence}]")
    for visit in plan.visits:
        mri = "; MRI due" if visit.mri_due else ""
        add(
            f"  {visit.number}. {visit.due} (window {visit.window_start} to {visit.window_end}): "
            f"{visit.label}{mri}"
        )
    add(f"  MRI: {plan.mri}")
    for trigger in plan.escalation:
        add(f"  Escalate: {trigger}")
    add("")
    add(rec.disclaimer)
    return "\n".join(out)
