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


def _copied_paths() -> list[tuple[str, str]]:
    """(source, destination under /app) of each COPY into the app folder."""
    copies: list[tuple[str, str]] = []
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY ") and "requirements-runtime.txt" not in line:
            *sources, destination = line.split()[1:]
            for source in sources:
                into_folder = destination.endswith("/") and not source.endswith("/")
                copies.append(
                    (source, str(Path(destination) / Path(source).name) if into_folder else destination)
                )
    return copies


def test_the_image_files_serve_the_app_and_pass_the_healthcheck() -> None:
    image = Path(tempfile.mkdtemp(prefix="myelo-cds-image-"))
    for source, destination in _copied_paths():
        path = ROOT / source
        assert path.exists(), f"the Dockerfile copies {source}, which is missing"
        target = image / destination
        if path.is_dir():
            shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__", "secrets.toml"))
        else:
            shutil.copy2(path, target)
    healthcheck = re.search(r"HEALTHCHECK .*?CMD (\[[^\n]*\])\n", DOCKERFILE.read_text(), re.DOTALL)
    assert healthcheck
    command = json.loads(healthcheck.group(1))
    assert command[0] == "/opt/venv/bin/python"
    # Unmeasured: the deployment stack's replicas measure the same server code from the checkout.
    with live_server(
        image / "server.log", script="asgi.py", db_path=image / "records.sqlite3", cwd=image, measured=False
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


# --- issue 14: secrets, base image, case library ---------------------------------------------

ENV_FILE = ROOT / "deploy" / "systemd" / "myelo-cds.env"
START = ROOT / "deploy" / "docker" / "start.sh"


def _env_file() -> dict[str, str]:
    values = {}
    for line in ENV_FILE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def test_the_base_image_is_pinned_by_digest() -> None:
    (base,) = [line for line in DOCKERFILE.read_text().splitlines() if line.startswith("FROM ")]
    assert re.fullmatch(r"FROM debian:bookworm-slim@sha256:[0-9a-f]{64}", base), base


def test_no_secret_is_given_on_the_docker_command_line() -> None:
    text = DOCKERFILE.read_text()
    assert "-e STREAMLIT_SERVER_COOKIE_SECRET" not in text
    assert "-e MYELO_CDS_DATABASE_URL" not in text
    assert "/run/secrets/cookie_secret:ro" in text
    assert 'CMD ["/app/start.sh"]' in text
    assert "COPY deploy/docker/start.sh start.sh" in text


def test_the_environment_file_ships_no_placeholder_secret() -> None:
    values = _env_file()
    assert values["STREAMLIT_SERVER_COOKIE_SECRET"] == ""  # fails closed: the replica refuses to start
    assert values["MYELO_CDS_AUTH"] == "local"
    assert values["MYELO_CDS_CASES_DIR"] == "/var/lib/myelo-cds/cases"


def test_a_replica_started_with_the_shipped_environment_file_refuses_to_serve(tmp_path: Path) -> None:
    """The environment file as shipped (its database line left out: no server here) stops a
    replica before it serves, naming the empty cookie secret."""
    from tests.e2e.live_app import free_port
    from tests.test_start_up import _serve

    shipped = {name: value for name, value in _env_file().items() if name != "MYELO_CDS_DATABASE_URL"}
    shipped["MYELO_CDS_CASES_DIR"] = str(tmp_path / "cases")
    run = _serve(tmp_path, free_port(), shipped, "--server.address", "127.0.0.1")
    assert run.returncode not in (0, None), run.stdout[-2000:]
    assert (
        "myelo-cds refuses to start: server.cookieSecret (STREAMLIT_SERVER_COOKIE_SECRET) is empty"
        in run.stdout
    )


def test_the_case_library_is_where_the_service_may_write() -> None:
    unit = UNIT.read_text()
    assert "StateDirectory=myelo-cds" in unit
    assert "ReadWritePaths=/var/lib/myelo-cds" in unit
    assert (
        "ExecStartPre=/usr/bin/cp -R --no-clobber /opt/myelo-cds/data/cases/. /var/lib/myelo-cds/cases/"
        in unit
    )
    assert "MYELO_CDS_CASES_DIR=/data/cases" in DOCKERFILE.read_text()
    assert 'VOLUME ["/data"]' in DOCKERFILE.read_text()


def test_the_container_start_reads_secrets_from_files_and_seeds_the_case_library(tmp_path: Path) -> None:
    """deploy/docker/start.sh, run by sh as the image runs it, with a stand-in for the streamlit
    command that reports the environment and arguments it was given."""
    app = tmp_path / "app"
    shutil.copytree(ROOT / "data" / "cases", app / "data" / "cases")
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    cookie = "a1" * 32
    (secrets_dir / "cookie_secret").write_text(cookie + "\n")
    (secrets_dir / "database_url").write_text("postgresql+psycopg://app:pw@db/myelo_cds\n")
    cases = tmp_path / "data" / "cases"
    cases.mkdir(parents=True)
    (cases / "t99_authored_here.json").write_text("{}")
    (cases / "t01_clumsy_hands_and_a_stumbling_gait.json").write_text('{"edited": true}')
    report = tmp_path / "started.json"
    stand_in = tmp_path / "streamlit"
    stand_in.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'env': dict(os.environ)}}, open({str(report)!r}, 'w'))\n"
    )
    stand_in.chmod(0o755)
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MYELO_CDS_SECRETS_DIR": str(secrets_dir),
        "MYELO_CDS_CASES_DIR": str(cases),
        "MYELO_CDS_STREAMLIT": str(stand_in),
    }
    run = subprocess.run(
        ["sh", str(START)], cwd=app, env=environment, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    started = json.loads(report.read_text())
    assert started["argv"] == ["run", "asgi.py", "--server.address", "0.0.0.0", "--server.port", "8501",
                               "--server.headless", "true"]  # fmt: skip
    assert started["env"]["STREAMLIT_SERVER_COOKIE_SECRET"] == cookie
    assert started["env"]["MYELO_CDS_DATABASE_URL"] == "postgresql+psycopg://app:pw@db/myelo_cds"
    shipped = {path.name for path in (ROOT / "data" / "cases").glob("*.json")}
    assert {path.name for path in cases.glob("*.json")} == shipped | {"t99_authored_here.json"}
    assert (cases / "t01_clumsy_hands_and_a_stumbling_gait.json").read_text() == '{"edited": true}'  # kept
    # Without secret files nothing is set (the replica then refuses or uses its defaults).
    shutil.rmtree(secrets_dir)
    run = subprocess.run(
        ["sh", str(START)], cwd=app, env=environment, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    assert "STREAMLIT_SERVER_COOKIE_SECRET" not in json.loads(report.read_text())["env"]
