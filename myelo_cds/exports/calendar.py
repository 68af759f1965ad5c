"""The follow-up schedule as an iCalendar (.ics) file: one all-day event per visit."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

from myelo_cds.exports._document import shown_as_typed
from myelo_cds.followup import FollowUpPlan, Visit

__all__ = ["PRIORITY", "PRODID", "schedule_ics", "visit_uid"]

PRODID = "-//myelo-cds//DCM follow-up schedule//EN"

#: RFC 5545 PRIORITY per urgency tier (1 highest; 1-4 high, 5 medium, 6-9 low), so a calendar
#: can sort an urgent review (within days) above an expedited one (within weeks).
PRIORITY = {"emergency": 1, "urgent": 2, "expedited": 5, "routine": 9}


def visit_uid(case_id: str | None, schedule_id: str, number: int) -> str:
    """The UID of a visit's event.

    With a case id the UID is stable for (case id, schedule, visit number), so exporting the
    schedule again after a reassessment updates the same events instead of adding copies; the
    case id is hashed, not shown. Without a case id two patients' visits must never merge in one
    calendar, so each export gets a fresh random UID.

    Args:
        case_id: the pseudonymous case id, if any.
        schedule_id: the protocol schedule id (e.g. ``awaiting_surgery``).
        number: the visit number within the schedule (1-based).

    Returns:
        A UID of the form ``<32 hex digits>@myelo-cds``.
    """
    if case_id is None:
        return f"{uuid.uuid4().hex}@myelo-cds"
    key = f"{case_id}\x1f{schedule_id}\x1f{number}".encode()
    return f"{hashlib.sha256(key).hexdigest()[:32]}@myelo-cds"


def _description(plan: FollowUpPlan, visit: Visit, case_id: str | None, urgency: str | None) -> str:
    lines = [
        f"{plan.title}: visit {visit.number} of {len(plan.visits)}",
        visit.label,
        *([f"Urgency of the assessment: {urgency.upper()}"] if urgency else []),
        f"Window: {visit.window_start.isoformat()} to {visit.window_end.isoformat()}",
        f"MRI due: {'yes' if visit.mri_due else 'no'} (protocol: {plan.mri})",
        "Measures:",
        *(f"- {measure}" for measure in visit.measures),
        "Escalate:",
        *(f"- {trigger}" for trigger in plan.escalation),
        f"Schedule: {plan.protocol_id} {plan.protocol_version} ({plan.evidence}), {plan.schedule_id}",
    ]
    if case_id is not None:
        lines.append(f"Case id (pseudonymous): {case_id}")
    lines.append("Decision support - the clinician decides.")
    # each line shown as typed (a bidi override in an id would reorder it); the breaks are ours
    return "\n".join(shown_as_typed(line) for line in lines)


def schedule_ics(
    plan: FollowUpPlan, case_id: str | None, *, now: dt.datetime | None = None, urgency: str | None = None
) -> bytes:
    """The follow-up plan as an iCalendar file.

    One all-day event per visit on its due date, its window, measures and whether an MRI is due
    in the description, and a reminder at 09:00 the day before. No patient details: the pseudonymous case
    id at most.

    Args:
        plan: the follow-up plan of a recommendation (``rec.follow_up``).
        case_id: the pseudonymous case id, if any (it keys the event UIDs, see :func:`visit_uid`).
        now: the time stamp of the events (default: the current UTC time).
        urgency: the recommendation's urgency, if known: written in words in each description
            and as the events' PRIORITY (see :data:`PRIORITY`).

    Returns:
        The ``.ics`` file as bytes (UTF-8, CRLF line ends as RFC 5545 requires).
    """
    from icalendar import Alarm, Calendar, Event

    stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", shown_as_typed(f"DCM follow-up{f' {case_id}' if case_id else ''}"))
    for visit in plan.visits:
        mri = " (MRI due)" if visit.mri_due else ""
        event = Event()
        event.add("uid", visit_uid(case_id, plan.schedule_id, visit.number))
        event.add("dtstamp", stamp)
        event.add("dtstart", visit.due)
        event.add("dtend", visit.due + dt.timedelta(days=1))
        event.add(
            "summary", shown_as_typed(f"DCM follow-up {visit.number}/{len(plan.visits)}: {visit.label}{mri}")
        )
        event.add("description", _description(plan, visit, case_id, urgency))
        if urgency is not None and urgency in PRIORITY:
            event.add("priority", PRIORITY[urgency])
        event.add("transp", "TRANSPARENT")
        event.add("categories", ["myelo-cds", "follow-up"])
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"Tomorrow: DCM follow-up visit {visit.number}{mri}")
        # 15 h before the all-day start: 09:00 the day before, not midnight.
        alarm.add("trigger", dt.timedelta(hours=-15))
        event.add_component(alarm)
        calendar.add_component(event)
    return bytes(calendar.to_ical())
