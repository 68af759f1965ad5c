"""What an EHR launch imports: the findings in the patient's record and where each came from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from myelo_cds.exports.fhir import findings_from_bundle
from myelo_cds.findings import describe_validation_error, field_spec

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


def import_record(iss: str, patient: str, record: list[dict[str, Any]]) -> EhrImport:
    """The findings in the EHR's record of ``patient`` and where each came from.

    The FHIR import decides what counts (final/amended/corrected Observations, the latest value
    per finding, units converted, standard codes from the mapping table) and reports the rest.

    Raises:
        LaunchError: a resource about another patient (the whole record is refused), or a record
            that is not a readable bundle.
    """
    if any(_about_someone_else(resource, patient) for resource in record):
        raise LaunchError(
            502, "The EHR's FHIR server returned a resource about another patient: nothing was imported."
        )
    searchset = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in record]}
    try:
        result = findings_from_bundle(searchset)
    except ValueError as error:  # pydantic's ValidationError is a ValueError too
        problems = describe_validation_error(error) if isinstance(error, ValidationError) else [str(error)]
        raise LaunchError(
            502, "The EHR's record could not be read into findings: " + "; ".join(problems[:5])
        ) from None
    sources = tuple(
        EhrSource(path, _label(path), source.resource, source.effective[:10] if source.effective else None)
        for path, source in result.sources.items()
    )
    return EhrImport(
        iss=iss,
        patient=patient,
        fetched_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
        data=result.findings.model_dump(mode="json", exclude_none=True),
        sources=sources,
        notes=tuple(
            item.resource + (f" ({item.code})" if item.code else "") + f": {item.reason}"
            for item in result.not_understood
        ),
    )
