"""Where the time of one consult change goes: server script, messages, browser (issue 16).

    python bench/latency_breakdown.py [--rounds 20] [--profile 25] [--page consult|bare]

The same change as ``bench/page_latency.py`` (the mJOA lower-extremity item flipped between 6
and 5 after the same mild case is entered), timed inside Chromium on one clock:

* **click**: the option's ``click()`` in the page (``performance.now()``);
* **server**: the script run's wall and CPU time (thread time), measured in the server by a
  wrapper around Streamlit's script runner (installed by a ``sitecustomize`` in a temporary
  folder on ``PYTHONPATH``, so nothing in the app changes); its start and end are placed on the
  browser's clock through the wall clock both share;
* **messages**: every websocket message the browser receives for the change, decoded
  (``ForwardMsg``): how many deltas, of which kind, and how many bytes;
* **render**: from the last message (``script_finished``) to the result bar holding the new
  answer, and the next animation frame (a paint); long tasks (> 50 ms) of the main thread
  between the click and the paint.

``BY_FRAGMENT=1`` in the environment counts the delta kinds per fragment (by its id).

``--profile N``: also prints the top ``N`` functions of the server's script runs by cumulative
time (``cProfile`` in the script thread; a separate run, as profiling slows the script).
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import os
import pstats
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MYELO_CDS_AUTH", "none")
sys.path.insert(0, str(ROOT))
from bench.page_latency import LE_OPTIONS, _prepare  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402
from tests.e2e.live_app import live_app  # noqa: E402

# The server side: each script run's start (epoch seconds), wall and CPU time, appended as one
# JSON line to $MYELO_BENCH_RUNS; with $MYELO_BENCH_PROFILE, the runs' cProfile stats there.
_SITECUSTOMIZE = textwrap.dedent(
    """
    import json, os, time

    if os.environ.get("MYELO_BENCH_RUNS"):
        from streamlit.runtime.scriptrunner import script_runner

        _original = script_runner.ScriptRunner._run_script
        _profile = None
        if os.environ.get("MYELO_BENCH_PROFILE"):
            import cProfile

            _profile = cProfile.Profile()

        def _timed(self, rerun_data):
            start, cpu = time.time(), time.thread_time()
            if _profile is not None:
                _profile.enable()
            try:
                return _original(self, rerun_data)
            finally:
                if _profile is not None:
                    _profile.disable()
                    _profile.dump_stats(os.environ["MYELO_BENCH_PROFILE"])
                line = {
                    "start": start,
                    "wall": time.time() - start,
                    "cpu": time.thread_time() - cpu,
                    "fragment": bool(rerun_data.fragment_id_queue),
                }
                with open(os.environ["MYELO_BENCH_RUNS"], "a") as out:
                    out.write(json.dumps(line) + "\\n")

        script_runner.ScriptRunner._run_script = _timed
    """
)

# The browser side: every websocket message's arrival (before Streamlit handles it), its bytes,
# and the main thread's long tasks.
_INIT = """
(() => {
  window.__lat = {frames: [], longtasks: []};
  const Original = window.WebSocket;
  class Timed extends Original {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        window.__lat.frames.push({t: performance.now(), data: event.data});
      });
    }
  }
  window.WebSocket = Timed;
  try {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries())
        window.__lat.longtasks.push([entry.startTime, entry.duration]);
    }).observe({type: "longtask", buffered: true});
  } catch (error) { /* no long-task timing in this browser */ }
})();
"""

# One change, timed in the page: click the option, wait until the result bar (or the bare
# page's echo) holds the expected text, then one animation frame (the paint).
_ROUND = """
async ([selector, option, where, text]) => {
  const lat = window.__lat;
  const first = lat.frames.length;
  const button = [...document.querySelectorAll(selector + ' [role="radio"]')]
    .find((b) => b.innerText.trim().startsWith(option));
  const found = () => [...document.querySelectorAll(where)].some((e) => e.innerText.includes(text));
  const done = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (found()) { observer.disconnect(); resolve(performance.now()); }
    });
    observer.observe(document.body, {childList: true, subtree: true, characterData: true});
  });
  const click = performance.now();
  button.click();
  const shown = await done;
  const painted = await new Promise(
    (resolve) => requestAnimationFrame(() => setTimeout(() => resolve(performance.now()), 0)));
  await new Promise((resolve) => setTimeout(resolve, 300));  // late messages of this run
  const toBase64 = (buffer) => {
    const bytes = new Uint8Array(buffer);
    let s = "";
    for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
    return btoa(s);
  };
  const frames = lat.frames.slice(first).map((f) => ({t: f.t, b64: toBase64(f.data)}));
  const longtasks = lat.longtasks.filter(([start]) => start >= click && start <= painted);
  return {click, shown, painted, frames, longtasks, origin: performance.timeOrigin};
}
"""


_BY_FRAGMENT = os.environ.get("BY_FRAGMENT") == "1"  # delta kinds counted per fragment


def _decode(b64: str) -> tuple[str, list[str], int]:
    """A message's type, its delta kinds, and its size in bytes."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    raw = base64.b64decode(b64)
    message = ForwardMsg.FromString(raw)
    kind = message.WhichOneof("type") or "?"
    deltas: list[str] = []
    if kind == "delta":
        delta = message.delta
        inner = delta.WhichOneof("type") or "?"
        if inner == "new_element":
            inner = "element:" + (delta.new_element.WhichOneof("type") or "?")
        deltas.append(f"{inner} (fragment {delta.fragment_id[:6]})" if _BY_FRAGMENT else inner)
    return kind, deltas, len(raw)


def _one_round(page: Page, score: int, where: str, text: str) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(
        _ROUND, [".st-key-f-mjoa-le_motor", LE_OPTIONS[score][:3], where, text]
    )
    return result


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def measure(page: Page, url: str, rounds: int, runs_file: Path, bare: bool) -> None:
    _prepare(page, url)
    where = '[data-testid="stAlertContentSuccess"]' if bare else ".st-key-result_bar"
    texts = {5: "le_motor = 5", 6: "le_motor = 6"} if bare else {5: "mJOA 14/18", 6: "mJOA 15/18"}
    rows: list[dict[str, float]] = []
    kinds: collections.Counter[str] = collections.Counter()
    for index in range(rounds + 3):
        score = 5 if index % 2 == 0 else 6
        done_runs = len(runs_file.read_text().splitlines()) if runs_file.exists() else 0
        result = _one_round(page, score, where, texts[score])
        page.wait_for_timeout(200)
        runs = [json.loads(line) for line in runs_file.read_text().splitlines()[done_runs:]]
        if index < 3:
            continue
        origin, click = result["origin"], result["click"]
        frames = result["frames"]
        decoded = [_decode(frame["b64"]) for frame in frames]
        finished = [f["t"] for f, d in zip(frames, decoded, strict=True) if d[0] == "script_finished"]
        last = finished[-1] if finished else frames[-1]["t"]
        deltas = [kind for _, ds, _ in decoded for kind in ds]
        kinds.update(deltas)
        server_start = min(run["start"] for run in runs) * 1000 - origin - click if runs else float("nan")
        rows.append(
            {
                "total": result["painted"] - click,
                "shown": result["shown"] - click,
                "server_start": server_start,
                "server_wall": sum(run["wall"] for run in runs) * 1000,
                "server_cpu": sum(run["cpu"] for run in runs) * 1000,
                "runs": len(runs),
                "fragment": sum(run["fragment"] for run in runs),
                "first_msg": frames[0]["t"] - click if frames else float("nan"),
                "last_msg": last - click,
                "after_last_msg": result["painted"] - last,
                "messages": len(frames),
                "deltas": len(deltas),
                "kbytes": sum(d[2] for d in decoded) / 1024,
                "longtask_ms": sum(duration for _, duration in result["longtasks"]),
                "longtasks": len(result["longtasks"]),
            }
        )
    print(f"\n### {'bare form' if bare else 'consult'}: medians over {len(rows)} changes\n")
    print("| measure | median | min | max |")
    print("|---|---:|---:|---:|")
    for name in rows[0]:
        values = [row[name] for row in rows]
        print(f"| {name} | {_median(values):.1f} | {min(values):.1f} | {max(values):.1f} |")
    print(
        "\ndelta kinds per change (mean): "
        + ", ".join(f"{k} {v / len(rows):.1f}" for k, v in kinds.most_common())
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--profile", type=int, default=0, help="top N functions by cumulative time")
    parser.add_argument("--page", choices=("consult", "bare", "both"), default="both")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="latency-breakdown-"))
    (folder / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    runs_file = folder / "runs.jsonl"
    profile_file = folder / "profile.pstats"
    env = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")])),
        "MYELO_BENCH_RUNS": str(runs_file),
    }
    if args.profile:
        env["MYELO_BENCH_PROFILE"] = str(profile_file)
    with (
        live_app(
            folder / "records.sqlite3", folder / "server.log", script="bench/bench_app.py", env=env
        ) as url,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        pages = {"consult": (url, False), "bare": (f"{url}/bare", True)}
        for name in ("consult", "bare") if args.page == "both" else (args.page,):
            page = browser.new_page(viewport={"width": 1366, "height": 1400})
            page.add_init_script(_INIT)
            target, bare = pages[name]
            measure(page, target, args.rounds, runs_file, bare)
            page.close()
        browser.close()
    if args.profile:
        print(f"\n### server profile (all script runs, cumulative), top {args.profile}\n")
        stats = pstats.Stats(str(profile_file))
        stats.sort_stats("cumulative").print_stats(args.profile)


if __name__ == "__main__":
    main()
