"""Warm-up: a replica takes clinicians only once its first page would be served warm.

A freshly started server has imported only what its entry point needs. Without a warm-up the
first clinician's first page pays for the rest: the modules the pages import (the charts and
data-frame libraries, the UI helpers), loading and hashing the rule set, building the input
validators and the engine's tables. ``asgi.py`` runs :func:`warm_engine` and
:func:`import_script_modules` (over ``app.py`` and ``pages/``) in a background thread when the
server starts, and readiness (``GET /readyz``, :mod:`myelo_cds.service.health`) answers ready
only after they finished. Liveness (``/_stcore/health``) answers from the start.

No Streamlit here: the entry point names the scripts whose imports are warmed.
"""

from __future__ import annotations

import ast
import importlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from myelo_cds import Findings, assess, default_engine, default_rule_set
from myelo_cds._paths import data_dir

__all__ = ["STATE", "WarmUp", "import_script_modules", "script_imports", "warm_engine"]


class WarmUp:
    """Whether this process has warmed up: not started, running, done, or failed (and why)."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.error: str | None = None
        self.seconds: float | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def done(self) -> bool:
        """The warm-up ran to its end (successfully or not)."""
        return self._done.is_set()

    @property
    def ready(self) -> bool:
        """The warm-up ran to its end and every step succeeded."""
        return self._done.is_set() and self.error is None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the warm-up is done (or ``timeout`` seconds pass); ``True`` when done."""
        return self._done.wait(timeout)

    def run(self, steps: Sequence[Callable[[], object]], then: Callable[[], object] | None = None) -> None:
        """Run ``steps`` in order here, then ``then`` (also when a step failed); record the outcome.

        A failing step is recorded as the warm-up's error (its type only, never its text, which
        could name a path or a setting) and readiness stays false: a replica that cannot assess
        the example cases must not take clinicians.
        """
        started = time.perf_counter()
        try:
            for step in steps:
                step()
        except Exception as error:  # recorded and reported by readiness, never raised in a thread
            self.error = f"{type(error).__name__} in {getattr(step, '__name__', 'a step')}"
        finally:
            if then is not None:
                then()
            self.seconds = time.perf_counter() - started
            self._done.set()

    def refuse(self, reason: str) -> None:
        """Record that this server refused to start (unsafe settings): readiness never turns ready.

        ``reason`` names the settings only, never a value (readiness shows it to the prober).
        """
        self.error = reason
        self._done.set()

    def start(
        self, steps: Sequence[Callable[[], object]], then: Callable[[], object] | None = None
    ) -> threading.Thread:
        """Run :meth:`run` in a daemon thread, once per process; later calls return that thread."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self.run, args=(steps, then), name="myelo-cds-warm-up", daemon=True
                )
                self._thread.start()
            return self._thread


#: This process's warm-up, started by ``asgi.py`` and read by readiness.
STATE = WarmUp()


def warm_engine() -> int:
    """Load the rule set and assess every example case (validators, engine tables, follow-up
    protocol, explanation); return how many cases were assessed."""
    default_rule_set()
    default_engine()
    examples = sorted((data_dir() / "examples").glob("*.json"))
    for path in examples:
        assess(Findings.model_validate_json(path.read_text()))
    return len(examples)


def script_imports(scripts: Iterable[Path]) -> list[str]:
    """Every absolute module the scripts import (``import a.b``, ``from a.b import c``: ``a.b``,
    and ``a.b.c`` when ``c`` is a submodule), in the order first met."""
    found: dict[str, None] = {}
    for script in scripts:
        for node in ast.walk(ast.parse(script.read_text(), str(script))):
            if isinstance(node, ast.Import):
                found.update(dict.fromkeys(alias.name for alias in node.names))
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found[node.module] = None
                found.update(
                    dict.fromkeys(f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*")
                )
    return list(found)


def import_script_modules(scripts: Iterable[Path]) -> list[str]:
    """Import what :func:`script_imports` lists; return the modules imported. A ``from a import
    c`` whose ``c`` is a name rather than a module is skipped; a module that cannot be imported
    raises, since the page importing it would fail too."""
    imported = []
    for name in script_imports(scripts):
        parent, _, child = name.rpartition(".")
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            if not parent or error.name != name:
                raise
            # ``from parent import child``: ``child`` is a function or class, not a module.
            if not hasattr(importlib.import_module(parent), child):
                raise
            continue
        imported.append(name)
    return imported
