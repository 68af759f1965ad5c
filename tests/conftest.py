"""Test-wide set-up: every test uses its own throwaway record database, never ./myelo_cds.sqlite3."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from myelo_cds.records import Store

_SCRATCH = Path(tempfile.mkdtemp(prefix="myelo-cds-tests-"))
os.environ.setdefault("MYELO_CDS_DB_PATH", str(_SCRATCH / "records.sqlite3"))
os.environ.pop("MYELO_CDS_DATABASE_URL", None)
# Pages under test run in the announced development mode unless a test chooses a sign-in mode
# (tests/test_signin.py signs in with local accounts and single sign-on).
os.environ.setdefault("MYELO_CDS_AUTH", "none")


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """An empty record store in this test's folder, the one the pages under test open too."""
    path = tmp_path / "records.sqlite3"
    monkeypatch.setenv("MYELO_CDS_DB_PATH", str(path))
    monkeypatch.delenv("MYELO_CDS_DATABASE_URL", raising=False)
    return Store(f"sqlite:///{path}")
