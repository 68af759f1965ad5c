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
            "MyeloCdsError",
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


# Each room of the package and the rooms it may import (besides the private helpers ``_paths``,
# ``_dates`` and ``_grammar`` and the shared ``errors``): the arrows point into the clinical domain
# (findings, scales, followup, rules, course), which imports nothing outside it.
ALLOWED_ROOM_IMPORTS = {
    "findings": set(),
    "scales": {"findings"},
    "followup": set(),
    "rules": {"findings", "scales", "followup"},
    "course": {"findings", "scales", "rules"},
    "exports": {"findings", "scales", "followup", "rules", "course"},
    "batch": {"findings", "scales", "followup", "rules", "exports"},
    "auth": set(),
    "settings": {"auth"},
    "records": {"findings", "scales", "followup", "rules", "course", "auth"},
    "teaching": {"findings", "scales", "rules", "records", "auth"},
    # The app's SMART on FHIR client (the EHR launch's import, hand-off and write-back), no HTTP
    # routes; the hand-off to the consult page is kept in the shared record database.
    "ehr": {"findings", "exports", "records"},
    "service": {"findings", "rules", "exports", "records", "auth", "settings", "ehr"},
    "cli": {"findings", "rules", "exports", "batch", "records", "auth", "settings"},
    "ui": {
        "ehr",
        "findings",
        "scales",
        "followup",
        "rules",
        "course",
        "exports",
        "batch",
        "records",
        "teaching",
        "auth",
        "settings",
    },
}
SHARED = {"_paths", "_dates", "_grammar", "errors", "__version__"}


def _rooms_imported(path: Path) -> set[str]:
    rooms: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("myelo_cds"):
            parts = node.module.split(".")
            if len(parts) > 1:
                rooms.add(parts[1])
            else:
                # ``from myelo_cds import assess``: the public surface, which is the rules room's.
                rooms.update(
                    alias.name if (PACKAGE / alias.name).is_dir() else "rules" for alias in node.names
                )
        elif isinstance(node, ast.Import):
            rooms.update(a.name.split(".")[1] for a in node.names if a.name.startswith("myelo_cds."))
    return rooms


def test_every_room_imports_only_the_rooms_it_may() -> None:
    seen = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        room = relative.parts[0].removesuffix(".py")
        if room in {"__init__", "__main__", *SHARED}:
            continue
        seen.add(room)
        assert room in ALLOWED_ROOM_IMPORTS, f"{relative}: a module outside the designed rooms"
        outside = _rooms_imported(path) - {room} - SHARED - ALLOWED_ROOM_IMPORTS[room]
        assert not outside, f"{relative} imports {sorted(outside)}"
    assert seen == set(ALLOWED_ROOM_IMPORTS)


def test_no_logging_of_findings_in_the_core() -> None:
    """No patient data in logs: the core does not log at all; surfaces decide what to log."""
    for path in PACKAGE.rglob("*.py"):
        assert "logging" not in _imports(path), path
