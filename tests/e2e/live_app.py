"""A live `streamlit run` on loopback, for the browser tests and the browser benchmarks."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from secrets import token_hex as secrets_token_hex
from typing import TypeVar

from tests.measured import unmeasured

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    """A running server: its URL and its process (for its memory, or to stop it early)."""

    url: str
    process: subprocess.Popen[bytes]


T = TypeVar("T")


def wait_until_serving(
    probe: Callable[[], T | None], process: subprocess.Popen[bytes], log: Path, timeout: float
) -> T:
    """``probe()``'s first answer (not None, no ``OSError``) while ``process`` runs.

    Raises ``RuntimeError`` with the end of the server's ``log`` if it exits or ``timeout``
    seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = probe()
        except OSError:
            answer = None
        if answer is not None:
            return answer
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)


def _healthy(url: str) -> bool | None:
    return True if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok" else None


def _ready(url: str) -> bool | None:
    """``/readyz`` answers 200 (warmed up, database reachable); 503 (an ``OSError``) means not yet."""
    return True if urllib.request.urlopen(f"{url}/readyz", timeout=10).status == 200 else None


@contextlib.contextmanager
def live_server(
    log: Path,
    *,
    script: str = "app.py",
    db_path: Path | None = None,
    database_url: str | None = None,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    options: list[str] | None = None,
    cwd: Path = ROOT,
    wait_ready: bool | None = None,
    measured: bool = True,
) -> Iterator[LiveServer]:
    """Start ``streamlit run SCRIPT`` on loopback with its own records; yield it once healthy
    (and, for ``asgi.py`` or with ``wait_ready``, once ``/readyz`` says it is warm and ready).

    The records are the SQLite file ``db_path`` or the database at ``database_url``; ``env``
    adds environment variables (``MYELO_CDS_AUTH``); ``options`` are extra command-line options
    (``--secrets.files``); ``cwd`` is where the script is found. The server is stopped by its
    process id on exit; its output goes to ``log``. With ``measured=False`` the server runs
    outside the gate's coverage (coverage's subprocess patch is not passed on to it).
    """
    if wait_ready is None:
        wait_ready = script == "asgi.py"
    port = port or free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", script,
        "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", "--server.runOnSave", "false",
        *(options or []),
    ]  # fmt: skip
    environment = {**os.environ, **(env or {})}
    environment.pop("MYELO_CDS_DATABASE_URL", None)
    if not measured:
        environment = unmeasured(environment)
    if database_url:
        environment["MYELO_CDS_DATABASE_URL"] = database_url
    if db_path:
        environment["MYELO_CDS_DB_PATH"] = str(db_path)
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=environment)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(lambda: _healthy(url), process, log, timeout=60)
        if wait_ready:
            wait_until_serving(lambda: _ready(url), process, log, timeout=60)
        yield LiveServer(url, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.contextmanager
def live_app(
    db_path: Path,
    log: Path,
    script: str = "app.py",
    *,
    port: int | None = None,
    options: list[str] | None = None,
    env: dict[str, str] | None = None,
    measured: bool = False,
) -> Iterator[str]:
    """Start ``streamlit run SCRIPT`` with its own SQLite record file; yield its URL once healthy.

    A browser test's server runs outside coverage unless ``measured``: traced, the servers took
    a third more of the gate's time on the browser tests, and the pages they run are measured in
    process by the AppTest tests. The servers of the modules that reach code only a browser can
    (a sign-in through the identity provider, an uploaded case file, a CSV download, a save the
    database refuses) are measured, as are the deployment tests' replicas (:func:`live_server`).
    """
    with live_server(
        log, script=script, db_path=db_path, port=port, options=options, env=env, measured=measured
    ) as server:
        yield server.url


def sso_secrets(
    folder: Path, *, app_port: int, provider_port: int, scope: str = "openid profile"
) -> list[str]:
    """Write the app's ``[auth]`` secrets for the local OpenID provider on ``provider_port`` and
    return the ``streamlit run`` options that read them (a fresh cookie secret each time)."""
    secrets = folder / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"\n'
        f'cookie_secret = "{secrets_token_hex(32)}"\n'
        'client_id = "myelo-cds"\n'
        'client_secret = "test-client-secret"\n'
        f'server_metadata_url = "http://localhost:{provider_port}/.well-known/openid-configuration"\n'
        f'client_kwargs = {{ scope = "{scope}", prompt = "login" }}\n'
    )
    return ["--secrets.files", str(secrets)]
