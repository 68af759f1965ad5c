"""The findings and scores of an assessment as FHIR R4 Observations, coded for an EHR.

Each Observation carries:

* ``code``: the standard code first where ``data/fhir/terminology.csv`` has a verified one
  (LOINC, SNOMED CT), then always our code (:data:`~myelo_cds.exports._fhir_codes.CODE_SYSTEM`,
  the input path) with its clinical display ("Biceps reflex, left (grade 0-4)");
* ``category``: exam, imaging, survey, procedure (electrodiagnostics), social history
  (HL7 observation-category), or our "clinical history" for symptoms and history;
* the value in the form its kind asks: ``valueBoolean`` for present/absent, ``valueInteger``
  for grades and counts, ``valueQuantity`` with its UCUM unit for ages, durations, times and
  diameters, ``valueCodeableConcept`` for a choice (and for smoking status, SNOMED CT answers),
  ``valueDateTime`` for dates;
* laterality as a ``component`` (SNOMED CT "Unilateral left"/"Unilateral right"); the spinal
  level as ``bodySite`` (SNOMED CT "Level of C5/C6 intervertebral disc", then our code) and the
  myotome as ``bodySite`` (our code only: no verified SNOMED CT code was found for it);
* ``dataAbsentReason`` instead of a value for a finding left blank (the findings model's
  *not examined*) that the recommendation depends on: the unknowns that would change it, the
  red-flag questions to confirm and the inputs a pathway still needs. Other blanks are left out.

The decision table's internal features are not exported as Observations: they are the engine's
working, not findings anyone examined.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from functools import cache
from typing import Any

from fhir.resources.R4B.observation import Observation

from myelo_cds.exports._fhir_canonical import Assessed
from myelo_cds.exports._fhir_codes import (
    CODE_SYSTEM,
    LISTED,
    UCUM,
    category_of,
    concept_display,
    field_unit,
    finding_paths,
    terminology,
)

__all__ = ["finding_observations", "score_observations", "value_of"]

_MJOA_ITEMS = frozenset(f"mjoa.{item}" for item in ("ue_motor", "le_motor", "ue_sensation", "sphincter"))
# Not Observations: the case id is the Patient identifier, the date the effective time, the sex
# Patient.gender; the mJOA items travel in the QuestionnaireResponse; a "not done" answer is
# the ``not-performed`` reason on the blank results it answers.
_NOT_OBSERVED = (
    frozenset({"schema_version", "case_id", "assessment_date", "patient.sex", "electro.not_done"})
    | _MJOA_ITEMS
)
_ASKED = ("patient", "symptoms")
"""Sections whose blank findings were not asked (the others: not examined or not done)."""


_Entry = tuple[str, Any]


def _ours(code: str, display: str | None = None) -> dict[str, str]:
    return {"system": CODE_SYSTEM, "code": code, **({"display": display} if display else {})}


def _code(path: str) -> dict[str, Any]:
    display = concept_display(path)
    standard = terminology().code_for(path)
    codings = ([standard.coding] if standard else []) + [_ours(path, display)]
    return {"coding": codings, "text": display}


def _quantity(path: str, value: float) -> dict[str, Any]:
    unit = field_unit(path)
    if unit is None:
        return {"value": value}
    row = terminology().term("unit", unit)
    return {"value": value, "unit": row.display, "system": UCUM, "code": unit}


def value_of(path: str, value: Any) -> dict[str, Any]:
    """A finding's value as the Observation ``value[x]`` its kind asks for."""
    if isinstance(value, bool):
        answer = terminology().exported_answer(path, value)
        if answer is not None:
            return {"valueCodeableConcept": {"coding": [answer.coding], "text": answer.display}}
        if path == "patient.smoker":  # no single standard code means "not a current smoker"
            return {"valueCodeableConcept": {"coding": [_ours(f"{path}=false", "Not a current smoker")]}}
        return {"valueBoolean": value}
    if isinstance(value, Enum):
        option = str(value.value)
        code = f"{path}={option}"
        display = f"{concept_display(path)}: {option.replace('_', ' ')}"
        return {"valueCodeableConcept": {"coding": [_ours(code, display)], "text": option}}
    if isinstance(value, (int, float)) and (isinstance(value, float) or field_unit(path)):
        return {"valueQuantity": _quantity(path, value)}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, dt.date):
        return {"valueDateTime": value.isoformat()}
    if isinstance(value, (set, frozenset, tuple, list)):
        return {"valueString": ";".join(sorted(str(getattr(v, "value", v)) for v in value))}
    return {"valueString": str(value)}


def _where(path: str) -> dict[str, Any]:
    """Laterality (a component) and the spinal level or myotome (bodySite) of a path."""
    parts = path.split(".")
    extra: dict[str, Any] = {}
    if parts[0] == "exam" and parts[1] in ("reflexes", "strength") and parts[-1] in ("left", "right"):
        side = terminology().term("laterality", parts[3])
        extra["component"] = [
            {
                "code": {"coding": [_ours("laterality", "Laterality")]},
                "valueCodeableConcept": {"coding": [side.coding]},
            }
        ]
        if parts[1] == "strength":
            extra["bodySite"] = {"coding": [_ours(f"myotome.{parts[2]}")], "text": parts[2]}
    if parts[:2] == ["mri", "levels"]:
        level = terminology().term("level", parts[2])
        extra["bodySite"] = {"coding": [level.coding, _ours(f"level.{parts[2]}")], "text": parts[2]}
    return extra


def _observation(about: Assessed, path: str, value: dict[str, Any]) -> Any:
    system, code = category_of(path)
    return Observation.model_validate(
        {
            "resourceType": "Observation",
            "status": "final",
            "category": [{"coding": [{"system": system, "code": code}]}],
            "code": _code(path),
            "subject": {"reference": f"urn:uuid:{about.patient}"},
            "effectiveDateTime": about.on.isoformat(),
            **value,
            **_where(path),
        }
    )


def _entered(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(input path, value) of every finding given, in model order."""
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        path = prefix + (key.value if isinstance(key, Enum) else str(key))
        if isinstance(value, dict):
            out.extend(_entered(value, path + "."))
        elif value is not None and value not in ((), frozenset()):
            out.append((path, value))
    return out


def _blank_that_matters(about: Assessed, given: set[str]) -> list[str]:
    """The blank findings the recommendation depends on, in the order it names them."""
    rec = about.rec
    wanted = [*(p for u in rec.unknowns for p in u.fields), *(p for t in rec.to_confirm for p in t.fields)]
    wanted += list(rec.incomplete)
    out: list[str] = []
    for path in wanted:
        if path in given or path in out or path in _NOT_OBSERVED:
            continue
        if path in _exported():  # not a section (e.g. earlier_mjoa)
            out.append(path)
    return out


@cache
def _exported() -> frozenset[str]:
    return frozenset(finding_paths())


def finding_observations(about: Assessed) -> list[_Entry]:
    """One Observation per finding entered, and one with a ``dataAbsentReason`` per blank
    finding the recommendation depends on. Ids are ``finding/<path>``."""
    entered = [
        (path, value)
        for path, value in _entered(about.findings.model_dump(exclude_none=True))
        if path not in _NOT_OBSERVED
    ]
    entries = [
        (about.id(f"finding/{path}"), _observation(about, path, value_of(path, value)))
        for path, value in entered
    ]
    # A level listed with nothing graded is not the same as a level left out (left out, it
    # counts as normal when the reader marked the unlisted levels normal): say it is listed.
    for level, finding in about.findings.mri.levels.items():
        if not finding.model_dump(exclude_none=True):
            path = f"mri.levels.{level.value}"
            entries.append((about.id(f"finding/{path}"), _observation(about, path, {"valueString": LISTED})))
    given = {path for path, _ in entered}
    for path in _blank_that_matters(about, given):
        reason = "not-asked" if path.split(".", 1)[0] in _ASKED else "not-performed"
        row = terminology().term("absent", reason)
        absent = {"dataAbsentReason": {"coding": [row.coding], "text": "Not examined"}}
        entries.append((about.id(f"finding/{path}"), _observation(about, path, absent)))
    return entries


def score_observations(about: Assessed) -> list[_Entry]:
    """The mJOA totals and band, derived from the QuestionnaireResponse. (The Nurick grade is
    the entered finding ``nurick``.) Ids are ``score/<name>``."""
    score = about.rec.scores.mjoa
    if score is None:
        return []
    derived: dict[str, Any] = {}
    if about.findings.mjoa is not None:
        derived["derivedFrom"] = [{"reference": f"urn:uuid:{about.id('qr')}"}]
    values: dict[str, dict[str, Any]] = {
        "mjoa_total": {"valueInteger": score.total},
        "mjoa_attributed_total": {"valueInteger": score.attributed_total},
        "mjoa_band": {"valueString": score.attributed_band},
    }
    return [
        (about.id(f"score/{name}"), _observation(about, f"score.{name}", {**value, **derived}))
        for name, value in values.items()
    ]
