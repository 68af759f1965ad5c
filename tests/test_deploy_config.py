"""The shipped Streamlit configuration is the hardened one the README documents."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())


def test_usage_statistics_are_off_and_xsrf_protection_on() -> None:
    assert CONFIG["browser"]["gatherUsageStats"] is False
    assert CONFIG["server"]["enableXsrfProtection"] is True
    assert CONFIG["server"]["enableCORS"] is True


def test_server_runs_headless_without_a_file_watcher_or_rerun_on_save() -> None:
    server = CONFIG["server"]
    assert server["headless"] is True
    assert server["fileWatcherType"] == "none"
    assert server["runOnSave"] is False


def test_uploads_and_messages_are_size_limited_and_sessions_short_lived() -> None:
    server = CONFIG["server"]
    assert 0 < server["maxUploadSize"] <= 10
    assert 0 < server["maxMessageSize"] <= 50
    assert 0 < server["disconnectedSessionTTL"] <= 30  # issue 14: lowered from 60


def test_a_server_listens_on_loopback_unless_told_otherwise() -> None:
    """A replica is reached through nginx; the development mode is refused on other addresses."""
    assert CONFIG["server"]["address"] == "127.0.0.1"


def test_table_toolbars_do_not_export_data() -> None:
    """Issue 14: a table's own "Download as CSV" bypassed the role check, the audit event and
    formula neutralisation; exports go through the app's audited buttons only."""
    assert CONFIG["client"]["disableDataExport"] is True


def test_no_side_doors_agent_api_static_files_header_identity_or_error_details() -> None:
    assert CONFIG["server"]["enableAgentApi"] is False
    assert CONFIG["server"]["enableStaticServing"] is False
    assert "trustedUserHeaders" not in CONFIG["server"]
    assert CONFIG["client"]["showErrorDetails"] == "none"


def test_no_full_garbage_collection_after_every_script_run() -> None:
    """Issue 17: Streamlit's forced collection after each run scanned every session's objects
    (about 60% of the server's CPU per interaction, growing with the sessions); the shipped
    configuration turns it off and bench/soak.py shows memory stays flat without it."""
    assert CONFIG["runner"]["postScriptGC"] is False


def test_every_deployment_reads_this_configuration() -> None:
    """The image and the systemd unit start ``asgi.py`` where ``.streamlit/config.toml`` is."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY .streamlit/ .streamlit/" in dockerfile
    assert "WORKDIR /app" in dockerfile
    assert 'CMD ["/app/start.sh"]' in dockerfile
    assert "run asgi.py" in (ROOT / "deploy" / "docker" / "start.sh").read_text()
    unit = (ROOT / "deploy" / "systemd" / "myelo-cds@.service").read_text()
    assert "WorkingDirectory=/opt/myelo-cds" in unit
    assert "streamlit run asgi.py" in unit


def test_the_start_up_objects_are_frozen_after_the_warm_up() -> None:
    """asgi.py's warm-up ends with ``gc.freeze()``: Python's own full collections then skip the
    modules, the rule set and the engine tables loaded at start-up (a fresh interpreter runs the
    entry point's start-up hook without a server)."""
    command = (
        "import asyncio, gc, asgi\n"
        "from myelo_cds.service import warmup\n"
        "async def start():\n"
        "    async with asgi.warm_up(asgi.app):\n"
        "        pass\n"
        "before = gc.get_freeze_count()\n"
        "asyncio.run(start())\n"
        "assert warmup.STATE.wait(120) and warmup.STATE.ready, warmup.STATE.error\n"
        "print(before, gc.get_freeze_count())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=180, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    before, after = map(int, out.stdout.split()[-2:])
    assert before == 0
    assert after > 100_000


def test_the_example_sso_settings_ask_only_for_the_claims_the_app_uses() -> None:
    example = tomllib.loads((ROOT / ".streamlit" / "secrets.example.toml").read_text())
    assert example["auth"]["client_kwargs"]["scope"].split() == ["openid", "profile"]
    assert ".streamlit/secrets.toml" in (ROOT / ".gitignore").read_text()


def test_no_patient_data_in_shared_caches() -> None:
    """st.cache_data is shared by every session: no page or UI helper uses it (records are read
    per request; st.cache_resource holds only rule-set checks, and the connection pool is the
    records' own shared store)."""
    for path in [*ROOT.glob("pages/*.py"), *ROOT.glob("myelo_cds/ui/*.py"), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("cache_data", "cache", "experimental_memo"):
                raise AssertionError(f"{path.name} uses st.{node.attr}")
    resources = [
        path.name
        for path in [*ROOT.glob("pages/*.py"), *ROOT.glob("myelo_cds/ui/*.py")]
        if "cache_resource" in path.read_text()
    ]
    assert sorted(resources) == ["rules_evidence.py"]


def test_typed_links_images_and_markup_are_escaped_but_read_the_same() -> None:
    from myelo_cds.ui.text import WORD_JOINER, plain

    typed = "![t](http://a.example/x.png) [go](https://b.example) www.c.example <b>`x`</b>"
    escaped = plain(typed)
    assert "](" not in escaped.replace("\\](", "")
    assert "://" not in escaped
    assert "www." not in escaped
    unescaped = escaped.replace(WORD_JOINER, "")
    for mark in "[]!<>`":
        unescaped = unescaped.replace("\\" + mark, mark)
    assert unescaped == typed
