"""What a ``patient-view`` call may count, read in linear time, and what it may not.

The CDS Hooks 2.0 service reads the patient's findings from the request's ``prefetch`` (or
fetches them from the EHR's FHIR server). This module decides which resources count:

* **Limits** (no denial of service): the body is read in chunks and refused past
  ``MYELO_CDS_HOOKS_MAX_BYTES`` (HTTP 413), then read by the strict JSON reader (no duplicate key,
  no deep nesting, no endless number); more than ``MYELO_CDS_HOOKS_MAX_RESOURCES`` resources are
  refused (413). Every step is one pass over the resources (indexed by code once); the route runs
  the reading and the assessment in a worker thread so the event loop (health, pages) stays free.
* **Status**: an Observation counts only when its status is ``final``, ``amended`` or
  ``corrected`` (FHIR R4 ObservationStatus value set,
  http://hl7.org/fhir/R4/valueset-observation-status.html: ``registered`` and ``preliminary``
  are not yet final, ``cancelled`` was never made, ``entered-in-error`` was retracted,
  ``unknown`` cannot be trusted); a QuestionnaireResponse when ``completed`` or ``amended``
  (http://hl7.org/fhir/R4/valueset-questionnaire-answers-status.html). What is ignored is
  counted in the card, by status and code, never by value.
* **Subject**: an Observation or QuestionnaireResponse about anyone but ``context.patientId``
  (and a Patient with another id) refuses the whole call (400 with an OperationOutcome): a
  record that mixes patients is not one to advise on.
* **Latest per code**: by ``effectiveDateTime`` / ``effectivePeriod.end`` / ``effectiveInstant``,
  then ``issued``, never by bundle order; two different values at the same instant are a
  conflict and neither counts.
* **Codes**: an Observation counts when its code is a finding: our CodeSystem's code, or a
  LOINC/SNOMED CT code that ``data/fhir/terminology.csv`` maps to one (the same table and the
  same reader as :func:`myelo_cds.exports.fhir.findings_from_bundle`).
* **Units**: a ``valueQuantity`` with a UCUM code is converted to the unit of the field (8
  ``wk`` is 1.84 months, not 8); a unit that cannot be converted does not count and the card
  says so. A quantity with no unit at all is in the field's own unit (this project's export).
* **Missing data** (:func:`complete_prefetch`): a prefetch key left out, holding an
  OperationOutcome, or a search with a next page is fetched from ``fhirServer`` with the
  ``fhirAuthorization`` bearer token, only when the server is on the ``MYELO_CDS_HOOKS_FHIR_SERVERS``
  allow-list, with a time and size limit; when that is impossible the call gets 412 as the
  specification says ("If the CDS Service is unable to obtain required data ... the service
  SHALL respond with an HTTP 412 Precondition Failed"). A key whose value is ``null`` means the
  EHR has no such data (the specification's meaning), and nothing is fetched for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import math
import os
import re
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import anyio
import httpx
from pydantic import ValidationError
from starlette.requests import Request

from myelo_cds.errors import JsonInputError, MyeloCdsError, SettingsError
from myelo_cds.exports._fhir_codes import COUNTED_OBSERVATION_STATUS, in_field_unit, shown_code
from myelo_cds.exports._fhir_import import finding_path, is_derived
from myelo_cds.exports._fhir_knowledge import is_mjoa_questionnaire
from myelo_cds.exports.fhir import FINDING_SYSTEM
from myelo_cds.findings import JsonLimits, parse_json

__all__ = [
    "COUNTED_OBSERVATION_STATUS",
    "AppLink",
    "Gathered",
    "HookLimits",
    "HookRefusal",
    "complete_prefetch",
    "gather",
    "hook_limits",
    "in_worker",
    "not_assessed_card",
    "read_request",
    "unavailable_keys",
    "validation_problems",
]

#: FHIR R4 QuestionnaireResponseStatus codes that count.
COUNTED_RESPONSE_STATUS = frozenset({"completed", "amended"})
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# Markdown that a client's text could carry into the card (links, images, emphasis, html), and
# control characters: escaped or dropped before any of it reaches the card's detail.
_MARKDOWN = re.compile(r"([\\`*\[\]<>!|~])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def _plain(text: str, limit: int = 200) -> str:
    """Text from the request as plain text in a markdown card: escaped, one line, capped."""
    return _MARKDOWN.sub(r"\\\1", _CONTROL.sub(" ", text[:limit]))


_token = shown_code
"""A code from the request as shown in the card: codes only, so that no link or markup a
client wrote reaches the clinician."""


_HISTORY = re.compile(r"/_history/[^/]+$")


class HookRefusal(MyeloCdsError):
    """The call is refused with an HTTP status and an OperationOutcome saying why.

    Args:
        status: 400 (a record not about this patient), 412 (required data cannot be had), 413
            (too large).
        message: for the EHR's log: names the prefetch key, the limit or the setting; never a
            finding's value or another patient's identifier.
        code: the OperationOutcome issue type (``invalid``, ``not-found``, ``too-costly``...).
    """

    def __init__(self, status: int, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    def body(self) -> dict[str, Any]:
        """``{"error": message, "outcome": OperationOutcome}``."""
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": self.code, "diagnostics": str(self)}],
        }
        return {"error": str(self), "outcome": outcome}


# --- settings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HookLimits:
    """How much one hook call may hold and how the service may fetch what is missing."""

    max_bytes: int = 1_000_000
    """Request body (``MYELO_CDS_HOOKS_MAX_BYTES``, 10,000-10,000,000)."""
    max_resources: int = 2_000
    """FHIR resources in the prefetch, fetched ones included (``MYELO_CDS_HOOKS_MAX_RESOURCES``,
    10-20,000). An EHR holding a DCM record has well under 200."""
    fhir_servers: tuple[str, ...] = ()
    """Base URLs the service may fetch from (``MYELO_CDS_HOOKS_FHIR_SERVERS``, space or comma
    separated); empty: it never fetches, and missing data gets 412."""
    fetch_seconds: float = 5.0
    """All fetches of one call together (``MYELO_CDS_HOOKS_FHIR_TIMEOUT_SECONDS``, 0.5-30)."""
    concurrent: int = 2
    """Calls read and assessed at once per server process (``MYELO_CDS_HOOKS_CONCURRENT``,
    1-16); more wait their turn, so many large calls cannot take every CPU of a replica."""
    max_pages: int = 5
    """Pages of one search followed."""


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not low <= value <= high:
        raise SettingsError(f"{name} must be a number from {low:g} to {high:g}, not {text[:20]!r}")
    return value


def hook_limits(env: Mapping[str, str] | None = None) -> HookLimits:
    """The limits from the environment (defaults when unset).

    Raises:
        SettingsError: a value out of its range or a server that is not an http(s) base URL,
            naming the setting and what is allowed.
    """
    env = os.environ if env is None else env
    servers = []
    for server in re.split(r"[\s,]+", env.get("MYELO_CDS_HOOKS_FHIR_SERVERS", "").strip()):
        if not server:
            continue
        parts = urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise SettingsError(
                "MYELO_CDS_HOOKS_FHIR_SERVERS must list FHIR base URLs (https://host/path, no query), "
                f"not {server[:60]!r}"
            )
        servers.append(server.rstrip("/"))
    max_bytes = _number(env, "MYELO_CDS_HOOKS_MAX_BYTES", 1_000_000, 10_000, 10_000_000)
    max_resources = _number(env, "MYELO_CDS_HOOKS_MAX_RESOURCES", 2_000, 10, 20_000)
    return HookLimits(
        max_bytes=int(max_bytes),
        max_resources=int(max_resources),
        fhir_servers=tuple(servers),
        fetch_seconds=_number(env, "MYELO_CDS_HOOKS_FHIR_TIMEOUT_SECONDS", 5.0, 0.5, 30.0),
        concurrent=int(_number(env, "MYELO_CDS_HOOKS_CONCURRENT", 2, 1, 16)),
    )


_T = TypeVar("_T")
_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


async def in_worker(hook: HookLimits, func: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
    """``func(*args, **kwargs)`` in a worker thread, at most ``limits.concurrent`` at once per
    event loop: CPU work (reading JSON, assessing) never runs on the loop that answers health
    and the pages, and a burst of large calls queues instead of taking every core."""
    loop = asyncio.get_running_loop()
    limiter = _LIMITERS.get(loop)
    if limiter is None:
        limiter = _LIMITERS[loop] = anyio.CapacityLimiter(hook.concurrent)
    limiter.total_tokens = hook.concurrent
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs), limiter=limiter)


# --- the request body ---------------------------------------------------------------------


async def read_request(request: Request, limits: HookLimits) -> Any:
    """The JSON body, read in chunks up to ``limits.max_bytes`` and parsed in a worker thread.

    Raises:
        HookRefusal: 413 past the limit (declared or read).
        JsonInputError: not JSON, a duplicate key, nesting too deep (the route answers 400).
    """
    refusal = HookRefusal(
        413,
        f"the request body is larger than {limits.max_bytes:,} bytes (MYELO_CDS_HOOKS_MAX_BYTES); "
        "ask for less prefetch or raise the limit",
        "too-costly",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise refusal
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limits.max_bytes:
            raise refusal
        chunks.append(chunk)
    body = b"".join(chunks)
    json_limits = JsonLimits(max_bytes=limits.max_bytes)
    return await in_worker(limits, parse_json, body, source="the hook request", limits=json_limits)


# --- which resources count ----------------------------------------------------------------


def _is_outcome_error(resource: Any) -> bool:
    return isinstance(resource, dict) and resource.get("resourceType") == "OperationOutcome"


def _entries(value: Any) -> list[Any]:
    if isinstance(value, dict) and value.get("resourceType") == "Bundle":
        entries = value.get("entry") or []
        return [entry.get("resource") for entry in entries if isinstance(entry, dict)]
    return [value]


def _next_page(value: Any) -> str | None:
    if not isinstance(value, dict) or value.get("resourceType") != "Bundle":
        return None
    for link in value.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


def unavailable_keys(prefetch: Any, templates: Iterable[str]) -> dict[str, str]:
    """The template keys whose data the service does not have, each with why.

    A key left out, an OperationOutcome as its value (the EHR's prefetch failed, whatever the
    issue's severity), an error or fatal outcome inside a search Bundle, or a search with a
    next page. ``null`` is "no such data": not unavailable.
    """
    given = prefetch if isinstance(prefetch, dict) else {}
    missing: dict[str, str] = {}
    for key in templates:
        if key not in given:
            missing[key] = "not prefetched"
            continue
        value = given[key]
        if value is None:
            continue
        if _is_outcome_error(value) or any(_is_outcome_error(r) and _has_error(r) for r in _entries(value)):
            missing[key] = "the EHR's prefetch failed (OperationOutcome)"
        elif _next_page(value):
            missing[key] = "the prefetch has more pages"
    return missing


def _has_error(outcome: dict[str, Any]) -> bool:
    issues = outcome.get("issue") or []
    return not issues or any(
        isinstance(issue, dict) and issue.get("severity") in ("fatal", "error") for issue in issues
    )


def _about_patient(resource: dict[str, Any], patient_id: str) -> bool:
    subject = resource.get("subject")
    reference = subject.get("reference") if isinstance(subject, dict) else None
    if not isinstance(reference, str):
        return False
    reference = _HISTORY.sub("", reference)
    return reference == f"Patient/{patient_id}" or reference.endswith(f"/Patient/{patient_id}")


def _instant(text: Any) -> dt.datetime | None:
    """A FHIR date, dateTime or instant as an aware datetime (a partial date at its start)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        if len(text) == len("2025"):
            return dt.datetime(int(text), 1, 1, tzinfo=dt.UTC)
        if len(text) == len("2025-03"):
            return dt.datetime(int(text[:4]), int(text[5:7]), 1, tzinfo=dt.UTC)
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _effective(resource: dict[str, Any]) -> dt.datetime | None:
    period = resource.get("effectivePeriod")
    for text in (
        resource.get("effectiveDateTime"),
        resource.get("effectiveInstant"),
        period.get("end") or period.get("start") if isinstance(period, dict) else None,
        resource.get("authored"),
    ):
        when = _instant(text)
        if when is not None:
            return when
    return None


_OLDEST = dt.datetime.min.replace(tzinfo=dt.UTC)


def _rank(resource: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    return (_effective(resource) or _OLDEST, _instant(resource.get("issued")) or _OLDEST)


def _finding_code(resource: dict[str, Any]) -> str | None:
    """The input path of a finding Observation: our code, or a standard code the mapping table
    (``data/fhir/terminology.csv``) maps to a finding; ``None`` for anything else."""
    code = resource.get("code")
    return finding_path(code.get("coding") if isinstance(code, dict) else None)


def _codings(resource: dict[str, Any]) -> list[dict[str, Any]]:
    code = resource.get("code")
    codings = code.get("coding") if isinstance(code, dict) else None
    return [c for c in codings if isinstance(c, dict)] if isinstance(codings, list) else []


def _any_code(resource: dict[str, Any]) -> Any:
    """The first code of an Observation (shown only if it is a plain code)."""
    codings = _codings(resource)
    return codings[0].get("code") if codings else None


_VALUES = (
    "valueBoolean",
    "valueInteger",
    "valueDateTime",
    "valueString",
    "valueQuantity",
    "valueCodeableConcept",
)


def _value(resource: dict[str, Any]) -> tuple[str, Any] | None:
    for name in _VALUES:
        if name in resource:
            return name, resource[name]
    return None


@dataclass
class Gathered:
    """The resources that count, and what did not count (codes and counts, never values)."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)
    """Why -> how many (``status entered-in-error``, ``unit 'x' ...``)."""
    observations_seen: int = 0
    assessment_date: str | None = None
    older: int = 0
    """Findings whose newest value predates the assessment date."""

    def ignore(self, reason: str) -> None:
        self.ignored[reason] = self.ignored.get(reason, 0) + 1

    def notes(self) -> list[str]:
        """Lines for the card: what was not counted, and values carried from earlier dates."""
        lines = [f"{count} x {_plain(reason)}" for reason, count in sorted(self.ignored.items())]
        if self.older:
            lines.append(
                f"{self.older} finding(s) carried from before {self.assessment_date} (the latest value)"
            )
        return lines


def gather(prefetch: Any, patient_id: str, limits: HookLimits) -> Gathered:
    """The Patient, the latest counted finding Observation per code and the latest mJOA response.

    One pass over the resources, one dictionary by code: linear in the prefetch.

    Raises:
        HookRefusal: 413 past ``limits.max_resources``; 400 for a resource about another patient.
    """
    values = prefetch.items() if isinstance(prefetch, dict) else []
    found: list[tuple[str, Any]] = [
        (key, r) for key, value in values for r in _entries(value) if r is not None
    ]
    if len(found) > limits.max_resources:
        raise HookRefusal(
            413,
            f"the prefetch holds {len(found):,} resources; at most {limits.max_resources:,} are read "
            "(MYELO_CDS_HOOKS_MAX_RESOURCES)",
            "too-costly",
        )
    out = Gathered()
    latest: dict[str, tuple[tuple[dt.datetime, dt.datetime], dict[str, Any], bool]] = {}
    response: tuple[tuple[dt.datetime, dt.datetime], dict[str, Any]] | None = None
    patient: dict[str, Any] | None = None
    for index, (key, resource) in enumerate(found):
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if kind in ("Observation", "QuestionnaireResponse") and not _about_patient(resource, patient_id):
            raise HookRefusal(
                400,
                f"prefetch key {key[:40]!r} holds a {kind} (resource {index + 1}) whose subject is not "
                "context.patientId: every resource must be about the patient in context",
            )
        if kind == "Patient":
            if resource.get("id") not in (None, patient_id):
                raise HookRefusal(
                    400, f"prefetch key {key[:40]!r} holds a Patient other than context.patientId"
                )
            patient = resource
        elif kind == "QuestionnaireResponse":
            if not is_mjoa_questionnaire(resource.get("questionnaire")):
                continue
            if resource.get("status") not in COUNTED_RESPONSE_STATUS:
                out.ignore(f"mJOA response with status {_token(resource.get('status'))}")
                continue
            rank = _rank(resource)
            if response is None or rank > response[0]:
                response = (rank, resource)
        elif kind == "Observation":
            out.observations_seen += 1
            code = _finding_code(resource)
            if code is None:
                if not is_derived(resource):  # our own scores are recomputed, not read
                    out.ignore(f"Observation whose code is not a DCM finding ({_token(_any_code(resource))})")
                continue
            status = resource.get("status")
            if status not in COUNTED_OBSERVATION_STATUS:
                out.ignore(f"Observation with status {_token(status)}")
                continue
            rank = _rank(resource)
            held = latest.get(code)
            if held is None or rank > held[0]:
                latest[code] = (rank, resource, False)
            elif rank == held[0] and _value(resource) != _value(held[1]):
                latest[code] = (rank, held[1], True)  # two values at one instant: a conflict
        elif kind is not None and kind != "OperationOutcome":
            out.ignore(f"{_token(kind)} resource (not read)")
    if patient is not None:
        out.resources.append(patient)
    if response is not None:
        out.resources.append(response[1])
    chosen: list[tuple[dt.datetime, dict[str, Any]]] = []
    for code, (rank, resource, conflict) in latest.items():
        if conflict:
            out.ignore(f"{_token(code)}: different values at the same time (none counted)")
            continue
        normal = _normalised(code, resource, out)
        if normal is not None:
            chosen.append((rank[0], normal))
    dates = [when for when, _ in chosen if when != _OLDEST]
    if dates:
        newest = max(dates).date()
        out.assessment_date = newest.isoformat()
        out.older = sum(1 for when, _ in chosen if when.date() < newest)
    out.resources.extend(resource for _, resource in chosen)
    return out


def _normalised(code: str, resource: dict[str, Any], out: Gathered) -> dict[str, Any] | None:
    """The Observation as :func:`findings_from_bundle` reads it: the finding code, the value in
    the field's unit, the effective date. ``None`` (and a note) when its value does not count."""
    held = _value(resource)
    if held is None:
        if "dataAbsentReason" not in resource:  # recorded as not done: blank, nothing to note
            out.ignore(f"{_token(code)}: no value")
        return None
    name, value = held
    if name == "valueQuantity":
        converted, why = in_field_unit(code, value)
        if why is not None:
            out.ignore(f"{_token(code)}: {why}")
            return None
        value = {"value": converted}
    when = _effective(resource)
    normal: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        # the EHR's own codes stay: a narrower standard code's "absent" must not read as "no"
        "code": {"coding": [{"system": FINDING_SYSTEM, "code": code}, *_codings(resource)]},
        "subject": resource.get("subject"),  # checked by gather: the patient in context
        name: value,
    }
    if when is not None:
        normal["effectiveDateTime"] = when.date().isoformat()
    return normal


# --- fetching what is missing -------------------------------------------------------------


def _climbs(url: str) -> bool:
    """Whether a URL's path has a dot segment (``/../``), which could leave the allowed base."""
    return any(part in (".", "..") for part in urlsplit(url).path.split("/"))


def _fetch_base(request: dict[str, Any], limits: HookLimits, why: str) -> tuple[str, str]:
    """The FHIR base URL and bearer token to fetch with, or 412 saying why not."""
    server = request.get("fhirServer")
    authorization = request.get("fhirAuthorization")
    token = authorization.get("access_token") if isinstance(authorization, dict) else None
    if not isinstance(server, str) or not isinstance(token, str) or not token:
        raise HookRefusal(
            412,
            f"{why}, and the request gives no fhirServer with fhirAuthorization to fetch it from",
            "not-found",
        )
    base = server.rstrip("/")
    inside = any(base == allowed or base.startswith(allowed + "/") for allowed in limits.fhir_servers)
    if not inside or _climbs(base):
        raise HookRefusal(
            412,
            f"{why}, and fhirServer is not on this service's allow-list (MYELO_CDS_HOOKS_FHIR_SERVERS)",
            "forbidden",
        )
    return base, token


async def _get(client: httpx.AsyncClient, url: str, token: str, limits: HookLimits) -> Any:
    """One FHIR read, its body capped at ``limits.max_bytes``; None for 404/410 (no such data)."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
    async with client.stream("GET", url, headers=headers) as answer:
        if answer.status_code in (404, 410):
            return None
        if answer.status_code != httpx.codes.OK:
            raise HookRefusal(
                412, f"the FHIR server answered HTTP {answer.status_code} to a read", "not-found"
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in answer.aiter_bytes():
            size += len(chunk)
            if size > limits.max_bytes:
                raise HookRefusal(
                    412, f"a FHIR server answer is over {limits.max_bytes:,} bytes", "too-costly"
                )
            chunks.append(chunk)
    body = b"".join(chunks)
    try:
        return await in_worker(
            limits,
            parse_json,
            body,
            source="the FHIR server's answer",
            limits=JsonLimits(max_bytes=limits.max_bytes),
        )
    except JsonInputError as error:
        raise HookRefusal(412, f"the FHIR server's answer is not usable JSON ({error.reason})") from None


async def _search(
    client: httpx.AsyncClient, base: str, first: str | None, start: Any, *, token: str, limits: HookLimits
) -> Any:
    """A search result with every page (up to ``limits.max_pages``) merged into one Bundle."""
    value = start if first is None else await _get(client, first, token, limits)
    if _next_page(value) is None:
        return value
    assert isinstance(value, dict)
    entries = list(value.get("entry") or [])
    pages = 1
    while (url := _next_page(value)) is not None:
        if not url.startswith((base + "/", base + "?")) or _climbs(url):
            raise HookRefusal(412, "a search's next page is not on fhirServer", "forbidden")
        if pages >= limits.max_pages or len(entries) > limits.max_resources:
            raise HookRefusal(412, f"a search has more than {limits.max_pages} pages", "too-costly")
        value = await _get(client, url, token, limits)
        pages += 1
        entries.extend(value.get("entry") or [] if isinstance(value, dict) else [])
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}


async def complete_prefetch(
    request: Any,
    templates: Mapping[str, str],
    limits: HookLimits,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Any:
    """The request with every unavailable prefetch key fetched from ``fhirServer``.

    Nothing is fetched when every key is there (``null`` included). A request that is not a
    patient-view call is returned as it is (the service refuses it with 400).

    Raises:
        HookRefusal: 412 when something is missing and cannot be fetched (no ``fhirServer`` or
            ``fhirAuthorization``, a server off the allow-list, an error answer, a timeout, too
            large); 400 for a ``context.patientId`` that is not a FHIR id.
    """
    if not isinstance(request, dict) or request.get("hook") != "patient-view":
        return request  # not a patient-view call: the service refuses it with 400
    context = request.get("context")
    patient_id = context.get("patientId") if isinstance(context, dict) else None
    prefetch = request.get("prefetch")
    missing = unavailable_keys(prefetch, templates)
    if not missing or not isinstance(patient_id, str) or not isinstance(request.get("hookInstance"), str):
        return request
    why = (
        "required data is missing (" + "; ".join(f"{key}: {reason}" for key, reason in missing.items()) + ")"
    )
    base, token = _fetch_base(request, limits, why)
    if not _FHIR_ID.fullmatch(patient_id):
        raise HookRefusal(400, "context.patientId is not a FHIR id ([A-Za-z0-9-.], 1-64 characters)")
    completed = dict(prefetch) if isinstance(prefetch, dict) else {}
    timeout = httpx.Timeout(limits.fetch_seconds)
    try:
        with anyio.fail_after(limits.fetch_seconds):
            async with httpx.AsyncClient(
                timeout=timeout, follow_redirects=False, transport=transport
            ) as client:
                for key in missing:
                    given = completed.get(key)
                    if (
                        key in completed
                        and _next_page(given)
                        and not any(_is_outcome_error(r) for r in _entries(given))
                    ):
                        completed[key] = await _search(client, base, None, given, token=token, limits=limits)
                        continue
                    relative = templates[key].replace("{{context.patientId}}", quote(patient_id, safe=""))
                    completed[key] = await _search(
                        client, base, f"{base}/{relative}", None, token=token, limits=limits
                    )
    except TimeoutError:
        raise HookRefusal(
            412, f"{why}, and the FHIR server did not answer within {limits.fetch_seconds:g} s"
        ) from None
    except httpx.HTTPError as error:
        raise HookRefusal(
            412, f"{why}, and the FHIR server could not be read ({type(error).__name__})", "exception"
        ) from None
    return {**request, "prefetch": completed}


# --- a card that says the assessment could not be made ------------------------------------


def validation_problems(error: ValidationError, shown: int = 10) -> list[str]:
    """The fields the findings model refused, by path and reason (never the value given)."""
    return [
        f"{'.'.join(_token(part) for part in problem['loc'])}: {_plain(problem['msg'], 120)}"
        for problem in error.errors()[:shown]
    ]


@dataclass(frozen=True, slots=True)
class AppLink:
    """Where a card sends the clinician: the consult page (``absolute``), or, when the app is
    registered for the EHR launch, its SMART launch URL (``smart``: the EHR opens it with its
    ``iss`` and a ``launch`` for the patient in context, CDS Hooks 2.0 Link)."""

    url: str
    type: str = "absolute"

    def link(self, label: str) -> dict[str, str]:
        return {"label": label, "url": self.url, "type": self.type}


def not_assessed_card(summary: str, reasons: list[str], consult: AppLink | None) -> dict[str, Any]:
    """A card saying why no pathway is given, so "could not assess" never looks like "nothing to
    say" (``{"cards": []}``). ``warning``: the record holds DCM findings the service could not
    use, among which a red flag may be; the clinician reviews them."""
    lines = [f"**{summary}**", "", "Why:", *(f"- {_plain(reason)}" for reason in reasons)]
    lines += ["", "Decision support only: review the findings in the record; the clinician decides."]
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": summary[:140],
        "indicator": "warning",
        "detail": "\n".join(lines),
        "source": {"label": "myelo-cds (no assessment made)"},
    }
    if consult is not None:
        card["links"] = [consult.link("Open myelo-cds to enter the findings")]
    return card
