"""Findings read from a FHIR R4 Bundle: our own export, or an EHR's standard-coded record.

What is read:

* **Observations** coded in our CodeSystem (the input path) or with a standard code that
  ``data/fhir/terminology.csv`` maps to a finding (LOINC, SNOMED CT); the value as
  ``valueBoolean``, ``valueInteger``, ``valueQuantity`` (converted to the finding's unit by the
  one converter the CDS Hooks prefetch uses too), ``valueCodeableConcept`` (SNOMED CT answers
  from the table, HL7 yes/no, our enumerated answers), ``valueString``, ``valueDateTime``. Only
  ``final``, ``amended`` and ``corrected`` Observations count (``entered-in-error``,
  ``cancelled``, ``preliminary``... are reported, never read); of several for one finding the
  latest by effective time counts. A ``dataAbsentReason`` leaves the finding blank.
* **Patient**: the sex (``gender``), the case id (our identifier), and the age in whole years
  from ``birthDate`` on the assessment date (a birth year alone that cannot settle the age is
  reported, and the age left blank).
* **QuestionnaireResponse** of our mJOA Questionnaire (completed or amended).

Everything else is reported in :attr:`ImportedFindings.not_understood` (resource, code, why),
never ignored silently. A finding not in the bundle stays blank, which the engine reads as
*not examined*, never as normal: a bundle with no Patient gives findings whose patient section
is empty, not an error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from myelo_cds.errors import InputError
from myelo_cds.exports._fhir_codes import (
    CODE_SYSTEM,
    COUNTED_OBSERVATION_STATUS,
    LISTED,
    SCORES,
    in_field_unit,
    our_codes,
    shown_code,
    terminology,
)
from myelo_cds.exports._fhir_knowledge import MJOA_ITEMS, is_mjoa_questionnaire
from myelo_cds.findings import Findings, field_spec, parse_json, salvage

__all__ = ["FromEhr", "ImportedFindings", "NotUnderstood", "finding_path", "findings_from_bundle"]

COUNTED_RESPONSE_STATUS = frozenset({"completed", "amended"})
#: Observation codes of earlier exports (before the http CodeSystem): still read back.
_LEGACY_FINDING_SYSTEM = "urn:myelo-cds:finding"
_DERIVED_SYSTEMS = frozenset({"urn:myelo-cds:score", "urn:myelo-cds:feature"})
_CASE_ID_SYSTEMS = frozenset({"https://myelo-cds.org/fhir/sid/case-id", "urn:myelo-cds:case-id"})
_SEX = frozenset({"female", "male", "other", "unknown"})
#: Resources that hold no finding (a decision's outputs, its provenance, who and what made it):
#: skipped without a report. Any other resource (a Condition, a DiagnosticReport...) may hold a
#: finding this reader cannot take, so it is reported.
_NO_FINDINGS = frozenset(
    {
        "CarePlan",
        "CodeSystem",
        "Device",
        "DocumentReference",
        "Encounter",
        "GuidanceResponse",
        "Library",
        "OperationOutcome",
        "Organization",
        "Practitioner",
        "PractitionerRole",
        "Provenance",
        "Questionnaire",
        "RequestGroup",
        "ServiceRequest",
    }
)
_HISTORY = re.compile(r"/_history/[^/]+$")
_REFERENCE = re.compile(r"[A-Za-z0-9:._\-/|]{1,200}")


def _plain(value: Any) -> str:
    """An identifier or code from the bundle as reported: identifier characters only (show it
    as text), anything else replaced."""
    text = str(value)
    return text if _REFERENCE.fullmatch(text) else "(a value not shown)"


@dataclass(frozen=True)
class NotUnderstood:
    """One thing in the bundle that was not read, and why (for the clinician to check)."""

    resource: str
    """``Observation/<id>``, the entry's ``fullUrl``, or ``entry <n>``."""
    code: str
    """``system|code`` of the resource's code (``''`` when it has none), or the input path."""
    reason: str


@dataclass(frozen=True)
class FromEhr:
    """Where one finding came from."""

    resource: str
    effective: str | None
    """The Observation's effective date/time as written (``None`` when it has none)."""


@dataclass(frozen=True)
class ImportedFindings:
    """What :func:`findings_from_bundle` read."""

    findings: Findings
    not_understood: tuple[NotUnderstood, ...] = ()
    sources: Mapping[str, FromEhr] = field(default_factory=dict)
    """Input path -> the resource its value came from (``patient.age_years`` from the Patient)."""


def finding_path(codings: Any) -> str | None:
    """The input path an Observation's ``code.coding`` names: our code (the path itself) or a
    standard code from the mapping table; ``None`` if none of them is a finding."""
    if not isinstance(codings, list):
        return None
    table = terminology()
    for coding in codings:
        if not isinstance(coding, dict):
            continue
        system, code = coding.get("system"), coding.get("code")
        if not isinstance(system, str) or not isinstance(code, str):
            continue
        if system == CODE_SYSTEM and code in our_codes() and _is_finding(code):
            return code
        if system == _LEGACY_FINDING_SYSTEM and _is_finding(code):
            return code
        mapped = table.path_of(system, code)
        if mapped is not None:
            return mapped[0]
    return None


def is_derived(resource: dict[str, Any]) -> bool:
    """Whether an Observation is one of our derived scores (recomputed from the findings, never
    read back) or an earlier export's decision-table feature."""
    code = resource.get("code")
    for coding in code.get("coding") or [] if isinstance(code, dict) else []:
        if isinstance(coding, dict):
            if coding.get("system") in _DERIVED_SYSTEMS:
                return True
            if coding.get("system") == CODE_SYSTEM and coding.get("code") in SCORES:
                return True
    return False


def _is_finding(code: str) -> bool:
    parts = code.split(".")
    if parts[:2] == ["mri", "levels"] and len(parts) in (3, 4):
        return True
    try:
        field_spec(code)
    except KeyError:
        return False
    return True


def _code_text(resource: dict[str, Any]) -> str:
    code = resource.get("code")
    for coding in code.get("coding") or [] if isinstance(code, dict) else []:
        if isinstance(coding, dict) and coding.get("code"):
            return _plain(f"{coding.get('system', '')}|{coding['code']}")
    return ""


def _name(entry: dict[str, Any], resource: dict[str, Any], index: int) -> str:
    kind, rid = resource.get("resourceType"), resource.get("id")
    if isinstance(kind, str) and isinstance(rid, str):
        return _plain(f"{kind}/{rid}")
    url = entry.get("fullUrl")
    return _plain(url) if isinstance(url, str) else f"entry {index + 1}"


def _effective(resource: dict[str, Any]) -> str | None:
    period = resource.get("effectivePeriod")
    for text in (
        resource.get("effectiveDateTime"),
        resource.get("effectiveInstant"),
        (period.get("end") or period.get("start")) if isinstance(period, dict) else None,
        resource.get("authored"),
        resource.get("issued"),
    ):
        if isinstance(text, str) and text:
            return text
    return None


def _when(text: str | None) -> dt.datetime:
    """An effective time, for ordering (a partial date at its start; none is oldest)."""
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    if not text:
        return oldest
    try:
        if len(text) < len("2025-03-01"):  # a year, or a year and month
            year, _, month = text.partition("-")
            return dt.datetime(int(year), int(month or 1), 1, tzinfo=dt.UTC)
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return oldest
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


class _Reader:
    """One pass over the bundle's resources."""

    def __init__(self) -> None:
        self.problems: list[NotUnderstood] = []
        self.latest: dict[str, tuple[dt.datetime, Any, str, str | None, bool]] = {}
        """path -> (effective, value, resource, effective text, conflicted)."""
        self.listed: set[str] = set()
        self.nested: dict[str, Any] = {}
        self.sources: dict[str, FromEhr] = {}
        self.birth_date: str | None = None
        self.patients: dict[str, set[str]] = {}

    def problem(self, resource: str, code: str, reason: str) -> None:
        self.problems.append(NotUnderstood(resource, code, reason))

    def put(self, path: str, value: Any) -> None:
        target = self.nested
        parts = path.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value

    # --- Patient --------------------------------------------------------------------------

    def patient(self, entry: dict[str, Any], resource: dict[str, Any], name: str) -> None:
        refs = {f"Patient/{resource['id']}"} if isinstance(resource.get("id"), str) else set()
        if isinstance(entry.get("fullUrl"), str):
            refs.add(entry["fullUrl"])
        self.patients[name] = refs
        gender = resource.get("gender")
        if gender in _SEX:
            self.put("patient.sex", gender)
            self.sources["patient.sex"] = FromEhr(name, None)
        for identifier in resource.get("identifier") or []:
            if isinstance(identifier, dict) and identifier.get("system") in _CASE_ID_SYSTEMS:
                self.put("case_id", identifier.get("value"))
        if isinstance(resource.get("birthDate"), str):
            self.birth_date = resource["birthDate"]
            self.sources["patient.age_years"] = FromEhr(name, None)

    # --- QuestionnaireResponse --------------------------------------------------------------

    def response(self, resource: dict[str, Any], name: str) -> None:
        if not is_mjoa_questionnaire(resource.get("questionnaire")):
            self.problem(
                name,
                shown_code(resource.get("questionnaire", "")),
                "a questionnaire this service does not read",
            )
            return
        status = resource.get("status")
        if status not in COUNTED_RESPONSE_STATUS:
            self.problem(name, "mJOA", f"status {shown_code(status)}: not counted")
            return
        for item in resource.get("item") or []:
            if not isinstance(item, dict) or item.get("linkId") not in MJOA_ITEMS:
                continue
            answers = item.get("answer") or []
            coding = answers[0].get("valueCoding") if answers and isinstance(answers[0], dict) else None
            code = coding.get("code") if isinstance(coding, dict) else None
            if isinstance(code, str) and code.isdigit():
                self.put(f"mjoa.{item['linkId']}", int(code))
                self.sources[f"mjoa.{item['linkId']}"] = FromEhr(name, _effective(resource))

    # --- Observation ------------------------------------------------------------------------

    def observation(self, resource: dict[str, Any], name: str) -> None:
        code = resource.get("code")
        codings = code.get("coding") if isinstance(code, dict) else None
        path = finding_path(codings)
        if path is None:
            if not is_derived(resource):
                self.problem(
                    name,
                    _code_text(resource),
                    "code not in the mapping table (not a finding this service reads)",
                )
            return
        status = resource.get("status")
        if status not in COUNTED_OBSERVATION_STATUS:
            self.problem(name, _code_text(resource), f"status {shown_code(status)}: not counted")
            return
        if "dataAbsentReason" in resource:
            return  # recorded as not done: the finding stays blank (unknown), never "normal"
        value, why = self._value(path, resource)
        if why is not None:
            self.problem(name, _code_text(resource), why)
            return
        effective = _effective(resource)
        when = _when(effective)
        held = self.latest.get(path)
        if held is None or when > held[0]:
            self.latest[path] = (when, value, name, effective, False)
        elif when == held[0] and value != held[1]:
            self.latest[path] = (*held[:4], True)
            self.problem(
                name, path, "a different value at the same time as another Observation: neither counted"
            )

    def _value(self, path: str, resource: dict[str, Any]) -> tuple[Any, str | None]:
        if path.startswith("mri.levels.") and path.count(".") == path.count(".", 0, len("mri.levels.")):
            return (
                (LISTED, None)
                if resource.get("valueString") == LISTED
                else (None, "an MRI level without a grading")
            )
        kind = field_spec(path).kind
        if kind in ("tri", "bool"):
            return self._answer(path, resource)
        if kind in ("int", "float"):
            if isinstance(resource.get("valueInteger"), int) and not isinstance(
                resource["valueInteger"], bool
            ):
                return resource["valueInteger"], None
            if "valueQuantity" in resource:
                return in_field_unit(path, resource["valueQuantity"])
            return None, "expected a number (valueInteger or valueQuantity)"
        if kind == "enum":
            return self._choice(path, resource)
        if kind == "date":
            text = resource.get("valueDateTime")
            return (text[:10], None) if isinstance(text, str) else (None, "expected a date (valueDateTime)")
        if kind == "set":
            text = resource.get("valueString")
            if isinstance(text, str):
                return [part for part in text.split(";") if part], None
            return None, "expected a list (valueString, parts separated by ;)"
        text = resource.get("valueString")
        return (text, None) if isinstance(text, str) else (None, "expected text (valueString)")

    def _answer(self, path: str, resource: dict[str, Any]) -> tuple[Any, str | None]:
        answer: bool | None = None
        if isinstance(resource.get("valueBoolean"), bool):
            answer = resource["valueBoolean"]
        concept = resource.get("valueCodeableConcept")
        for coding in concept.get("coding") or [] if isinstance(concept, dict) else []:
            if not isinstance(coding, dict):
                continue
            system, code = coding.get("system"), coding.get("code")
            if system == CODE_SYSTEM and code == f"{path}=false":
                answer = False
            elif isinstance(system, str) and isinstance(code, str):
                meaning = terminology().answer(path, system, code)
                answer = meaning if meaning is not None else answer
            if answer is not None:
                break
        if answer is None:
            return None, "a value this service cannot read as present or absent"
        row = terminology().path_of(*_first_standard(resource))
        if row is not None and row[1].direction == "import-present" and answer is False:
            return None, (
                f"absent, but {row[1].display} is narrower than this finding "
                f"({field_spec(path).label}): its absence does not answer it"
            )
        return answer, None

    def _choice(self, path: str, resource: dict[str, Any]) -> tuple[Any, str | None]:
        options = field_spec(path).options
        concept = resource.get("valueCodeableConcept")
        for coding in concept.get("coding") or [] if isinstance(concept, dict) else []:
            if isinstance(coding, dict) and coding.get("system") == CODE_SYSTEM:
                option = str(coding.get("code", "")).partition("=")[2]
                if option in options:
                    return option, None
        text = resource.get("valueString")
        if isinstance(text, str) and text in options:
            return text, None
        return None, f"not one of the answers this finding takes ({', '.join(options)})"

    # --- the result ---------------------------------------------------------------------------

    def assessment_date(self, given: dt.date | None) -> dt.date | None:
        if given is not None:
            return given
        dates = [when for when, *_ in self.latest.values() if when.year > 1]
        return max(dates).date() if dates else None

    def age(self, on: dt.date, name: str) -> None:
        """The age in whole years on ``on`` from the birth date (only when it settles it)."""
        text = self.birth_date or ""
        try:
            born = dt.date.fromisoformat(text) if len(text) == len("1960-05-01") else None
        except ValueError:
            born = None
        if born is None:  # a birth year (and month) leaves the age open by one year
            self.sources.pop("patient.age_years", None)
            reason = f"birthDate {shown_code(text[:10])} is not a whole date: the age is left blank"
            self.problem(name, "patient.age_years", reason)
            return
        years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
        self.put("patient.age_years", years)


def _first_standard(resource: dict[str, Any]) -> tuple[str, str]:
    code = resource.get("code")
    for coding in code.get("coding") or [] if isinstance(code, dict) else []:
        if isinstance(coding, dict) and coding.get("system") not in (CODE_SYSTEM, _LEGACY_FINDING_SYSTEM):
            return str(coding.get("system")), str(coding.get("code"))
    return "", ""


def _bundle(bundle: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    data = parse_json(bundle, source="the FHIR bundle") if isinstance(bundle, (str, bytes)) else bundle
    if not isinstance(data, Mapping) or data.get("resourceType") != "Bundle":
        raise InputError("not a FHIR Bundle (a JSON object with resourceType Bundle)")
    return data


def findings_from_bundle(
    bundle: str | bytes | Mapping[str, Any],
    *,
    assessment_date: dt.date | None = None,
    strict: bool = False,
) -> ImportedFindings:
    """The findings in a FHIR R4 Bundle, with what was not understood and where each came from.

    Args:
        bundle: the Bundle as JSON text/bytes or as parsed JSON.
        assessment_date: the date to assess on (the age is computed for it); default the newest
            Observation's effective date, else unset (the engine then uses today, and the age
            from a birth date is computed for today).
        strict: raise on a finding value the model refuses (out of range, inconsistent) instead
            of leaving it out and reporting it: for a caller that must not assess on part of
            the record.

    Returns:
        :class:`ImportedFindings`: the findings (a finding not in the bundle stays blank), every
        resource or value not read with why, and the resource each finding came from.

    Raises:
        InputError: not a Bundle; a bundle about more than one patient, or an Observation about
            someone other than its Patient; with ``strict``, a pydantic ``ValidationError`` for a
            refused value.
    """
    data = _bundle(bundle)
    reader = _Reader()
    observations: list[tuple[dict[str, Any], str]] = []
    for index, entry in enumerate(data.get("entry") or []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            reader.problem(f"entry {index + 1}", "", "no resource")
            continue
        name = _name(entry, resource, index)
        kind = resource.get("resourceType")
        if kind == "Patient":
            reader.patient(entry, resource, name)
        elif kind == "QuestionnaireResponse":
            reader.response(resource, name)
        elif kind == "Observation":
            observations.append((resource, name))
        elif kind not in _NO_FINDINGS:
            reader.problem(name, "", f"a {shown_code(kind)} resource is not read")
    if len(reader.patients) > 1:
        raise InputError(
            f"the bundle holds {len(reader.patients)} Patients: findings are read about one patient"
        )
    about = next(iter(reader.patients.values()), None)
    for resource, name in observations:
        subject = resource.get("subject")
        reference = subject.get("reference") if isinstance(subject, dict) else None
        reference = _HISTORY.sub("", reference) if isinstance(reference, str) else reference
        if (
            about
            and reference not in about
            and not (
                isinstance(reference, str)
                and any(reference.endswith("/" + ref) for ref in about if ref.startswith("Patient/"))
            )
        ):
            raise InputError(f"{name} is not about the bundle's Patient: findings are read about one patient")
        reader.observation(resource, name)
    for path, (_, value, name, effective, conflicted) in reader.latest.items():
        if conflicted:
            continue
        if value is LISTED:  # a level listed with nothing graded
            reader.nested.setdefault("mri", {}).setdefault("levels", {}).setdefault(path.split(".")[2], {})
        else:
            reader.put(path, value)
        reader.sources[path] = FromEhr(name, effective)
    on = reader.assessment_date(assessment_date)
    if on is not None:
        reader.put("assessment_date", on.isoformat())
    if reader.birth_date is not None and "age_years" not in reader.nested.get("patient", {}):
        patient = next(iter(reader.patients), "Patient")
        reader.age(on or dt.date.today(), patient)
    reader.nested.setdefault("patient", {})
    if strict:
        findings = Findings.model_validate(reader.nested)
        return ImportedFindings(findings, tuple(reader.problems), reader.sources)
    findings, refused = salvage(reader.nested)
    for problem in refused:
        source = reader.sources.pop(problem.field, None)
        reader.problem(source.resource if source else "bundle", problem.field, problem.message)
    return ImportedFindings(findings, tuple(reader.problems), reader.sources)
