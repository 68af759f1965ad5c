"""Deterioration over a course of visits, judged by the clinical core's own rules.

A stored course is a list of assessments (findings with their dates). This module adds no
threshold of its own: it fills the latest findings with what the earlier visits say (the
earlier mJOA, a sign that was absent and is now present) and lets the engine decide, so the
worklist, the timeline and the consult page raise exactly the alerts the rule set defines
(deterioration: an mJOA fall of ``deterioration_drop_points`` or more, a change of band, a new
upper-motor-neuron sign; failure to improve after the rehabilitation trial; a 1-point fall as
possible deterioration).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from myelo_cds.errors import InputError
from myelo_cds.findings import EarlierMJOA, Findings, Management, UMNSigns
from myelo_cds.rules.engine import Engine, default_engine
from myelo_cds.scales import mjoa_change, mjoa_max_total, mjoa_scale, mjoa_score, severity_band

__all__ = ["CourseAlert", "Timeline", "course_alerts", "timeline", "with_earlier_visit"]

Level = Literal["deterioration", "failure_to_improve", "possible_deterioration"]

#: The signs compared between visits: every upper-motor-neuron sign of the examination but a
#: brisk jaw jerk, which points above the cervical cord (the rules read it as a feature of an
#: alternative disease, not as a cord sign).
_UMN = tuple(name for name in UMNSigns.model_fields if name not in ("jaw_jerk_brisk", "new_since_last_visit"))
#: A course is a comparison: the latest visit and at least one before it.
_VISITS_TO_COMPARE = 2
_SEVERITY: dict[str, int] = {"possible_deterioration": 1, "failure_to_improve": 2, "deterioration": 3}


class CourseAlert(BaseModel):
    """An alert about the course, with its basis and what the rules then recommend."""

    model_config = ConfigDict(frozen=True)

    level: Level
    compared_with: dt.date
    basis: tuple[str, ...]
    pathway: str
    urgency: str
    rules: tuple[str, ...]


def _date(findings: Findings) -> dt.date:
    if findings.assessment_date is None:
        raise InputError("every visit in a course needs its assessment_date")
    return findings.assessment_date


def _new_umn_signs(latest: Findings, earlier: Findings) -> list[str]:
    return [
        name.replace("_", " ")
        for name in _UMN
        if getattr(latest.exam.umn, name) is True and getattr(earlier.exam.umn, name) is False
    ]


def with_earlier_visit(latest: Findings, earlier: Findings) -> Findings:
    """The latest findings, compared with an earlier visit where the clinician did not say.

    The earlier visit's mJOA becomes ``earlier_mjoa`` and a sign recorded absent then and present
    now counts as new; values the clinician entered are never overwritten.
    """
    update: dict[str, object] = {}
    if latest.earlier_mjoa is None and earlier.mjoa is not None:
        m = earlier.mjoa
        update["earlier_mjoa"] = EarlierMJOA(
            date=_date(earlier),
            ue_motor=m.ue_motor,
            le_motor=m.le_motor,
            ue_sensation=m.ue_sensation,
            sphincter=m.sphincter,
        )
    if latest.exam.umn.new_since_last_visit is None and _new_umn_signs(latest, earlier):
        umn = latest.exam.umn.model_copy(update={"new_since_last_visit": True})
        update["exam"] = latest.exam.model_copy(update={"umn": umn})
    return latest.model_copy(update=update) if update else latest


def _baseline(visits: Sequence[Findings]) -> Findings:
    """The visit that opened the current management (rehabilitation start, or the first visit)."""
    latest = visits[-1]
    since = latest.patient.management_since
    if latest.patient.management is not Management.untreated and since is not None:
        before = [visit for visit in visits[:-1] if _date(visit) <= since and visit.mjoa is not None]
        if before:
            return before[-1]
    with_mjoa = [visit for visit in visits[:-1] if visit.mjoa is not None]
    return with_mjoa[0] if with_mjoa else visits[0]


def _alert(latest: Findings, earlier: Findings, engine: Engine, *, from_baseline: bool) -> CourseAlert | None:
    compared = with_earlier_visit(latest, earlier)
    evaluation = engine.decide(compared)
    facts, decision = evaluation.facts, evaluation.decision
    course = facts["features"]["course"]
    management = facts["features"]["management"]
    basis: list[str] = []
    change = compared.earlier_mjoa
    if change is not None and latest.mjoa is not None and facts["mjoa_delta"] is not None:
        before = facts["mjoa_total"] - facts["mjoa_delta"]
        basis.append(f"mJOA {before} on {change.date} -> {facts['mjoa_total']} on {_date(latest)}")
    new_signs = _new_umn_signs(latest, earlier)
    if new_signs or latest.exam.umn.new_since_last_visit:
        basis.append("new upper-motor-neuron sign: " + (", ".join(new_signs) or "recorded by the clinician"))
    level: Level | None = None
    if course == "deteriorated":
        level = "deterioration"
    elif (
        from_baseline
        and management == "rehab_trial_complete"
        and course in ("not_improved", "possible_deterioration")
    ):
        level = "failure_to_improve"
        # Improvement is a gain of the MCID of the band the trial started in (the rules' course).
        mcid = int(mjoa_scale()["mcid"][severity_band(facts["mjoa_total"] - facts["mjoa_delta"])])
        gain = f"{mcid} point" if mcid == 1 else f"{mcid} points"
        months = engine.params["rehab_trial_months"]
        basis.append(f"no gain of {gain} or more after {months} months of supervised rehabilitation")
    elif course == "possible_deterioration":
        level = "possible_deterioration"
    if level is None:
        return None
    return CourseAlert(
        level=level,
        compared_with=_date(earlier),
        basis=tuple(basis),
        pathway=decision.pathway,
        urgency=decision.urgency,
        rules=decision.deciding,
    )


def course_alerts(visits: Sequence[Findings], engine: Engine | None = None) -> list[CourseAlert]:
    """Alerts for the latest visit of a course (oldest first), most serious first.

    The latest visit is compared with the previous visit and with the visit that opened the
    current management (so a slow decline over several visits is caught too).
    """
    if len(visits) < _VISITS_TO_COMPARE:
        return []
    engine = engine or default_engine()
    ordered = sorted(visits, key=_date)
    latest = ordered[-1]
    baseline, previous = _baseline(ordered), ordered[-2]
    # Failure to improve is judged against the start of the trial only; falls against either.
    comparisons = [(baseline, True)] + ([(previous, False)] if previous is not baseline else [])
    alerts = [
        alert
        for earlier, from_baseline in comparisons
        if (alert := _alert(latest, earlier, engine, from_baseline=from_baseline)) is not None
    ]
    return sorted(alerts, key=lambda alert: -_SEVERITY[alert.level])


class Timeline(BaseModel):
    """A course ready to draw: visits, sub-domain rows, events and the MCID band of the baseline."""

    model_config = ConfigDict(frozen=True)

    visits: tuple[dict[str, object], ...]
    subdomains: tuple[dict[str, object], ...]
    annotations: tuple[dict[str, object], ...]
    mcid_band: dict[str, object] | None


_ITEM_NAMES = {
    "ue_motor": "UE motor (0-5)",
    "le_motor": "LE motor (0-7)",
    "ue_sensation": "UE sensation (0-3)",
    "sphincter": "Bladder (0-3)",
}


def timeline(visits: Sequence[tuple[Findings, str, str]]) -> Timeline:
    """Rows for the timeline chart from ``(findings, pathway, urgency)`` per visit.

    The MCID band is the first scored visit's total +/- the MCID of its band (Tetreault 2015).
    Events: the start of the current management and recorded trauma or falls.
    """
    ordered = sorted(visits, key=lambda item: _date(item[0]))
    rows: list[dict[str, object]] = []
    subdomains: list[dict[str, object]] = []
    events: dict[tuple[str, str], dict[str, object]] = {}
    for findings, pathway, urgency in ordered:
        when = _date(findings).isoformat()
        score = mjoa_score(findings.mjoa) if findings.mjoa else None
        rows.append(
            {"date": when, "mjoa": score.total if score else None, "pathway": pathway, "urgency": urgency}
        )
        if score:
            subdomains += [
                {"date": when, "measure": _ITEM_NAMES[k], "score": v} for k, v in score.items.items()
            ]
        if findings.nurick is not None:
            subdomains.append({"date": when, "measure": "Nurick (0-5)", "score": findings.nurick})
        patient = findings.patient
        if patient.management_since is not None:
            label = "surgery" if patient.management is Management.postoperative else "rehabilitation start"
            events[(patient.management_since.isoformat(), label)] = {
                "date": patient.management_since.isoformat(),
                "label": label,
            }
        if findings.symptoms.falls:
            events[(when, "falls")] = {"date": when, "label": "falls reported"}
        if findings.patient.history.recent_trauma:
            events[(when, "trauma")] = {"date": when, "label": "trauma"}
    scored = [findings for findings, _, _ in ordered if findings.mjoa is not None]
    band = None
    if scored and scored[0].mjoa is not None:
        first = scored[0].mjoa
        baseline = EarlierMJOA(
            date=_date(scored[0]),
            ue_motor=first.ue_motor,
            le_motor=first.le_motor,
            ue_sensation=first.ue_sensation,
            sphincter=first.sphincter,
        )
        change = mjoa_change(first, baseline)
        total = change.earlier_total
        band = {
            "low": max(0, total - change.mcid),
            "high": min(mjoa_max_total(), total + change.mcid),
            "label": f"baseline {total} +/- MCID {change.mcid} ({change.earlier_band})",
        }
    return Timeline(
        visits=tuple(rows),
        subdomains=tuple(subdomains),
        annotations=tuple(events.values()),
        mcid_band=band,
    )
