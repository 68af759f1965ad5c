"""Evaluating the decision tables over a feature vector (DMN PRIORITY hit policy)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress, repeat
from operator import is_
from typing import TYPE_CHECKING

from myelo_cds.rules.facts import FEATURES
from myelo_cds.rules.ruleset import PATHWAYS, URGENCIES, PathwayRule, RuleSet, ScreenRule, UrgencyRule

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Decision", "DecisionTable", "SpaceDecisions", "screen", "true_facts"]

FEATURE_NAMES: tuple[str, ...] = tuple(FEATURES)


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of the pathway and urgency tables for one feature vector."""

    pathway: str
    urgency: str
    deciding: tuple[str, ...]
    """Pathway rows that matched at the winning priority (all agree)."""
    superseded: tuple[str, ...]
    """Pathway rows that also matched at a lower priority."""
    urgency_rules: tuple[str, ...]
    """Urgency rows that matched, most urgent first."""
    conflict: bool = False
    """True if rows of the winning priority disagree (verification proves this never happens)."""


def _compile(
    when: Mapping[str, str | tuple[str, ...]], columns: tuple[str, ...]
) -> tuple[tuple[int, frozenset[str]], ...]:
    compiled = []
    for feature, value in when.items():
        allowed = (value,) if isinstance(value, str) else value
        compiled.append((columns.index(feature), frozenset(allowed)))
    return tuple(compiled)


class DecisionTable:
    """The pathway and urgency tables of a rule set, compiled for fast repeated evaluation.

    Evaluation is memoised per feature vector: the table is a pure function of it.
    """

    def __init__(self, rule_set: RuleSet) -> None:
        self.rule_set = rule_set
        rows = sorted(rule_set.pathway, key=lambda row: row.priority)
        self._pathway: tuple[tuple[PathwayRule, tuple[tuple[int, frozenset[str]], ...]], ...] = tuple(
            (row, _compile(row.when, FEATURE_NAMES)) for row in rows
        )
        urgency_columns = (*FEATURE_NAMES, "pathway")
        ordered = sorted(rule_set.urgency, key=lambda row: URGENCIES.index(row.urgency))
        self._urgency: tuple[tuple[UrgencyRule, tuple[tuple[int, frozenset[str]], ...]], ...] = tuple(
            (row, _compile(row.when, urgency_columns)) for row in ordered
        )
        self.decide = lru_cache(maxsize=None)(self.decide_uncached)

    @staticmethod
    def _matches(conditions: tuple[tuple[int, frozenset[str]], ...], values: tuple[str, ...]) -> bool:
        return all(values[index] in allowed for index, allowed in conditions)

    def matching_pathway_rows(self, features: tuple[str, ...]) -> list[PathwayRule]:
        """Every pathway row whose conditions hold, by priority."""
        return [row for row, cond in self._pathway if self._matches(cond, features)]

    def decide_uncached(self, features: tuple[str, ...]) -> Decision:
        """Evaluate both tables for one feature vector (``decide`` is the memoised form)."""
        matched = self.matching_pathway_rows(features)
        if not matched:
            # Unreachable for a verified rule set (totality is proven by `verify`); kept so
            # that evaluation is total even for an edited, unverified table.
            return Decision("further_workup", "expedited", (), (), (), conflict=True)
        top = matched[0].priority
        winners = [row for row in matched if row.priority == top]
        pathways = {row.pathway for row in winners}
        pathway = winners[0].pathway
        conflict = len(pathways) > 1
        if conflict:
            # Fail safe for an unverified table: the most urgent disagreeing pathway.
            pathway = "emergency_referral" if "emergency_referral" in pathways else "further_workup"
        values = (*features, pathway)
        urgency_rows = [row for row, cond in self._urgency if self._matches(cond, values)]
        urgency = urgency_rows[0].urgency if urgency_rows else "expedited"
        return Decision(
            pathway=pathway,
            urgency=urgency,
            deciding=tuple(row.id for row in winners),
            superseded=tuple(row.id for row in matched if row.priority != top),
            urgency_rules=tuple(row.id for row in urgency_rows),
            conflict=conflict or not urgency_rows,
        )

    def decide_space(self) -> SpaceDecisions:
        """Evaluate both tables column-wise over every feature vector at once (NumPy).

        Vector ``i`` is the ``i``-th of ``itertools.product(*FEATURES.values())`` (mixed radix,
        the last feature fastest). The rows and their compiled conditions are this table's own,
        and the semantics are those of :meth:`decide_uncached` (which
        :meth:`SpaceDecisions.decision` reproduces for one vector).
        """
        import numpy as np

        radices = tuple(len(values) for values in FEATURES.values())
        strides = tuple(int(np.prod(radices[i + 1 :], dtype=np.int64)) for i in range(len(radices)))
        size = int(np.prod(radices, dtype=np.int64))
        index = np.arange(size, dtype=np.int64)
        codes = tuple(
            ((index // stride) % radix).astype(np.int8)
            for stride, radix in zip(strides, radices, strict=True)
        )
        del index
        vocabularies: list[tuple[str, ...]] = [*FEATURES.values()]

        def match(
            conditions: tuple[tuple[int, frozenset[str]], ...], columns: tuple[npt.NDArray[np.int8], ...]
        ) -> npt.NDArray[np.bool_]:
            mask = np.ones(size, dtype=np.bool_)
            for column, allowed in conditions:
                lookup = np.array([value in allowed for value in vocabularies[column]], dtype=np.bool_)
                mask &= lookup[columns[column]]
            return mask

        pathway_rows = tuple(row for row, _ in self._pathway)
        matched = np.array([match(cond, codes) for _, cond in self._pathway], dtype=np.bool_).reshape(
            len(pathway_rows), size
        )
        priorities = np.array([row.priority for row in pathway_rows], dtype=np.int64)
        any_match = matched.any(axis=0)
        top = np.where(matched, priorities[:, None], np.iinfo(np.int64).max).min(axis=0)
        winners = matched & (priorities[:, None] == top[None, :])

        pathway_names: tuple[str, ...] = tuple(
            dict.fromkeys((*PATHWAYS, *(row.pathway for row in pathway_rows), "further_workup"))
        )
        row_pathway = np.array([pathway_names.index(row.pathway) for row in pathway_rows], dtype=np.int8)
        present = np.array(
            [(winners & (row_pathway == code)[:, None]).any(axis=0) for code in range(len(pathway_names))],
            dtype=np.bool_,
        ).reshape(len(pathway_names), size)
        disagree = present.sum(axis=0) > 1
        first_winner = winners.argmax(axis=0) if pathway_rows else np.zeros(size, dtype=np.int64)
        pathway = (row_pathway[first_winner] if pathway_rows else np.zeros(size, dtype=np.int8)).astype(
            np.int8
        )
        fail_safe = np.where(
            present[pathway_names.index("emergency_referral")],
            pathway_names.index("emergency_referral"),
            pathway_names.index("further_workup"),
        ).astype(np.int8)
        pathway = np.where(disagree, fail_safe, pathway).astype(np.int8)
        pathway[~any_match] = pathway_names.index("further_workup")

        vocabularies.append(pathway_names)
        urgency_rows = tuple(row for row, _ in self._urgency)
        urgency_matched = np.array(
            [match(cond, (*codes, pathway)) & any_match for _, cond in self._urgency], dtype=np.bool_
        ).reshape(len(urgency_rows), size)
        row_urgency = np.array([URGENCIES.index(row.urgency) for row in urgency_rows], dtype=np.int8)
        any_urgency = urgency_matched.any(axis=0)
        urgency = np.full(size, URGENCIES.index("expedited"), dtype=np.int8)
        if urgency_rows:
            first_urgency = urgency_matched.argmax(axis=0)
            urgency = np.where(any_urgency, row_urgency[first_urgency], urgency).astype(np.int8)
        return SpaceDecisions(
            radices=radices,
            strides=strides,
            codes=codes,
            pathway_rows=pathway_rows,
            urgency_rows=urgency_rows,
            matched=matched,
            winners=winners,
            urgency_matched=urgency_matched,
            pathway_names=pathway_names,
            pathway=pathway,
            urgency=urgency,
            conflict=~any_match | disagree | ~any_urgency,
        )


@dataclass(frozen=True, slots=True, eq=False)
class SpaceDecisions:
    """:meth:`DecisionTable.decide_space`: the decision of every feature vector, as arrays.

    Row arrays are ``(rows, vectors)``, in table order (pathway rows by priority, urgency rows
    most urgent first); ``pathway`` indexes ``pathway_names`` and ``urgency`` indexes
    ``URGENCIES``.
    """

    radices: tuple[int, ...]
    strides: tuple[int, ...]
    codes: tuple[npt.NDArray[np.int8], ...]
    """Per feature, the index of each vector's value in ``FEATURES[feature]``."""
    pathway_rows: tuple[PathwayRule, ...]
    urgency_rows: tuple[UrgencyRule, ...]
    matched: npt.NDArray[np.bool_]
    winners: npt.NDArray[np.bool_]
    urgency_matched: npt.NDArray[np.bool_]
    pathway_names: tuple[str, ...]
    pathway: npt.NDArray[np.int8]
    urgency: npt.NDArray[np.int8]
    conflict: npt.NDArray[np.bool_]

    @property
    def size(self) -> int:
        return int(self.pathway.shape[0])

    def vector(self, index: int) -> tuple[str, ...]:
        """The feature vector with this enumeration index."""
        return tuple(
            values[(index // stride) % radix]
            for values, stride, radix in zip(FEATURES.values(), self.strides, self.radices, strict=True)
        )

    def decision(self, index: int) -> Decision:
        """The :class:`Decision` of one vector (equal to ``decide_uncached`` on it)."""
        winners = self.winners[:, index]
        matched = self.matched[:, index]
        urgency_rows = self.urgency_matched[:, index]
        return Decision(
            pathway=self.pathway_names[int(self.pathway[index])],
            urgency=URGENCIES[int(self.urgency[index])],
            deciding=tuple(row.id for row, won in zip(self.pathway_rows, winners, strict=True) if won),
            superseded=tuple(
                row.id
                for row, hit, won in zip(self.pathway_rows, matched, winners, strict=True)
                if hit and not won
            ),
            urgency_rules=tuple(
                row.id for row, hit in zip(self.urgency_rows, urgency_rows, strict=True) if hit
            ),
            conflict=bool(self.conflict[index]),
        )


_Compiled = tuple[tuple[str, frozenset[str], frozenset[str]], ...]
# Compiled screen tables by identity; the rows are kept so that an id is never reused.
_COMPILED: dict[int, tuple[tuple[ScreenRule, ...], _Compiled]] = {}


def _compiled(rows: tuple[ScreenRule, ...]) -> _Compiled:
    entry = _COMPILED.get(id(rows))
    if entry is None or entry[0] is not rows:
        entry = (rows, tuple((row.id, frozenset(row.all), frozenset(row.any)) for row in rows))
        _COMPILED[id(rows)] = entry
    return entry[1]


def true_facts(facts: Mapping[str, object]) -> frozenset[str]:
    """The names of the facts known to be true (what :func:`screen` reads)."""
    # ``value is True`` for each fact, run in C (this is on the batch path of every row).
    return frozenset(compress(facts.keys(), map(is_, facts.values(), repeat(True))))


def screen(
    rows: tuple[ScreenRule, ...], facts: Mapping[str, object], true: frozenset[str] | None = None
) -> tuple[str, ...]:
    """Ids of the COLLECT rows that fire: every fact in ``all`` and one in ``any`` is true.

    An unknown fact never fires a row (three-valued AND/OR is only true when its parts are
    known to be true), so checking ``is True`` is exact. ``true`` (from :func:`true_facts`)
    may be passed when several tables screen the same facts.
    """
    if true is None:
        true = true_facts(facts)
    return tuple(
        row_id
        for row_id, every, some in _compiled(rows)
        if every <= true and (not some or not some.isdisjoint(true))
    )
