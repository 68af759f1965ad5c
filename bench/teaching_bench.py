"""Benchmark: the training module (not a test).

``python bench/teaching_bench.py [--rounds 20] [--residents 50] [--attempts 200]``

Times loading and validating the case library, scoring a committed answer (engine included), the
Leitner due list, and the quiz and progress pages under AppTest against a SQLite file filled with
``--residents`` x ``--attempts`` stored attempts. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/teaching_bench.py` puts bench/, not the repository, on the path
    sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from myelo_cds.auth import User  # noqa: E402
from myelo_cds.records import Store  # noqa: E402
from myelo_cds.teaching import QuizAnswer, attempt_record, case_library, due_cases, score_answer  # noqa: E402


def _timed(call: Callable[[], object], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _row(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"| {name} | {statistics.median(times):.2f} ms | {p95:.2f} ms |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--residents", type=int, default=50)
    parser.add_argument("--attempts", type=int, default=200, help="per resident")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="teaching-bench-"))
    os.environ["MYELO_CDS_DB_PATH"] = str(folder / "records.sqlite3")
    # The pages are timed, not the sign-in: the announced development mode, as the page benchmarks.
    os.environ.setdefault("MYELO_CDS_AUTH", "none")
    store = Store(f"sqlite:///{folder / 'records.sqlite3'}")
    cases = case_library()
    rng = random.Random(5)
    pathways = ["surgical_referral", "surgery_or_structured_rehab", "surveillance", "further_workup"]
    start = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
    for resident in range(args.residents):
        for n in range(args.attempts):
            case = rng.choice(cases)
            result = score_answer(case, QuizAnswer.model_validate({"pathway": rng.choice(pathways)}))
            when = start + dt.timedelta(hours=7 * n + resident)
            store.save_training_attempt(attempt_record(case, result, f"res-{resident:03d}", when))
    one = store.training_attempts("res-000")

    def score_all() -> None:
        for case in cases:
            score_answer(case, QuizAnswer(pathway="surveillance"))

    per_case = [t / len(cases) for t in _timed(score_all, args.rounds)]
    rows = [
        _row("`case_library()` (44 files, validated)", _timed(case_library, args.rounds)),
        _row("`score_answer` (engine included), per case", per_case),
        _row(
            f"`training_attempts(one resident)` ({len(one)} rows)",
            _timed(lambda: store.training_attempts("res-000"), args.rounds),
        ),
        _row(
            "`due_cases` for one resident",
            _timed(lambda: due_cases(cases, one, dt.date(2026, 3, 1)), args.rounds),
        ),
    ]
    for page, user in (
        ("quiz.py", User(user_id="res-000", role="resident")),
        ("training_progress.py", User(user_id="res-000", role="resident")),
        ("supervisor.py", User(user_id="sup", role="clinician", supervisor=True)),
    ):
        at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=120)
        at.session_state["myelo_cds.user"] = user
        first = _timed(at.run, 1)
        assert not at.exception, at.exception
        rows.append(_row(f"page `{page}` first run", first))
        rows.append(_row(f"page `{page}` rerun", _timed(at.run, args.rounds)))
    print(f"{args.residents} residents x {args.attempts} attempts; {args.rounds} rounds\n")
    print("| measurement | median | p95 |\n|---|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
