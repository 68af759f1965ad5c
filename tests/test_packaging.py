"""``pip install .`` gives a working ``myelo-cds`` command (issue 15, "Also").

The layout stays flat (app.py, pages/, myelo_cds/, data/, migrations/); pyproject.toml lists the
package's modules and maps data/ and migrations/ into the wheel. The slow test builds and
installs the package into a fresh virtual environment and runs the command from another folder.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

import myelo_cds
from myelo_cds._paths import data_dir, migrations_dir

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
MAPPED = {"myelo_cds._data": "data", "myelo_cds._migrations": "migrations"}


def test_the_wheel_lists_every_package_of_the_tree() -> None:
    """A new sub-package left out of pyproject.toml would be missing from an installed copy."""
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    in_tree = {
        ".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "myelo_cds").rglob("__init__.py")
    }
    assert listed - set(MAPPED) == in_tree
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == MAPPED


def test_every_data_file_is_matched_by_the_wheels_patterns() -> None:
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["myelo_cds._data"]
    files = {path for path in (ROOT / "data").rglob("*") if path.is_file()}
    matched = {path for pattern in patterns for path in (ROOT / "data").glob(pattern)}
    assert files - matched == set()


def test_the_version_is_written_once_in_the_package() -> None:
    assert "version" not in PYPROJECT["project"]
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "myelo_cds.__version__"}
    assert PYPROJECT["project"]["scripts"] == {"myelo-cds": "myelo_cds.cli:main"}


def test_a_checkout_reads_its_own_data_and_migrations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MYELO_CDS_DATA", raising=False)
    assert data_dir() == ROOT / "data"
    assert migrations_dir() == ROOT / "migrations"
    monkeypatch.setenv("MYELO_CDS_DATA", "/elsewhere/data")
    assert data_dir() == Path("/elsewhere/data")


def _can_build_offline() -> bool:
    """Whether this environment's setuptools builds a wheel by itself (70.1 and later), or has
    the ``wheel`` package that older ones need; otherwise pip fetches the build backend."""
    try:
        version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return False
    major, minor = (int(part) for part in version.split(".")[:2])
    if (major, minor) >= (70, 1):
        return True
    try:
        importlib.metadata.version("wheel")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _run(*command: str | Path, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_pip_install_gives_a_myelo_cds_command_that_runs_from_another_folder(tmp_path: Path) -> None:
    # A copy of what the wheel is built from, so the build leaves nothing in the checkout.
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", source)
    for folder in ("myelo_cds", "data", "migrations"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    # A fresh environment whose dependencies come from this one (a path in a .pth file), so
    # nothing is downloaded for them; the package itself only from the wheel built here.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    Path(site, "deps-from-the-test-environment.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "MYELO_CDS_DATA")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    isolation = ["--no-build-isolation"] if _can_build_offline() else []
    _run(
        sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", *isolation, source,
        cwd=tmp_path, env=env,
    )  # fmt: skip

    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "data" / "examples").mkdir(parents=True)  # only the case: no rules, scales here
    shutil.copy2(ROOT / "data" / "examples" / "moderate_dcm.json", elsewhere / "data" / "examples")
    command = venv / "bin" / "myelo-cds"

    assert _run(command, "--version", cwd=elsewhere, env=env) == f"myelo-cds {myelo_cds.__version__}\n"
    installed = json.loads(
        _run(
            python, "-c",
            "import importlib.metadata as m, json, myelo_cds, myelo_cds._paths as p;"
            "print(json.dumps([m.version('myelo-cds'), myelo_cds.__file__, str(p.data_dir()),"
            " str(p.migrations_dir())]))",
            cwd=elsewhere, env=env,
        )
    )  # fmt: skip
    version, module, data, migrations = installed
    assert version == myelo_cds.__version__
    assert Path(module).is_relative_to(venv)
    assert Path(data) == Path(module).parent / "_data"
    assert (Path(data) / "rules" / "dcm_rules.toml").is_file()
    assert len(list((Path(migrations) / "versions").glob("*.py"))) == len(
        list((ROOT / "migrations" / "versions").glob("*.py"))
    )

    result = json.loads(_run(command, "assess", "data/examples/moderate_dcm.json", cwd=elsewhere, env=env))
    expected = json.loads(
        _run(
            sys.executable,
            "-m",
            "myelo_cds",
            "assess",
            ROOT / "data/examples/moderate_dcm.json",
            cwd=ROOT,
            env=env,
        )
    )
    assert result["pathway"] == expected["pathway"] == "surgical_referral"
    assert result["rule_set"] == expected["rule_set"]
    assert result == expected

    text = _run(
        command, "assess", "data/examples/moderate_dcm.json", "--format", "text", cwd=elsewhere, env=env
    )
    assert "RECOMMENDATION: Surgical referral" in text
