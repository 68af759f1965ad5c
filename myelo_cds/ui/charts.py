"""Altair charts for the pages (data in, chart spec out; no patient identifiers in the spec)."""

from __future__ import annotations

from typing import Any, Literal, cast

import altair as alt

from myelo_cds.followup import FollowUpPlan
from myelo_cds.rules.engine import PATHWAY_LABELS
from myelo_cds.scales import mjoa_max_total, mjoa_scale

__all__ = ["mjoa_timeline", "schedule_rows", "schedule_timeline", "subdomain_timeline"]

#: Dates on a time axis: month and year, so a course over several years reads unambiguously.
_DATE_AXIS = alt.Axis(format="%b %Y", labelAngle=0)
#: Scores are whole points: integer ticks only.
_POINTS_AXIS = alt.Axis(format="d", tickMinStep=1)
#: Severity bands from worst (darkest) to no deficit (lightest): one hue, so the order shows,
#: and not red, which is kept for emergencies.
_BAND_SCHEME: Literal["blues"] = "blues"


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
        .encode(x=alt.X("from:T", title="Date", axis=_DATE_AXIS), x2="to:T", y=y)
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


#: Each band's strip reaches half a point beyond its totals, so a total sits inside its band.
_HALF_POINT = 0.5
_BAND_NAMES = {"normal": "no deficit"}


def _band_areas() -> list[tuple[str, float, float]]:
    """The mJOA severity bands from the scale data, worst first: (name, low, high)."""
    top = mjoa_max_total()
    return [
        (
            _BAND_NAMES.get(band["id"], band["id"]),
            max(0, band["min"] - _HALF_POINT),
            min(top, band["max"] + _HALF_POINT),
        )
        for band in sorted(mjoa_scale()["bands"], key=lambda band: band["min"])
    ]


def mjoa_timeline(
    visits: list[dict[str, Any]], annotations: list[dict[str, Any]], mcid: dict[str, Any] | None
) -> alt.LayerChart | alt.FacetChart:
    """mJOA total over time on the severity bands, with the MCID band around the baseline.

    Args:
        visits: one dict per visit: ``date`` (ISO), ``mjoa`` (total or None), ``pathway``, ``urgency``.
        annotations: ``date`` and ``label`` of events (rehabilitation start, surgery, falls, trauma).
        mcid: ``low``/``high`` of the baseline +/- MCID band and its ``label``, or None.
    """
    areas = _band_areas()
    top = mjoa_max_total()
    bands = alt.Data(values=[{"band": b, "low": lo, "high": hi} for b, lo, hi in areas])  # type: ignore[no-untyped-call]
    names = [name for name, _, _ in areas]
    band_layer = (
        alt.Chart(bands)
        .mark_rect(opacity=0.18)
        .encode(
            y=alt.Y("low:Q", scale=alt.Scale(domain=[0, top]), title=f"mJOA (0-{top})", axis=_POINTS_AXIS),
            y2="high:Q",
            color=alt.Color(
                "band:O",
                title="Severity band",
                sort=names,
                scale=alt.Scale(domain=names, scheme=_BAND_SCHEME, reverse=True),
            ),
        )
    )
    layers: list[Any] = [band_layer]
    if mcid is not None:
        mcid_data = alt.Data(values=[mcid])  # type: ignore[no-untyped-call]
        layers.append(
            alt.Chart(mcid_data)
            .mark_rect(opacity=0.18, color="gray")
            .encode(y="low:Q", y2="high:Q", tooltip=["label:N"])
        )
    scored = [
        {**visit, "pathway": PATHWAY_LABELS.get(str(visit["pathway"]), str(visit["pathway"]))}
        for visit in visits
        if visit["mjoa"] is not None
    ]
    points = alt.Data(values=scored)  # type: ignore[no-untyped-call]
    line = alt.Chart(points).encode(
        x=alt.X("date:T", title="Visit date", axis=_DATE_AXIS),
        y=alt.Y("mjoa:Q"),
        tooltip=[alt.Tooltip("date:T", format="%Y-%m-%d"), "mjoa:Q", "pathway:N", "urgency:N"],
    )
    layers += [
        line.mark_line(),
        line.mark_point(filled=True, size=90).encode(shape=alt.Shape("pathway:N", title="Pathway")),
    ]
    if annotations:
        notes = alt.Data(values=annotations)  # type: ignore[no-untyped-call]
        rule = alt.Chart(notes).encode(x="date:T")
        layers += [
            rule.mark_rule(strokeDash=[4, 3]),
            rule.mark_text(angle=270, align="left", dy=-6, y=4).encode(text="label:N"),
        ]
    return alt.layer(*layers, height=320)


def subdomain_timeline(rows: list[dict[str, Any]]) -> alt.FacetChart | alt.LayerChart:
    """Each mJOA sub-domain and the Nurick grade over time (one small chart per measure)."""
    data = alt.Data(values=rows)  # type: ignore[no-untyped-call]
    chart = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("date:T", title=None, axis=_DATE_AXIS),
            y=alt.Y("score:Q", title=None, axis=_POINTS_AXIS),
            tooltip=[alt.Tooltip("date:T", format="%Y-%m-%d"), "measure:N", "score:Q"],
        )
        .properties(height=110, width=220)
        .facet(facet=alt.Facet("measure:N", title=None), columns=3)
        .resolve_scale(y="independent")
    )
    return cast("alt.FacetChart", chart)
