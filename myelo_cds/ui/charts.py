"""Altair charts for the pages (data in, chart spec out; no patient identifiers in the spec)."""

from __future__ import annotations

from typing import Any

import altair as alt

from myelo_cds.followup import FollowUpPlan

__all__ = ["schedule_rows", "schedule_timeline"]


def schedule_rows(plan: FollowUpPlan) -> list[dict[str, Any]]:
    """One row per visit, for a table and for the timeline."""
    return [
        {
            "visit": visit.number,
            "what": visit.label,
            "due": visit.due,
            "window from": visit.window_start,
            "window to": visit.window_end,
            "MRI": "MRI due" if visit.mri_due else "",
            "measure": "; ".join(visit.measures),
        }
        for visit in plan.visits
    ]


def schedule_timeline(plan: FollowUpPlan) -> alt.LayerChart | alt.FacetChart:
    """Visits on a time axis: the window as a bar, the due date as a point (shape marks MRI)."""
    values = [
        {
            "visit label": f"{row['visit']}. {row['what']}",
            "kind": row["MRI"] or "clinical review",
            "due": row["due"].isoformat(),
            "from": row["window from"].isoformat(),
            "to": row["window to"].isoformat(),
            "MRI": row["MRI"],
            "measure": row["measure"],
        }
        for row in schedule_rows(plan)
    ]
    data = alt.Data(values=values)  # type: ignore[no-untyped-call]
    y = alt.Y("visit label:N", sort=None, title=None, axis=alt.Axis(labelLimit=320))
    window = (
        alt.Chart(data)
        .mark_bar(height=10, opacity=0.35)
        .encode(x=alt.X("from:T", title="Date"), x2="to:T", y=y)
    )
    points = (
        alt.Chart(data)
        .mark_point(filled=True, size=120)
        .encode(
            x="due:T",
            y=y,
            shape=alt.Shape("kind:N", title="Visit"),
            color=alt.Color("kind:N", title="Visit"),
            tooltip=["visit label:N", alt.Tooltip("due:T", format="%Y-%m-%d"), "MRI:N", "measure:N"],
        )
    )
    return alt.layer(window, points, height=max(120, 34 * len(values)))
