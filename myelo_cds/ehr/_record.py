"""What an EHR launch imports: the findings in the patient's record and where each came from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from myelo_cds.ehr._conditions import EhrCondition, read_conditions
from myelo_cds.exports.fhir import findings_from_bundle
from myelo_cds.findings import Findings, describe_validation_error, field_spec

__all__ = ["EhrGrant", "EhrImport", "EhrSource", "LaunchError", "import_record"]


class LaunchError(Exception):
    """A launch that cannot go on: shown to the clinician, with the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class EhrSource:
    """Where one prefilled field came from."""

    path: str
    label: str
    resource: str  # "Observation/123", "Patient/abc"
    when: str | None  # the resource's effective date, when it has one


@dataclass(frozen=True)
class EhrGrant:
    """The EHR's access token for this launch, kept server-side for a write-back on request."""

    access_token: str = field(repr=False)
    expires_at: float  # time.time()
    scope: str


@dataclass(frozen=True)
class EhrImport:
    """Findings read from the EHR at launch, and their provenance; the grant stays server-side
    (never shown, never in a URL, left out of ``repr``)."""

    iss: str
    patient: str
    fetched_at: dt.datetime
    data: dict[str, Any]
    sources: tuple[EhrSource, ...]
    notes: tuple[str, ...] = field(default=())
    grant: EhrGrant | None = field(default=None, repr=False, compare=False)
    #: The problem list's counted Conditions (mimics, history, findings they answered).
    conditions: tuple[EhrCondition, ...] = field(default=())
    #: The clinician's ``fhirUser`` reference from the verified id_token (``Practitioner/123``),
    #: the author of a write-back; ``None`` when the EHR did not say who the user is.
    fhir_user: str | None = None

    def values(self) -> dict[str, Any]:
        """Each imported value by its input path (``patient.age_years``: 58)."""
        return _leaves(self.data)


def _leaves(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _label(path: str) -> str:
    try:
        label = field_spec(path).label
    except KeyError:
        return path
    label = label.split(". ")[0]  # the label, without the help that follows it
    section, _, rest = path.partition("mri.levels.")
    level = rest.split(".")[0] if not section and "." in rest else None
    return f"{level}: {label}" if level else label


def _about_someone_else(resource: dict[str, Any], patient: str) -> bool:
    kind = resource.get("resourceType")
    if kind == "Patient":
        return resource.get("id") != patient
    subject = resource.get("subject")
    return not isinstance(subject, dict) or subject.get("reference") != f"Patient/{patient}"


def _unreadable(error: ValueError) -> LaunchError:
    said = describe_validation_error(error) if isinstance(error, ValidationError) else [str(error)]
    return LaunchError(502, "The EHR's record could not be read into findings: " + "; ".join(said[:5]))


def import_record(
    iss: str,
    patient: str,
    record: list[dict[str, Any]],
    conditions: Sequence[dict[str, Any]] | str = (),
) -> EhrImport:
    """The findings in the EHR's record of ``patient`` and where each came from.

    The FHIR import decides what counts (final/amended/corrected Observations, the latest value
    per finding, units converted, standard codes from the mapping table) and reports the rest.
    ``conditions`` (the problem list, or why the EHR would not give it) are read by
    :func:`~myelo_cds.ehr._conditions.read_conditions`: shown, and a yes/no finding answered
    *yes* only where the terminology table maps the Condition's code to it.

    Raises:
        LaunchError: a resource about another patient (the whole record is refused), or a record
            that is not a readable bundle.
    """
    listed = list(conditions) if not isinstance(conditions, str) else []
    if any(_about_someone_else(resource, patient) for resource in [*record, *listed]):
        raise LaunchError(
            502, "The EHR's FHIR server returned a resource about another patient: nothing was imported."
        )
    searchset = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in record]}
    try:
        result = findings_from_bundle(searchset)
    except ValueError as error:  # pydantic's ValidationError is a ValueError too
        raise _unreadable(error) from None
    sources = {
        path: EhrSource(
            path, _label(path), source.resource, source.effective[:10] if source.effective else None
        )
        for path, source in result.sources.items()
    }
    notes = [
        item.resource + (f" ({item.code})" if item.code else "") + f": {item.reason}"
        for item in result.not_understood
    ]
    data = result.findings.model_dump(mode="json", exclude_none=True)
    problem_list = read_conditions(listed)
    if isinstance(conditions, str):
        notes.append(f"The problem list (Conditions) was not read: {conditions}")
    notes += problem_list.notes
    record_sources, record_notes = dict(sources), list(notes)
    for condition in problem_list.shown:
        if condition.path is None:
            continue
        held = _leaves(data).get(condition.path)
        if held is False:
            notes.append(
                f"{condition.resource} ({condition.name}): the problem list says yes where an "
                f"Observation said no ({condition.path}); taken as yes"
            )
        _put(data, condition.path, True)
        sources[condition.path] = EhrSource(
            condition.path, _label(condition.path), condition.resource, condition.when
        )
    try:
        data = Findings.model_validate(data).model_dump(mode="json", exclude_none=True)
    except ValueError:  # the problem list's answers do not fit: the record's own findings only
        data = result.findings.model_dump(mode="json", exclude_none=True)
        sources, notes = record_sources, record_notes
        notes += [
            f"{c.resource} ({c.name}): could not be prefilled ({c.path}); check it against the form"
            for c in problem_list.shown
            if c.path is not None
        ]
    return EhrImport(
        iss=iss,
        patient=patient,
        fetched_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
        data=data,
        sources=tuple(sources.values()),
        notes=tuple(notes),
        conditions=problem_list.shown,
    )


def _put(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value
