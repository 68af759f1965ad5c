"""Two database roles in the shipped deployment files (issue 14): the schema's owner migrates, the
replicas run as the app's role and never hold the owner's password.

systemd: ``myelo-cds-migrate.service`` runs ``python -m myelo_cds migrate`` with the owner's URL
from a file only it reads, and every replica wants it and starts after it. Docker:
``start.sh migrate`` is the one-off migration, and a replica refuses to start with the owner's
secret mounted. The commands the files run are run here against a real PostgreSQL database
with an owner role and an app role.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from myelo_cds.records import Store
from tests.deploy_stack import two_roles
from tests.pg_fixture import PostgresServer
from tests.test_records import case

ROOT = Path(__file__).resolve().parents[1]
SYSTEMD = ROOT / "deploy" / "systemd"
MIGRATE_UNIT = SYSTEMD / "myelo-cds-migrate.service"
REPLICA_UNIT = SYSTEMD / "myelo-cds@.service"
START = ROOT / "deploy" / "docker" / "start.sh"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def _systemd_analyze() -> str:
    if SYSTEMD_ANALYZE:
        return SYSTEMD_ANALYZE
    if os.environ.get("CI") == "true":
        pytest.fail("systemd-analyze not found: install the Debian package 'systemd'")
    pytest.skip("systemd-analyze not found (Debian package 'systemd')")


def _settings(path: Path) -> dict[str, list[str]]:
    """Each ``Key=value`` line of a unit or environment file (comments skipped), by key."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def _local(unit: Path, tmp_path: Path, name: str | None = None) -> Path:
    copy = tmp_path / (name or unit.name)
    copy.write_text(unit.read_text().replace("/opt/myelo-cds", str(ROOT)))
    return copy


def test_systemd_accepts_the_migration_unit_and_rates_it_low(tmp_path: Path) -> None:
    unit = _local(MIGRATE_UNIT, tmp_path)
    checked = subprocess.run(
        [_systemd_analyze(), "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.strip() == "", checked.stderr
    security = subprocess.run(
        [_systemd_analyze(), "security", "--offline=true", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    exposure = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout)
    assert exposure, security.stdout[-500:] + security.stderr
    assert float(exposure.group(1)) <= 2.0, security.stdout


def test_the_replicas_start_after_the_migration_and_never_read_the_owner_url(tmp_path: Path) -> None:
    replica = _settings(REPLICA_UNIT)
    assert "myelo-cds-migrate.service" in replica["Wants"][0].split()
    assert "myelo-cds-migrate.service" in replica["After"][0].split()
    assert replica["EnvironmentFile"] == ["/etc/myelo-cds/myelo-cds.env"]
    migrate = _settings(MIGRATE_UNIT)
    assert migrate["Type"] == ["oneshot"]
    assert migrate["User"] == ["myelo-cds"]
    assert migrate["EnvironmentFile"] == ["/etc/myelo-cds/myelo-cds.env", "-/etc/myelo-cds/migrate.env"]
    assert shlex.split(migrate["ExecStart"][0])[1:] == ["-m", "myelo_cds", "migrate"]
    # The replicas' environment file names the app's role only; the owner's file ships empty.
    assert "MYELO_CDS_MIGRATION_DATABASE_URL" not in _settings(SYSTEMD / "myelo-cds.env")
    assert _settings(SYSTEMD / "myelo-cds-migrate.env") == {"MYELO_CDS_MIGRATION_DATABASE_URL": [""]}


def _refused(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        with (
            pytest.raises(ProgrammingError, match=r"permission denied|must be owner"),
            engine.begin() as connection,
        ):
            connection.execute(text(statement))
    finally:
        engine.dispose()


def _saves_and_cannot_rewrite(app_url: str) -> None:
    store = Store(app_url)
    try:
        store.check_ready()
        findings, rec = case("moderate_dcm", dt.date(2025, 3, 4))
        saved = store.save_assessment(findings, rec, patient_id="PT-ROLE-1", author="dr.lee")
        assert store.verify_audit().intact
    finally:
        store.close()
    for statement in (
        "UPDATE audit_events SET actor = 'someone else'",
        "DELETE FROM audit_events",
        f"UPDATE assessments SET urgency = 'routine' WHERE id = {saved.id}",
        f"DELETE FROM assessments WHERE id = {saved.id}",
    ):
        _refused(app_url, statement)


def test_the_migration_unit_command_migrates_as_the_owner_for_the_app_role(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """The unit's ExecStart, with the environment its two files would give it."""
    roles = two_roles(postgres_server.create_database())
    command = shlex.split(_settings(_local(MIGRATE_UNIT, tmp_path))["ExecStart"][0])
    command[0] = sys.executable  # this checkout's interpreter stands for /opt/myelo-cds/.venv
    environment = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "MYELO_CDS_DATABASE_URL": roles.app_url,
        "MYELO_CDS_MIGRATION_DATABASE_URL": roles.owner_url,
    }
    done = subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "may read and append only" in done.stderr
    for url in (roles.owner_url, roles.app_url):  # no password in what the journal keeps
        password = url.split(":", 2)[2].split("@", 1)[0]
        assert password not in done.stdout + done.stderr
    _saves_and_cannot_rewrite(roles.app_url)


def _stand_in(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A program that records the arguments and environment it was started with."""
    report = tmp_path / f"{name}.json"
    program = tmp_path / name
    program.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'env': dict(os.environ)}}, open({str(report)!r}, 'w'))\n"
    )
    program.chmod(0o755)
    return program, report


def _secrets(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "secrets"
    folder.mkdir(exist_ok=True)
    for name, value in files.items():
        (folder / name).write_text(value + "\n")
    return folder


def test_the_container_migrates_as_the_owner_in_a_one_off_run(tmp_path: Path) -> None:
    python, python_report = _stand_in(tmp_path, "python")
    streamlit, streamlit_report = _stand_in(tmp_path, "streamlit")
    secrets_dir = _secrets(
        tmp_path,
        database_url="postgresql+psycopg://app:pw@db/myelo_cds",
        migration_database_url="postgresql+psycopg://owner:opw@db/myelo_cds",
    )
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MYELO_CDS_SECRETS_DIR": str(secrets_dir),
        "MYELO_CDS_PYTHON": str(python),
        "MYELO_CDS_STREAMLIT": str(streamlit),
    }
    run = subprocess.run(
        ["sh", str(START), "migrate"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    started = json.loads(python_report.read_text())
    assert started["argv"] == ["-m", "myelo_cds", "migrate"]
    assert started["env"]["MYELO_CDS_MIGRATION_DATABASE_URL"] == "postgresql+psycopg://owner:opw@db/myelo_cds"
    assert started["env"]["MYELO_CDS_DATABASE_URL"] == "postgresql+psycopg://app:pw@db/myelo_cds"
    assert not streamlit_report.exists()  # a migration serves nothing
    # A replica with the owner's secret mounted refuses to start, and says why.
    run = subprocess.run(
        ["sh", str(START)], cwd=tmp_path, env=environment, capture_output=True, text=True, check=False
    )
    assert run.returncode == 2
    assert "migration_database_url" in run.stderr
    assert "opw" not in run.stderr
    assert not streamlit_report.exists()
    # Without it the replica starts with the app's role and no owner URL in its environment.
    (secrets_dir / "migration_database_url").unlink()
    run = subprocess.run(
        ["sh", str(START)], cwd=tmp_path, env=environment, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    replica = json.loads(streamlit_report.read_text())["env"]
    assert replica["MYELO_CDS_DATABASE_URL"] == "postgresql+psycopg://app:pw@db/myelo_cds"
    assert "MYELO_CDS_MIGRATION_DATABASE_URL" not in replica


def test_the_container_migration_works_on_a_real_database(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    roles = two_roles(postgres_server.create_database())
    secrets_dir = _secrets(tmp_path, database_url=roles.app_url, migration_database_url=roles.owner_url)
    environment = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "MYELO_CDS_SECRETS_DIR": str(secrets_dir),
        "MYELO_CDS_PYTHON": sys.executable,
    }
    done = subprocess.run(
        ["sh", str(START), "migrate"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "may read and append only" in done.stderr
    _saves_and_cannot_rewrite(roles.app_url)
