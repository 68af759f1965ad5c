"""The arrows point into the clinical domain: the core imports no UI or storage library."""

from __future__ import annotations

import ast
from pathlib import Path

import myelo_cds

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "myelo_cds"
FORBIDDEN_IN_CORE = {"streamlit", "sqlalchemy", "pages", "app"}
UI_HELPERS = {"ui"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_domain_modules_import_no_streamlit_sqlalchemy_or_pages() -> None:
    for path in PACKAGE.rglob("*.py"):
        parts = set(path.relative_to(PACKAGE).parts)
        if UI_HELPERS & parts:
            continue
        # The records room is where SQLAlchemy belongs (architecture: storage imports the domain).
        forbidden = FORBIDDEN_IN_CORE - {"sqlalchemy"} if "records" in parts else FORBIDDEN_IN_CORE
        assert not (_imports(path) & forbidden), path


def test_public_surface_is_exactly_the_intended_names() -> None:
    assert sorted(myelo_cds.__all__) == sorted(
        [
            "Engine",
            "Findings",
            "FollowUpPlan",
            "Recommendation",
            "RuleSet",
            "RuleSetError",
            "assess",
            "default_engine",
            "default_rule_set",
            "follow_up_schedule",
            "load_rule_set",
        ]
    )
    for name in myelo_cds.__all__:
        assert hasattr(myelo_cds, name)


def test_no_logging_of_findings_in_the_core() -> None:
    """No patient data in logs: the core does not log at all; surfaces decide what to log."""
    for path in PACKAGE.rglob("*.py"):
        assert "logging" not in _imports(path), path
