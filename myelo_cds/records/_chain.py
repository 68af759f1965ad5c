"""The audit log's hash chain and each stored assessment's content hash.

Each audit event stores ``chain_hash = SHA-256(previous event's chain_hash + "\\n" + the event's
canonical content)``, the first event chaining from :data:`GENESIS`. An assessment's ``create``
event also stores ``content_sha256``, the SHA-256 of the stored assessment's canonical content.
Changing, removing or reordering an event, or changing a stored assessment, then breaks the
chain at the first place touched, which :func:`verify_audit` names.

What it does not do: someone who can rewrite the tables *and* recompute every hash after the
point changed (the schema's owner with this code) leaves a chain that verifies. Record the head
hash that ``verify-audit`` prints somewhere they cannot write (the hospital's log server, a
ticket); a later head that does not continue from it shows the rewrite.

Appends are serialised so that two replicas never fork the chain: SQLite's writers already hold
the database lock (``BEGIN IMMEDIATE``); on PostgreSQL the appender takes a transaction-level
advisory lock before it reads the chain head, held until its transaction ends.

The canonical forms below are fixed: changing them would break every stored chain, so a new
form needs a new migration that re-hashes the log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, text

from myelo_cds.records._schema import Assessment, AuditEventRow

__all__ = [
    "ASSESSMENT_FIELDS",
    "GENESIS",
    "AuditCheck",
    "assessment_sha256",
    "chain_hash",
    "chain_head",
    "event_content",
    "lock_chain",
    "verify_audit",
]

#: What the first event chains from.
GENESIS = "0" * 64
#: The stored assessment's columns its content hash covers (every column but the id).
ASSESSMENT_FIELDS = (
    "patient_id",
    "assessment_date",
    "created_at",
    "author",
    "pathway",
    "urgency",
    "rule_set_id",
    "rule_set_version",
    "rule_set_sha256",
    "mjoa_total",
    "mjoa_ue_motor",
    "mjoa_le_motor",
    "mjoa_ue_sensation",
    "mjoa_sphincter",
    "nurick",
    "next_visit_number",
    "findings",
    "recommendation",
)
_EVENT_FIELDS = ("at", "actor", "action", "patient_id", "detail", "rule_set_version", "content_sha256")
_CREATED = re.compile(r"^assessment (\d+)$")
# Any fixed 64-bit number other than the migration lock's: the advisory lock of the chain's head.
_CHAIN_LOCK_KEY = 0x6D79656C6F5F6163


def _plain(value: Any) -> Any:
    """A value as the canonical JSON holds it (timestamps in UTC with microseconds)."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _canonical(values: Mapping[Any, Any]) -> bytes:
    return json.dumps(
        {name: _plain(value) for name, value in values.items()},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")


def assessment_sha256(values: Mapping[Any, Any]) -> str:
    """The SHA-256 of a stored assessment's content (the :data:`ASSESSMENT_FIELDS` of ``values``)."""
    return hashlib.sha256(_canonical({name: values[name] for name in ASSESSMENT_FIELDS})).hexdigest()


def event_content(values: Mapping[Any, Any]) -> bytes:
    """An audit event's canonical content (everything but its id and its chain hash)."""
    return _canonical({name: values.get(name) for name in _EVENT_FIELDS})


def chain_hash(previous: str, values: Mapping[Any, Any]) -> str:
    """The chain hash of an event with ``values`` after an event whose chain hash is ``previous``."""
    return hashlib.sha256(previous.encode("ascii") + b"\n" + event_content(values)).hexdigest()


def lock_chain(connection: Connection) -> None:
    """Hold the chain's head until this transaction ends (PostgreSQL; SQLite's writer holds it)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})


def chain_head(connection: Connection) -> str:
    """The newest event's chain hash (:data:`GENESIS` for an empty log)."""
    head = connection.execute(
        select(AuditEventRow.chain_hash).order_by(AuditEventRow.id.desc()).limit(1)
    ).scalar_one_or_none()
    return head or GENESIS


@dataclass(frozen=True, slots=True)
class AuditCheck:
    """What :func:`verify_audit` found: intact, or the first break in words."""

    events: int
    assessments: int
    head: str
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


def _events(connection: Connection) -> Iterator[Mapping[Any, Any]]:
    columns = [
        AuditEventRow.id,
        AuditEventRow.chain_hash,
        *(getattr(AuditEventRow, n) for n in _EVENT_FIELDS),
    ]
    result = connection.execution_options(yield_per=1000).execute(select(*columns).order_by(AuditEventRow.id))
    for row in result:
        yield row._mapping


def _assessments(connection: Connection) -> Iterator[Mapping[Any, Any]]:
    columns = [Assessment.id, *(getattr(Assessment, name) for name in ASSESSMENT_FIELDS)]
    result = connection.execution_options(yield_per=200).execute(select(*columns).order_by(Assessment.id))
    for row in result:
        yield row._mapping


def verify_audit(connection: Connection) -> AuditCheck:
    """Walk the chain in id order, then every stored assessment against its create event.

    Returns:
        The counts, the head hash and the first problem found (``None`` when intact): an event
        whose chain hash does not follow from the one before (changed, removed or inserted out
        of order), an assessment changed since it was saved, one without a create event, or a
        create event for an assessment that is gone.
    """
    previous, count = GENESIS, 0
    created: dict[int, tuple[int, str]] = {}
    for event in _events(connection):
        count += 1
        expected = chain_hash(previous, event)
        if event["chain_hash"] != expected:
            return AuditCheck(
                count,
                0,
                previous,
                f"audit event {event['id']} is broken: its hash does not follow from the event"
                " before it (the event was changed, or one before it was removed or inserted)",
            )
        previous = expected
        match = _CREATED.match(event["detail"] or "")
        if event["action"] == "create" and match and event["content_sha256"]:
            created[int(match.group(1))] = (event["id"], event["content_sha256"])
    checked = 0
    for assessment in _assessments(connection):
        checked += 1
        record = created.pop(assessment["id"], None)
        if record is None:
            return AuditCheck(count, checked, previous, f"assessment {assessment['id']} has no create event")
        if assessment_sha256(assessment) != record[1]:
            return AuditCheck(
                count,
                checked,
                previous,
                f"assessment {assessment['id']} was changed after it was saved (its content no longer"
                f" matches the hash in audit event {record[0]})",
            )
    if created:
        missing = min(created)
        return AuditCheck(
            count,
            checked,
            previous,
            f"assessment {missing} was removed (audit event {created[missing][0]} recorded its creation)",
        )
    return AuditCheck(count, checked, previous)
