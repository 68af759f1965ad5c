"""Streamlit helpers for the training pages: the case library, mJOA entry, progress and reveal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import lru_cache, partial
from typing import Any

import altair as alt
import streamlit as st

from myelo_cds.findings import MJOAItem
from myelo_cds.records import TrainingAttempt
from myelo_cds.rules.engine import PATHWAY_LABELS
from myelo_cds.scales import mjoa_scale
from myelo_cds.teaching import (
    SCT_SCALE,
    DueCase,
    QuizResult,
    TeachingCase,
    accuracy_by_topic,
    accuracy_by_week,
    case_library,
    cases_dir,
    due_cases,
    score_working,
)
from myelo_cds.ui.panels import render_recommendation

__all__ = [
    "library",
    "mjoa_entry",
    "render_progress",
    "render_reveal",
    "sct_entry",
    "topic_chart",
    "week_chart",
]


@lru_cache(maxsize=4)
def _library(signature: tuple[tuple[str, float], ...]) -> tuple[TeachingCase, ...]:
    return case_library()


def library() -> tuple[TeachingCase, ...]:
    """The case library, re-read when a case file is added or changed (no trainee data cached)."""
    folder = cases_dir()
    signature = tuple((path.name, path.stat().st_mtime) for path in sorted(folder.glob("*.json")))
    return _library(signature)


def _level_text(levels: list[str], level: int) -> str:
    return f"{level} - {levels[level]}"


def mjoa_entry(key: str) -> dict[MJOAItem, int | None]:
    """Four mJOA selectboxes with the wording of every level; None where not chosen yet."""
    chosen: dict[MJOAItem, int | None] = {}
    columns = st.columns(2)
    for index, item in enumerate(mjoa_scale()["items"]):
        levels: list[str] = item["levels"]
        chosen[MJOAItem(item["id"])] = columns[index % 2].selectbox(
            f"mJOA {item['label'].lower()} (0-{item['max']})",
            list(range(len(levels))),
            index=None,
            format_func=partial(_level_text, levels),
            placeholder="score from the narrative",
            key=f"{key}.{item['id']}",
        )
    return chosen


def sct_entry(case: TeachingCase, key: str) -> list[int | None]:
    """One Likert radio per script-concordance item."""
    answers = []
    for index, item in enumerate(case.script_concordance, start=1):
        st.markdown(
            f"**Script-concordance item {index}.** {item.hypothesis} {item.new_information},"
            " this option becomes:"
        )
        answers.append(
            st.radio(
                f"Item {index} answer",
                list(SCT_SCALE),
                index=None,
                format_func=lambda value: f"{value:+d} {SCT_SCALE[value]}",
                horizontal=True,
                key=f"{key}.sct{index}",
                label_visibility="collapsed",
            )
        )
    return answers


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def render_reveal(case: TeachingCase, result: QuizResult) -> None:
    """After the commit: the score, where the answer differs and why, the engine's basis, teaching points."""
    verdict = "Correct" if result.pathway_correct else "Not the expected pathway"
    text = (
        f"**{verdict}** - you chose {PATHWAY_LABELS[result.pathway_given]}; the answer is"
        f" {PATHWAY_LABELS[result.pathway_expected]}."
    )
    if case.expected.disputed:
        accepted = ", ".join(PATHWAY_LABELS[p] for p in result.correct_pathways)
        text += f"  \nDisputed case: accepted answers are {accepted}."
    show = st.success if result.pathway_correct else st.error
    show(text, icon=":material/check_circle:" if result.pathway_correct else ":material/cancel:")
    mjoa = "not scored"
    if result.mjoa_true_total is not None:
        mjoa = f"{result.mjoa_given_total} / {result.mjoa_true_total}"
    credits = result.sct_credits
    severity = {True: "correct", False: "wrong", None: "not scored"}[result.severity_correct]
    columns = st.columns(4)
    columns[0].metric("Score", _percent(result.score))
    columns[1].metric("mJOA (yours / true)", mjoa)
    columns[2].metric("Severity grade", severity)
    columns[3].metric("Script concordance", _percent(sum(credits) / len(credits)) if credits else "-")
    st.caption(f"Score: {score_working(result)}. The pathway counts three times as much as each other part.")
    if result.differences:
        st.markdown("**Where your answer differs, and why**")
        st.markdown("\n".join(f"- {line}" for line in result.differences))
    st.markdown("**Teaching points**")
    st.markdown("\n".join(f"- {point}" for point in case.teaching_points))
    for index, (item, credit) in enumerate(
        zip(case.script_concordance, result.sct_credits, strict=True), start=1
    ):
        panel = ", ".join(f"{answer:+d}: {count}" for answer, count in item.panel.items())
        st.markdown(f"**Script-concordance item {index}** - your credit {credit:.2f} (panel {panel}).")
        st.markdown(item.explanation)
        st.caption(item.panel_source)
    st.markdown("**The engine's recommendation for this case**")
    render_recommendation(result.recommendation)
    with st.expander("Citations"):
        st.markdown("\n".join(f"- {citation}" for citation in case.citations))


def topic_chart(attempts: Sequence[TrainingAttempt]) -> alt.Chart:
    """Pathway accuracy per topic as bars (number of attempts in the tooltip)."""
    values = [row.model_dump() for row in accuracy_by_topic(attempts)]
    chart: alt.Chart = (
        alt.Chart(alt.Data(values=values))  # type: ignore[no-untyped-call]
        .mark_bar()
        .encode(
            x=alt.X(
                "accuracy:Q",
                title="Pathway accuracy",
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%"),
            ),
            y=alt.Y("topic:N", sort="-x", title=None),
            tooltip=["topic:N", "attempts:Q", "correct:Q", alt.Tooltip("mean_score:Q", format=".0%")],
        )
    )
    return chart


def week_chart(attempts: Sequence[TrainingAttempt]) -> alt.Chart:
    """Pathway accuracy and mean score per week, as lines with points."""
    values: list[dict[str, Any]] = []
    for row in accuracy_by_week(attempts):
        week = row.week_starting.isoformat()
        values.append(
            {"week": week, "measure": "pathway accuracy", "value": row.accuracy, "attempts": row.attempts}
        )
        values.append(
            {"week": week, "measure": "mean score", "value": row.mean_score, "attempts": row.attempts}
        )
    chart: alt.Chart = (
        alt.Chart(alt.Data(values=values))  # type: ignore[no-untyped-call]
        .mark_line(point=True)
        .encode(
            x=alt.X("week:T", title="Week starting"),
            y=alt.Y("value:Q", title=None, scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=alt.Color("measure:N", title=None),
            strokeDash=alt.StrokeDash("measure:N", title=None),
            tooltip=[
                alt.Tooltip("week:T", format="%Y-%m-%d"),
                "measure:N",
                alt.Tooltip("value:Q", format=".0%"),
                "attempts:Q",
            ],
        )
    )
    return chart


def _due_table(rows: Sequence[DueCase]) -> list[dict[str, object]]:
    return [
        {
            "case": r.case_id,
            "title": r.title,
            "status": r.status,
            "box": r.box,
            "due": r.due,
            "last attempt": r.last_attempt,
            "attempts": r.attempts,
        }
        for r in rows
    ]


def _answer_table(attempts: Sequence[TrainingAttempt]) -> list[dict[str, object]]:
    return [
        {
            "when": a.attempted_at,
            "case": a.case_id,
            "your pathway": PATHWAY_LABELS.get(a.pathway_given, a.pathway_given),
            "correct": a.pathway_correct,
            "mJOA yours/true": f"{a.mjoa_given}/{a.mjoa_true}" if a.mjoa_true is not None else "",
            "severity correct": a.severity_correct,
            "score": round(a.score, 2),
        }
        for a in reversed(attempts)
    ]


def render_progress(
    attempts: Sequence[TrainingAttempt], cases: Sequence[TeachingCase], today: dt.date
) -> None:
    """One trainee's progress: totals, accuracy by topic and by week, cases due for re-testing."""
    if not attempts:
        st.info("No committed quiz answers yet: take a case on the Quiz page.", icon=":material/info:")
        return
    correct = sum(a.pathway_correct for a in attempts)
    columns = st.columns(3)
    columns[0].metric("Answers committed", len(attempts))
    columns[1].metric("Pathway accuracy", _percent(correct / len(attempts)))
    columns[2].metric("Mean score", _percent(sum(a.score for a in attempts) / len(attempts)))
    left, right = st.columns(2)
    left.markdown("**Accuracy by topic**")
    left.altair_chart(topic_chart(attempts), width="stretch")
    right.markdown("**Accuracy over time**")
    right.altair_chart(week_chart(attempts), width="stretch")
    due = [row for row in due_cases(cases, attempts, today) if row.status in ("overdue", "due")]
    st.markdown(f"**Due for re-testing** ({len(due)}; Leitner schedule, see the Quiz page)")
    if due:
        st.dataframe(_due_table(due), hide_index=True, width="stretch")
    else:
        st.caption("Nothing due today.")
    st.markdown("**Answers**")
    st.dataframe(_answer_table(attempts), hide_index=True, width="stretch")
