"""Traceability: every test the hazard log cites exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOG = ROOT / "clinical-safety" / "HAZARD-LOG.md"


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def test_every_cited_test_exists() -> None:
    cited = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", LOG.read_text())
    assert len(cited) >= 20
    missing = [f"{file}::{name}" for file, name in cited if name not in _tests_in(ROOT / file)]
    assert not missing, missing


def test_every_hazard_has_a_control_and_a_test() -> None:
    rows = [line for line in LOG.read_text().splitlines() if line.startswith("| HZ-")]
    assert len(rows) >= 20
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[3], f"{cells[0]} has no control"
        assert "tests/" in cells[4], f"{cells[0]} has no test"
