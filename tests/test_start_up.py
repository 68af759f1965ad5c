"""Unsafe deployment settings are refused before anyone is served (issue 14).

Placeholder, example, short or empty cookie secrets; the development mode (no sign-in) on an
address other machines reach or with a server database; single sign-on roles from a claim without
an explicit map. The settings functions decide (``myelo_cds.settings``); the router shows the
refusal under AppTest and the real entry point (``streamlit run asgi.py``) exits without ever
turning ready, naming the setting in its log and never the secret.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from myelo_cds.settings import (
    MIN_SECRET_BYTES,
    AuthSettings,
    SettingsError,
    auth_settings,
    deployment_problems,
    is_loopback,
    secret_problem,
)
from myelo_cds.ui.start_up import bind_address
from tests.e2e.live_app import free_port

ROOT = Path(__file__).resolve().parents[1]
NAME = "auth.cookie_secret"
GOOD = secrets.token_hex(32)
OIDC = AuthSettings(auth="oidc")
DEV = AuthSettings(auth="none")


@pytest.mark.parametrize(
    "value",
    [
        "CHANGE-ME",
        "change me",
        "changeme-changeme-changeme-changeme",
        "replace-me-with-a-long-random-string-0123456789",
        "a-very-long-example-value-for-the-cookie-0123456789",
        "my-super-secret-cookie-key-for-production-2024",
        "your-password-here-0123456789abcdefghijklmnop",
        "insert-placeholder-value-here",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "TODO",
        "abababababababababababababababababababab",
    ],
)
def test_a_placeholder_or_example_cookie_secret_is_refused(value: str) -> None:
    problem = secret_problem(NAME, value)
    assert problem is not None
    assert problem.startswith(f"{NAME} is ")
    assert value not in problem  # never echoes the value


@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_missing_or_empty_cookie_secret_is_refused(value: str | None) -> None:
    assert secret_problem(NAME, value) == (
        f"{NAME} is empty: set a random secret of at least {MIN_SECRET_BYTES} bytes "
        '(make one with: python3 -c "import secrets; print(secrets.token_hex(32))")'
    )


def test_a_random_but_short_cookie_secret_is_refused() -> None:
    short = secrets.token_hex(15)  # 30 characters, random
    problem = secret_problem(NAME, short)
    assert problem is not None
    assert f"shorter than {MIN_SECRET_BYTES} bytes" in problem
    assert short not in problem
    assert secret_problem(NAME, secrets.token_hex(16)) is None  # exactly 32 characters


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(GOOD, id="hex-32-bytes"),
        # fixed draws of secrets.token_urlsafe(32) and token_hex(64): the same test ids on every
        # worker (pytest-xdist refuses a collection that differs between workers)
        pytest.param("Gbtkv1x_nZ0RFazycOj9i_hxUWsY94JWjKtlzimS10Y", id="token_urlsafe-32"),
        pytest.param(
            "8c56147529274189d2f4927004e5fcfe99767d9e583642cf20646ba347a1ca1170b39b0ab49e8b6da72618e2aca5eb1f2790e8488a519602a18c53b6b059b705",
            id="token_hex-64",
        ),
    ],
)
def test_a_long_random_cookie_secret_is_accepted(value: str) -> None:
    assert secret_problem(NAME, value) is None


def test_single_sign_on_refuses_the_shipped_example_secret() -> None:
    """The example secrets file as shipped (empty cookie_secret) cannot start a server."""
    import tomllib

    example = tomllib.loads((ROOT / ".streamlit" / "secrets.example.toml").read_text())
    assert example["auth"]["cookie_secret"] == ""
    assert example["auth"]["client_secret"] == ""
    problems = deployment_problems(
        OIDC, auth_cookie_secret=example["auth"]["cookie_secret"], server_cookie_secret=None,
        bind_address="127.0.0.1",
    )  # fmt: skip
    assert len(problems) == 1
    assert problems[0].startswith("auth.cookie_secret in .streamlit/secrets.toml is empty")


def test_single_sign_on_with_a_random_secret_starts() -> None:
    assert (
        deployment_problems(
            OIDC, auth_cookie_secret=GOOD, server_cookie_secret=None, bind_address="127.0.0.1"
        )
        == []
    )


def test_local_sign_in_needs_no_sso_secret_but_a_set_server_cookie_secret_must_be_random() -> None:
    local = AuthSettings(auth="local")
    assert (
        deployment_problems(local, auth_cookie_secret=None, server_cookie_secret=None, bind_address="0.0.0.0")
        == []
    )
    (problem,) = deployment_problems(
        local, auth_cookie_secret=None, server_cookie_secret="CHANGE-ME", bind_address="127.0.0.1"
    )
    assert problem.startswith("server.cookieSecret (STREAMLIT_SERVER_COOKIE_SECRET) is a placeholder")
    assert "CHANGE-ME" not in problem
    assert (
        deployment_problems(local, auth_cookie_secret=None, server_cookie_secret=GOOD, bind_address=None)
        == []
    )


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "10.1.2.3", "myelo-cds.hospital.example", None])
def test_the_development_mode_is_refused_on_an_address_other_machines_reach(address: str | None) -> None:
    (problem,) = deployment_problems(
        DEV, auth_cookie_secret=None, server_cookie_secret=None, bind_address=address
    )
    assert problem.startswith(
        "MYELO_CDS_AUTH=none (development mode: no sign-in) is refused on a server listening on "
    )
    assert (address or "every interface") in problem
    assert "--server.address 127.0.0.1" in problem


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.1.1", "::1", "[::1]", "localhost"])
def test_the_development_mode_is_allowed_on_loopback(address: str) -> None:
    assert is_loopback(address)
    assert (
        deployment_problems(DEV, auth_cookie_secret=None, server_cookie_secret=None, bind_address=address)
        == []
    )


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://myelo_cds:s3cr3t-pw@db-host/myelo_cds",
        "postgresql+psycopg://myelo_cds:s3cr3t-pw@10.0.0.7:5432/myelo_cds",
        "postgresql+psycopg://myelo_cds:s3cr3t-pw@/myelo_cds?host=db-host",
    ],
)
def test_the_development_mode_is_refused_with_a_shared_database(url: str) -> None:
    (problem,) = deployment_problems(
        DEV, auth_cookie_secret=None, server_cookie_secret=None, bind_address="127.0.0.1", database_url=url
    )
    assert "MYELO_CDS_DATABASE_URL names a postgresql database on another machine" in problem
    assert "s3cr3t-pw" not in problem
    assert "db-host" not in problem


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////tmp/records.sqlite3",
        "postgresql+psycopg://dev:pw@127.0.0.1:5432/myelo_cds",
        "postgresql+psycopg://dev:pw@localhost/myelo_cds",
        "postgresql+psycopg:///myelo_cds?host=/run/postgresql",
    ],
)
def test_the_development_mode_may_use_a_database_on_this_machine(url: str) -> None:
    assert deployment_problems(
        DEV, auth_cookie_secret=None, server_cookie_secret=None, bind_address="127.0.0.1", database_url=url
    ) == []  # fmt: skip


def test_the_development_mode_runs_as_the_least_privileged_role_by_default() -> None:
    assert auth_settings({"MYELO_CDS_AUTH": "none"}).dev_role == "resident"
    assert auth_settings({"MYELO_CDS_AUTH": "none", "MYELO_CDS_DEV_ROLE": "admin"}).dev_role == "admin"


def test_roles_from_a_claim_need_an_explicit_map() -> None:
    with pytest.raises(
        SettingsError, match=r"^MYELO_CDS_OIDC_ROLE_MAP: required when MYELO_CDS_OIDC_ROLE_SOURCE=claim"
    ):
        auth_settings({"MYELO_CDS_AUTH": "oidc", "MYELO_CDS_OIDC_ROLE_SOURCE": "claim"})
    mapped = auth_settings(
        {
            "MYELO_CDS_AUTH": "oidc",
            "MYELO_CDS_OIDC_ROLE_SOURCE": "claim",
            "MYELO_CDS_OIDC_ROLE_MAP": "it-admins=admin",
        }
    )
    assert mapped.oidc_role_map == {"it-admins": "admin"}  # the provider's "admin" group maps to nothing
    assert auth_settings({"MYELO_CDS_AUTH": "oidc"}).oidc_role_map == {}  # table mode needs none


@pytest.mark.parametrize(
    ("orig_argv", "expected"),
    [
        (["/opt/venv/bin/python3", "/opt/venv/bin/uvicorn", "asgi:app"], ("127.0.0.1", True)),
        (["python3", "/opt/venv/bin/uvicorn", "asgi:app", "--host", "0.0.0.0"], ("0.0.0.0", True)),
        (["python3", "-X", "dev", "-m", "uvicorn", "--host=10.0.0.5", "asgi:app"], ("10.0.0.5", True)),
        (["python3", "-m", "pytest", "-q"], (None, False)),
        (["python3", "-c", "import asgi"], (None, False)),
    ],
)
def test_the_address_is_read_from_the_command_that_serves(
    orig_argv: list[str], expected: tuple[str | None, bool]
) -> None:
    assert bind_address(orig_argv) == expected


def test_streamlit_run_listens_on_its_server_address(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit import config

    monkeypatch.setattr(config, "get_option", lambda name: "0.0.0.0" if name == "server.address" else None)
    assert bind_address(["/opt/venv/bin/python3", "/opt/venv/bin/streamlit", "run", "asgi.py"]) == (
        "0.0.0.0",
        True,
    )
    monkeypatch.setattr(config, "get_option", lambda name: None)  # unset: every interface
    assert bind_address(["python3", "-m", "streamlit", "run", "app.py"]) == (None, True)


# --- the router (AppTest) -------------------------------------------------------------------


def _router(monkeypatch: pytest.MonkeyPatch, cookie_secret: str, **env: str) -> AppTest:
    monkeypatch.setenv("MYELO_CDS_AUTH", "oidc")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.secrets["auth"] = {
        "cookie_secret": cookie_secret,
        "redirect_uri": "http://127.0.0.1:9/oauth2callback",
        "client_id": "myelo-cds",
        "client_secret": "not-used-here",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
    }
    at.user = {"is_logged_in": True, "sub": "8f2c1e", "roles": ["admin"]}
    at.run()
    assert not at.exception
    return at


def test_the_router_shows_only_the_refusal_with_a_placeholder_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _router(monkeypatch, "CHANGE-ME")
    assert at.title[0].value == "This server is not configured safely"
    (refusal,) = at.error
    assert refusal.value.startswith(
        "auth.cookie_secret in .streamlit/secrets.toml is a placeholder, not a secret"
    )
    assert not at.button, "no sign-in, no page"
    assert "CHANGE-ME" not in "".join(str(e.value) for e in [*at.error, *at.markdown, *at.caption])


def test_the_router_refuses_claim_roles_without_a_map(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _router(monkeypatch, GOOD, MYELO_CDS_OIDC_ROLE_SOURCE="claim")
    assert at.title[0].value == "This server is not configured safely"
    assert at.error[0].value.startswith(
        "MYELO_CDS_OIDC_ROLE_MAP: required when MYELO_CDS_OIDC_ROLE_SOURCE=claim"
    )


def test_the_router_refuses_a_session_limit_out_of_range(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _router(monkeypatch, GOOD, MYELO_CDS_SESSION_IDLE_MINUTES="0")
    assert at.title[0].value == "This server is not configured safely"
    assert at.error[0].value.startswith("MYELO_CDS_SESSION_IDLE_MINUTES: '0' is not allowed")
    assert "at most 1440" in at.error[0].value


def test_the_router_refuses_a_cds_hooks_setting_that_is_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _router(monkeypatch, GOOD, MYELO_CDS_HOOKS_CORS_ORIGINS="*")
    assert at.title[0].value == "This server is not configured safely"
    assert at.error[0].value == "MYELO_CDS_HOOKS_CORS_ORIGINS: '*' is not an absolute http(s) URL"


# --- the real entry point -------------------------------------------------------------------


def _secrets_file(folder: Path, cookie_secret: str, port: int) -> Path:
    path = folder / "secrets.toml"
    path.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{cookie_secret}"\n'
        'client_id = "myelo-cds"\nclient_secret = "not-used-here"\n'
        'server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"\n'
    )
    return path


def _serve(folder: Path, port: int, env: dict[str, str], *options: str) -> subprocess.CompletedProcess[str]:
    """``streamlit run asgi.py`` as a replica is started; its whole run (it must exit by itself)."""
    import os

    command = [
        sys.executable, "-m", "streamlit", "run", "asgi.py", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none", *options,
    ]  # fmt: skip
    environment = {**os.environ, "MYELO_CDS_DB_PATH": str(folder / "records.sqlite3"), **env}
    environment.pop("MYELO_CDS_DATABASE_URL", None)
    environment.update(env)
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    ready = False
    deadline = time.monotonic() + 90
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                ready = answer.status == 200
        except (OSError, urllib.error.HTTPError):
            pass
        if ready:
            break
        time.sleep(0.2)
    if process.poll() is None:
        process.terminate()
    out, _ = process.communicate(timeout=30)
    assert not ready, "an unsafe server must never turn ready"
    return subprocess.CompletedProcess(command, process.returncode, out, "")


def test_a_replica_with_a_placeholder_secret_exits_naming_the_setting(tmp_path: Path) -> None:
    port = free_port()
    secret_file = _secrets_file(tmp_path, "CHANGE-ME", port)
    run = _serve(tmp_path, port, {"MYELO_CDS_AUTH": "oidc"}, "--server.address", "127.0.0.1",
                 "--secrets.files", str(secret_file))  # fmt: skip
    assert run.returncode not in (0, None), run.stdout[-2000:]
    assert (
        "myelo-cds refuses to start: auth.cookie_secret in .streamlit/secrets.toml is a placeholder"
        in run.stdout
    )
    assert "CHANGE-ME" not in run.stdout


def test_a_development_replica_on_every_interface_exits(tmp_path: Path) -> None:
    run = _serve(tmp_path, free_port(), {"MYELO_CDS_AUTH": "none"}, "--server.address", "0.0.0.0")
    assert run.returncode not in (0, None), run.stdout[-2000:]
    assert (
        "myelo-cds refuses to start: MYELO_CDS_AUTH=none (development mode: no sign-in) is refused"
        in run.stdout
    )
    assert "listening on 0.0.0.0" in run.stdout


def test_a_copied_example_secret_is_refused_in_every_mode() -> None:
    """Streamlit signs its XSRF cookie with ``[auth] cookie_secret`` whenever that key exists,
    whatever the sign-in mode: an empty or placeholder one is refused in local mode too."""
    for value in ("", "CHANGE-ME"):
        (problem,) = deployment_problems(
            AuthSettings(auth="local"),
            auth_cookie_secret=value,
            server_cookie_secret=None,
            bind_address="127.0.0.1",
        )
        assert problem.startswith("auth.cookie_secret in .streamlit/secrets.toml is ")


def test_readiness_names_the_refused_settings_and_never_their_values(tmp_path: Path) -> None:
    """The entry point's start-up check, in a fresh interpreter (importing asgi.py here would pin
    Streamlit's script path for the other tests): it raises, and readiness stays 503 naming the
    settings only."""
    import os

    secret_file = _secrets_file(tmp_path, "CHANGE-ME", 9)
    command = (
        "import json, asgi\n"
        "from starlette.applications import Starlette\n"
        "from starlette.testclient import TestClient\n"
        "from myelo_cds.errors import SettingsError\n"
        "from myelo_cds.service import health\n"
        "try:\n"
        "    asgi.refuse_unsafe_settings()\n"
        "except SettingsError as error:\n"
        "    print('refused:', error)\n"
        "answer = TestClient(Starlette(routes=health.routes)).get(health.READINESS_PATH)\n"
        "print(answer.status_code, json.dumps(answer.json()))\n"
    )
    environment = {
        **os.environ,
        "MYELO_CDS_AUTH": "oidc",
        "MYELO_CDS_DB_PATH": str(tmp_path / "records.sqlite3"),
        "STREAMLIT_SECRETS_FILES": str(secret_file),
        "STREAMLIT_SERVER_COOKIE_SECRET": "short",
    }
    out = subprocess.run(
        [sys.executable, "-c", command], cwd=ROOT, env=environment, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    refused, readiness = out.stdout.strip().splitlines()[-2:]
    assert refused.startswith(
        "refused: myelo-cds refuses to start: auth.cookie_secret in .streamlit/secrets.toml"
    )
    assert "server.cookieSecret (STREAMLIT_SERVER_COOKIE_SECRET) is a placeholder" in refused
    assert readiness == (
        '503 {"status": "not ready", "reason": "warm-up failed (unsafe settings: auth.cookie_secret, '
        'server.cookieSecret)"}'
    )
    assert "CHANGE-ME" not in out.stdout + out.stderr
