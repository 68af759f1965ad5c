"""The consult note: the recommendation, its basis and the findings entered, as text or PDF.

``consult_summary`` is the short block the command line prints; ``consult_note_text`` and
``consult_note_pdf`` are the full note for the record, built from the same sections so the
copyable text and the printout never differ.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from myelo_cds._grammar import count
from myelo_cds.course import CourseAlert
from myelo_cds.errors import InputError
from myelo_cds.exports._document import Block, Entry, Paragraph, Section, Table, render_plain, shown_as_typed
from myelo_cds.exports._entered import letter_findings, words
from myelo_cds.findings import Findings, field_spec
from myelo_cds.findings._characters import hidden_characters
from myelo_cds.followup import FollowUpPlan
from myelo_cds.rules.describe import FEATURE_WORDS
from myelo_cds.rules.engine import PATHWAY_LABELS
from myelo_cds.rules.result import FiredRule, Recommendation
from myelo_cds.scales import ScaleRef, mjoa_max_total, mjoa_scale

__all__ = [
    "URGENCY_MARK",
    "URGENCY_WORDS",
    "caveat_lines",
    "confirm_lines",
    "consult_note_pdf",
    "consult_note_text",
    "consult_summary",
    "incomplete_line",
    "note_sections",
    "present_words",
]

#: The urgency as a short mark, most urgent with the most "!" (words, never colour alone).
URGENCY_MARK = {
    "emergency": "!!! EMERGENCY",
    "urgent": "!! URGENT",
    "expedited": "! EXPEDITED",
    "routine": "ROUTINE",
}

#: Urgency in words; printed beside a marker shape, never conveyed by colour alone. The
#: urgent ("within days") and expedited ("within weeks") targets are design defaults (clinical
#: reference s7.3; the tiers as the rule set defines them).
URGENCY_WORDS = {
    "emergency": "EMERGENCY - act today: same-day specialist assessment",
    "urgent": "URGENT - specialist assessment within days, not weeks",
    "expedited": "EXPEDITED - specialist assessment within weeks, not months",
    "routine": "ROUTINE - planned specialist review and follow-up",
}

#: The smallest body size (points) the letter page is printed in to keep it on one page.
LETTER_MIN_SIZE = 7.5
#: Line height of the letter page as a multiple of the text size (ordinary print leading; the
#: appendix keeps the roomier 1.4).
LETTER_LEADING = 1.2

#: What a red-flag question still open means while the known findings make it plausible.
_NOT_EXCLUDED = {
    "emergency": "Emergency not excluded",
    "urgent": "Urgent review not excluded",
    "expedited": "Expedited review not excluded",
    "routine": "Not yet asked",
}

# Any printable text up to 64 characters (names such as O'Neil or Müller are fine); control
# characters could forge lines of the note and format characters (bidi overrides, zero-width
# joiners) would print another id than the one typed, so both are refused.
_CLINICIAN_ID = re.compile(r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]{1,64}$")


def consult_summary(rec: Recommendation) -> str:
    """The recommendation with its basis, as a consult-note text block."""
    out: list[str] = []
    add = out.append
    add(shown_as_typed(f"myelo-cds assessment {rec.case_id or '(no case id)'} on {rec.assessment_date}"))
    add(f"Rule set {rec.rule_set.id} {rec.rule_set.version}, sha256 {rec.rule_set.sha256}")
    add("")
    add(f"RECOMMENDATION: {PATHWAY_LABELS[rec.pathway]} [{URGENCY_MARK[rec.urgency]}]")
    add(f"  {rec.headline}")
    caveats = caveat_lines(rec)
    if caveats:
        add("")
        out.extend(f"  {line}" for line in caveats)
    add("")
    add("Clinical picture:")
    for key, value in rec.clinical_picture.items():
        add(f"  - {key.replace('_', ' ')}: {value}")
    scores = rec.scores
    add("Scores:")
    if scores.mjoa:
        m = scores.mjoa
        add(
            f"  - mJOA {m.total}/{mjoa_max_total()} ({m.band}); items "
            + ", ".join(f"{k} {v}" for k, v in m.items.items())
            + f" [{m.scale.id} {m.scale.version}]"
        )
    if scores.mjoa_change:
        c = scores.mjoa_change
        add(
            f"  - mJOA change {c.earlier_total} -> {c.current_total} ({c.delta:+d}) over "
            f"{c.days} days; MCID for {c.earlier_band} = {c.mcid}"
        )
    if scores.nurick:
        add(f"  - Nurick {scores.nurick.grade}: {scores.nurick.wording}")
    if scores.mscc:
        add(f"  - MSCC {scores.mscc.percent}% ({scores.mscc.note})")
    add(f"  - Cook cluster: {scores.cook.interpretation}")
    add("")
    add("Basis (rules fired):")
    for rule in rec.rules_fired:
        add(f"  [{rule.kind}] {rule.id} v{rule.version}: {rule.title}")
        add(f"      inputs: {_inputs(rule)}")
        add(f"      action: {rule.action}")
        add(f"      source: {_source(rule)}")
    if rec.superseded:
        add(f"  Also matched but outranked: {', '.join(rec.superseded)}")
    if rec.flags:
        add("")
        add("Prognosis and planning flags:")
        for flag in rec.flags:
            add(f"  - {flag.text}{present_words(flag.triggers)} [{flag.id}; {flag.evidence}]")
    if rec.differentials:
        add("")
        add("Differential diagnoses to consider:")
        for dx in rec.differentials:
            add(f"  - {dx.condition}: {dx.workup} (triggered by {', '.join(dx.triggers)})")
    if rec.unknowns:
        add("")
        add("Not examined, and would change the answer:")
        for unknown in rec.unknowns:
            options = "; ".join(f"{s.value} -> {s.pathway} ({s.urgency})" for s in unknown.scenarios)
            add(f"  - {unknown.input}: {options}")
    if rec.counterfactuals:
        add("")
        add("What would change this:")
        for cf in rec.counterfactuals:
            add(f"  - {cf.change} -> {cf.pathway} ({cf.urgency})")
    plan = rec.follow_up
    add("")
    add(f"Follow-up: {plan.title} [{plan.protocol_id} {plan.protocol_version}, {plan.evidence}]")
    for visit in plan.visits:
        mri = "; MRI due" if visit.mri_due else ""
        add(
            f"  {visit.number}. {visit.due} (window {visit.window_start} to {visit.window_end}): "
            f"{visit.label}{mri}"
        )
    add(f"  MRI: {plan.mri}")
    for trigger in plan.escalation:
        add(f"  Escalate: {trigger}")
    add("")
    add(rec.disclaimer)
    return "\n".join(out)


def _rank(urgency: str) -> int:
    return list(URGENCY_WORDS).index(urgency)


def confirm_lines(rec: Recommendation, *, fields: bool = True, changing: bool | None = None) -> list[str]:
    """The red-flag questions still open, most dangerous first, each as one line to act on.

    A question whose blank raised the urgency (the known findings make its red flag plausible)
    reads "Emergency not excluded: ask ..."; one that only prompts reads "Not yet asked: ...".

    Args:
        rec: the recommendation.
        fields: name the input paths to fill after each question.
        changing: ``True`` for only the questions that raised the urgency or whose "yes" would
            raise it; ``False`` for only the others; ``None`` for all.
    """
    ordered = sorted(rec.to_confirm, key=lambda item: (_rank(item.urgency_if_positive), not item.escalated))
    if changing is not None:
        ordered = [
            item
            for item in ordered
            if (item.escalated or _rank(item.urgency_if_positive) < _rank(rec.urgency)) is changing
        ]
    lines = []
    for item in ordered:
        paths = f" [{', '.join(item.fields)}]" if item.fields and fields else ""
        if item.escalated:
            lines.append(f"{_NOT_EXCLUDED[item.urgency_if_positive]}: ask {item.input}{paths}")
        else:
            lines.append(
                f"Not yet asked: {item.input} (the answer could mean {item.urgency_if_positive}){paths}"
            )
    return lines


def present_words(triggers: tuple[str, ...]) -> str:
    """`` Present: smoker, gait impairment.`` for a flag's triggers (nothing when none)."""
    return f" Present: {', '.join(name.replace('_', ' ') for name in triggers)}." if triggers else ""


def incomplete_line(rec: Recommendation, *, fields: bool = True) -> str | None:
    """``Incomplete - enter ... to get a pathway`` when inputs a pathway needs are missing.

    Args:
        rec: the recommendation.
        fields: name the input path after each label (for the form; a letter leaves it out).
    """
    if not rec.incomplete:
        return None
    named = ", ".join(_field_words(path, fields=fields) for path in rec.incomplete)
    return f"Incomplete - enter {named} to get a pathway"


def _field_words(path: str, *, fields: bool = True) -> str:
    try:
        label = field_spec(path).label.split(". ")[0]  # the name, not the guidance after it
    except KeyError:
        return path if fields else words(path.rsplit(".", 1)[-1])
    if len(label) > 1 and label[1].islower():
        label = label[0].lower() + label[1:]
    return f"{label} ({path})" if fields else label


def caveat_lines(rec: Recommendation) -> list[str]:
    """What makes the answer less certain, in reading order: incomplete, provisional with the
    questions to ask, then the consistency warnings. Empty for a complete, settled answer."""
    lines = []
    incomplete = incomplete_line(rec)
    if incomplete:
        lines.append(incomplete)
    if rec.provisional:
        lines.append("PROVISIONAL - the answer changes once these are answered:")
    elif rec.to_confirm:
        lines.append("Red-flag questions not yet answered:")
    lines += [f"  - {line}" for line in confirm_lines(rec)]
    lines += [f"Check: {warning.message} [{', '.join(warning.fields)}]" for warning in rec.warnings]
    return lines


def _inputs(rule: FiredRule) -> str:
    return ", ".join(f"{key}={value}" for key, value in rule.inputs.items())


def _source(rule: FiredRule) -> str:
    grade = f"; {rule.recommendation}" if rule.recommendation else ""
    return (
        f"{rule.citation} (strength {rule.strength}, quality {rule.quality}, evidence {rule.evidence}{grade})"
    )


def _kind(rule: FiredRule) -> str:
    return words(rule.kind)


def _inputs_in_words(rule: FiredRule) -> str:
    """What matched, in words: ``cervical cord compression: yes; pathway: Surgical referral``."""
    return "; ".join(
        f"{FEATURE_WORDS.get(key, words(key))}: "
        + (PATHWAY_LABELS.get(value, words(value)) if key == "pathway" else words(value))
        for key, value in rule.inputs.items()
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _red_flag_lines(rec: Recommendation) -> list[Block]:
    """The red-flag state on the letter: each question whose blank raised the urgency on a line
    of its own, the other open questions grouped by what a "yes" would mean (all listed again,
    one per line, in the appendix)."""
    blocks: list[Block] = [
        Entry(f"{_NOT_EXCLUDED[item.urgency_if_positive]}: ask {item.input}")
        for item in sorted(rec.to_confirm, key=lambda item: _rank(item.urgency_if_positive))
        if item.escalated
    ]
    waiting: dict[str, list[str]] = {}
    for item in rec.to_confirm:
        if not item.escalated:
            waiting.setdefault(item.urgency_if_positive, []).append(item.input)
    for urgency in sorted(waiting, key=_rank):
        questions = waiting[urgency]
        blocks.append(
            Entry(
                f"{count(len(questions), 'red-flag question')} not yet asked (a yes could mean {urgency}): "
                + "; ".join(questions)
            )
        )
    if not rec.to_confirm and not any(rule.kind == "red_flag" for rule in rec.rules_fired):
        blocks.append(Entry("Red flags: none present, none left unanswered"))
    return blocks


def _main_basis(rec: Recommendation) -> list[FiredRule]:
    """The rules a letter names: the red flags that fired (else the pathway rule), then the
    urgency rule; a red-flag pathway or urgency rule that only says "red flag present" is left
    to the appendix, which lists every rule."""
    red_flags = [rule for rule in rec.rules_fired if rule.kind == "red_flag"]
    if red_flags:
        return red_flags
    return [rule for rule in rec.rules_fired if rule.kind in ("pathway", "urgency")]


def _impression(rec: Recommendation) -> Section:
    """Pathway, urgency, the clinical picture, the main basis and the red-flag state."""
    blocks: list[Block] = [
        Paragraph(
            f"{PATHWAY_LABELS[rec.pathway]} [{URGENCY_MARK[rec.urgency]}]. "
            f"Urgency: {URGENCY_WORDS[rec.urgency]}",
            strong=True,
        )
    ]
    incomplete = incomplete_line(rec, fields=False)
    if incomplete:
        blocks.append(Paragraph(incomplete, strong=True))
    if rec.provisional:
        blocks.append(
            Paragraph("PROVISIONAL - the answer changes once the questions below are answered", strong=True)
        )
    blocks += _red_flag_lines(rec)
    blocks += [Entry(f"Check: {warning.message}") for warning in rec.warnings]
    picture = [f"{_sentence(words(key))}: {value}" for key, value in rec.clinical_picture.items()]
    if picture:
        blocks.append(Entry(". ".join(picture), bullet=False))
    main = _main_basis(rec)
    blocks += [
        Entry(f"Basis ({rule.id}, {_kind(rule)} rule; {_strength(rule)}): {rule.title}. {rule.action}")
        for rule in main
    ]
    if len(main) < len(rec.rules_fired):
        blocks.append(Entry(f"All {count(len(rec.rules_fired), 'rule')} fired, with sources: appendix"))
    blocks += [Entry(f"Flag: {flag.text}") for flag in rec.flags]  # what raised each: appendix
    return Section("Impression", tuple(blocks), box=rec.urgency)


def _strength(rule: FiredRule) -> str:
    if rule.strength == "none" and rule.quality == "none":
        return "not graded by a guideline"
    return f"strength {rule.strength}, quality {rule.quality}"


def _visits(plan: FollowUpPlan) -> list[Block]:
    """One line per kind of visit, its dates with their windows in order."""
    kinds: dict[str, list[str]] = {}
    for visit in plan.visits:
        mri = ", MRI due" if visit.mri_due else ""
        kinds.setdefault(visit.label, []).append(
            f"{visit.due} (window {visit.window_start} to {visit.window_end}{mri})"
        )
    return [Entry(f"{label}: {'; '.join(dates)}") for label, dates in kinds.items()]


def _plan(rec: Recommendation) -> Section:
    plan = rec.follow_up
    blocks: list[Block] = [
        Entry(f"Follow-up: {plan.title}", bullet=False),
        *_visits(plan),
        Entry(f"MRI: {plan.mri}"),
    ]
    if plan.escalation:
        blocks.append(Entry("Escalate: " + "; ".join(plan.escalation)))
    blocks += [Entry(f"Consider {dx.condition}: {dx.workup}") for dx in rec.differentials]
    blocks.append(Entry(f"Teach: {plan.red_flag_teaching}"))
    return Section("Plan", tuple(blocks), level=2)


def _course(rec: Recommendation, findings: Findings, alerts: Sequence[CourseAlert]) -> Section:
    blocks: list[Block] = []
    change, earlier = rec.scores.mjoa_change, findings.earlier_mjoa
    if change is not None and earlier is not None:
        days = f" over {change.days} days" if change.days is not None else ""
        blocks.append(
            Entry(
                f"mJOA {change.earlier_total} ({change.earlier_band}) on {earlier.date} -> "
                f"{change.current_total} ({change.current_band}) now, {change.delta:+d}{days}; "
                f"MCID for {change.earlier_band}: {count(change.mcid, 'point')} "
                f"({'reached' if change.reaches_mcid else 'not reached'})"
                + ("; band worse" if change.band_worsened else "")
            )
        )
    for alert in alerts:
        basis = "; ".join(alert.basis)
        blocks.append(
            Entry(
                f"{words(alert.level).upper()} compared with the visit of {alert.compared_with}: {basis}. "
                f"The rules then advise {PATHWAY_LABELS.get(alert.pathway, words(alert.pathway))} "
                f"({alert.urgency}; {', '.join(alert.rules)})"
            )
        )
    if not blocks:
        blocks.append(Entry("No earlier visit compared (no earlier mJOA recorded)", bullet=False))
    return Section("Course since the last visit", tuple(blocks), level=2)


def _letter(rec: Recommendation, findings: Findings, alerts: Sequence[CourseAlert]) -> list[Section]:
    """The letter page: history, examination, mJOA/Nurick, MRI, impression, plan, course."""
    return [*letter_findings(findings), _impression(rec), _plan(rec), _course(rec, findings, alerts)]


def _field_label(path: str) -> str:
    try:
        return field_spec(path).label
    except KeyError:
        return words(path.rsplit(".", 1)[-1])


def _rules(rec: Recommendation) -> Section:
    entries: list[Block] = [
        Entry(
            f"{rule.id} v{rule.version} ({_kind(rule)} rule): {rule.title}",
            details=(
                f"inputs: {_inputs_in_words(rule)}",
                f"action: {rule.action}",
                f"source: {_source(rule)}",
            ),
        )
        for rule in rec.rules_fired
    ]
    if rec.superseded:
        entries.append(Entry(f"Also matched but outranked: {', '.join(rec.superseded)}", bullet=False))
    return Section("Rules fired", tuple(entries), level=2)


def _open_questions(rec: Recommendation) -> list[Section]:
    """The red-flag questions still open and the entries that do not fit together."""
    sections = []
    if rec.to_confirm:
        title = (
            "To confirm (most dangerous first)" if rec.provisional else "Red-flag questions not yet answered"
        )
        lines = confirm_lines(rec, fields=False)
        sections.append(Section(title, tuple(Entry(line) for line in lines), level=2))
    if rec.warnings:
        sections.append(
            Section(
                "Entries that do not fit together (check)",
                tuple(
                    Entry(
                        warning.message,
                        details=(
                            f"{words(warning.code)}; entries: {'; '.join(map(_field_label, warning.fields))}",
                        ),
                    )
                    for warning in rec.warnings
                ),
                level=2,
            )
        )
    return sections


def _scale(ref: ScaleRef) -> str:
    return f"[{words(ref.id)} {ref.version}]"


def _scores(rec: Recommendation) -> Section:
    scores = rec.scores
    entries: list[Block] = []
    if scores.mjoa:
        m = scores.mjoa
        top = mjoa_max_total()
        text = f"mJOA total {m.total}/{top} ({m.band})"
        if m.attributed_total != m.total:
            text += (
                f"; attributed to myelopathy {m.attributed_total}/{top} "
                f"({m.attributed_band}, used by the rules)"
            )
        if m.very_severe:
            text += f"; very severe (mJOA {mjoa_scale()['very_severe']['max']} or less)"
        entries.append(Entry(f"{text} {_scale(m.scale)}"))
    if scores.mjoa_change:
        c = scores.mjoa_change
        entries.append(
            Entry(
                f"mJOA change {c.earlier_total} -> {c.current_total} ({c.delta:+d}); MCID for "
                f"{c.earlier_band} = {c.mcid} (reached: {'yes' if c.reaches_mcid else 'no'}; band worse: "
                f"{'yes' if c.band_worsened else 'no'}) {_scale(c.scale)}"
            )
        )
    if scores.nurick:
        n = scores.nurick
        entries.append(Entry(f"Nurick {n.grade}: {n.wording} {_scale(n.scale)}"))
    if scores.mscc:
        s = scores.mscc
        entries.append(Entry(f"MSCC {s.percent}% ({s.note}) {_scale(s.scale)}"))
    cook = scores.cook
    entries.append(
        Entry(
            f"Cook cluster {cook.positive}/{len(cook.items)} positive, {cook.unknown} not examined: "
            f"{cook.interpretation} {_scale(cook.scale)}"
        )
    )
    return Section("Scores with scale versions", tuple(entries), level=2)


def _label(pathway: str) -> str:
    return PATHWAY_LABELS.get(pathway, words(pathway))


def _screens(rec: Recommendation) -> list[Section]:
    sections = []
    if rec.flags:
        sections.append(
            Section(
                "Prognosis and planning flags (no change of pathway)",
                tuple(
                    Entry(
                        flag.text + present_words(flag.triggers),
                        details=(f"{flag.id}; evidence {flag.evidence}; source: {flag.citation}",),
                    )
                    for flag in rec.flags
                ),
                level=2,
            )
        )
    if rec.differentials:
        sections.append(
            Section(
                "Differential diagnoses to consider",
                tuple(
                    Entry(
                        f"{dx.condition}: {dx.workup}",
                        details=(
                            f"triggered by {', '.join(map(words, dx.triggers))}",
                            f"{dx.id}; evidence {dx.evidence}; source: {dx.citation}",
                        ),
                    )
                    for dx in rec.differentials
                ),
                level=2,
            )
        )
    return sections


def _not_recorded(rec: Recommendation) -> list[Section]:
    """The inputs left blank that would change the answer, and what else would change it."""
    sections = []
    if rec.unknowns:
        sections.append(
            Section(
                "Not recorded, and would change the answer",
                tuple(
                    Entry(
                        f"{unknown.input}: "
                        + "; ".join(
                            f"if {words(s.value)} -> {_label(s.pathway)} ({s.urgency})"
                            for s in unknown.scenarios
                        )
                    )
                    for unknown in rec.unknowns
                ),
                level=2,
            )
        )
    if rec.counterfactuals:
        sections.append(
            Section(
                "What would change this",
                tuple(
                    Entry(f"{cf.change} -> {_label(cf.pathway)} ({cf.urgency})") for cf in rec.counterfactuals
                ),
                level=2,
            )
        )
    return sections


def _follow_up(rec: Recommendation) -> Section:
    plan = rec.follow_up
    blocks: list[Block] = [
        Paragraph(f"{plan.title} [{plan.protocol_id} {plan.protocol_version}, evidence {plan.evidence}]"),
        Table(
            header=("No.", "Due", "Window", "Visit", "MRI"),
            rows=tuple(
                (
                    str(visit.number),
                    str(visit.due),
                    f"{visit.window_start} to {visit.window_end}",
                    visit.label,
                    "MRI due" if visit.mri_due else "",
                )
                for visit in plan.visits
            ),
            widths=(2, 4, 7, 12, 3),
        ),
        Entry(f"Measures at each visit: {'; '.join(plan.visits[0].measures if plan.visits else ())}"),
    ]
    blocks.extend(Entry(note) for note in plan.notes)
    blocks.append(Entry(f"Schedule source: {plan.citation}", bullet=False))
    return Section("Follow-up schedule", tuple(blocks), level=2)


def _provenance(rec: Recommendation, clinician_id: str | None) -> Section:
    from myelo_cds import __version__

    plan = rec.follow_up
    protocol = f"{plan.protocol_id} {plan.protocol_version}"
    return Section(
        "Provenance",
        (
            Entry(f"Rule set {rec.rule_set.id} {rec.rule_set.version}, sha256 {rec.rule_set.sha256}"),
            Entry(f"Follow-up protocol {protocol}, sha256 {plan.protocol_sha256}"),
            Entry(f"myelo-cds {__version__}; assessment date {rec.assessment_date}"),
            Entry(f"Case {rec.case_id or '(no case id)'}; clinician {clinician_id or '(not given)'}"),
            Paragraph(rec.disclaimer, strong=True),
        ),
        level=2,
    )


def _appendix(rec: Recommendation, clinician: str | None) -> list[Section]:
    """After the letter: every rule fired with its source, the open questions, the screens,
    what was not recorded, the scores with versions, the schedule and the provenance."""
    intro = Section(
        "Appendix: basis, provenance and what was not recorded",
        (
            Paragraph(
                f"Consult note of case {rec.case_id or '(no case id)'} on {rec.assessment_date}. Every rule"
                " that fired, with its source and strength of evidence; findings not recorded were not"
                " examined (unknown, not absent)."
            ),
        ),
        new_page=True,
    )
    return [
        intro,
        _rules(rec),
        *_open_questions(rec),
        *_screens(rec),
        *_not_recorded(rec),
        _scores(rec),
        _follow_up(rec),
        _provenance(rec, clinician),
    ]


def _checked(rec: Recommendation, findings: Findings, clinician_id: str | None) -> str | None:
    """Refuse a note that would mix two cases or carry an unsafe clinician id."""
    if findings.case_id != rec.case_id:
        raise InputError(
            f"the findings (case {findings.case_id!r}) are not the ones assessed (case {rec.case_id!r}): "
            "export the note from the findings that produced the recommendation"
        )
    if clinician_id is None or not clinician_id.strip():
        return None
    clinician_id = clinician_id.strip()
    hidden = hidden_characters(clinician_id)
    if hidden:
        raise InputError(
            f"clinician id refused: it contains {', '.join(hidden)}, which would print another id than"
            " the one typed. Use up to 64 visible characters on one line (initials or staff number)"
        )
    if not _CLINICIAN_ID.fullmatch(clinician_id):
        raise InputError(
            f"clinician id refused: it has {len(clinician_id)} characters. Use up to 64 characters on one"
            " line (initials or staff number)"
        )
    return clinician_id


def note_sections(
    rec: Recommendation,
    findings: Findings,
    clinician_id: str | None = None,
    *,
    course: Sequence[CourseAlert] = (),
) -> list[Section]:
    """The consult note as sections (the text and the PDF both render these).

    Args:
        rec: the recommendation.
        findings: the findings that produced it.
        clinician_id: who reviewed it, if given (an id, not a patient detail).
        course: the course alerts against the patient's stored visits
            (:func:`myelo_cds.course.course_alerts`), if any.

    Returns:
        The letter (history, examination, mJOA and Nurick, MRI, impression, plan, course since
        the last visit), then the appendix, whose first section has ``new_page`` set (rules
        fired with their sources, open questions, screens, what was not recorded, scores with
        versions, the schedule and the provenance with the rule-set hash).

    Raises:
        ValueError: if the findings are of another case, or the clinician id has unsafe characters.
    """
    clinician = _checked(rec, findings, clinician_id)
    return [*_letter(rec, findings, course), *_appendix(rec, clinician)]


def _meta(rec: Recommendation, clinician_id: str | None) -> str:
    return (
        f"Case {rec.case_id or '(no case id)'} | Assessment date {rec.assessment_date} | "
        f"Clinician {clinician_id or '(not given)'}"
    )


def consult_note_text(
    rec: Recommendation,
    findings: Findings,
    clinician_id: str | None = None,
    *,
    course: Sequence[CourseAlert] = (),
) -> str:
    """The full consult note as plain text, ready to paste into a record: the letter first,
    then the appendix after a rule line (the same sections, in the same order, as the PDF).

    Args:
        rec: the recommendation.
        findings: the findings that produced it (only the known values are listed).
        clinician_id: who reviewed it, if given.
        course: the course alerts against the patient's stored visits, if any.

    Returns:
        The note: header, the letter (history, examination, mJOA and Nurick, MRI, impression
        with pathway, urgency and basis, plan with dates, course), then the appendix (every
        rule fired with inputs and source, open questions, flags, differentials, what was not
        recorded, scores with scale versions, schedule, rule-set version and hash).

    Raises:
        ValueError: if the findings are of another case, or the clinician id has unsafe characters.
    """
    sections = note_sections(rec, findings, clinician_id, course=course)
    header = ["myelo-cds consult note", shown_as_typed(_meta(rec, _checked(rec, findings, clinician_id))), ""]
    return "\n".join(header) + "\n" + render_plain(sections) + "\n"


def consult_note_pdf(
    rec: Recommendation,
    findings: Findings,
    clinician_id: str | None = None,
    *,
    course: Sequence[CourseAlert] = (),
) -> bytes:
    """The consult note as an A4 PDF (same content as :func:`consult_note_text`): the letter on
    page 1 (printed down to 7.5 pt when needed to keep it there), the appendix from page 2.

    Every page carries the case id, date and clinician in the header, and "Decision support -
    the clinician decides", the page number and the rule-set version and SHA-256 in the footer.

    Args:
        rec: the recommendation.
        findings: the findings that produced it.
        clinician_id: who reviewed it, if given.
        course: the course alerts against the patient's stored visits, if any.

    Returns:
        The PDF file as bytes.

    Raises:
        ValueError: if the findings are of another case, or the clinician id has unsafe characters.
        FontsMissingError: if the DejaVu fonts are not installed.
    """
    from myelo_cds.exports._pdf import PageFrame, render_pdf

    clinician = _checked(rec, findings, clinician_id)
    sections = note_sections(rec, findings, clinician_id, course=course)
    frame = PageFrame(
        title="myelo-cds consult note",
        meta=_meta(rec, clinician),
        footer="Decision support - the clinician decides",
        footer_note=f"Rule set {rec.rule_set.id} {rec.rule_set.version} | sha256 {rec.rule_set.sha256}",
        first_page_min_size=LETTER_MIN_SIZE,
        first_page_leading=LETTER_LEADING,
    )
    return render_pdf(sections, frame)
