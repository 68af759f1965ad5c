"""The assessment engine: findings in, one recommendation with its full basis out.

Every surface (CLI, batch, pages, exports) calls :func:`assess`; there is no second copy of
any rule. The pathway is a pure function of the derived features, so the same inputs always
give the same answer, and every valid input gets exactly one (proved by ``verify``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, get_args

from pydantic import BaseModel

from myelo_cds.findings import (
    EdxSummary,
    Findings,
    OnsetTempo,
    SensoryLevel,
    SphincterChange,
)
from myelo_cds.followup import follow_up_schedule
from myelo_cds.rules.facts import FEATURES, LEAF_INPUTS, Leaves, combine, observe
from myelo_cds.rules.result import (
    Counterfactual,
    Differential,
    FiredRule,
    Flag,
    Recommendation,
    RuleSetRef,
    Scenario,
    Scores,
    UnknownImpact,
)
from myelo_cds.rules.ruleset import RuleSet, ScreenRule, default_rule_set
from myelo_cds.rules.table import FEATURE_NAMES, Decision, DecisionTable, screen, true_facts
from myelo_cds.scales import cook_cluster, mjoa_change, mjoa_score, mscc, nurick_grade

__all__ = ["PATHWAY_LABELS", "Engine", "Evaluation", "assess", "default_engine"]

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

# Leaves read from MRI findings: when no MRI is available they are summarised as one input.
_MRI_LEAVES = frozenset(
    {
        "compression",
        "high_cervical_compression",
        "thoracic_compression",
        "t1_hypointensity",
        "t2_signal_any",
        "multisegment_sharp_t2",
        "snake_eyes",
        "k_line_negative",
        "opll",
        "kyphosis",
        "dynamic_instability",
        "longitudinally_extensive_lesion",
        "dorsal_column_signal",
        "intramedullary_mass",
        "syrinx",
        "epidural_collection",
    }
)
_ENUM_LEAVES: dict[str, type[Any]] = {
    "tempo": OnsetTempo,
    "sphincter": SphincterChange,
    "sensory_level": SensoryLevel,
    "edx": EdxSummary,
}
_LABELS: dict[str, str] = {
    "hyperreflexia_arms": "Arm reflexes (brisk 3+ or more)",
    "hyperreflexia_legs": "Leg reflexes (brisk 3+ or more)",
    "weakness": "Power in every myotome (MRC)",
    "long_duration": "Symptom duration",
    "compression": "Cord compression (Kang grade) at every cervical level",
    "high_cervical_compression": "Compression at C2-C3 to C4-C5",
    "t1_hypointensity": "T1 hypointensity",
    "t2_signal_any": "T2 signal",
    "multisegment_sharp_t2": "Multisegmental sharp T2 signal",
    "snake_eyes": "Snake-eye appearance",
    "k_line_negative": "K-line",
    "tempo": "Onset tempo",
    "sphincter": "Bladder or bowel change",
    "sensory_level": "Sensory level",
    "edx": "Electrodiagnostics",
    "mjoa": "mJOA",
    "earlier_mjoa": "Earlier mJOA (change over time)",
    "mri": "Cervical MRI",
}


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


def _label(leaf: str) -> str:
    if leaf in _LABELS:
        return _LABELS[leaf]
    path = LEAF_INPUTS[leaf][0]
    return _field_description(path) or leaf.replace("_", " ").capitalize()


@cache
def _field_description(path: str) -> str | None:
    model: Any = Findings
    field = None
    for part in path.split("."):
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return None
        field = fields[part]
        model = field.annotation
        for arg in get_args(model):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                model = arg
    if field is None or not field.description:
        return None
    text: str = field.description
    return text.split(" Leave empty", maxsplit=1)[0].rstrip(".")


def _scenarios(leaf: str, leaves: Leaves) -> list[tuple[str, Leaves]]:
    """Plausible completions of one unknown input, as leaf overrides."""
    if leaf in _ENUM_LEAVES:
        return [(member.value, {leaf: member}) for member in _ENUM_LEAVES[leaf]]
    if leaf == "mjoa":
        bands = (("18 (no deficit)", 18), ("17 (mild)", 17), ("14 (moderate)", 14), ("11 (severe)", 11))
        return [
            (
                f"mJOA {text}",
                {"mjoa_total": total, "mjoa_severity_total": total, "mjoa_not_attributed": False},
            )
            for text, total in bands
        ]
    if leaf == "earlier_mjoa":
        total = leaves["mjoa_total"]
        options = []
        for text, delta in (
            ("improved by 2 points", 2),
            ("unchanged", 0),
            ("1 point lower than before", -1),
            ("2 points lower than before", -2),
        ):
            if 0 <= total - delta <= 18:
                options.append((f"mJOA {text}", {"mjoa_delta": delta, "mjoa_days": None}))
        return options
    if leaf == "mri":
        typical = dict.fromkeys(_MRI_LEAVES, False)
        return [
            ("MRI shows cord compression", {**typical, "compression": True}),
            ("MRI shows no cord compression", typical),
        ]
    return [("present", {leaf: True}), ("absent", {leaf: False})]


class Engine:
    """A rule set, compiled once, ready to assess findings."""

    def __init__(self, rule_set: RuleSet | None = None) -> None:
        self.rule_set = rule_set or default_rule_set()
        self.params = self.rule_set.params
        self.table = DecisionTable(self.rule_set)
        self._ref = RuleSetRef(
            id=self.rule_set.id, version=self.rule_set.version, sha256=self.rule_set.sha256
        )
        self._citations = {key: source.citation for key, source in self.rule_set.sources.items()}

    # --- core evaluation ----------------------------------------------------------------

    def evaluate(self, leaves: Leaves) -> Evaluation:
        facts = combine(leaves, self.params)
        true = true_facts(facts)
        red = screen(self.rule_set.red_flags, facts, true)
        named = facts["features"]
        named["red_flag"] = "yes" if red else "no"
        features = tuple(named[name] for name in FEATURE_NAMES)
        return Evaluation(facts, red, features, self.table.decide(features), true)

    def leaves(self, findings: Findings, on: dt.date | None = None) -> Leaves:
        when = on or findings.assessment_date or dt.date.today()
        return observe(findings, self.params, when)

    def decide(self, findings: Findings, on: dt.date | None = None) -> Evaluation:
        """The decision alone, without the explanation (the batch path)."""
        return self.evaluate(self.leaves(findings, on))

    # --- explanation --------------------------------------------------------------------

    def _fired_screen(self, row: ScreenRule, facts: Mapping[str, Any]) -> FiredRule:
        return FiredRule(
            id=row.id,
            version=row.version,
            kind="red_flag",
            title=row.title,
            action=row.action,
            inputs={name: _show(facts[name]) for name in row.facts},
            citation=self._citations[row.source],
            recommendation="",
            strength=row.strength,
            quality=row.quality,
            evidence=row.evidence,
        )

    def _fired(self, evaluation: Evaluation) -> list[FiredRule]:
        fired = [
            self._fired_screen(row, evaluation.facts)
            for row in self.rule_set.red_flags
            if row.id in evaluation.red_flags
        ]
        named = dict(zip(FEATURE_NAMES, evaluation.features, strict=True))
        decision = evaluation.decision
        for rule_id in decision.deciding:
            row = self.rule_set.pathway_rule(rule_id)
            fired.append(
                FiredRule(
                    id=row.id,
                    version=row.version,
                    kind="pathway",
                    title=row.title,
                    action=row.action,
                    inputs={name: named[name] for name in row.when},
                    citation=self._citations[row.source],
                    recommendation=row.recommendation,
                    strength=row.strength,
                    quality=row.quality,
                    evidence=row.evidence,
                )
            )
        with_pathway = {**named, "pathway": decision.pathway}
        for rule_id in decision.urgency_rules[:1]:
            urgency = self.rule_set.urgency_rule(rule_id)
            fired.append(
                FiredRule(
                    id=urgency.id,
                    version=urgency.version,
                    kind="urgency",
                    title=urgency.title,
                    action=f"Urgency: {urgency.urgency}",
                    inputs={name: with_pathway[name] for name in urgency.when},
                    citation=self._citations[urgency.source],
                    recommendation="",
                    strength="none",
                    quality="none",
                    evidence=urgency.evidence,
                )
            )
        return fired

    def _screens(self, facts: Mapping[str, Any]) -> tuple[list[Flag], list[Differential]]:
        fired_flags = screen(self.rule_set.flags, facts)
        fired_differentials = screen(self.rule_set.differentials, facts)
        flags = [
            Flag(
                id=row.id,
                text=row.text,
                triggers=tuple(name for name in row.facts if facts[name] is True),
                citation=self._citations[row.source],
                evidence=row.evidence,
            )
            for row in self.rule_set.flags
            if row.id in fired_flags
        ]
        differentials = [
            Differential(
                id=row.id,
                condition=row.condition,
                workup=row.workup,
                triggers=tuple(name for name in row.facts if facts[name] is True),
                citation=self._citations[row.source],
                evidence=row.evidence,
            )
            for row in self.rule_set.differentials
            if row.id in fired_differentials
        ]
        return flags, differentials

    def _unknown_inputs(self, leaves: Leaves) -> Iterator[str]:
        mri_missing = leaves["compression"] is None and not any(
            leaves[name] is not None for name in _MRI_LEAVES
        )
        if mri_missing:
            yield "mri"
        if leaves["mjoa_total"] is None:
            yield "mjoa"
        elif leaves["mjoa_delta"] is None:
            yield "earlier_mjoa"
        first_visit = leaves["mjoa_delta"] is None and leaves["management"] == "untreated"
        for leaf in LEAF_INPUTS:
            if leaf in ("mjoa", "earlier_mjoa") or (mri_missing and leaf in _MRI_LEAVES):
                continue
            if leaf == "new_umn_sign" and first_visit:
                continue  # "new since the last visit" has no meaning at a first assessment
            if leaves.get(leaf) is None:
                yield leaf

    def unknowns(self, leaves: Leaves, base: Decision) -> list[UnknownImpact]:
        """Each unknown input whose possible values would change the pathway or urgency."""
        impacts = []
        for leaf in self._unknown_inputs(leaves):
            changed = []
            for text, overrides in _scenarios(leaf, leaves):
                decision = self.evaluate({**leaves, **overrides}).decision
                if (decision.pathway, decision.urgency) != (base.pathway, base.urgency):
                    changed.append(Scenario(value=text, pathway=decision.pathway, urgency=decision.urgency))
            if changed:
                fields = ("mri",) if leaf == "mri" else LEAF_INPUTS.get(leaf, (leaf,))
                impacts.append(UnknownImpact(input=_label(leaf), fields=fields, scenarios=tuple(changed)))
        return impacts

    def counterfactuals(self, leaves: Leaves, evaluation: Evaluation) -> list[Counterfactual]:
        """Nearby known situations that would change the answer."""
        base = evaluation.decision
        out: list[Counterfactual] = []

        def consider(change: str, decision: Decision) -> None:
            if (decision.pathway, decision.urgency) != (base.pathway, base.urgency):
                out.append(Counterfactual(change=change, pathway=decision.pathway, urgency=decision.urgency))

        total = leaves["mjoa_total"]
        if total is not None:
            for step, word in ((-1, "lower"), (1, "higher")):
                new = total + step
                if not 0 <= new <= 18:
                    continue
                delta = leaves["mjoa_delta"]
                # One point on an item attributed to myelopathy: both totals move.
                overrides: Leaves = {
                    "mjoa_total": new,
                    "mjoa_severity_total": min(18, max(0, leaves["mjoa_severity_total"] + step)),
                    "mjoa_delta": None if delta is None else delta + step,
                }
                consider(f"one mJOA point {word} ({new})", self.evaluate({**leaves, **overrides}).decision)
        named = dict(zip(FEATURE_NAMES, evaluation.features, strict=True))
        flips = {
            "compression": "cord compression",
            "myelopathy": "myelopathy",
            "radiculopathy": "radiculopathy",
            "alternative": "features of an alternative disease",
            "atypical_lesion": "an atypical cord lesion",
            "discordant": "a thoracic-level finding",
        }
        for feature, words in flips.items():
            value = named[feature]
            if value == "unknown":
                continue
            other = "no" if value == "yes" else "yes"
            text = f"{'without' if other == 'no' else 'with'} {words}"
            consider(text, self.table.decide(_with(evaluation.features, feature, other)))
        course = named["course"]
        order = FEATURES["course"][:4]
        if course in order[:-1]:
            worse = order[order.index(course) + 1]
            consider(
                f"course {worse.replace('_', ' ')}",
                self.table.decide(_with(evaluation.features, "course", worse)),
            )
        if named["management"] == "rehab_early":
            consider(
                "after 3 months of supervised rehabilitation",
                self.table.decide(_with(evaluation.features, "management", "rehab_trial_complete")),
            )
        return out

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
        flags, differentials = self._screens(facts)
        fired = self._fired(evaluation)
        deciding_title = next(rule.title for rule in fired if rule.kind == "pathway")
        scores = _scores(findings, when)
        plan = follow_up_schedule(when, decision.deciding, decision.urgency, [flag.id for flag in flags])
        return Recommendation(
            case_id=findings.case_id,
            assessment_date=when,
            pathway=decision.pathway,
            urgency=decision.urgency,
            headline=f"{PATHWAY_LABELS[decision.pathway]} ({decision.urgency}): {deciding_title}",
            rules_fired=tuple(fired),
            superseded=decision.superseded,
            features=dict(zip(FEATURE_NAMES, evaluation.features, strict=True)),
            clinical_picture=_clinical_picture(findings, facts, scores),
            flags=tuple(flags),
            differentials=tuple(differentials),
            unknowns=tuple(self.unknowns(leaves, decision)),
            counterfactuals=tuple(self.counterfactuals(leaves, evaluation)),
            scores=scores,
            follow_up=plan,
            rule_set=self._ref,
            disclaimer=DISCLAIMER,
        )


def _with(features: tuple[str, ...], name: str, value: str) -> tuple[str, ...]:
    index = FEATURE_NAMES.index(name)
    return (*features[:index], value, *features[index + 1 :])


def _show(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


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


def _clinical_picture(findings: Findings, facts: Mapping[str, Any], scores: Scores) -> dict[str, str]:
    """Plain statements that keep the syndrome, the imaging and the scope apart."""
    picture: dict[str, str] = {}
    if facts["myelopathy"] is True:
        basis = []
        if facts["myelopathic_symptom"] is True and facts["umn_sign"] is True:
            basis.append("myelopathic symptom with an upper-motor-neuron sign")
        if facts["mjoa_deficit_attributed"] is True:
            basis.append("mJOA deficit attributed to myelopathy")
        picture["myelopathy"] = "present (" + "; ".join(basis) + ")"
    elif facts["myelopathy"] is False:
        picture["myelopathy"] = "not shown on the findings entered"
    else:
        picture["myelopathy"] = "undetermined: examination or mJOA incomplete"
    if scores.mjoa is not None:
        m = scores.mjoa
        picture["severity"] = (
            f"{m.band} (mJOA {m.total}/18)"
            if m.attributed_total == m.total
            else f"{m.attributed_band} (mJOA attributed to myelopathy {m.attributed_total}/18; "
            f"raw {m.total}/18, {m.band})"
        )
    mri = findings.mri
    if not mri.available:
        picture["imaging"] = "no MRI available"
    else:
        compressed = [
            f"{level.value} (Kang {finding.kang})"
            for level, finding in sorted(mri.levels.items())
            if finding.kang is not None and finding.kang >= 2
        ]
        picture["cord_compression"] = (
            ", ".join(compressed)
            if compressed
            else ("none at the graded levels" if facts["compression"] is False else "not fully graded")
        )
        malacia = facts["t1_hypointensity"]
        picture["myelomalacia_on_imaging"] = {
            True: "yes: T1 hypointensity (cord softening); an imaging finding, not the clinical syndrome",
            False: "no T1 hypointensity reported",
            None: "not reported",
        }[malacia]
        if facts["high_cervical_compression"] is True:
            picture["level_note"] = "compression at C3-C5 segments: breathing (phrenic nerve) can be affected"
    scope = []
    if facts["paediatric"]:
        scope.append("age under 18 (outside the adult DCM guideline)")
    if facts["discordant"] is True:
        scope.append("thoracic-level findings (outside the cervical DCM guideline)")
    if facts["myelopathy"] is True and facts["compression"] is False:
        scope.append("non-compressive myelopathy (not DCM)")
    if facts["atypical_lesion"] is True or facts["alternative"] is True:
        scope.append("features of another disease: see differentials")
    picture["scope"] = "; ".join(scope) if scope else "within the adult DCM guideline on current findings"
    if facts["myelopathy"] is True and facts["compression"] is True and not scope:
        picture["likely_cause"] = "degenerative cervical myelopathy (cord compression explains the findings)"
    return picture


@cache
def default_engine() -> Engine:
    """The engine for the shipped rule set (compiled once per process)."""
    return Engine()


def assess(findings: Findings, on: dt.date | None = None) -> Recommendation:
    """Assess findings with the shipped rule set. See :meth:`Engine.assess`."""
    return default_engine().assess(findings, on)
