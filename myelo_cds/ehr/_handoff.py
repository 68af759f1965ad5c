"""The hand-off from the launch's callback to the consult page: single use, five minutes.

The callback and the consult page may be answered by different replicas, so the hand-off is
kept in the record database every replica shares, with the launches in progress
(``myelo_cds.records._smart_launches``): under a digest of its random key (the browser's
HttpOnly cookie), sealed with a key derived from it, taken once. The database alone therefore
never yields the findings or the EHR's access token they carry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from typing import Any

from myelo_cds.ehr._conditions import EhrCondition
from myelo_cds.ehr._record import EhrGrant, EhrImport, EhrSource
from myelo_cds.records import Store, shared_store

__all__ = ["HANDOFF_COOKIE", "HANDOFF_SECONDS", "claim_handoff", "hand_off"]

#: The browser cookie (HttpOnly) holding the hand-off key; never a URL parameter.
HANDOFF_COOKIE = "myelo_smart_handoff"
#: How long the imported findings wait for the consult page to claim them.
HANDOFF_SECONDS = 300
#: Kept beside the launches in progress, under their own name: a hand-off key is never a state.
_PREFIX = "handoff:"
_MAX_KEY_CHARACTERS = 100


def _kept(imported: EhrImport) -> dict[str, Any]:
    kept = dataclasses.asdict(imported)
    kept["fetched_at"] = imported.fetched_at.isoformat()
    return kept


def _imported(kept: dict[str, Any] | None) -> EhrImport | None:
    if kept is None:
        return None
    try:
        grant = kept.get("grant")
        return EhrImport(
            iss=kept["iss"],
            patient=kept["patient"],
            fetched_at=dt.datetime.fromisoformat(kept["fetched_at"]),
            data=kept["data"],
            sources=tuple(EhrSource(**source) for source in kept["sources"]),
            notes=tuple(kept["notes"]),
            grant=EhrGrant(**grant) if grant else None,
            conditions=tuple(EhrCondition(**condition) for condition in kept["conditions"]),
            fhir_user=kept.get("fhir_user"),
        )
    except (KeyError, TypeError, ValueError):
        return None


def hand_off(imported: EhrImport, store: Store | None = None) -> str:
    """Keep ``imported`` for the consult page, in ``store`` (default: this process's shared
    record store); returns the random key for the browser's cookie.

    Raises:
        RecordError: the record database cannot keep it.
    """
    key = secrets.token_urlsafe(32)
    now = dt.datetime.now(dt.UTC)
    (store or shared_store()).keep_smart_launch(
        _PREFIX + key, _kept(imported), expires=now + dt.timedelta(seconds=HANDOFF_SECONDS), now=now
    )
    return key


def claim_handoff(key: str | None, store: Store | None = None) -> EhrImport | None:
    """The EHR import kept under ``key`` (the hand-off cookie's value), once; ``None`` after that,
    after five minutes, or for a key that was never issued.

    Raises:
        RecordError: the record database cannot be read.
    """
    if not key or len(key) > _MAX_KEY_CHARACTERS:
        return None
    now = dt.datetime.now(dt.UTC)
    return _imported((store or shared_store()).take_smart_launch(_PREFIX + key, now=now))
