"""The systemd unit and the container image definition in ``deploy/`` and ``Dockerfile``.

No Docker engine runs on the test machines, so the image is not built here. What is checked
instead: systemd's own verifier accepts the unit and rates its exposure low; the files the
Dockerfile copies are exactly what the app needs to serve (the server runs from a folder holding
only those files, and the image's HEALTHCHECK command passes against it); and the image installs
the runtime lock, hashed, at the development lock's versions, without the quality-gate tools.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.e2e.live_app import live_server

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "systemd" / "myelo-cds@.service"
DOCKERFILE = ROOT / "Dockerfile"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def _systemd_analyze() -> str:
    if SYSTEMD_ANALYZE:
        return SYSTEMD_ANALYZE
    if os.environ.get("CI") == "true":
        pytest.fail("systemd-analyze not found: install the Debian package 'systemd'")
    pytest.skip("systemd-analyze not found (Debian package 'systemd')")


def _instance(tmp_path: Path) -> Path:
    """The unit as instance 8501, with the install folder pointed at this checkout."""
    unit = tmp_path / "myelo-cds@8501.service"
    unit.write_text(UNIT.read_text().replace("/opt/myelo-cds", str(ROOT)))
    return unit


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    checked = subprocess.run(
        [_systemd_analyze(), "verify", str(_instance(tmp_path))], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.strip() == "", checked.stderr


def test_the_unit_is_hardened(tmp_path: Path) -> None:
    checked = subprocess.run(
        [_systemd_analyze(), "security", "--offline=true", str(_instance(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
    )
    exposure = re.search(r"Overall exposure level for \S+: ([0-9.]+)", checked.stdout)
    assert exposure, checked.stdout[-500:] + checked.stderr
    assert float(exposure.group(1)) <= 2.0, checked.stdout  # systemd rates <= 2 "OK"
    text = UNIT.read_text()
    for setting in ("User=myelo-cds", "NoNewPrivileges=yes", "ProtectSystem=strict", "EnvironmentFile="):
        assert setting in text, setting
    assert "--server.address 127.0.0.1" in text  # only nginx reaches a replica


def _copied_paths() -> list[str]:
    sources: list[str] = []
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY ") and "requirements-runtime.txt" not in line:
            sources += line.split()[1:-1]
    return sources


def test_the_image_files_serve_the_app_and_pass_the_healthcheck() -> None:
    image = Path(tempfile.mkdtemp(prefix="myelo-cds-image-"))
    for source in _copied_paths():
        path = ROOT / source
        assert path.exists(), f"the Dockerfile copies {source}, which is missing"
        target = image / source
        if path.is_dir():
            shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__", "secrets.toml"))
        else:
            shutil.copy2(path, target)
    healthcheck = re.search(r"HEALTHCHECK .*?CMD (\[[^\n]*\])\n", DOCKERFILE.read_text(), re.DOTALL)
    assert healthcheck
    command = json.loads(healthcheck.group(1))
    assert command[0] == "/opt/venv/bin/python"
    with live_server(
        image / "server.log", script="asgi.py", db_path=image / "records.sqlite3", cwd=image
    ) as server:
        probe = command[-1].replace("http://127.0.0.1:8501", server.url)
        assert subprocess.run([sys.executable, "-c", probe], check=False, timeout=30).returncode == 0
        # The same probe fails against a port where nothing answers.
        dead = command[-1].replace("127.0.0.1:8501", "127.0.0.1:9")
        assert subprocess.run([sys.executable, "-c", dead], capture_output=True, check=False).returncode != 0
    shutil.rmtree(image, ignore_errors=True)


def _pins(lock: Path) -> dict[str, str]:
    """Package name -> version of every pin in a lock file, after checking each has a hash."""
    lines = lock.read_text().splitlines()
    pins: dict[str, str] = {}
    for number, line in enumerate(lines):
        found = re.match(r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s\\]+)", line)
        if found:
            hashed = line.endswith(" \\") and lines[number + 1].strip().startswith("--hash=sha256:")
            assert hashed, f"{lock.name}: {line} has no hash"
            pins[found.group(1).lower()] = found.group(2)
    assert pins, f"{lock.name} pins nothing"
    return pins


def test_the_image_installs_the_runtime_lock_without_the_test_tools() -> None:
    assert "--require-hashes \\\n        -r /tmp/requirements-runtime.txt" in DOCKERFILE.read_text()
    runtime, everything = _pins(ROOT / "requirements-runtime.txt"), _pins(ROOT / "requirements.txt")
    assert runtime.items() <= everything.items(), "the image runs the versions the tests ran"
    assert everything.keys() - runtime.keys() >= {
        "playwright",
        "pytest",
        "pytest-xdist",
        "pytest-randomly",
        "pytest-cov",
        "hypothesis",
        "ruff",
        "mypy",
        "pre-commit",
        "oidc-provider-mock",
        "uv",
    }
    assert {"streamlit", "sqlalchemy", "alembic", "psycopg", "pydantic", "pandas"} <= runtime.keys()
