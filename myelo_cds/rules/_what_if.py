"""What would change the answer: the unknown inputs that would, and the nearest known changes.

Each what-if is answered by evaluating the rule set again on changed leaves (or a changed
feature vector), never by a second copy of a rule. The values tried come from the rule
parameters and the mJOA scale data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from myelo_cds.findings import EdxSummary, OnsetTempo, SensoryLevel, SphincterChange, field_description
from myelo_cds.rules._evaluation import Evaluation
from myelo_cds.rules._triage import Completion
from myelo_cds.rules.facts import FEATURES, LEAF_INPUTS, Leaves
from myelo_cds.rules.result import Counterfactual, Scenario, UnknownImpact
from myelo_cds.rules.table import FEATURE_NAMES, Decision
from myelo_cds.scales import mjoa_max_total, mjoa_scale

__all__ = ["WhatIf"]

#: The smallest change of an mJOA total (one point on one item).
_ONE_POINT = 1

#: Leaves read from MRI findings: when no MRI is available they are summarised as one input.
_MRI_LEAVES = frozenset(
    leaf for leaf, paths in LEAF_INPUTS.items() if all(path.startswith("mri.") for path in paths)
)
#: Leaves that hold a findings choice as it was entered (the other leaves are yes/no/unknown).
_ENUM_LEAVES: dict[str, type[Any]] = {
    "tempo": OnsetTempo,
    "sphincter": SphincterChange,
    "sensory_level": SensoryLevel,
    "edx": EdxSummary,
}
#: Features whose yes/no is turned over for "what would change this", in words.
_FLIPS = {
    "compression": "cord compression",
    "myelopathy": "myelopathy",
    "radiculopathy": "radiculopathy",
    "alternative": "features of an alternative disease",
    "atypical_lesion": "an atypical cord lesion",
    "discordant": "a thoracic-level finding",
}
_BAND_WORDS = {"normal": "no deficit"}


def _points(count: int) -> str:
    return f"{count} point" if count == _ONE_POINT else f"{count} points"


def _level_span(levels: list[str]) -> str:
    return f"{levels[0]} to {levels[-1]}" if len(levels) > 1 else levels[0]


def _labels(params: Mapping[str, Any]) -> dict[str, str]:
    """Names of the inputs a clinician would examine, with the thresholds the rules use."""
    grade = params["hyperreflexia_min_grade"]
    return {
        "hyperreflexia_arms": f"Arm reflexes (brisk {grade}+ or more)",
        "hyperreflexia_legs": f"Leg reflexes (brisk {grade}+ or more)",
        "weakness": "Power in every myotome (MRC)",
        "long_duration": "Symptom duration",
        "compression": "Cord compression (Kang grade) at every cervical level",
        "high_cervical_compression": f"Compression at {_level_span(list(params['high_cervical_levels']))}",
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


def _described(path: str) -> str | None:
    text = field_description(tuple(path.split(".")))
    return text.split(" Leave empty", maxsplit=1)[0].rstrip(".") if text else None


def _with(features: tuple[str, ...], name: str, value: str) -> tuple[str, ...]:
    index = FEATURE_NAMES.index(name)
    return (*features[:index], value, *features[index + 1 :])


class WhatIf:
    """Asks the rule set again with one input changed.

    Args:
        evaluate: the whole evaluation of a set of leaves.
        decide: the decision tables over a feature vector.
        params: the rule set's parameters (thresholds).
    """

    def __init__(
        self,
        evaluate: Callable[[Leaves], Evaluation],
        decide: Callable[[tuple[str, ...]], Decision],
        params: Mapping[str, Any],
    ) -> None:
        self._evaluate = evaluate
        self._decide = decide
        self._params = params
        self._labels = _labels(params)
        scale = mjoa_scale()
        self._max_total = mjoa_max_total()
        # One typical total per band, the highest of each, best band first.
        self._band_tops = tuple(
            (_BAND_WORDS.get(band["id"], band["id"]), int(band["max"]))
            for band in sorted(scale["bands"], key=lambda band: -int(band["max"]))
        )

    def _label(self, leaf: str) -> str:
        if leaf in self._labels:
            return self._labels[leaf]
        return _described(LEAF_INPUTS[leaf][0]) or leaf.replace("_", " ").capitalize()

    def _scenarios(self, leaf: str, leaves: Leaves) -> list[tuple[str, Leaves]]:
        """Plausible completions of one unknown input, as leaf overrides."""
        if leaf in _ENUM_LEAVES:
            return [(member.value, {leaf: member}) for member in _ENUM_LEAVES[leaf]]
        if leaf == "mjoa":
            return [
                (
                    f"mJOA {total} ({words})",
                    {"mjoa_total": total, "mjoa_severity_total": total, "mjoa_not_attributed": False},
                )
                for words, total in self._band_tops
            ]
        if leaf == "earlier_mjoa":
            total = leaves["mjoa_severity_total"]  # the change is of the attributed total
            # A change the size the rules call deterioration, either way, and the smallest fall.
            size = int(self._params["deterioration_drop_points"])
            changes = {
                size: f"improved by {_points(size)}",
                0: "unchanged",
                -_ONE_POINT: f"{_points(_ONE_POINT)} lower than before",
                -size: f"{_points(size)} lower than before",
            }
            window = int(self._params["rapid_decline_window_days"])
            current: Leaves = {}
            if total is None:  # no mJOA today either: one typical current total
                total = self._max_total - size
                current = {"mjoa_total": total, "mjoa_severity_total": total, "mjoa_not_attributed": False}
            scenarios = [
                (f"mJOA {text}", {**current, "mjoa_delta": delta, "mjoa_days": None})
                for delta, text in changes.items()
                if 0 <= total - delta <= self._max_total
            ]
            if total + size <= self._max_total:
                # The same fall within the rapid-decline window (the red flag's question).
                scenarios.append(
                    (
                        f"mJOA {_points(size)} lower within {window} days",
                        {**current, "mjoa_delta": -size, "mjoa_days": window},
                    )
                )
            return scenarios
        if leaf == "mri":
            typical = dict.fromkeys(_MRI_LEAVES, False)
            return [
                ("MRI shows cord compression", {**typical, "compression": True}),
                ("MRI shows no cord compression", typical),
            ]
        return [("present", {leaf: True}), ("absent", {leaf: False})]

    @staticmethod
    def _unknown_inputs(leaves: Leaves) -> Iterator[str]:
        mri_missing = leaves["compression"] is None and not any(
            leaves[name] is not None for name in _MRI_LEAVES
        )
        if mri_missing:
            yield "mri"
        if leaves["mjoa_total"] is None:
            yield "mjoa"
        if leaves["mjoa_delta"] is None:
            yield "earlier_mjoa"
        first_visit = leaves["mjoa_delta"] is None and leaves["management"] == "untreated"
        for leaf in LEAF_INPUTS:
            if leaf in ("mjoa", "earlier_mjoa") or (mri_missing and leaf in _MRI_LEAVES):
                continue
            if leaf == "new_umn_sign" and first_visit:
                continue  # "new since the last visit" has no meaning at a first assessment
            if leaves.get(leaf) is None:
                yield leaf

    def completions(self, leaves: Leaves) -> list[tuple[Completion, str, Evaluation]]:
        """Each unknown input completed with each plausible value, and the evaluation that follows.

        One pass serves both the unknowns that would change the answer and the red-flag triage.
        """
        out = []
        for leaf in self._unknown_inputs(leaves):
            fields = ("mri",) if leaf == "mri" else LEAF_INPUTS.get(leaf, (leaf,))
            label = self._label(leaf)
            for text, overrides in self._scenarios(leaf, leaves):
                evaluation = self._evaluate({**leaves, **overrides})
                out.append((Completion(leaf, label, fields, evaluation.facts), text, evaluation))
        return out

    @staticmethod
    def unknowns(
        completions: list[tuple[Completion, str, Evaluation]],
        base: Decision,
        not_done: frozenset[str] = frozenset(),
    ) -> list[UnknownImpact]:
        """Each unknown input whose possible values would change the pathway or urgency.

        An input whose every field is in ``not_done`` (documented as not done) is marked so: it
        is still an unknown with its scenarios, only no longer "not recorded".
        """
        changed: dict[str, tuple[Completion, list[Scenario]]] = {}
        for completion, text, evaluation in completions:
            decision = evaluation.decision
            if (decision.pathway, decision.urgency) != (base.pathway, base.urgency):
                scenario = Scenario(value=text, pathway=decision.pathway, urgency=decision.urgency)
                changed.setdefault(completion.leaf, (completion, []))[1].append(scenario)
        return [
            UnknownImpact(
                input=completion.label,
                fields=completion.fields,
                scenarios=tuple(scenarios),
                not_done=bool(completion.fields) and set(completion.fields) <= not_done,
            )
            for completion, scenarios in changed.values()
        ]

    def counterfactuals(self, leaves: Leaves, evaluation: Evaluation) -> list[Counterfactual]:
        """Nearby known situations that would change the answer."""
        base = evaluation.decision
        out: list[Counterfactual] = []

        def consider(change: str, decision: Decision) -> None:
            if (decision.pathway, decision.urgency) != (base.pathway, base.urgency):
                out.append(Counterfactual(change=change, pathway=decision.pathway, urgency=decision.urgency))

        total = leaves["mjoa_total"]
        if total is not None:
            for step, word in ((-_ONE_POINT, "lower"), (_ONE_POINT, "higher")):
                new = total + step
                if not 0 <= new <= self._max_total:
                    continue
                delta = leaves["mjoa_delta"]
                # One point on an item attributed to myelopathy: both totals move.
                overrides: Leaves = {
                    "mjoa_total": new,
                    "mjoa_severity_total": min(self._max_total, max(0, leaves["mjoa_severity_total"] + step)),
                    "mjoa_delta": None if delta is None else delta + step,
                }
                consider(f"one mJOA point {word} ({new})", self._evaluate({**leaves, **overrides}).decision)
        named = evaluation.named_features
        for feature, words in _FLIPS.items():
            value = named[feature]
            if value == "unknown":
                continue
            other = "no" if value == "yes" else "yes"
            text = f"{'without' if other == 'no' else 'with'} {words}"
            consider(text, self._decide(_with(evaluation.features, feature, other)))
        course = named["course"]
        order = tuple(value for value in FEATURES["course"] if value != "unknown")
        if course in order[:-1]:
            worse = order[order.index(course) + 1]
            consider(
                f"course {worse.replace('_', ' ')}",
                self._decide(_with(evaluation.features, "course", worse)),
            )
        if named["management"] == "rehab_early":
            months = self._params["rehab_trial_months"]
            consider(
                f"after {months} months of supervised rehabilitation",
                self._decide(_with(evaluation.features, "management", "rehab_trial_complete")),
            )
        return out
