"""A live `streamlit run` on loopback, for the browser tests and the browser benchmarks."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def live_app(
    db_path: Path,
    log: Path,
    script: str = "app.py",
    *,
    port: int | None = None,
    options: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """Start ``streamlit run SCRIPT`` with its own record database; yield its URL once healthy.

    ``options`` are extra command-line options (``--secrets.files``), ``env`` extra environment
    (``MYELO_CDS_AUTH``). The server is stopped by its process id on exit; its output goes to ``log``.
    """
    port = port or free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", script,
        "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", "--server.runOnSave", "false",
        *(options or []),
    ]  # fmt: skip
    environment = {**os.environ, "MYELO_CDS_DB_PATH": str(db_path), **(env or {})}
    environment.pop("MYELO_CDS_DATABASE_URL", None)
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=environment)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
