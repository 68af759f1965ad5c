"""A small browser-like Streamlit client over the app's websocket, for tests and the load bench.

It does what the front end does on the wire and nothing else: fetch the page (which sets the
XSRF cookie and, behind nginx, the routing cookie), open ``/_stcore/stream`` with those
cookies and the XSRF token as a subprotocol, send ``BackMsg`` reruns and read ``ForwardMsg``
deltas until the run finishes. It draws nothing, so one process can drive dozens of sessions
and the load measured is the server's, not a browser's.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import ssl
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect

__all__ = ["RunResult", "StreamlitSession", "insecure_tls", "widget_key"]

_FINISHED = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}
_TEXT_FIELDS = ("markdown", "alert", "heading", "text", "code", "exception")


def widget_key(widget_id: str) -> str:
    """The user key of a widget id (``$$ID-<hash>-<key>``; ``None`` when it has no key)."""
    return widget_id.split("-", 2)[2] if widget_id.startswith("$$ID-") else widget_id


def insecure_tls() -> ssl.SSLContext:
    """A TLS context that accepts the test proxy's self-signed certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@dataclass
class RunResult:
    """What one script run sent back: its texts, widgets, exceptions and how long it took."""

    seconds: float
    status: int = -1
    texts: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    widgets: dict[str, Any] = field(default_factory=dict)
    messages: int = 0


def _element_text(element: Any, kind: str) -> str:
    inner = getattr(element, kind)
    if kind == "exception":
        return f"{inner.type}: {inner.message}"
    return str(getattr(inner, "body", ""))


class StreamlitSession:
    """One browser tab's session. Use ``async with StreamlitSession(url) as session``.

    ``open()`` runs the page; ``change(key, value)`` sets a widget the way the front end does
    (the state of every widget set so far, and the fragment id when the widget lives in a
    fragment) and waits for the rerun; ``click(label)`` presses a button.

    Args:
        base_url: the app (``http://127.0.0.1:PORT``) or the proxy (``https://...``).
        path: the page to open, e.g. ``/`` or ``/timeline``.
        tls: a TLS context for https (default: verify certificates).
    """

    def __init__(self, base_url: str, path: str = "/", tls: ssl.SSLContext | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.path = path
        self._tls = tls
        self._jar = http.cookiejar.CookieJar()
        self._socket: ClientConnection | None = None
        self.session_id = ""
        self.page_script_hash = ""
        self.query_string = urlsplit(path).query
        self.widgets: dict[str, Any] = {}  # id -> the widget's proto, as last drawn
        self._fragment_of: dict[str, str] = {}  # widget id -> fragment id ("" outside fragments)
        self._drawn_in: dict[str, int] = {}  # widget id -> the number of the run that last drew it
        self._runs = 0
        self._states: dict[str, WidgetState] = {}

    def _fetch_page(self) -> int:
        handlers: list[urllib.request.BaseHandler] = [urllib.request.HTTPCookieProcessor(self._jar)]
        if self._tls is not None:
            handlers.append(urllib.request.HTTPSHandler(context=self._tls))
        with urllib.request.build_opener(*handlers).open(self.base_url + self.path, timeout=30) as answer:
            answer.read()
            return int(answer.status)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self._jar if c.name == name), None)

    async def __aenter__(self) -> StreamlitSession:
        await asyncio.to_thread(self._fetch_page)
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        cookies = "; ".join(f"{c.name}={c.value}" for c in self._jar)
        xsrf = self.cookie("_streamlit_xsrf")
        protocols = ["streamlit", xsrf] if xsrf else ["streamlit"]
        self._socket = await connect(
            f"{scheme}://{parts.netloc}/_stcore/stream",
            subprotocols=protocols,  # type: ignore[arg-type]
            additional_headers={"Cookie": cookies, "Origin": self.base_url},
            ssl=self._tls if scheme == "wss" else None,
            max_size=None,
            open_timeout=30,
            compression=None,
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._socket is not None:
            await self._socket.close()

    async def open(self) -> RunResult:
        """The first run of the page, as when a tab opens it."""
        return await self._run(ClientState(query_string=self.query_string, page_name=self.path.strip("/")))

    def widget_id(self, key: str) -> str:
        """The id of the widget with user key ``key`` (as drawn by the last runs; when a run drew
        it under a new id, e.g. with a changed label, the id of the latest run)."""
        found = [widget_id for widget_id in self.widgets if widget_key(widget_id) == key]
        latest = max((self._drawn_in[widget_id] for widget_id in found), default=None)
        found = [widget_id for widget_id in found if self._drawn_in[widget_id] == latest]
        if len(found) != 1:
            raise KeyError(f"widget {key!r}: {len(found)} drawn")
        return found[0]

    async def change(self, key: str, value: Any) -> RunResult:
        """Set widget ``key``: int, float, bool, str or a list of str (segmented controls)."""
        widget_id = self.widget_id(key)
        state = WidgetState(id=widget_id)
        if isinstance(value, bool):
            state.bool_value = value
        elif isinstance(value, int):
            state.int_value = value
        elif isinstance(value, float):
            state.double_value = value
        elif isinstance(value, str):
            state.string_value = value
        else:
            state.string_array_value.data.extend(value)
        self._states[widget_id] = state
        return await self._rerun(widget_id)

    def labelled(self, label: str) -> tuple[str, Any]:
        """The id and proto of the one widget labelled ``label``."""
        found = [(i, w) for i, w in self.widgets.items() if getattr(w, "label", None) == label]
        if len(found) != 1:
            raise KeyError(f"widget labelled {label!r}: {len(found)} drawn")
        return found[0]

    async def click(self, label: str) -> RunResult:
        """Press the button labelled ``label``."""
        button_id, _button = self.labelled(label)
        return await self._rerun(button_id, trigger=WidgetState(id=button_id, trigger_value=True))

    async def _rerun(self, widget_id: str, trigger: WidgetState | None = None) -> RunResult:
        state = ClientState(
            query_string=self.query_string,
            page_script_hash=self.page_script_hash,
            fragment_id=self._fragment_of.get(widget_id, ""),
        )
        state.widget_states.widgets.extend([*self._states.values(), *([trigger] if trigger else [])])
        return await self._run(state)

    async def _run(self, state: ClientState, timeout: float = 120) -> RunResult:
        message = BackMsg()
        message.rerun_script.CopyFrom(state)
        assert self._socket is not None, "use the session in `async with`"
        start = time.perf_counter()
        await self._socket.send(message.SerializeToString())
        self._runs += 1
        result = RunResult(seconds=0.0)
        async with asyncio.timeout(timeout):
            while True:
                forward = ForwardMsg()
                forward.ParseFromString(await self._socket.recv())
                result.messages += 1
                kind = forward.WhichOneof("type")
                if kind == "new_session":
                    self.session_id = forward.new_session.initialize.session_id
                    self.page_script_hash = forward.new_session.page_script_hash
                elif kind == "navigation" and forward.navigation.page_script_hash:
                    # The page this run drew (the front end reruns that page, not the default).
                    self.page_script_hash = forward.navigation.page_script_hash
                elif kind == "page_info_changed":
                    self.query_string = forward.page_info_changed.query_string
                elif kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                    self._read_element(forward.delta.new_element, forward.delta.fragment_id, result)
                elif (
                    kind == "script_finished"
                    and forward.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN
                ):
                    result.status = forward.script_finished
                    break
        result.seconds = time.perf_counter() - start
        if result.status not in _FINISHED:
            result.exceptions.append(f"script did not finish cleanly (status {result.status})")
        return result

    def _read_element(self, element: Any, fragment_id: str, result: RunResult) -> None:
        kind = element.WhichOneof("type")
        if kind in _TEXT_FIELDS:
            result.texts.append(_element_text(element, kind))
            if kind == "exception":
                result.exceptions.append(result.texts[-1])
        inner = getattr(element, kind) if kind else None
        widget_id = getattr(inner, "id", "") if inner is not None else ""
        if widget_id:
            result.widgets[widget_id] = inner
            self.widgets[widget_id] = inner
            self._fragment_of[widget_id] = fragment_id
            self._drawn_in[widget_id] = self._runs
