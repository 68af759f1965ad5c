"""Static verification of the decision tables over the whole discretised input space.

The pathway and urgency are functions of a small feature vector (see
:data:`~myelo_cds.rules.facts.FEATURES`), so every possible vector can be enumerated and
checked. This proves, for the tables as shipped:

* totality: every vector is matched by at least one pathway row and one urgency row;
* no conflict: rows of equal priority that can match the same vector give the same pathway;
* reachability: every pathway and urgency row decides at least one vector;
* red flags: ``red_flag = yes`` always gives ``emergency_referral`` with ``emergency`` urgency;
* monotonicity: worsening any single feature one step (see
  :data:`~myelo_cds.rules.facts.FEATURE_ORDER`) never lowers the urgency; by transitivity this
  covers any combination of worsenings;
* follow-up: every deciding rule, at every urgency it can carry, has a follow-up schedule;
* no silent red flag: every red-flag row, in every three-valued state of its conditions, is
  fired, excluded, or has an unknown condition that some blank input of the findings answers
  (so the engine names that input in ``to_confirm``); rows needing two or more blanks included.

That feature derivation from the full findings is itself monotone and total is proved by the
property-based tests (``tests/test_properties.py``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from myelo_cds.followup import follow_up_schedule
from myelo_cds.rules.facts import FEATURE_ORDER, FEATURES
from myelo_cds.rules.ruleset import URGENCIES, RuleSet, default_rule_set
from myelo_cds.rules.table import FEATURE_NAMES, DecisionTable, SpaceDecisions

__all__ = ["Check", "VerificationReport", "verify_rule_set"]

_MAX_EXAMPLES = 5
_KEY_BYTES = 8
"""Bytes in the integer key of an outcome (a uint64)."""


class Check(BaseModel):
    name: str
    passed: bool
    detail: str
    counterexamples: list[str]


class VerificationReport(BaseModel):
    rule_set_id: str
    rule_set_version: str
    rule_set_sha256: str
    vectors: int
    checks: list[Check]
    decided_by: dict[str, int]
    """Pathway and urgency row id -> number of vectors it decides."""

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def text(self) -> str:
        lines = [
            f"Rule set {self.rule_set_id} {self.rule_set_version} (sha256 {self.rule_set_sha256[:12]}...)",
            f"Enumerated {self.vectors:,} feature vectors "
            f"({' x '.join(str(len(v)) for v in FEATURES.values())}).",
        ]
        for check in self.checks:
            lines.append(f"  [{'PASS' if check.passed else 'FAIL'}] {check.name}: {check.detail}")
            lines.extend(f"        e.g. {example}" for example in check.counterexamples)
        lines.append("Vectors decided per rule:")
        lines.extend(f"  {rule_id:<24} {count:>8,}" for rule_id, count in self.decided_by.items())
        lines.append("VERIFIED" if self.passed else "VERIFICATION FAILED")
        return "\n".join(lines)


def _show(vector: tuple[str, ...]) -> str:
    return ", ".join(f"{name}={value}" for name, value in zip(FEATURE_NAMES, vector, strict=True))


def _check(name: str, problems: list[str], ok_detail: str) -> Check:
    if problems:
        return Check(
            name=name,
            passed=False,
            detail=f"{len(problems)} violation(s)",
            counterexamples=problems[:_MAX_EXAMPLES],
        )
    return Check(name=name, passed=True, detail=ok_detail, counterexamples=[])


def _is_decided(space: SpaceDecisions) -> npt.NDArray[np.bool_]:
    """Per vector: True if it got both a deciding pathway row and an urgency row."""
    return np.asarray(space.winners.any(axis=0) & space.urgency_matched.any(axis=0), dtype=np.bool_)


def _first(mask: npt.NDArray[np.bool_]) -> list[int]:
    """Enumeration indices of the first few vectors where ``mask`` holds."""
    return [int(i) for i in np.flatnonzero(mask)[:_MAX_EXAMPLES]]


def _check_total(space: SpaceDecisions, decided: npt.NDArray[np.bool_]) -> Check:
    undecided = ~decided
    return _counted_check(
        "total: every vector gets a pathway and an urgency",
        int(undecided.sum()),
        [_show(space.vector(i)) for i in _first(undecided)],
        f"all {space.size:,} vectors decided",
    )


def _counted_check(name: str, count: int, examples: list[str], ok_detail: str) -> Check:
    """:func:`_check` when only the number of problems and the first few are computed."""
    if count:
        return Check(
            name=name, passed=False, detail=f"{count} violation(s)", counterexamples=examples[:_MAX_EXAMPLES]
        )
    return Check(name=name, passed=True, detail=ok_detail, counterexamples=[])


def _check_no_conflict(space: SpaceDecisions, decided: npt.NDArray[np.bool_]) -> Check:
    """Rows of equal priority that match the same vector must give the same pathway."""
    rows = space.pathway_rows
    co_matching: set[tuple[str, str]] = set()
    for i, j in itertools.combinations(range(len(rows)), 2):
        first, second = rows[i], rows[j]
        disagree = first.priority == second.priority and first.pathway != second.pathway
        if disagree and bool((space.matched[i] & space.matched[j] & decided).any()):
            co_matching.add((first.id, second.id))
    return _check(
        "no conflict between rows of equal priority",
        [f"{a} vs {b}" for a, b in sorted(co_matching)],
        "no two equal-priority rows disagree on any vector",
    )


def _rule_ids(rule_set: RuleSet) -> list[str]:
    return [row.id for row in rule_set.pathway] + [row.id for row in rule_set.urgency]


def _decided_by(rule_set: RuleSet, space: SpaceDecisions, decided: npt.NDArray[np.bool_]) -> dict[str, int]:
    """Pathway and urgency row id -> number of vectors it decides (the most urgent row decides)."""
    counts: Counter[str] = Counter()
    for row, won in zip(space.pathway_rows, space.winners, strict=True):
        counts[row.id] += int((won & decided).sum())
    if space.urgency_rows:
        most_urgent = space.urgency_matched.argmax(axis=0)[decided]
        per_row = np.bincount(most_urgent, minlength=len(space.urgency_rows))
        for urgency_row, count in zip(space.urgency_rows, per_row, strict=True):
            counts[urgency_row.id] += int(count)
    return {rule_id: counts[rule_id] for rule_id in _rule_ids(rule_set)}


def _check_reachable(decided_by: dict[str, int]) -> Check:
    return _check(
        "no unreachable rule",
        [f"{rule_id} never decides" for rule_id, count in decided_by.items() if count == 0],
        f"all {len(decided_by)} pathway and urgency rows decide some vector",
    )


def _outcome(space: SpaceDecisions, index: int) -> str:
    return f"{space.pathway_names[int(space.pathway[index])]}/{URGENCIES[int(space.urgency[index])]}"


def _check_red_flag(space: SpaceDecisions, decided: npt.NDArray[np.bool_]) -> Check:
    red_flag = space.codes[FEATURE_NAMES.index("red_flag")] == FEATURES["red_flag"].index("yes")
    emergency = (space.pathway == space.pathway_names.index("emergency_referral")) & (
        space.urgency == URGENCIES.index("emergency")
    )
    misses = red_flag & decided & ~emergency
    return _counted_check(
        "red flag always gives emergency referral",
        int(misses.sum()),
        [f"{_show(space.vector(i))} -> {_outcome(space, i)}" for i in _first(misses)],
        f"{int(red_flag.sum()):,} red-flag vectors all emergency",
    )


def _check_monotone(space: SpaceDecisions) -> Check:
    """Worsening any single feature one step (FEATURE_ORDER) never lowers the urgency.

    Vectors are mixed-radix indices, so the worsened vector is a fixed offset away.
    """
    # A higher index in URGENCIES is less urgent.
    urgency = space.urgency
    steps: list[tuple[str, str, str]] = []
    hits: list[npt.NDArray[np.int64]] = []
    pairs_checked = 0
    for feature, pairs in FEATURE_ORDER.items():
        index = FEATURE_NAMES.index(feature)
        values = FEATURES[feature]
        for better, worse in pairs:
            at = np.flatnonzero(space.codes[index] == values.index(better))
            pairs_checked += int(at.size)
            other = at + (values.index(worse) - values.index(better)) * space.strides[index]
            hits.append(at[urgency[other] > urgency[at]])
            steps.append((feature, better, worse))
    # Order as enumerated: by vector, then feature and pair (the order of FEATURE_ORDER).
    vectors = np.concatenate([*hits, np.zeros(0, dtype=np.int64)])
    step_of = np.concatenate(
        [np.full(h.size, k, dtype=np.int64) for k, h in enumerate(hits)] + [np.zeros(0, dtype=np.int64)]
    )
    order = np.lexsort((step_of, vectors))[:_MAX_EXAMPLES]
    examples = []
    for position in order:
        at_vector, step = int(vectors[position]), int(step_of[position])
        feature, better, worse = steps[step]
        values = FEATURES[feature]
        shift = (values.index(worse) - values.index(better)) * space.strides[FEATURE_NAMES.index(feature)]
        examples.append(
            f"{feature} {better}->{worse} at {_show(space.vector(at_vector))}: "
            f"{_outcome(space, at_vector)} -> {_outcome(space, at_vector + shift)}"
        )
    return _counted_check(
        "worsening a feature never lowers urgency",
        int(vectors.size),
        examples,
        f"{pairs_checked:,} single-step worsenings checked",
    )


def _check_follow_up(space: SpaceDecisions) -> Check:
    """Every distinct (deciding rules, urgency) outcome has a follow-up schedule."""
    rows = space.pathway_rows
    packed = np.packbits(space.winners, axis=0)  # (bytes, vectors): the deciding rows as bits
    distinct: list[tuple[list[int], int]] = []
    if packed.shape[0] < _KEY_BYTES:
        # One integer key per vector (urgency in the top byte): a 1-D sort instead of rows.
        keys = space.urgency.astype(np.uint64)
        for byte in packed:
            keys = (keys << np.uint64(8)) | byte.astype(np.uint64)
        for key in np.unique(keys).tolist():
            bits = [(key >> (8 * (packed.shape[0] - 1 - b))) & 0xFF for b in range(packed.shape[0])]
            distinct.append((bits, key >> (8 * packed.shape[0])))
    else:
        both = np.concatenate([packed, space.urgency[None, :].astype(np.uint8)]).T
        distinct = [(key[:-1], key[-1]) for key in np.unique(both, axis=0).tolist()]
    outcomes: set[tuple[tuple[str, ...], str]] = set()
    for bits, urgency_code in distinct:
        won = np.unpackbits(np.array(bits, dtype=np.uint8), count=len(rows)).tolist()
        deciding = tuple(row.id for row, hit in zip(rows, won, strict=True) if hit)
        outcomes.add((deciding, URGENCIES[urgency_code]))
    gaps: list[str] = []
    for deciding, urgency in sorted(outcomes):
        try:
            follow_up_schedule(dt.date(2026, 1, 1), deciding, urgency)
        except LookupError as error:
            gaps.append(f"{'+'.join(deciding)} ({urgency}): {error}")
    return _check(
        "every decision has a follow-up schedule",
        gaps,
        f"{len(outcomes)} distinct (rules, urgency) outcomes scheduled",
    )


def _answerable_facts(rule_set: RuleSet) -> tuple[set[str], set[str]]:
    """Facts unknown on a blank entry, and those of them a single blank input answers."""
    from myelo_cds.findings import Findings, Patient
    from myelo_cds.rules.engine import Engine

    engine = Engine(rule_set)
    leaves = engine.leaves(Findings(patient=Patient()), dt.date(2026, 1, 1))
    blank = engine.evaluate(leaves).facts
    unknown = {name for name, value in blank.items() if value is None}
    answered: set[str] = set()
    for completion in engine.completions(leaves):
        answered |= {name for name in unknown if completion.facts.get(name) is not None}
    return unknown, answered


def _check_no_silent_red_flag(rule_set: RuleSet) -> Check:
    """Each red-flag row in each three-valued state of its conditions is never silent."""
    from myelo_cds.rules._triage import row_state

    can_be_unknown, answered = _answerable_facts(rule_set)
    problems: list[str] = []
    states = 0
    for row in rule_set.red_flags:
        for values in itertools.product((True, False, None), repeat=len(row.facts)):
            facts = dict(zip(row.facts, values, strict=True))
            unknown = [name for name, value in facts.items() if value is None]
            if any(name not in can_be_unknown for name in unknown):
                continue  # a fact that is never unknown (e.g. "early post-operative")
            states += 1
            if row_state(row, facts) == "not_excluded" and not any(name in answered for name in unknown):
                shown = ", ".join(f"{name}={value}" for name, value in facts.items())
                problems.append(f"{row.id} at {shown}: no blank input answers {unknown}")
    return _check(
        "no silent red flag",
        problems,
        f"{states} three-valued states of {len(rule_set.red_flags)} red-flag rows: each fired, "
        "excluded, or answered by a named blank input",
    )


def verify_rule_set(rule_set: RuleSet | None = None) -> VerificationReport:
    """Enumerate every feature vector and check the tables (see the module docstring)."""
    rule_set = rule_set or default_rule_set()
    space = DecisionTable(rule_set).decide_space()
    decided = _is_decided(space)
    decided_by = _decided_by(rule_set, space, decided)
    return VerificationReport(
        rule_set_id=rule_set.id,
        rule_set_version=rule_set.version,
        rule_set_sha256=rule_set.sha256,
        vectors=space.size,
        checks=[
            _check_total(space, decided),
            _check_no_conflict(space, decided),
            _check_reachable(decided_by),
            _check_red_flag(space, decided),
            _check_monotone(space),
            _check_follow_up(space),
            _check_no_silent_red_flag(rule_set),
        ],
        decided_by=decided_by,
    )
