"""The one http canonical base of every FHIR artifact and identifier system myelo-cds defines.

A FHIR canonical URL names an artifact (Questionnaire, Library, CodeSystem) whatever server holds
a copy; ``urn:myelo-cds:*`` names were unregistered and no EHR could resolve them (issue 15).
Every canonical, code system and identifier system of ours is built here from one base, so a
deployment that publishes them elsewhere changes one line.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from myelo_cds.findings import Findings
    from myelo_cds.rules.result import Recommendation

__all__ = ["CANONICAL_BASE", "Assessed", "canonical", "identifier_system"]

CANONICAL_BASE = "https://myelo-cds.org/fhir"
"""Base of every canonical URL and identifier system of ours."""


def canonical(resource_type: str, name: str) -> str:
    """The canonical URL of our ``resource_type`` artifact ``name``, e.g.
    ``https://myelo-cds.org/fhir/Questionnaire/mjoa``."""
    return f"{CANONICAL_BASE}/{resource_type}/{name}"


def identifier_system(name: str) -> str:
    """An identifier system (namespace) of ours, e.g. ``https://myelo-cds.org/fhir/sid/case-id``."""
    return f"{CANONICAL_BASE}/sid/{name}"


class Assessed(Protocol):
    """What the resource builders read of one export (``fhir._Assessment``): the findings, the
    recommendation, the Patient's id and the id of each resource of the export."""

    @property
    def findings(self) -> Findings: ...
    @property
    def rec(self) -> Recommendation: ...
    @property
    def patient(self) -> str: ...
    @property
    def on(self) -> dt.date: ...
    def id(self, kind: str) -> str: ...
