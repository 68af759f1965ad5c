"""The codes the FHIR export writes and the import reads: one table, one CodeSystem, one unit converter.

* **Standard codes** (LOINC, SNOMED CT, UCUM, HL7 code systems) come from
  ``data/fhir/terminology.csv``, each row with the published source it was checked in. Nothing
  here names a standard code: a finding without a verified code is coded in our own CodeSystem.
* **Our CodeSystem** (:data:`CODE_SYSTEM`, shipped as ``data/fhir/codesystem-myelo-cds.json``):
  one concept per input path (``exam.reflexes.biceps.left`` "Biceps reflex, left"), per score,
  per enumerated answer, per spinal level and myotome, built from the findings model by
  :func:`code_system` (a test keeps the shipped file equal to it).
* **Units**: :func:`in_field_unit` converts a FHIR Quantity into the unit of a finding (UCUM:
  8 ``wk`` is 1.84 months, not 8). The CDS Hooks prefetch reader and the bundle import both
  call it, so a unit means the same thing on every way in.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from myelo_cds import __version__
from myelo_cds._paths import data_dir
from myelo_cds.exports._fhir_canonical import canonical
from myelo_cds.findings import CervicalLevel, LevelFinding, Strength, field_paths, field_spec, leaf_paths

__all__ = [
    "CODE_SYSTEM",
    "CODE_SYSTEM_VERSION",
    "COUNTED_OBSERVATION_STATUS",
    "LISTED",
    "UCUM",
    "StandardCode",
    "category_of",
    "code_system",
    "concept_display",
    "field_unit",
    "finding_paths",
    "in_field_unit",
    "shown_code",
    "terminology",
]

CODE_SYSTEM = canonical("CodeSystem", "myelo-cds")
"""The canonical URL of our CodeSystem: every code without a verified standard equivalent."""
CODE_SYSTEM_VERSION = "1.0.0"
"""Bumped whenever a concept is added, removed or changes meaning (a test pins the file)."""
UCUM = "http://unitsofmeasure.org"
LISTED = "listed, nothing graded"
"""The value of an MRI level listed with nothing graded (not the same as a level left out)."""
#: FHIR R4 ObservationStatus codes that count (the result is complete and stands):
#: http://hl7.org/fhir/R4/valueset-observation-status.html. ``registered``/``preliminary`` are
#: not final, ``cancelled`` was never made, ``entered-in-error`` was retracted, ``unknown``
#: cannot be trusted.
COUNTED_OBSERVATION_STATUS = frozenset({"final", "amended", "corrected"})

# Input paths that are no Observation: the schema version, the case id (the Patient's
# identifier) and the assessment date (every Observation's effective time); the mJOA items
# travel in the QuestionnaireResponse; sex is Patient.gender; a "not done" answer says that
# other findings were not measured (no Observation of its own).
_NOT_OBSERVED = frozenset(
    {"schema_version", "case_id", "assessment_date", "patient.sex", "electro.not_done"}
    | {f"mjoa.{item}" for item in ("ue_motor", "le_motor", "ue_sensation", "sphincter")}
)
SCORES = {
    "score.mjoa_total": "mJOA total score (raw)",
    "score.mjoa_attributed_total": "mJOA total score attributed to myelopathy",
    "score.mjoa_band": "mJOA severity band",
}
"""The derived scores exported as Observations (the Nurick grade is the entered finding)."""
_SIDES = {"left": "left", "right": "right"}
_REFLEX_NAMES = {
    "biceps": "Biceps reflex",
    "triceps": "Triceps reflex",
    "brachioradialis": "Brachioradialis reflex",
    "patellar": "Patellar reflex",
    "achilles": "Achilles reflex",
}
_LEVEL_FIELDS = {
    "kang": "Kang canal-stenosis grade (0-3)",
    "t2_signal": "Intramedullary T2 signal",
    "t2_extent_segments": "Vertebral segments spanned by T2 signal",
    "t1_hypointensity": "T1 hypointensity in the cord",
    "snake_eyes": "Snake-eye T2 foci on axial images",
}
# The unit (UCUM code) of each quantity finding, by the last part of its path.
_FIELD_UNITS = {"symptom_duration_months": "mo", "walk_30m_seconds": "s", "age_years": "a"}
# Each UCUM code in a base unit (seconds; metres). ``mo`` and ``a`` are UCUM's mean Julian month
# and year (``a_j`` = 365.25 d, ``mo_j`` = a_j / 12), the ones UCUM's plain ``a`` and ``mo`` mean.
_DAY = 86_400.0
_TO_BASE = {
    "s": ("time", 1.0),
    "min": ("time", 60.0),
    "h": ("time", 3_600.0),
    "d": ("time", _DAY),
    "wk": ("time", 7 * _DAY),
    "mo": ("time", 365.25 * _DAY / 12),
    "mo_j": ("time", 365.25 * _DAY / 12),
    "a": ("time", 365.25 * _DAY),
    "a_j": ("time", 365.25 * _DAY),
    "mm": ("length", 0.001),
    "cm": ("length", 0.01),
    "m": ("length", 1.0),
}
# Unit texts an EHR writes beside (or instead of) the code, read as the UCUM code they name.
_UNIT_WORDS = {
    "second": "s",
    "seconds": "s",
    "sec": "s",
    "minute": "min",
    "minutes": "min",
    "hour": "h",
    "hours": "h",
    "day": "d",
    "days": "d",
    "week": "wk",
    "weeks": "wk",
    "month": "mo",
    "months": "mo",
    "year": "a",
    "years": "a",
    "yr": "a",
}
_TOKEN = re.compile(r"[A-Za-z0-9._\-{}/%]{1,60}")


def shown_code(value: Any) -> str:
    """A code from outside (a status, a unit, a finding code) as shown to a person: codes only,
    so that no link or markup another system wrote reaches the clinician."""
    text = str(value)
    return text if _TOKEN.fullmatch(text) else "(a value not shown)"


# --- the standard codes -------------------------------------------------------------------


@dataclass(frozen=True)
class StandardCode:
    """One row of ``data/fhir/terminology.csv``."""

    key: str
    """An input path, or a shared term (``category``, ``laterality``, ``level``, ``absent``,
    ``unit``, ``answer``)."""
    role: str
    """For a path: ``code`` (Observation.code) or ``value`` (an answer code); for a shared term,
    which one (``exam``, ``left``, ``C5-C6``, ``not-performed``, ``mo``...)."""
    value: str
    """For a value row: the finding it means (``true``/``false``)."""
    system: str
    code: str
    display: str
    direction: str
    """``both`` (export and import), ``import`` (read only: a synonym), ``import-present``
    (narrower than our finding: present means True, absent says nothing)."""
    source: str
    """Where the code was checked: ``owner/repo@commit:path`` or the FHIR R4 definitions file."""

    @property
    def coding(self) -> dict[str, str]:
        return {"system": self.system, "code": self.code, "display": self.display}


@dataclass(frozen=True)
class Terminology:
    """The table, indexed the ways the export and the import read it."""

    rows: tuple[StandardCode, ...]

    def term(self, key: str, role: str) -> StandardCode:
        """A shared term (``term("category", "exam")``)."""
        for row in self.rows:
            if row.key == key and row.role == role:
                return row
        raise KeyError(f"{key}/{role} is not in data/fhir/terminology.csv")

    def code_for(self, path: str) -> StandardCode | None:
        """The standard Observation.code the export writes for ``path`` (None: ours only)."""
        for row in self.rows:
            if row.key == path and row.role == "code" and row.direction == "both":
                return row
        return None

    def path_of(self, system: str, code: str) -> tuple[str, StandardCode] | None:
        """The input path a standard Observation.code maps to, with its row."""
        for row in self.rows:
            if row.role == "code" and row.system == system and row.code == code and "." in row.key:
                return row.key, row
        return None

    def answer(self, path: str, system: str, code: str) -> bool | None:
        """What a coded answer means for ``path`` (its own value rows, then yes/no)."""
        for key in (path, "answer"):
            for row in self.rows:
                if row.key == key and row.role == "value" and (row.system, row.code) == (system, code):
                    return row.value == "true"
        return None

    def exported_answer(self, path: str, value: bool) -> StandardCode | None:
        for row in self.rows:
            wanted = "true" if value else "false"
            if (row.key, row.role, row.direction, row.value) == (path, "value", "both", wanted):
                return row
        return None

    def search_codes(self) -> str:
        """The FHIR search token list of every Observation.code a finding can carry: our whole
        CodeSystem and each standard code of the table (``code=`` of an Observation search)."""
        tokens = [f"{CODE_SYSTEM}|"]
        tokens += [f"{row.system}|{row.code}" for row in self.rows if row.role == "code" and "." in row.key]
        return ",".join(dict.fromkeys(tokens))


@cache
def terminology() -> Terminology:
    """``data/fhir/terminology.csv`` (every row has a source; a test checks it)."""
    with (data_dir() / "fhir" / "terminology.csv").open(encoding="utf-8", newline="") as handle:
        return Terminology(tuple(StandardCode(**row) for row in csv.DictReader(handle)))


# --- our CodeSystem -----------------------------------------------------------------------


def finding_paths() -> list[str]:
    """Every input path exported as an Observation (MRI levels expanded per level)."""
    paths = [path for path in leaf_paths() if path not in _NOT_OBSERVED]
    for level in CervicalLevel:
        paths.append(f"mri.levels.{level.value}")
        paths += [f"mri.levels.{level.value}.{name}" for name in field_paths(LevelFinding)]
    return paths


def _myotome(root: str) -> str:
    action = (Strength.model_fields[root].description or "").rstrip(".")
    return f"{root} myotome ({action.lower()})"


@cache
def concept_display(path: str) -> str:
    """The clinical name of a finding path: "Biceps reflex, left", "C5 (shoulder abduction)
    strength, left (MRC 0-5)", "Kang canal-stenosis grade (0-3) at C5-C6"."""
    parts = path.split(".")
    if path in SCORES:
        return SCORES[path]
    if parts[:2] == ["exam", "reflexes"]:
        return f"{_REFLEX_NAMES[parts[2]]}, {_SIDES[parts[3]]} (grade 0-4)"
    if parts[:2] == ["exam", "strength"]:
        return f"Strength, {_myotome(parts[2])}, {_SIDES[parts[3]]} (MRC grade 0-5)"
    if parts[:2] == ["mri", "levels"]:
        level, *field = parts[2:]
        return f"{_LEVEL_FIELDS[field[0]]} at {level}" if field else f"MRI level {level} listed"
    if parts[0] == "earlier_mjoa":
        return f"Earlier mJOA: {field_spec(path).label[0].lower()}{field_spec(path).label[1:]}"
    if parts[0] == "mjoa":
        return "mJOA items whose deficit the clinician attributes to another cause"
    spec = field_spec(path)
    if spec.kind == "enum":  # "Tempo of onset: hyperacute, acute, ..." -> "Tempo of onset"
        return re.split(r"[:;] ", spec.label, maxsplit=1)[0]
    return spec.label.split(" (0-", 1)[0] if path == "patient.age_years" else spec.label


def category_of(path: str) -> tuple[str, str]:
    """(system, code) of the Observation category of a path: exam, imaging, survey,
    procedure (electrodiagnostics), social history, or our ``history`` (symptoms and history:
    the standard category list has none for them)."""
    top = path.split(".", 1)[0]
    if path in ("patient.smoker", "patient.history.iv_drug_use"):
        role = "social-history"
    elif top == "exam":
        role = "exam"
    elif top == "mri":
        role = "imaging"
    elif top == "electro":
        role = "procedure"
    elif top in ("mjoa", "earlier_mjoa", "nurick", "score") or path == "patient.rehabilitation_start_mjoa":
        role = "survey"
    else:
        return CODE_SYSTEM, "category.history"
    row = terminology().term("category", role)
    return row.system, row.code


def field_unit(path: str) -> str | None:
    """The UCUM code of a quantity finding (None: a count, grade or other value)."""
    name = path.rpartition(".")[2]
    return _FIELD_UNITS.get(name) or ("mm" if name.endswith("_mm") else None)


def _enum_concepts(path: str) -> Iterable[dict[str, str]]:
    spec = field_spec(path)
    if spec.kind != "enum":
        return []
    return [
        {"code": f"{path}={option}", "display": f"{concept_display(path)}: {option.replace('_', ' ')}"}
        for option in spec.options
    ]


def code_system() -> dict[str, Any]:
    """Our CodeSystem resource (the shipped ``data/fhir/codesystem-myelo-cds.json``)."""
    concepts: list[dict[str, Any]] = []
    for path in finding_paths():
        concepts.append({"code": path, "display": concept_display(path)})
        if not path.startswith("mri.levels."):
            concepts += _enum_concepts(path)
    for level in CervicalLevel:
        concepts += _enum_concepts(f"mri.levels.{level.value}.t2_signal")
    concepts += [{"code": code, "display": display} for code, display in SCORES.items()]
    concepts += [
        {"code": f"level.{level.value}", "display": f"{level.value} level of the cervical spine"}
        for level in CervicalLevel
    ]
    concepts += [{"code": f"myotome.{root}", "display": _myotome(root)} for root in Strength.model_fields]
    concepts += [
        {"code": "laterality", "display": "Laterality"},
        {"code": "category.history", "display": "Clinical history and symptoms"},
        {"code": "patient.smoker=false", "display": "Not a current smoker"},
    ]
    return {
        "resourceType": "CodeSystem",
        "id": "myelo-cds",
        "url": CODE_SYSTEM,
        "version": CODE_SYSTEM_VERSION,
        "name": "MyeloCdsFindings",
        "title": "myelo-cds findings, scores and qualifiers",
        "status": "active",
        "experimental": False,
        "publisher": f"myelo-cds {__version__}",
        "description": (
            "The findings of a degenerative cervical myelopathy assessment that have no verified "
            "LOINC or SNOMED CT code (data/fhir/terminology.csv lists the ones that do). Codes are "
            "the input paths of the findings model; enumerated answers are path=value."
        ),
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "concept": concepts,
    }


@cache
def our_codes() -> frozenset[str]:
    """Every concept code of our CodeSystem."""
    return frozenset(concept["code"] for concept in code_system()["concept"])


# --- units --------------------------------------------------------------------------------


def _unit_code(quantity: dict[str, Any]) -> str | None:
    """The UCUM code of a quantity: its ``code`` (UCUM system or none), else its unit text."""
    system, code, unit = quantity.get("system"), quantity.get("code"), quantity.get("unit")
    if isinstance(code, str) and code and system in (None, UCUM):
        return code
    if isinstance(unit, str) and unit.strip():
        text = unit.strip()
        return text if text in _TO_BASE else _UNIT_WORDS.get(text.lower(), f"?{text}")
    return None


def in_field_unit(path: str, quantity: Any) -> tuple[float | int | None, str | None]:
    """A FHIR Quantity (as JSON) in the unit of the finding at ``path``, or (None, why not).

    A quantity with no unit at all is taken to be in the field's own unit. A converted value is
    kept to 2 decimals; integer findings are floored (whole years, grades: never rounded up).
    """
    if not isinstance(quantity, dict) or isinstance(quantity.get("value"), bool):
        return None, "not a quantity"
    value = quantity.get("value")
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None, "no numeric value"
    target = field_unit(path)
    given = _unit_code(quantity)
    if given is not None and target is None and given not in ("1", "{score}"):
        return None, f"a unit ({shown_code(given.lstrip('?'))}) where the field has none"
    if given is not None and target is not None and given != target:
        source, into = _TO_BASE.get(given), _TO_BASE[target]
        if source is None or source[0] != into[0]:
            return None, f"unit '{shown_code(given.lstrip('?'))}' cannot be converted to '{target}'"
        converted = value * source[1] / into[1]
        return (math.floor(converted + 1e-9) if _is_int(path) else round(converted, 2)), None
    return (math.floor(value + 1e-9) if _is_int(path) else float(value)), None


def _is_int(path: str) -> bool:
    try:
        return field_spec(path).kind == "int"
    except KeyError:
        return False
