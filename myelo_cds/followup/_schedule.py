"""Follow-up schedules: dated visits from the local protocol in ``data/protocols``."""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from collections.abc import Iterable
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict

from myelo_cds._dates import add_months
from myelo_cds._paths import data_dir
from myelo_cds.errors import DataFileError

__all__ = ["FollowUpPlan", "Visit", "follow_up_schedule", "load_protocol"]


class Visit(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    label: str
    due: dt.date
    window_start: dt.date
    window_end: dt.date
    measures: tuple[str, ...]
    mri_due: bool


class FollowUpPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    protocol_id: str
    protocol_version: str
    protocol_sha256: str
    schedule_id: str
    title: str
    evidence: str
    citation: str
    start: dt.date
    visits: tuple[Visit, ...]
    mri: str
    escalation: tuple[str, ...]
    red_flag_teaching: str
    notes: tuple[str, ...]


@cache
def load_protocol() -> dict[str, Any]:
    """The follow-up protocol (with the SHA-256 of its file under ``sha256``)."""
    path = data_dir() / "protocols" / "followup.toml"
    raw = path.read_bytes()
    protocol = tomllib.loads(raw.decode("utf-8"))
    protocol["sha256"] = hashlib.sha256(raw).hexdigest()
    ids = [schedule["id"] for schedule in protocol["schedules"]]
    if len(ids) != len(set(ids)):
        raise DataFileError("follow-up protocol has duplicate schedule ids")
    return protocol


def _due(start: dt.date, spec: dict[str, Any]) -> dt.date:
    if "months" in spec:
        return add_months(start, int(spec["months"]))
    if "days" in spec:  # an urgent review is due within days, not weeks
        return start + dt.timedelta(days=int(spec["days"]))
    return start + dt.timedelta(weeks=int(spec.get("weeks", 0)))


def _choose(protocol: dict[str, Any], rule_ids: set[str], urgency: str, flags: set[str]) -> Any:
    """The schedule of the first selection row that applies (hit policy FIRST).

    A row applies when one of its ``rules`` decided (a row without ``rules`` applies to every
    rule: the urgent rows, which hold whatever the pathway), all its ``flags`` fired and its
    ``urgency``, if given, is the recommendation's.

    Raises:
        LookupError: if no row applies (the protocol test proves every rule is covered).
    """
    by_id = {schedule["id"]: schedule for schedule in protocol["schedules"]}
    for row in protocol["selection"]:
        if (
            ("rules" not in row or rule_ids & set(row["rules"]))
            and set(row.get("flags", ())) <= flags
            and row.get("urgency", urgency) == urgency
        ):
            return by_id[row["schedule"]]
    raise LookupError(f"no follow-up schedule for rules {sorted(rule_ids)}")


def follow_up_schedule(
    start: dt.date, rule_ids: Iterable[str], urgency: str, flags: Iterable[str] = ()
) -> FollowUpPlan:
    """A dated follow-up plan for the deciding rules of an assessment.

    Args:
        start: the assessment date; visits are counted from it.
        rule_ids: the pathway rules that decided the recommendation.
        urgency: the recommendation's urgency (an urgent answer is reviewed within days and an
            expedited work-up sooner than a routine one).
        flags: ids of the flags that fired (e.g. ``FL-POSSIBLE-DETERIORATION``).
    """
    protocol = load_protocol()
    flag_set = set(flags)
    schedule = _choose(protocol, set(rule_ids), urgency, flag_set)
    measures = tuple(
        item
        for name in schedule["measures"]
        for item in (protocol["measures"]["core"] if name == "core" else [name])
    )
    specs = list(schedule["visits"])
    notes: list[str] = []
    review_weeks = protocol["protocol"]["possible_deterioration_review_weeks"]
    if "FL-POSSIBLE-DETERIORATION" in flag_set:
        early = start + dt.timedelta(weeks=review_weeks)
        if all(_due(start, spec) > early for spec in specs if _due(start, spec) > start):
            specs.append(
                {
                    "weeks": review_weeks,
                    "window_days": 7,
                    "label": "Early review: possible deterioration (1-point mJOA fall)",
                }
            )
            notes.append(f"Extra review at {review_weeks} weeks for possible deterioration.")
    specs.sort(key=lambda spec: _due(start, spec))
    visits = []
    for number, spec in enumerate(specs, start=1):
        due = _due(start, spec)
        window = dt.timedelta(days=int(spec["window_days"]))
        visits.append(
            Visit(
                number=number,
                label=spec.get("label", "Follow-up visit"),
                due=due,
                window_start=max(start, due - window),
                window_end=due + window,
                measures=measures,
                mri_due=bool(spec.get("mri", False)),
            )
        )
    header = protocol["protocol"]
    return FollowUpPlan(
        protocol_id=header["id"],
        protocol_version=header["version"],
        protocol_sha256=protocol["sha256"],
        schedule_id=schedule["id"],
        title=schedule["title"],
        evidence=header["evidence"],
        citation=header["citation"],
        start=start,
        visits=tuple(visits),
        mri=schedule["mri"],
        escalation=tuple(schedule["escalation"]),
        red_flag_teaching=protocol["measures"]["red_flag_teaching"],
        notes=tuple(notes),
    )
