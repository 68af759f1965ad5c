"""Test-wide set-up: every test uses its own throwaway record database, never ./myelo_cds.sqlite3.

Fixtures shared by several modules are registered here once, so that a session-scoped one is
set up once per session (per xdist worker), not once per module that imports it: the
PostgreSQL server (``tests/pg_fixture.py``) and the deployment stack on it
(``tests/deploy_stack.py``).
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine
from streamlit.components.v2 import manifest_scanner
from streamlit.components.v2.manifest_scanner import ComponentManifest

from myelo_cds.records import Store
from myelo_cds.records._database import make_engine
from myelo_cds.rules.verify import VerificationReport, verify_rule_set

if TYPE_CHECKING:  # imported by pytest as a plugin below: importing it here too would skip its rewrite
    from tests.pg_fixture import PostgresServer

pytest_plugins = ["tests.pg_fixture", "tests.deploy_stack"]

_scan_component_manifests = manifest_scanner.scan_component_manifests


@functools.cache
def _installed_component_manifests() -> tuple[tuple[ComponentManifest, Path], ...]:
    return tuple(_scan_component_manifests())


def _scan_once(max_workers: int | None = None) -> list[tuple[ComponentManifest, Path]]:
    """Streamlit's scan for installed custom components, done once per test process.

    Every new ``AppTest`` scans the metadata of every installed package (86 ms of CPU here);
    the packages do not change while the tests run, so the first scan's answer serves every
    later one.
    """
    return list(_installed_component_manifests())


manifest_scanner.scan_component_manifests = _scan_once

_SCRATCH = Path(tempfile.mkdtemp(prefix="myelo-cds-tests-"))
os.environ.setdefault("MYELO_CDS_DB_PATH", str(_SCRATCH / "records.sqlite3"))
os.environ.pop("MYELO_CDS_DATABASE_URL", None)
# Pages under test run in the announced development mode unless a test chooses a sign-in mode
# (tests/test_signin.py signs in with local accounts and single sign-on).
os.environ.setdefault("MYELO_CDS_AUTH", "none")
# The development mode's own default role is the least privileged (resident); the page tests
# open every page, the audit log and the supervisor view included.
os.environ.setdefault("MYELO_CDS_DEV_ROLE", "admin")


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """An empty record store in this test's folder, the one the pages under test open too."""
    path = tmp_path / "records.sqlite3"
    monkeypatch.setenv("MYELO_CDS_DB_PATH", str(path))
    monkeypatch.delenv("MYELO_CDS_DATABASE_URL", raising=False)
    return Store(f"sqlite:///{path}")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty record database on each backend: a SQLite file here, a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'records.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A record store on each backend's empty database (closed after the test)."""
    records = Store(db_url)
    yield records
    records.close()


@pytest.fixture
def raw(db_url: str) -> Iterator[Engine]:
    """A plain connection to the same database, for what the store's API cannot do."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def shipped_verification() -> VerificationReport:
    """The static verification of the shipped rule set (291,600 vectors, seconds of CPU), once
    per session."""
    return verify_rule_set()


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A test marked ``no_cover`` runs with no tracer at all, in an xdist worker too.

    pytest-cov's ``no_cover`` stops its own measurement only; an xdist worker is itself a
    Python process that coverage's subprocess patch measures, and that measurement takes over
    (the same CPU). The tracer of the moment is set aside for the test's call and put back.

    The mark is for tests that run code other tests already measure hundreds of times over
    (property tests, equivalence checks against the engine): traced, they take about three
    times the CPU and add no line. The gate's coverage total is how a wrongly marked test
    shows: it would drop.
    """
    if item.get_closest_marker("no_cover") is None:
        yield
        return
    tracer = sys.gettrace()
    sys.settrace(None)
    try:
        yield
    finally:
        sys.settrace(tracer)
