"""Wait for the app's script runs, as the browser hears of them, instead of sleeping.

Streamlit announces every run of the page script (or of a fragment) on its websocket: a
``new_session`` message when the run starts and ``script_finished`` when it ends. A page
watched with :func:`watch_runs` (before its first ``goto``) keeps that history, so a step can
wait for the run its own action started (:func:`rerun_after`) or for the app to be idle
(:func:`wait_until_idle`), and then for the page to have drawn that run's last message.

Waiting for a condition instead of a fixed time is faster on an idle machine and never too
short on a loaded one (the sleeps this replaced were both).
"""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, WebSocket, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

__all__ = ["rerun_after", "wait_until_idle", "watch_runs"]

STARTED, FINISHED, INTERRUPTED = "started", "finished", "interrupted"
TIMEOUT_S = 30.0


def _event(payload: str | bytes) -> str | None:
    """``started``, ``finished``, ``interrupted`` (stopped for a newer run), or None."""
    if isinstance(payload, str):
        return None
    message = ForwardMsg()
    message.ParseFromString(payload)  # every binary frame on the app's stream is a ForwardMsg
    kind = message.WhichOneof("type")
    if kind == "new_session":
        return STARTED
    if kind == "script_finished":
        return INTERRUPTED if message.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN else FINISHED
    return None


@dataclass
class _Runs:
    """The run events of every app websocket the page opened, in order of arrival."""

    events: list[str] = field(default_factory=list)
    socket: WebSocket | None = None
    socket_opened_at: int = 0  # the index of the newest socket's first event

    def opened(self, socket: WebSocket) -> None:
        if socket.url.endswith("/_stcore/stream"):
            self.socket, self.socket_opened_at = socket, len(self.events)
            socket.on("framereceived", self.received)

    def received(self, payload: str | bytes) -> None:
        event = _event(payload)
        if event is not None:
            self.events.append(event)

    def idle_after(self, mark: int) -> bool:
        """A run started at or after event ``mark`` and the last run has finished."""
        return STARTED in self.events[mark:] and self.events[-1] == FINISHED


_WATCHED: weakref.WeakKeyDictionary[Page, _Runs] = weakref.WeakKeyDictionary()


def watch_runs(page: Page) -> Page:
    """Keep the history of ``page``'s script runs; call it before the page's first ``goto``."""
    if page not in _WATCHED:
        runs = _Runs()
        page.on("websocket", runs.opened)
        _WATCHED[page] = runs
    return page


def _runs(page: Page) -> _Runs:
    try:
        return _WATCHED[page]
    except KeyError:
        raise RuntimeError("call watch_runs(page) before the page's first goto") from None


def _wait(page: Page, runs: _Runs, done: Callable[[], bool], what: str) -> None:
    """Let Playwright deliver frames until ``done()``; follow the page to a new websocket when
    the old one closes (a replica stopped, the page reconnected)."""
    deadline = time.monotonic() + TIMEOUT_S
    while not done():
        remaining_ms = (deadline - time.monotonic()) * 1000
        if remaining_ms <= 0:
            raise AssertionError(f"{what} within {TIMEOUT_S:.0f} s (run events: {runs.events[-8:]})")
        socket = runs.socket
        if socket is None or socket.is_closed():
            page.wait_for_event("websocket", timeout=remaining_ms)
            continue
        try:
            socket.wait_for_event(
                "framereceived", lambda payload: _event(payload) is not None, timeout=remaining_ms
            )
        except PlaywrightTimeoutError:
            continue  # the deadline check above reports it, with the runs seen
        except PlaywrightError:
            if not socket.is_closed():
                raise
    # The frames arrived; the page has drawn them when it shows the run as no longer running.
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")


@contextlib.contextmanager
def rerun_after(page: Page) -> Iterator[None]:
    """Wrap an action that changes a widget: return once the run it started has finished."""
    runs = _runs(page)
    mark = len(runs.events)
    yield
    _wait(page, runs, lambda: runs.idle_after(mark), "no script run finished after the action")


def wait_until_idle(page: Page) -> None:
    """Return once the page's latest run has finished and been drawn (nothing running)."""
    runs = _runs(page)
    _wait(page, runs, lambda: runs.idle_after(runs.socket_opened_at), "the app did not finish its run")
