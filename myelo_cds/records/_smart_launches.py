"""SMART EHR launches in progress, shared by every replica through the database.

A launch starts on the replica that answers ``/smart/launch`` and ends on whichever replica the
EHR's answer reaches (``/smart/callback``): behind a load balancer without sticky sessions that
may be another one. Each launch is kept here until its callback takes it:

* under a SHA-256 digest of its ``state`` (the random value the EHR sends back), never the
  ``state`` itself; the row found is checked against the digest in constant time;
* sealed (JWE, direct AES-256-GCM, by joserfc) with a key derived from the ``state`` (SHA-256
  of the 256-bit random ``state`` and a label), so the database alone never yields a PKCE
  verifier, an issuer or a launch value, and a row altered there is refused;
* taken once: the row is deleted as it is read, in one statement, so two replicas answering
  the same ``state`` cannot both have it; a launch past its expiry is never returned, and
  expired launches are deleted whenever a new one is kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from typing import Any

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from sqlalchemy import delete, insert

from myelo_cds.records._models import RecordError
from myelo_cds.records._schema import SmartLaunchRow
from myelo_cds.records._transactions import Database

__all__ = ["SmartLaunches", "launch_key"]

_MIN_STATE_CHARACTERS = 32
_MAX_STATE_CHARACTERS = 512
_SEAL = {"alg": "dir", "enc": "A256GCM"}


def launch_key(state: str) -> str:
    """The digest a launch is kept under (its ``state`` is never stored)."""
    return hashlib.sha256(f"myelo-cds smart launch\0{state}".encode()).hexdigest()


def _sealing_key(state: str) -> OctKey:
    return OctKey.import_key(hashlib.sha256(f"myelo-cds smart launch seal\0{state}".encode()).digest())


def _seal(state: str, content: dict[str, Any]) -> str:
    return jwe.encrypt_compact(_SEAL, json.dumps(content).encode("utf-8"), _sealing_key(state))


def _unseal(state: str, sealed: str) -> dict[str, Any] | None:
    try:
        opened = jwe.decrypt_compact(sealed, _sealing_key(state), algorithms=["dir", "A256GCM"])
        content = json.loads(opened.plaintext or b"")
    except (JoseError, ValueError):
        return None
    return content if isinstance(content, dict) else None


class SmartLaunches:
    """The launches waiting for the EHR's answer, each taken at most once.

    Args:
        database: where the launches are kept (shared by every replica).
    """

    def __init__(self, database: Database) -> None:
        self._database = database

    def keep(self, state: str, content: dict[str, Any], *, expires: dt.datetime, now: dt.datetime) -> None:
        """Keep a launch under ``state`` until ``expires`` (expired launches are deleted first).

        Raises:
            RecordError: a ``state`` too short to be unguessable, or the database failed.
        """
        if len(state) < _MIN_STATE_CHARACTERS:
            raise RecordError(f"a launch state has at least {_MIN_STATE_CHARACTERS} characters")
        row = {"key_sha256": launch_key(state), "sealed": _seal(state, content), "expires_at": expires}
        with self._database.transaction(write=True) as session:
            session.execute(delete(SmartLaunchRow).where(SmartLaunchRow.expires_at <= now))
            session.execute(insert(SmartLaunchRow).values(**row))

    def take(self, state: str, *, now: dt.datetime) -> dict[str, Any] | None:
        """The launch kept under ``state``, once: ``None`` for an unknown, used or expired one."""
        if not state or len(state) > _MAX_STATE_CHARACTERS:
            return None
        key = launch_key(state)
        statement = (
            delete(SmartLaunchRow)
            .where(SmartLaunchRow.key_sha256 == key)
            .returning(SmartLaunchRow.key_sha256, SmartLaunchRow.sealed, SmartLaunchRow.expires_at)
        )
        with self._database.transaction(write=True) as session:
            found = session.execute(statement).one_or_none()
        if found is None or not secrets.compare_digest(found.key_sha256, key) or found.expires_at <= now:
            return None
        return _unseal(state, found.sealed)
