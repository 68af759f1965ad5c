"""The deployment of ``deploy/`` on loopback: two replicas of ``asgi.py`` sharing one PostgreSQL
database, behind the shipped nginx configuration. For the proxy tests and the load bench.

As the shipped deployment does (``deploy/systemd/myelo-cds-migrate.service``,
``deploy/docker/start.sh migrate``), the stack's database has two roles: an owner that owns the
database and migrates it (``python -m myelo_cds migrate`` with
``MYELO_CDS_MIGRATION_DATABASE_URL``), and the app's role, which the replicas run as and which
may only read and append to the audit log and the assessments.

``tests/conftest.py`` registers this module as a plugin, so the ``deploy_stack`` fixture (on the
``postgres_server`` of ``tests/pg_fixture.py``) starts once per session (per xdist worker).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import make_url

from tests.e2e.live_app import LiveServer, live_server
from tests.nginx_fixture import Proxy, nginx_or_fail, running_nginx
from tests.pg_fixture import PostgresServer

__all__ = [
    "DatabaseRoles",
    "DeployStack",
    "deploy_stack_fixture",
    "migrate_as_owner",
    "replicas",
    "two_roles",
]

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class DeployStack:
    """Replicas (direct URLs and processes), the proxy in front of them, and their database:
    ``database_url`` is the app's role's (the replicas'), ``owner_url`` the schema owner's."""

    replicas: Sequence[LiveServer]
    proxy: Proxy
    database_url: str
    owner_url: str


@dataclass(frozen=True)
class DatabaseRoles:
    """One database's two login roles, each as a SQLAlchemy URL."""

    owner_url: str
    app_url: str


def two_roles(admin_url: str) -> DatabaseRoles:
    """Give the (new, empty) database of ``admin_url`` (a superuser's URL) an owner role, which
    owns the database and its ``public`` schema, and an app role that may only connect (the
    migration grants it the rest)."""
    parsed = make_url(admin_url)
    database = str(parsed.database)
    owner, app = f"{database}_owner", f"{database}_app"
    passwords = {owner: secrets.token_urlsafe(18), app: secrets.token_urlsafe(18)}
    with psycopg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname=database,
        autocommit=True,
    ) as connection:
        for role, password in passwords.items():
            connection.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
        names = {"db": sql.Identifier(database), "owner": sql.Identifier(owner), "app": sql.Identifier(app)}
        for statement in (
            "ALTER DATABASE {db} OWNER TO {owner}",
            "ALTER SCHEMA public OWNER TO {owner}",
            "REVOKE ALL ON DATABASE {db} FROM PUBLIC",
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
            "GRANT CONNECT ON DATABASE {db} TO {app}",
        ):
            connection.execute(sql.SQL(statement).format(**names))

    def url(role: str) -> str:
        return parsed.set(username=role, password=passwords[role]).render_as_string(hide_password=False)

    return DatabaseRoles(owner_url=url(owner), app_url=url(app))


def migrate_as_owner(roles: DatabaseRoles) -> str:
    """``python -m myelo_cds migrate`` as the deployment runs it (the owner's URL in
    ``MYELO_CDS_MIGRATION_DATABASE_URL``, the app's in ``MYELO_CDS_DATABASE_URL``); returns
    what it reported.

    Raises:
        RuntimeError: the migration failed (with its report).
    """
    environment = {
        **os.environ,
        "MYELO_CDS_DATABASE_URL": roles.app_url,
        "MYELO_CDS_MIGRATION_DATABASE_URL": roles.owner_url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "myelo_cds", "migrate"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"migrate failed: {done.stderr[-2000:]}")
    return done.stderr


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
def deploy_stack(admin_url: str, count: int = 2) -> Iterator[DeployStack]:
    """Replicas behind nginx on the new, empty database of ``admin_url`` (a superuser's URL):
    an owner role and an app role are made (:func:`two_roles`), the owner migrates and the
    replicas run as the app role. Everything is stopped by process id on exit."""
    roles = two_roles(admin_url)
    migrate_as_owner(roles)
    folder = Path(tempfile.mkdtemp(prefix="myelo-cds-replicas-"))
    with replicas(roles.app_url, count, folder) as started:
        ports = [int(server.url.rsplit(":", 1)[1]) for server in started]
        with running_nginx(ports) as proxy:
            yield DeployStack(started, proxy, roles.app_url, roles.owner_url)


@pytest.fixture(scope="session", name="deploy_stack")
def deploy_stack_fixture(postgres_server: PostgresServer) -> Iterator[DeployStack]:
    """Two replicas behind nginx on a fresh PostgreSQL database, for this test session."""
    nginx_or_fail()
    with deploy_stack(postgres_server.create_database()) as stack:
        yield stack
