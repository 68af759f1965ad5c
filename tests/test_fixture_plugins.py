"""Shared servers are session fixtures registered once, as plugins of ``tests/conftest.py``.

A test module that imports such a fixture function registers it again, for that module: pytest
then starts a second server (a PostgreSQL, a deployment stack of two replicas and nginx) for the
module's tests on each worker that runs them. Import the helpers of those modules, never their
fixtures; ask for the fixture by its name.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def _plugins() -> list[str]:
    """The modules ``tests/conftest.py`` names in ``pytest_plugins``."""
    tree = ast.parse((TESTS / "conftest.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytest_plugins" for target in node.targets
        ):
            return list(ast.literal_eval(node.value))
    return []


def _is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr == "fixture"


def _fixtures(module: str) -> set[str]:
    """The names of the functions ``module`` decorates with ``pytest.fixture``."""
    path = ROOT / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and any(_is_fixture(item) for item in node.decorator_list)
    }


def test_the_shared_servers_are_conftest_plugins() -> None:
    fixtures = {module: _fixtures(module) for module in _plugins()}
    assert fixtures.get("tests.pg_fixture") == {"postgres_fixture"}, fixtures
    assert fixtures.get("tests.deploy_stack") == {"deploy_stack_fixture"}, fixtures


def test_no_module_imports_a_plugin_fixture() -> None:
    fixtures = {module: _fixtures(module) for module in _plugins()}
    imported: list[str] = []
    for path in sorted(TESTS.rglob("*.py")):
        if "node_modules" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in fixtures:
                names = {alias.name for alias in node.names} & fixtures[node.module]
                imported += [f"{path.relative_to(ROOT)} imports {name}" for name in sorted(names)]
    assert imported == [], imported
