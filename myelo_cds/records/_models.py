"""What the store hands back: frozen copies, never live database objects."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

from myelo_cds.errors import RecordError
from myelo_cds.findings import CASE_ID_CHARACTER, CASE_ID_PATTERN, Findings
from myelo_cds.findings._characters import hidden_characters, is_hidden
from myelo_cds.records._schema import ID_LENGTH
from myelo_cds.rules.result import Recommendation

__all__ = [
    "AssessmentRecord",
    "AuditEvent",
    "PatientSummary",
    "RecordError",
    "WorkStatus",
    "WorklistRow",
    "check_action",
    "check_detail",
    "check_patient_id",
    "check_person",
]

WorkStatus = Literal["overdue", "due", "scheduled"]

# The pattern of ``Findings.case_id``: a pseudonym, never a name.
_PATIENT_ID = re.compile(CASE_ID_PATTERN)
_ALLOWED = re.compile(CASE_ID_CHARACTER)
# Staff ids (clinician, resident, admin): one line of at most 64 characters, as on the consult note.
_PERSON = re.compile(rf"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]{{1,{ID_LENGTH}}}$")
_ACTION = re.compile(r"^[a-z][a-z_]{0,31}$")
_DETAIL_MAX = 500


def _describe(character: str) -> str:
    if character == " ":
        return "a space"
    return hidden_characters(character)[0] if is_hidden(character) else repr(character)


def check_patient_id(patient_id: str) -> str:
    """The pseudonymous patient id, or :class:`RecordError` saying what is wrong with it."""
    # fullmatch: ``$`` alone would also accept a trailing line break
    if _PATIENT_ID.fullmatch(patient_id):
        return patient_id
    if not patient_id:
        problem = "it is empty"
    elif len(patient_id) > ID_LENGTH:
        problem = f"it has {len(patient_id)} characters"
    else:
        bad = sorted({_describe(c) for c in patient_id if not _ALLOWED.match(c)})
        problem = "it contains " + ", ".join(bad)
    raise RecordError(
        f"patient id refused: {problem}. Use a pseudonymous id of 1-{ID_LENGTH} letters, digits, '.', '_'"
        " or '-' (no names, no spaces)."
    )


def check_person(value: str, field: str) -> str:
    """A staff id (author, actor): 1-64 characters on one line, each shown as itself."""
    value = value.strip()
    hidden = hidden_characters(value)
    if hidden:
        # a bidi override or zero-width character would show another id than the one stored
        raise RecordError(
            f"{field} refused: it contains {', '.join(hidden)}, which would not show as typed."
            f" Use 1-{ID_LENGTH} visible characters on one line (a staff id, not a patient's)"
        )
    if not _PERSON.fullmatch(value):
        raise RecordError(
            f"{field} refused: use 1-{ID_LENGTH} characters on one line (a staff id, not a patient's)"
        )
    return value


def check_action(action: str) -> str:
    if not _ACTION.match(action):
        raise RecordError(
            "audit action refused: use a lowercase word of up to 32 letters or '_'"
            " (create, view, change, export, ...)"
        )
    return action


def check_detail(detail: str) -> str:
    if len(detail) > _DETAIL_MAX:
        raise RecordError(f"audit detail refused: at most {_DETAIL_MAX} characters")
    return detail


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class AssessmentRecord(_Record):
    """One stored assessment: the findings and the recommendation exactly as saved."""

    id: int
    patient_id: str
    assessment_date: dt.date
    author: str
    created_at: dt.datetime
    """When it was saved (UTC)."""
    pathway: str
    urgency: str
    rule_set_version: str
    rule_set_sha256: str
    findings: Findings
    """As saved; ``assessment_date`` is always filled (from the recommendation if it was empty)."""
    recommendation: Recommendation


class PatientSummary(_Record):
    patient_id: str
    assessment_count: int
    last_assessment_date: dt.date
    last_pathway: str
    last_urgency: str
    course_alert: str | None
    """``deterioration``, ``failure_to_improve``, ``possible_deterioration`` or ``None``."""


class WorklistRow(_Record):
    """A patient's next visit from their latest assessment's plan."""

    status: WorkStatus
    patient_id: str
    due: dt.date
    window_start: dt.date
    window_end: dt.date
    label: str
    mri_due: bool
    last_assessment_date: dt.date
    last_pathway: str
    last_urgency: str
    course_alert: str | None


class AuditEvent(_Record):
    id: int
    at: dt.datetime
    """UTC."""
    actor: str
    action: str
    patient_id: str | None
    detail: str
    rule_set_version: str
