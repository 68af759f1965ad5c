"""Result panels shared by the pages: the emergency banner and the recommendation with its basis."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

from myelo_cds.course import CourseAlert
from myelo_cds.exports import (
    assessment_json,
    consult_note_pdf,
    consult_note_text,
    handout_pdf,
    schedule_ics,
)
from myelo_cds.exports.consult_note import URGENCY_WORDS, confirm_lines, incomplete_line, present_words
from myelo_cds.findings import FieldProblem, Findings
from myelo_cds.rules.engine import PATHWAY_LABELS
from myelo_cds.rules.result import Recommendation
from myelo_cds.ui.downloads import audited_download_button
from myelo_cds.ui.not_recorded import render_what_would_change
from myelo_cds.ui.text import plain

__all__ = [
    "URGENCY_ICON",
    "render_banner",
    "render_downloads",
    "render_errors",
    "render_field_problems",
    "render_headline",
    "render_open_questions",
    "render_recommendation",
]

#: An icon per urgency tier, beside the tier in words (never colour alone).
URGENCY_ICON = {
    "emergency": ":material/emergency:",
    "urgent": ":material/alarm:",
    "expedited": ":material/schedule:",
    "routine": ":material/event_available:",
}
# Red only for emergencies: an urgent answer (within days) is amber like an expedited one and
# tells them apart by its icon and its word.
_ALERT = {"emergency": st.error, "urgent": st.warning, "expedited": st.warning, "routine": st.success}


def render_banner(rec: Recommendation) -> None:
    """An unmistakable banner for a positive red-flag screen: text, icon and triggers."""
    red = [rule for rule in rec.rules_fired if rule.kind == "red_flag"]
    if not red:
        return
    lines = "\n".join(f"- **{rule.title}** ({rule.id}): {rule.action}" for rule in red)
    st.error(
        f"**EMERGENCY - red flag present.** Emergency referral is advised on these findings:\n\n{lines}",
        icon=URGENCY_ICON["emergency"],
    )


def render_field_problems(problems: tuple[FieldProblem, ...]) -> None:
    """Values left out of the answer, beside it (never instead of it): what to correct.

    Amber, under the emergency banner: red is kept for an emergency, so a typo never looks
    like one and the banner stays the first red on the page (issue 16).
    """
    if not problems:
        return
    st.warning(
        "**Some entries were left out** - the answer uses everything else entered; correct these "
        "to include them:\n\n" + "\n".join(f"- {plain(problem.message)}" for problem in problems),
        icon=":material/edit_note:",
    )


def render_errors(lines: list[str]) -> None:
    st.error(
        "Some fields need attention; nothing entered has been lost:\n\n"
        + "\n".join(f"- {plain(line)}" for line in lines),
        icon=":material/edit_note:",
    )


def render_headline(rec: Recommendation) -> None:
    """Pathway and urgency in words and icon; a neutral "Incomplete" state while the inputs a
    pathway needs are missing (never a green routine answer), and a PROVISIONAL mark."""
    incomplete = incomplete_line(rec)
    mark = "PROVISIONAL - " if rec.provisional or incomplete else ""
    answer = f"**{mark}{PATHWAY_LABELS[rec.pathway]}** - urgency **{URGENCY_WORDS[rec.urgency]}**"
    if incomplete and rec.urgency in ("routine", "expedited"):
        st.info(
            f"**{incomplete}.**\n\nSo far, and provisional: {PATHWAY_LABELS[rec.pathway]} ({rec.urgency}).",
            icon=":material/pending:",
        )
        return
    if incomplete:
        answer += f"\n\n**{incomplete}.**"
    _ALERT[rec.urgency](f"{answer}\n\n{rec.headline}", icon=URGENCY_ICON[rec.urgency])


def render_open_questions(rec: Recommendation) -> None:
    """The red-flag questions still open, most dangerous first, and the consistency warnings.

    The questions that raised the urgency, or whose "yes" would raise it, are listed in full;
    those that would not change today's answer stay one click away (still asked, never silent).
    """
    changing = confirm_lines(rec, fields=False, changing=True)
    others = confirm_lines(rec, fields=False, changing=False)
    if rec.provisional:
        st.markdown(
            ":orange-badge[:material/pending: PROVISIONAL] "
            + (
                "**Ask these - the answer changes with them (most dangerous first):**"
                if changing
                else "**The answer changes once what is missing is entered.**"
            )
        )
    elif changing:
        st.markdown("**Red-flag questions not yet answered** (most dangerous first):")
    if changing:
        st.markdown("\n".join(f"- {plain(line)}" for line in changing))
    if others:
        with st.expander(f"Other red-flag questions not yet answered ({len(others)})"):
            st.markdown("\n".join(f"- {plain(line)}" for line in others))
    if rec.warnings:
        st.warning(
            "**Entries that do not fit together** - check them:\n\n"
            + "\n".join(f"- {plain(warning.message)}" for warning in rec.warnings),
            icon=":material/rule:",
        )


def render_recommendation(rec: Recommendation) -> None:
    """Pathway and urgency, what is still open, every rule with inputs and source, flags,
    differentials, what-ifs."""
    render_headline(rec)
    render_open_questions(rec)
    st.caption(
        f"Rule set {rec.rule_set.id} {rec.rule_set.version} (sha256 {rec.rule_set.sha256[:12]}...). "
        "Decision support: the clinician decides."
    )
    picture = rec.clinical_picture
    st.markdown("\n".join(f"- **{key.replace('_', ' ')}**: {value}" for key, value in picture.items()))
    st.markdown("**Basis: rules that fired**")
    for rule in rec.rules_fired:
        with st.expander(f"{rule.id} - {rule.title}", expanded=rule.kind != "urgency"):
            st.markdown(
                f"*{rule.kind.replace('_', ' ')} rule v{rule.version}*  \n"
                f"**Inputs matched:** {', '.join(f'{k} = {v}' for k, v in rule.inputs.items())}  \n"
                f"**Action:** {rule.action}  \n"
                f"**Source:** {rule.citation}  \n"
                f"**Strength:** {rule.strength}; **quality:** {rule.quality}; "
                f"**evidence:** {rule.evidence}" + (f"; {rule.recommendation}" if rule.recommendation else "")
            )
    if rec.superseded:
        st.caption("Also matched but outranked: " + ", ".join(rec.superseded))
    if rec.flags:
        st.markdown("**Prognosis and planning flags**")
        st.markdown(
            "\n".join(
                f"- {flag.text}{present_words(flag.triggers)} *({flag.id}, {flag.evidence})*"
                for flag in rec.flags
            )
        )
    if rec.differentials:
        st.markdown("**Differential diagnoses to consider**")
        st.markdown(
            "\n".join(
                f"- **{dx.condition}**: {dx.workup} *(because: {', '.join(dx.triggers)})*"
                for dx in rec.differentials
            )
        )
    render_what_would_change(rec)  # the items not recorded collapse to a count (issue 16)


def _fhir_bundle(findings: Findings, rec: Recommendation, clinician_id: str | None) -> str:
    from myelo_cds.exports.fhir import bundle_json  # the FHIR models load only when asked for

    return bundle_json(findings, rec, clinician_id=clinician_id)


def render_downloads(
    rec: Recommendation,
    findings: Findings,
    clinician_id: str | None,
    course: Sequence[CourseAlert] = (),
) -> None:
    """The documents a clinic needs; each file is built only when its button is clicked. The
    consult note's "course since the last visit" names the ``course`` alerts shown on the page."""
    stem = findings.case_id or "case"
    try:
        note_text = consult_note_text(rec, findings, clinician_id, course=course)
    except ValueError as error:  # e.g. a pasted clinician id with a line break
        st.error(
            f"Clinician id: {plain(str(error))}. The documents below leave it out.",
            icon=":material/edit_note:",
        )
        clinician_id = None
        note_text = consult_note_text(rec, findings, None, course=course)
    st.markdown("**Documents**")
    stem_id = findings.case_id
    # (label, build, file name, media type, icon, audit action, what)
    documents: tuple[tuple[str, Callable[[], str | bytes], str, str, str, str, str], ...] = (
        ("Consult note (PDF)", lambda: consult_note_pdf(rec, findings, clinician_id, course=course),
         f"consult-{stem}.pdf", "application/pdf", ":material/picture_as_pdf:", "export_pdf", "consult note"),
        ("Patient handout (PDF)", lambda: handout_pdf(rec), f"handout-{stem}.pdf",
         "application/pdf", ":material/description:", "export_pdf", "patient handout"),
        ("Follow-up schedule (.ics)", lambda: schedule_ics(rec.follow_up, stem_id, urgency=rec.urgency),
         f"follow-up-{stem}.ics", "text/calendar", ":material/calendar_month:", "export_ics",
         "follow-up schedule"),
        ("Assessment (JSON)", lambda: assessment_json(findings), f"assessment-{stem}.json",
         "application/json", ":material/data_object:", "export_json", "assessment"),
        ("FHIR R4 Bundle (JSON)", lambda: _fhir_bundle(findings, rec, clinician_id), f"fhir-{stem}.json",
         "application/fhir+json", ":material/share:", "export_fhir", "FHIR bundle"),
    )  # fmt: skip
    columns = st.columns(2)
    for index, (label, build, name, mime, icon, action, what) in enumerate(documents):
        # Each file is built only when it is asked for, and its export is audited then.
        audited_download_button(
            label, build, file_name=name, mime=mime, icon=icon, action=action, patient_id=stem_id,
            detail=what, container=columns[index % 2],
        )  # fmt: skip
    with st.expander("Consult note as text (to copy into the record)"):
        st.code(note_text, language=None)
