"""The consult note: the recommendation, its basis and the findings entered, as text or PDF.

``consult_summary`` is the short block the command line prints; ``consult_note_text`` and
``consult_note_pdf`` are the full note for the record, built from the same sections so the
copyable text and the printout never differ.
"""

from __future__ import annotations

import re

from myelo_cds.errors import InputError
from myelo_cds.exports._document import Block, Entry, Paragraph, Section, Table, render_plain, shown_as_typed
from myelo_cds.exports._entered import entered_findings
from myelo_cds.findings import Findings, field_spec
from myelo_cds.findings._characters import hidden_characters
from myelo_cds.rules.engine import PATHWAY_LABELS
from myelo_cds.rules.result import FiredRule, Recommendation
from myelo_cds.scales import mjoa_max_total, mjoa_scale

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


def incomplete_line(rec: Recommendation) -> str | None:
    """``Incomplete - enter ... to get a pathway`` when inputs a pathway needs are missing."""
    if not rec.incomplete:
        return None
    return f"Incomplete - enter {', '.join(_field_words(path) for path in rec.incomplete)} to get a pathway"


def _field_words(path: str) -> str:
    try:
        label = field_spec(path).label.split(". ")[0]  # the name, not the guidance after it
    except KeyError:
        return path
    if len(label) > 1 and label[1].islower():
        label = label[0].lower() + label[1:]
    return f"{label} ({path})"


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


def _recommendation(rec: Recommendation) -> Section:
    deciding = [rule for rule in rec.rules_fired if rule.kind in ("red_flag", "pathway")]
    blocks: list[Block] = [
        Paragraph(f"{PATHWAY_LABELS[rec.pathway]} [{URGENCY_MARK[rec.urgency]}]", strong=True),
        Paragraph(f"Urgency: {URGENCY_WORDS[rec.urgency]}", strong=True),
    ]
    incomplete = incomplete_line(rec)
    if incomplete:
        blocks.append(Paragraph(incomplete, strong=True))
    if rec.provisional:
        blocks.append(
            Paragraph("PROVISIONAL - the answer changes once the questions below are answered", strong=True)
        )
    blocks.extend(
        Entry(
            f"{rule.id} v{rule.version}: {rule.title}. {rule.action}", details=(f"source: {_source(rule)}",)
        )
        for rule in deciding
    )
    return Section("Recommendation", tuple(blocks), box=rec.urgency)


def _open_questions(rec: Recommendation) -> list[Section]:
    """The red-flag questions still open and the entries that do not fit together."""
    sections = []
    if rec.to_confirm:
        title = (
            "To confirm (most dangerous first)" if rec.provisional else "Red-flag questions not yet answered"
        )
        sections.append(Section(title, tuple(Entry(line) for line in confirm_lines(rec))))
    if rec.warnings:
        sections.append(
            Section(
                "Entries that do not fit together (check)",
                tuple(
                    Entry(warning.message, details=(f"{warning.code}; fields: {', '.join(warning.fields)}",))
                    for warning in rec.warnings
                ),
            )
        )
    return sections


def _scores(rec: Recommendation) -> Section:
    scores = rec.scores
    entries: list[Block] = []
    if scores.mjoa:
        m = scores.mjoa
        top = mjoa_max_total()
        text = f"mJOA {m.total}/{top} ({m.band})"
        if m.attributed_total != m.total:
            text += (
                f"; attributed to myelopathy {m.attributed_total}/{top} "
                f"({m.attributed_band}, used by the rules)"
            )
        if m.very_severe:
            text += f"; very severe (mJOA {mjoa_scale()['very_severe']['max']} or less)"
        entries.append(Entry(f"{text} [{m.scale.id} {m.scale.version}]"))
    else:
        entries.append(Entry("mJOA not scored"))
    if scores.mjoa_change:
        c = scores.mjoa_change
        days = f" over {c.days} days" if c.days is not None else ""
        entries.append(
            Entry(
                f"mJOA change {c.earlier_total} -> {c.current_total} ({c.delta:+d}){days}; MCID for "
                f"{c.earlier_band} = {c.mcid} (reached: {'yes' if c.reaches_mcid else 'no'}; band worse: "
                f"{'yes' if c.band_worsened else 'no'}) [{c.scale.id} {c.scale.version}]"
            )
        )
    if scores.nurick:
        n = scores.nurick
        entries.append(Entry(f"Nurick {n.grade}: {n.wording} [{n.scale.id} {n.scale.version}]"))
    if scores.mscc:
        s = scores.mscc
        entries.append(Entry(f"MSCC {s.percent}% ({s.note}) [{s.scale.id} {s.scale.version}]"))
    cook = scores.cook
    entries.append(
        Entry(
            f"Cook cluster {cook.positive}/{len(cook.items)} positive, {cook.unknown} not examined: "
            f"{cook.interpretation} [{cook.scale.id} {cook.scale.version}]"
        )
    )
    return Section("Scores", tuple(entries))


def _basis(rec: Recommendation) -> Section:
    entries: list[Block] = [
        Entry(
            f"[{rule.kind}] {rule.id} v{rule.version}: {rule.title}",
            details=(f"inputs: {_inputs(rule)}", f"action: {rule.action}", f"source: {_source(rule)}"),
        )
        for rule in rec.rules_fired
    ]
    if rec.superseded:
        entries.append(Entry(f"Also matched but outranked: {', '.join(rec.superseded)}", bullet=False))
    return Section("Basis (rules fired)", tuple(entries))


def _label(pathway: str) -> str:
    return PATHWAY_LABELS.get(pathway, pathway)


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
                            f"triggered by {', '.join(dx.triggers)}",
                            f"{dx.id}; evidence {dx.evidence}; source: {dx.citation}",
                        ),
                    )
                    for dx in rec.differentials
                ),
            )
        )
    if rec.unknowns:
        sections.append(
            Section(
                "Not examined, and would change the answer",
                tuple(
                    Entry(
                        f"{unknown.input}: "
                        + "; ".join(
                            f"if {s.value} -> {_label(s.pathway)} ({s.urgency})" for s in unknown.scenarios
                        ),
                        details=(f"fields: {', '.join(unknown.fields)}",),
                    )
                    for unknown in rec.unknowns
                ),
            )
        )
    if rec.counterfactuals:
        sections.append(
            Section(
                "What would change this",
                tuple(
                    Entry(f"{cf.change} -> {_label(cf.pathway)} ({cf.urgency})") for cf in rec.counterfactuals
                ),
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
        Entry(f"MRI: {plan.mri}"),
    ]
    blocks.extend(Entry(f"Escalate: {trigger}") for trigger in plan.escalation)
    blocks.extend(Entry(note) for note in plan.notes)
    blocks.append(Entry(f"Teach: {plan.red_flag_teaching}"))
    blocks.append(Entry(f"Schedule source: {plan.citation}", bullet=False))
    return Section("Follow-up schedule", tuple(blocks))


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
    )


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


def note_sections(rec: Recommendation, findings: Findings, clinician_id: str | None = None) -> list[Section]:
    """The consult note as sections (the text and the PDF both render these).

    Args:
        rec: the recommendation.
        findings: the findings that produced it.
        clinician_id: who reviewed it, if given (an id, not a patient detail).

    Returns:
        Sections in reading order: recommendation, picture, scores, basis, screens, schedule,
        findings entered, provenance.

    Raises:
        ValueError: if the findings are of another case, or the clinician id has unsafe characters.
    """
    return _sections(rec, findings, _checked(rec, findings, clinician_id))


def _sections(rec: Recommendation, findings: Findings, clinician: str | None) -> list[Section]:
    picture = Section(
        "Clinical picture",
        tuple(Entry(f"{key.replace('_', ' ')}: {value}") for key, value in rec.clinical_picture.items()),
    )
    return [
        _recommendation(rec),
        *_open_questions(rec),
        picture,
        _scores(rec),
        _basis(rec),
        *_screens(rec),
        _follow_up(rec),
        *entered_findings(findings),
        _provenance(rec, clinician),
    ]


def _meta(rec: Recommendation, clinician_id: str | None) -> str:
    return (
        f"Case {rec.case_id or '(no case id)'} | Assessment date {rec.assessment_date} | "
        f"Clinician {clinician_id or '(not given)'}"
    )


def consult_note_text(rec: Recommendation, findings: Findings, clinician_id: str | None = None) -> str:
    """The full consult note as plain text, ready to paste into a record.

    Args:
        rec: the recommendation.
        findings: the findings that produced it (only the known values are listed).
        clinician_id: who reviewed it, if given.

    Returns:
        The note: header, recommendation with urgency in words, clinical picture, scores with
        scale versions, every rule fired with inputs and source, flags, differentials, unknowns,
        schedule, findings entered and the rule-set version and hash.

    Raises:
        ValueError: if the findings are of another case, or the clinician id has unsafe characters.
    """
    clinician = _checked(rec, findings, clinician_id)
    sections = _sections(rec, findings, clinician)
    header = [
        "myelo-cds consult note",
        shown_as_typed(_meta(rec, clinician)),
        f"Rule set {rec.rule_set.id} {rec.rule_set.version}, sha256 {rec.rule_set.sha256}",
        "",
    ]
    return "\n".join(header) + "\n" + render_plain(sections) + "\n"


def consult_note_pdf(rec: Recommendation, findings: Findings, clinician_id: str | None = None) -> bytes:
    """The full consult note as an A4 PDF (same content as :func:`consult_note_text`).

    Every page carries the case id, date and clinician in the header, and "Decision support -
    the clinician decides", the page number and the rule-set version and SHA-256 in the footer.

    Args:
        rec: the recommendation.
        findings: the findings that produced it.
        clinician_id: who reviewed it, if given.

    Returns:
        The PDF file as bytes.

    Raises:
        ValueError: if the findings are of another case, or the clinician id has unsafe characters.
        FontsMissingError: if the DejaVu fonts are not installed.
    """
    from myelo_cds.exports._pdf import PageFrame, render_pdf

    clinician = _checked(rec, findings, clinician_id)
    sections = _sections(rec, findings, clinician)
    frame = PageFrame(
        title="myelo-cds consult note",
        meta=_meta(rec, clinician),
        footer="Decision support - the clinician decides",
        footer_note=f"Rule set {rec.rule_set.id} {rec.rule_set.version} | sha256 {rec.rule_set.sha256}",
    )
    return render_pdf(sections, frame)
