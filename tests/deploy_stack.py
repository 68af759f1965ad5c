"""The deployment of ``deploy/`` on loopback: two replicas of ``asgi.py`` sharing one PostgreSQL
database, behind the shipped nginx configuration. For the proxy tests and the load bench.

``tests/conftest.py`` registers this module as a plugin, so the ``deploy_stack`` fixture (on the
``postgres_server`` of ``tests/pg_fixture.py``) starts once per session (per xdist worker).
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.live_app import LiveServer, live_server
from tests.nginx_fixture import Proxy, nginx_or_fail, running_nginx
from tests.pg_fixture import PostgresServer

__all__ = ["DeployStack", "deploy_stack_fixture", "replicas"]


@dataclass(frozen=True)
class DeployStack:
    """Replicas (direct URLs and processes), the proxy in front of them, and their database."""

    replicas: Sequence[LiveServer]
    proxy: Proxy
    database_url: str


@contextlib.contextmanager
def replicas(
    database_url: str,
    count: int,
    folder: Path,
    *,
    script: str = "asgi.py",
    env: Mapping[str, str] | None = None,
) -> Iterator[list[LiveServer]]:
    """``count`` replicas of ``script`` (``asgi.py``) on one database, sharing one cookie secret
    (as the systemd environment file does), so a signed cookie from one is accepted by the
    others; ``env`` adds environment variables (e.g. a Streamlit option to compare)."""
    shared = {"STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(32), **(env or {})}
    with contextlib.ExitStack() as stack:
        started = [
            stack.enter_context(
                live_server(folder / f"replica-{n}.log", script=script, database_url=database_url, env=shared)
            )
            for n in range(count)
        ]
        yield started


@contextlib.contextmanager
def deploy_stack(database_url: str, count: int = 2) -> Iterator[DeployStack]:
    """Replicas on ``database_url`` behind nginx; everything stopped by process id on exit."""
    folder = Path(tempfile.mkdtemp(prefix="myelo-cds-replicas-"))
    with replicas(database_url, count, folder) as started:
        ports = [int(server.url.rsplit(":", 1)[1]) for server in started]
        with running_nginx(ports) as proxy:
            yield DeployStack(started, proxy, database_url)


@pytest.fixture(scope="session", name="deploy_stack")
def deploy_stack_fixture(postgres_server: PostgresServer) -> Iterator[DeployStack]:
    """Two replicas behind nginx on a fresh PostgreSQL database, for this test session."""
    nginx_or_fail()
    with deploy_stack(postgres_server.create_database()) as stack:
        yield stack
