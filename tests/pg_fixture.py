"""A throwaway PostgreSQL server from the Debian packages, for tests of the records.

The server is initialised in a fresh directory (one the ``postgres`` user can reach, even when
``TMPDIR`` is private: ``tests/service_dirs.py``), listens on 127.0.0.1 only (on a free port,
with a random password; its Unix socket stays in that directory) and is stopped by
``pg_ctl stop``, then by its process id, when the session ends. As root it runs as the
``postgres`` system user (initdb refuses root). Under ``CI=true`` a missing PostgreSQL fails
the tests; elsewhere they are skipped with the reason. Debian package: ``postgresql``.

``tests/conftest.py`` registers this module as a plugin (``pytest_plugins``), so the
``postgres_server`` fixture is one server per test session (per xdist worker that asks for it);
do not import the fixture into a test module, which would start a server for that module.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.service_dirs import scratch_directory

__all__ = ["PostgresServer", "find_postgres_bin", "postgres_fixture", "temporary_postgres"]

MISSING = (
    "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb): "
    "install the Debian package 'postgresql' (apt-get install -y postgresql)"
)


def find_postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with initdb and pg_ctl, else PATH."""
    candidates = sorted(
        (Path(path).parent for path in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    for directory in candidates:
        if (directory / "pg_ctl").exists():
            return directory
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(initdb).resolve().parent
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    """A running server: connect as ``postgres`` with ``password`` on 127.0.0.1:``port``."""

    port: int
    password: str
    data_dir: Path
    _names: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            password=self.password,
            dbname="postgres",
            autocommit=True,
        )

    def create_database(self, template: str = "template0") -> str:
        """A new empty database (or a copy of ``template``); returns its SQLAlchemy URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        with self._admin() as connection:
            connection.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        return self.url(name)


def _as_owner(command: list[str], as_root: bool) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if as_root else command


@contextlib.contextmanager
def temporary_postgres(bin_dir: Path) -> Iterator[PostgresServer]:
    """initdb, start on loopback, yield the server, stop it (pg_ctl stop, then by pid)."""
    as_root = os.geteuid() == 0
    # Not under pytest's tmp_path (nor a private TMPDIR): postgres could not enter its parents.
    root = scratch_directory("myelo-cds-pg-", "postgres")
    data = root / "data"
    password = secrets.token_urlsafe(24)
    if as_root:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    server: subprocess.CompletedProcess[str] | None = None
    try:
        pwfile = root / "pwfile"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        if as_root:
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        subprocess.run(
            _as_owner(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                as_root,
            ),
            check=True,
            capture_output=True,
            text=True,
        )
        pwfile.unlink()
        for attempt in range(3):
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -k {root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            server = subprocess.run(
                _as_owner(
                    [
                        str(bin_dir / "pg_ctl"),
                        "start",
                        "-D",
                        str(data),
                        "-l",
                        str(root / "server.log"),
                        "-w",
                        "-t",
                        "60",
                        "-o",
                        options,
                    ],
                    as_root,
                ),
                check=False,
                capture_output=True,
                text=True,
            )
            if server.returncode == 0:
                break
            if attempt == 2:
                log = (root / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"PostgreSQL did not start: {server.stderr}\n{log}")
        yield PostgresServer(port=port, password=password, data_dir=data)
    finally:
        if server is not None and server.returncode == 0:
            _stop(bin_dir, data, as_root)
        _remove_in_background(root)


def _remove_in_background(root: Path) -> None:
    """Delete the stopped server's directory without waiting: each test database is hundreds
    of files, and deleting a session's worth took 8-23 s at the end of every xdist worker.
    ``sh`` starts ``rm`` in the background and returns at once (nothing is left to reap)."""
    done = subprocess.run(["sh", "-c", 'rm -rf -- "$1" &', "sh", str(root)], check=False)
    if done.returncode != 0:  # no shell: delete it here, slowly
        shutil.rmtree(root, ignore_errors=True)


def _stop(bin_dir: Path, data: Path, as_root: bool) -> None:
    pid_file = data / "postmaster.pid"
    pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
    stopped = subprocess.run(
        _as_owner(
            [str(bin_dir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w", "-t", "30"], as_root
        ),
        check=False,
        capture_output=True,
        text=True,
    )
    if stopped.returncode == 0 or pid is None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


@pytest.fixture(scope="session", name="postgres_server")
def postgres_fixture() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this test session (one per xdist worker that asks for it)."""
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        if os.environ.get("CI") == "true":
            pytest.fail(MISSING + " - CI must run the PostgreSQL tests, never skip them")
        pytest.skip(MISSING)
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root needs the 'postgres' system user (created by the Debian package)")
    with temporary_postgres(bin_dir) as server:
        yield server
