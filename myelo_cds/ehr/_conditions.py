"""The patient's problem list at the EHR (Conditions): shown to the clinician, rarely counted.

SMART launch, issue 15: the Conditions the EHR holds may name a disease that mimics
degenerative cervical myelopathy (the differential of the clinical reference, section 8: motor
neuron disease, multiple sclerosis, B12 deficiency...) or relevant history (earlier cervical
surgery, known cervical myelopathy). They are shown as information "from the EHR"; they never
change the pathway, except where a Condition's code is one ``data/fhir/terminology.csv`` maps to
a yes/no history or symptom finding of the form (diabetes, past optic neuritis, cancer, renal
failure...): then that finding is prefilled *yes*, with the Condition named as its source, as any
imported finding. An examination or imaging finding is never filled from a diagnosis.

Which Conditions count: ``verificationStatus`` *confirmed* and a ``clinicalStatus``. Active ones
(active, recurrence, relapse) count for every finding; inactive, remission and resolved ones as
history only (a ``patient.history.*`` finding, or the history list). ``entered-in-error``,
``refuted``, unconfirmed, provisional and differential ones, and those without a status, are
reported and not counted. A Condition whose code neither table knows is reported as not
understood (with the EHR's own name for it, for the clinician to read). The mimic and history
codes are in ``data/fhir/ehr-conditions.csv``, each with the published value set it was checked in.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from myelo_cds._paths import data_dir
from myelo_cds.exports._fhir_codes import terminology
from myelo_cds.findings import field_spec

__all__ = ["ConditionsRead", "EhrCondition", "KnownCondition", "known_conditions", "read_conditions"]

_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_ACTIVE = frozenset({"active", "recurrence", "relapse"})
_PAST = frozenset({"inactive", "remission", "resolved"})
_NAME_CHARACTERS = 120


@dataclass(frozen=True)
class KnownCondition:
    """One row of ``data/fhir/ehr-conditions.csv``."""

    system: str
    code: str
    display: str
    group: str  # "mimic" or "history"
    about: str  # what the clinician is told it is (the reference's differential entry)
    source: str


@cache
def known_conditions() -> dict[tuple[str, str], KnownCondition]:
    """The mimic and history codes, by (system, code)."""
    with (data_dir() / "fhir" / "ehr-conditions.csv").open(encoding="utf-8", newline="") as handle:
        rows = [KnownCondition(**row) for row in csv.DictReader(handle)]
    return {(row.system, row.code): row for row in rows}


@dataclass(frozen=True)
class EhrCondition:
    """A counted Condition of the patient's problem list, as shown to the clinician."""

    resource: str  # "Condition/123"
    name: str  # the EHR's own name for it
    status: str  # "active" or "past" (inactive, remission, resolved)
    when: str | None  # onset, else recorded date
    group: str  # "mimic", "history" or "finding"
    about: str  # the differential entry, the history item or the finding's label
    path: str | None = None  # the finding it prefilled, if any


@dataclass(frozen=True)
class ConditionsRead:
    """What :func:`read_conditions` found."""

    shown: tuple[EhrCondition, ...] = ()
    values: dict[str, bool] = field(default_factory=dict)
    """Findings the problem list answers *yes*: input path -> True."""
    notes: tuple[str, ...] = ()
    """What was not counted or not understood, and why."""


def _code(concept: Any, system: str) -> str | None:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    for coding in codings or []:
        if (
            isinstance(coding, dict)
            and coding.get("system") == system
            and isinstance(coding.get("code"), str)
        ):
            return str(coding["code"])
    return None


def _name(resource: dict[str, Any]) -> str:
    code = resource.get("code")
    concept: dict[str, Any] = code if isinstance(code, dict) else {}
    names = [concept.get("text")] + [
        c.get("display") for c in concept.get("coding") or [] if isinstance(c, dict)
    ]
    name = next((n for n in names if isinstance(n, str) and n.strip()), "a condition without a name")
    text = "".join(c if c.isprintable() else " " for c in name.strip())
    return text[:_NAME_CHARACTERS]


def _when(resource: dict[str, Any]) -> str | None:
    for key in ("onsetDateTime", "recordedDate"):
        value = resource.get(key)
        if isinstance(value, str) and value:
            return value[:10]
    return None


#: Findings a diagnosis on the problem list can answer: the history and the symptoms. An
#: examination or imaging finding (``exam.*``, ``mri.*``) needs the examination or the scan
#: itself, so a Condition never fills one (it is shown as information instead).
_ANSWERABLE = ("patient.", "symptoms.")


def _finding(codings: list[Any]) -> str | None:
    """The yes/no history or symptom finding a Condition's code means (the terminology table's
    rows), if any."""
    table = terminology()
    for coding in codings:
        if not isinstance(coding, dict):
            continue
        found = table.path_of(str(coding.get("system")), str(coding.get("code")))
        if found is None:
            continue
        try:
            if found[0].startswith(_ANSWERABLE) and field_spec(found[0]).kind == "tri":
                return found[0]
        except KeyError:
            continue
    return None


def _known(codings: list[Any]) -> KnownCondition | None:
    known = known_conditions()
    for coding in codings:
        if isinstance(coding, dict):
            row = known.get((str(coding.get("system")), str(coding.get("code"))))
            if row is not None:
                return row
    return None


def read_conditions(conditions: list[dict[str, Any]]) -> ConditionsRead:
    """The counted Conditions (mimics, history, findings they answer) and the rest reported."""
    shown: list[EhrCondition] = []
    values: dict[str, bool] = {}
    notes: list[str] = []
    for resource in conditions:
        name = f"Condition/{resource.get('id')}"
        label = _name(resource)
        verification = _code(resource.get("verificationStatus"), _VERIFICATION)
        clinical = _code(resource.get("clinicalStatus"), _CLINICAL)
        if verification in ("entered-in-error", "refuted"):
            notes.append(f"{name} ({label}): {verification}, not counted")
            continue
        if verification != "confirmed":
            notes.append(
                f"{name} ({label}): not confirmed ({verification or 'no verification status'}), not counted"
            )
            continue
        if clinical not in _ACTIVE | _PAST:
            notes.append(f"{name} ({label}): no clinical status (active or resolved), not counted")
            continue
        status = "active" if clinical in _ACTIVE else "past"
        codings = (
            (resource.get("code") or {}).get("coding") or [] if isinstance(resource.get("code"), dict) else []
        )
        path = _finding(codings)
        known = _known(codings)
        when = _when(resource)
        if path is not None and status == "past" and not path.startswith("patient.history."):
            notes.append(f"{name} ({label}): {clinical}, not counted as a current finding ({path})")
        elif path is not None:
            values[path] = True
            about = field_spec(path).label.split(". ")[0]
            shown.append(EhrCondition(name, label, status, when, "finding", about, path))
        elif known is not None:
            shown.append(EhrCondition(name, label, status, when, known.group, known.about))
        else:
            notes.append(f"{name} ({label}): a condition this app does not recognise; read it in the EHR")
    return ConditionsRead(tuple(shown), values, tuple(notes))
