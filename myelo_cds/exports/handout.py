"""A plain-language handout for the patient, built from the pathway of a recommendation.

The words are reviewable data in ``data/handout/handout.toml`` (each section names the clinical
reference sections it comes from); this module only chooses and orders them and adds the dates
of the follow-up visits. No patient name is ever printed: the pseudonymous case id at most.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from functools import cache
from typing import Any

from myelo_cds._paths import data_dir
from myelo_cds.errors import DataFileError
from myelo_cds.exports._document import Block, Entry, Paragraph, Section, render_markdown, shown_as_typed
from myelo_cds.followup import FollowUpPlan, Visit, load_protocol
from myelo_cds.rules.engine import PATHWAY_LABELS
from myelo_cds.rules.result import Recommendation
from myelo_cds.rules.ruleset import URGENCIES

__all__ = ["handout_pdf", "handout_sections", "handout_text", "load_handout", "long_date", "suggested_day"]

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKEND = (5, 6)  # date.weekday(): Saturday, Sunday
#: Days from the due date tried for a weekday, nearest first (earlier first on a tie).
_NEAREST = (-1, 1, -2, 2)


@cache
def load_handout() -> dict[str, Any]:
    """The handout content from ``data/handout/handout.toml`` (its SHA-256 under ``sha256``).

    Raises:
        ValueError: if a pathway, urgency tier or follow-up schedule has no text, or a section
            has no source.
    """
    raw = (data_dir() / "handout" / "handout.toml").read_bytes()
    content = tomllib.loads(raw.decode("utf-8"))
    content["sha256"] = hashlib.sha256(raw).hexdigest()
    plans = [section["pathway"] for section in content["sections"] if section["kind"] == "plan"]
    missing = sorted(set(PATHWAY_LABELS) - set(plans))
    if missing or len(plans) != len(set(plans)):
        raise DataFileError(f"handout needs exactly one plan section per pathway; missing {missing}")
    tiers = sorted(set(URGENCIES) - set(content["urgency"]))
    if tiers:
        raise DataFileError(f"handout has no plain words for the urgency tiers {tiers}")
    schedules = {schedule["id"] for schedule in load_protocol()["schedules"]}
    if schedules - set(content["schedules"]):
        raise DataFileError(
            f"handout has no text for schedules {sorted(schedules - set(content['schedules']))}"
        )
    sourced = [
        *content["sections"],
        *content["misconceptions"],
        *content["schedules"].values(),
        content["closing"],
    ]
    unsourced = [item.get("id", item.get("belief", "?")) for item in sourced if not item.get("source")]
    if unsourced:
        raise DataFileError(f"handout entries without a source line: {unsourced}")
    return content


def long_date(day: dt.date) -> str:
    """A date in words, the same in every locale: ``Tuesday 1 April 2025``."""
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def _short_date(day: dt.date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _section(item: dict[str, Any], *, box: bool = False) -> Section:
    blocks: list[Block] = [Paragraph(text) for text in item.get("paragraphs", ())]
    blocks.extend(Entry(text) for text in item.get("bullets", ()))
    blocks.extend(Paragraph(text) for text in item.get("closing", ()))
    return Section(item["title"], tuple(blocks), box="warning" if box else None)


def suggested_day(visit: Visit) -> dt.date:
    """The day a handout suggests for a visit: its due date, or, when that is a Saturday or
    Sunday, the nearest weekday inside the visit's window.

    Never a day outside the window; a visit whose window holds no weekday (a same-day visit on a
    weekend) keeps its due date.
    """
    if visit.due.weekday() not in _WEEKEND:
        return visit.due
    for offset in _NEAREST:
        day = visit.due + dt.timedelta(days=offset)
        if visit.window_start <= day <= visit.window_end and day.weekday() not in _WEEKEND:
            return day
    return visit.due


def _visit_line(visit: Visit) -> str:
    if visit.window_start == visit.window_end:
        when = f"{long_date(visit.due)}"
    else:
        when = (
            f"around {long_date(suggested_day(visit))} (any day from {_short_date(visit.window_start)} "
            f"to {_short_date(visit.window_end)})"
        )
    mri = ". An MRI scan is due at this visit" if visit.mri_due else ""
    return f"Check-up {visit.number}: {when}{mri}."


def _visits(plan: FollowUpPlan, content: dict[str, Any]) -> Section:
    schedule = content["schedules"][plan.schedule_id]
    blocks: list[Block] = [Paragraph(schedule["what_happens"])]
    blocks.extend(Entry(_visit_line(visit)) for visit in plan.visits)
    if any(visit.window_start != visit.window_end for visit in plan.visits):
        blocks.append(
            Paragraph(
                "If a date does not suit you, ask the clinic to move it to another day in the same window."
            )
        )
    return Section("Your check-up dates", tuple(blocks))


def _plan_item(content: dict[str, Any], pathway: str) -> dict[str, Any]:
    return next(s for s in content["sections"] if s["kind"] == "plan" and s["pathway"] == pathway)


def handout_sections(rec: Recommendation) -> list[Section]:
    """The handout as sections, chosen and ordered for the recommendation's pathway.

    Args:
        rec: the recommendation.

    Returns:
        Summary box, what myelopathy and myelomalacia are, the plan for this pathway, the dated
        check-ups, the red flags (boxed), when to call sooner, looking after yourself, common
        beliefs corrected, and about the leaflet.
    """
    content = load_handout()
    sections = content["sections"]
    plan = _plan_item(content, rec.pathway)
    summary: list[Block] = [
        Paragraph(plan["summary"], strong=True),
        Paragraph(content["urgency"][rec.urgency], strong=True),
    ]
    upcoming = [visit for visit in rec.follow_up.visits if visit.due >= rec.assessment_date]
    if upcoming and rec.pathway != "emergency_referral":
        summary.append(Paragraph(f"Your first check-up: around {long_date(suggested_day(upcoming[0]))}."))
    out = [Section("Your plan in short", tuple(summary), box=rec.urgency)]
    out.extend(_section(item) for item in sections if item["kind"] == "about")
    out.append(_section(plan))
    out.append(_visits(rec.follow_up, content))
    out.extend(_section(item, box=True) for item in sections if item["kind"] == "red_flags")
    out.extend(_section(item) for item in sections if item["kind"] == "worse")
    out.extend(
        _section(item)
        for item in sections
        if item["kind"] == "lifestyle" and rec.pathway in item.get("pathways", PATHWAY_LABELS)
    )
    out.append(
        Section(
            "Common beliefs, and what is true",
            tuple(
                block
                for item in content["misconceptions"]
                for block in (
                    Paragraph(f"Belief: \u201c{item['belief']}\u201d", strong=True),
                    Paragraph(f"What is true: {item['truth']}"),
                )
            ),
        )
    )
    closing = content["closing"]
    about = [
        *closing["paragraphs"],
        f"Leaflet {content['handout']['version']} ({content['handout']['status']}).",
    ]
    out.append(Section(closing["title"], tuple(Paragraph(text) for text in about)))
    return out


def _meta(rec: Recommendation) -> str:
    parts = [f"Assessed on {long_date(rec.assessment_date)}"]
    if rec.case_id:
        parts.insert(0, f"Reference {rec.case_id}")
    return " | ".join(parts)


def handout_text(rec: Recommendation) -> str:
    """The handout as Markdown.

    Args:
        rec: the recommendation (its pathway, urgency, follow-up dates and case id are used).

    Returns:
        The handout text, in plain language, with no patient name.
    """
    handout = load_handout()["handout"]
    meta = shown_as_typed(f"{handout['subtitle']}. {_meta(rec)}.")
    head = f"# {shown_as_typed(handout['title'])}\n\n{meta}\n\n"
    return head + render_markdown(handout_sections(rec))


def handout_pdf(rec: Recommendation) -> bytes:
    """The handout as an A4 PDF in large print (same content as :func:`handout_text`).

    Args:
        rec: the recommendation.

    Returns:
        The PDF file as bytes.

    Raises:
        FontsMissingError: if the DejaVu fonts are not installed.
    """
    from myelo_cds.exports._pdf import PageFrame, render_pdf

    content = load_handout()
    handout = content["handout"]
    frame = PageFrame(
        title=f"{handout['title']}: {handout['subtitle'].lower()}",
        meta=_meta(rec),
        footer="Your care team decides with you. In an emergency, do not wait: get help now.",
        footer_note=(
            f"myelo-cds leaflet {handout['version']} ({handout['status']}) | rule set "
            f"{rec.rule_set.id} {rec.rule_set.version}"
        ),
        body_size=11.5,
    )
    return render_pdf(handout_sections(rec), frame)
