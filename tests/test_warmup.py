"""A replica is ready only when warm: readiness waits for the start-up warm-up (issue 17).

``asgi.py`` starts the warm-up (engine and rule set on the example cases, then every module the
router and the pages import) in a thread when the server starts; ``GET /readyz`` answers 503
``warming up`` until it finished, and 503 ``warm-up failed`` if a step failed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from myelo_cds.service import health, warmup
from tests.e2e.live_app import live_server

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fresh_state(monkeypatch: pytest.MonkeyPatch, database: object) -> warmup.WarmUp:
    """A warm-up not yet started, in place of this process's, and a reachable empty database."""
    state = warmup.WarmUp()
    monkeypatch.setattr(warmup, "STATE", state)
    return state


def _readyz() -> tuple[int, dict[str, str]]:
    answer = TestClient(Starlette(routes=health.routes)).get(health.READINESS_PATH)
    return answer.status_code, answer.json()


def test_readiness_waits_until_the_warm_up_has_finished(fresh_state: warmup.WarmUp) -> None:
    assert _readyz() == (503, {"status": "not ready", "reason": "warming up"})  # not started yet
    release = threading.Event()
    fresh_state.start([lambda: release.wait(10)])
    assert fresh_state.started
    assert _readyz() == (503, {"status": "not ready", "reason": "warming up"})
    release.set()
    assert fresh_state.wait(10)
    assert fresh_state.ready
    assert _readyz() == (200, {"status": "ready", "database": "sqlite"})


def test_a_failed_warm_up_keeps_the_replica_not_ready_and_says_which_step(
    fresh_state: warmup.WarmUp,
) -> None:
    def load_rules() -> None:
        raise FileNotFoundError("/secret/path/dcm_rules.toml")

    after: list[bool] = []
    fresh_state.start([load_rules, lambda: after.append(True)], then=lambda: after.append(False))
    assert fresh_state.wait(10)
    assert after == [False]  # the steps after the failure are skipped; ``then`` still runs
    status, answer = _readyz()
    assert status == 503
    assert answer == {"status": "not ready", "reason": "warm-up failed (FileNotFoundError in load_rules)"}
    assert "secret" not in json.dumps(answer)  # the kind of failure only, never its text


def test_the_warm_up_starts_once_per_process(fresh_state: warmup.WarmUp) -> None:
    runs: list[int] = []
    first = fresh_state.start([lambda: runs.append(1)])
    assert fresh_state.start([lambda: runs.append(2)]) is first
    first.join(10)
    assert runs == [1]


def test_the_engine_warm_up_assesses_every_example_case() -> None:
    assert warmup.warm_engine() == len(list((ROOT / "data" / "examples").glob("*.json"))) > 0


def test_script_imports_lists_modules_and_submodules_but_imports_only_modules(tmp_path: Path) -> None:
    script = tmp_path / "page.py"
    script.write_text(
        "import json\nimport email.mime.text as text\nfrom os import path\nfrom email import message, utils\n"
        "from json import loads\nfrom . import sibling\nfrom collections import *\n"
    )
    assert warmup.script_imports([script]) == [
        "json",
        "email.mime.text",
        "os",
        "os.path",
        "email",
        "email.message",
        "email.utils",
        "json.loads",
        "collections",
    ]
    # ``json.loads`` is a function, ``os.path`` is found as a module attribute: neither fails.
    imported = warmup.import_script_modules([script])
    assert "json.loads" not in imported
    assert {"json", "email.mime.text", "email.message", "email.utils", "collections"} <= set(imported)
    script.write_text("from json import no_such_module\n")
    with pytest.raises(ModuleNotFoundError):
        warmup.import_script_modules([script])


def test_the_entry_point_warms_every_module_the_router_and_the_pages_import() -> None:
    # In a fresh interpreter: modules this test process already imported would prove nothing,
    # and importing asgi.py here would pin Streamlit's script path for the other tests.
    command = (
        "import json, sys, asgi; asgi.warm_page_modules(); "
        "from myelo_cds.service import warmup; "
        "missing = [m for m in warmup.script_imports(asgi.SCRIPTS) if m not in sys.modules "
        "and not hasattr(sys.modules[m.rpartition('.')[0]], m.rpartition('.')[2])]; "
        "print(json.dumps([sorted(path.name for path in asgi.SCRIPTS), missing]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    scripts, missing = json.loads(out.stdout.strip().splitlines()[-1])
    assert scripts == sorted(["app.py", *(path.name for path in (ROOT / "pages").glob("*.py"))])
    assert missing == []


def _status(url: str) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_served_replica_turns_ready_only_after_its_warm_up() -> None:
    """The real entry point: live while warming, never ready when the warm-up cannot finish (a
    missing rule set here), and ready once it has."""
    folder = Path(tempfile.mkdtemp(prefix="myelo-cds-warmup-"))
    broken = {"MYELO_CDS_DATA": str(folder / "no-data")}
    with live_server(folder / "broken.log", script="asgi.py", db_path=folder / "a.sqlite3", env=broken,
                     wait_ready=False) as server:  # fmt: skip
        deadline = time.monotonic() + 60
        status, answer = _status(f"{server.url}/readyz")
        while answer["reason"] == "warming up" and time.monotonic() < deadline:
            time.sleep(0.1)
            status, answer = _status(f"{server.url}/readyz")
        assert status == 503
        assert answer["reason"].startswith("warm-up failed ("), answer
        assert urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=10).read() == b"ok"
    with live_server(folder / "good.log", script="asgi.py", db_path=folder / "b.sqlite3") as server:
        assert _status(f"{server.url}/readyz") == (200, {"status": "ready", "database": "sqlite"})
