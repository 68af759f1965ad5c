"""The hand-off from the launch's callback to the consult page: single use, five minutes."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from myelo_cds.ehr._record import EhrImport

__all__ = ["HANDOFF_COOKIE", "HANDOFF_SECONDS", "Expiring", "claim_handoff", "hand_off"]

#: The browser cookie (HttpOnly) holding the hand-off key; never a URL parameter.
HANDOFF_COOKIE = "myelo_smart_handoff"
#: How long the imported findings wait for the consult page to claim them.
HANDOFF_SECONDS = 300

T = TypeVar("T")


class Expiring(Generic[T]):
    """Values kept for a while under random keys, each taken at most once."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._items: dict[str, tuple[float, T]] = {}
        self._lock = threading.Lock()

    def put(self, key: str, value: T) -> None:
        with self._lock:
            now = self._clock()
            for old in [k for k, (until, _) in self._items.items() if until <= now]:
                del self._items[old]
            self._items[key] = (now + self._seconds, value)

    def take(self, key: str) -> T | None:
        with self._lock:
            held = self._items.pop(key, None)
        return held[1] if held is not None and held[0] > self._clock() else None


_HANDOFFS: Expiring[EhrImport] = Expiring(HANDOFF_SECONDS)


def hand_off(imported: EhrImport) -> str:
    """Keep ``imported`` for the consult page; returns the random key for the browser's cookie."""
    key = secrets.token_urlsafe(32)
    _HANDOFFS.put(key, imported)
    return key


def claim_handoff(key: str | None) -> EhrImport | None:
    """The EHR import kept under ``key`` (the hand-off cookie's value), once; ``None`` after that,
    after five minutes, or for a key that was never issued."""
    return _HANDOFFS.take(key) if key else None
