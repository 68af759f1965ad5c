"""Test-wide set-up: every test uses its own throwaway record database, never ./myelo_cds.sqlite3."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_SCRATCH = Path(tempfile.mkdtemp(prefix="myelo-cds-tests-"))
os.environ.setdefault("MYELO_CDS_DB_PATH", str(_SCRATCH / "records.sqlite3"))
os.environ.pop("MYELO_CDS_DATABASE_URL", None)
