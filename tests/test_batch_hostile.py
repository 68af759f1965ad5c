"""Hostile JSON in a batch or a registry upload (issue 14): 100k-deep nesting, a 5,000-digit
number, malformed UTF-8, a key written twice, NaN, a top level that is not an object, 5,000 keys.
Each is that line's error, named by its line number, and the batch goes on with exit 0, in
the parallel batch, the one-process batch and the registry audit alike."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from bench.generate import generate_cases
from bench.hostile_inputs import hostile_jsonl_lines
from myelo_cds.batch import audit_rows, read_upload, run_batch
from myelo_cds.findings import Findings, salvage

ROOT = Path(__file__).resolve().parents[1]

EXPECTED = [
    "nested too deeply",
    "a number of 5,000 characters",
    "not UTF-8 text",
    "patient.age_years: the key 'age_years' is written more than once",
    "NaN is not a number JSON allows",
    "the top level must be a JSON object",
    "5,000 keys in one object",
]


def _hostile_list() -> tuple[bytes, list[int]]:
    """Good cases on lines 1 and 3, then a blank line, then one hostile line of each kind with a
    good case after each; returns the file and each hostile line's number."""
    good = [json.dumps(case).encode() for case in generate_cases(len(EXPECTED) + 2, seed=5)]
    lines = [good[0], b"", good[1]]
    numbers = []
    for index, hostile in enumerate(hostile_jsonl_lines()):
        lines.append(hostile)
        numbers.append(len(lines))
        lines.append(good[index + 2])
    return b"\n".join(lines) + b"\n", numbers


@pytest.mark.parametrize("workers", [1, 2])
def test_each_hostile_line_is_its_own_error_and_the_batch_goes_on(tmp_path: Path, workers: int) -> None:
    data, numbers = _hostile_list()
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(data)
    counts = run_batch(source, target, workers=workers)
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 2 + 2 * len(EXPECTED)
    errors = [row["error"] for row in rows if row["error"]]
    assert len(errors) == len(EXPECTED) == counts["error"]
    for number, expected, error in zip(numbers, EXPECTED, errors, strict=True):
        assert error.startswith(f"line {number} is not valid JSON: "), error
        assert expected in error
        assert len(error) < 300  # the hostile value is never echoed whole
    assert all(row["pathway"] for row in rows if not row["error"])


def test_the_cli_exits_0_on_hostile_lines_with_every_row_written(tmp_path: Path) -> None:
    data, _ = _hostile_list()
    (tmp_path / "in.jsonl").write_bytes(data)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "myelo_cds",
            "batch",
            str(tmp_path / "in.jsonl"),
            "-o",
            str(tmp_path / "o.csv"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"error {len(EXPECTED)}" in result.stderr
    assert len((tmp_path / "o.csv").read_text(encoding="utf-8").splitlines()) == 1 + 2 + 2 * len(EXPECTED)


def test_the_registry_audit_reports_hostile_lines_with_their_line_numbers() -> None:
    data, numbers = _hostile_list()
    audit = audit_rows(read_upload("clinic.jsonl", data), on=dt.date(2026, 12, 1))
    errors = [row["error"] for row in audit.errors]
    assert len(errors) == len(EXPECTED)
    for number, expected, error in zip(numbers, EXPECTED, errors, strict=True):
        assert error.startswith(f"line {number} is not valid JSON: "), error
        assert expected in error
    assert len(audit.rows) == 2 + 2 * len(EXPECTED)


def test_suggestions_are_bounded_for_thousands_of_unknown_keys() -> None:
    """A pasted document of 2,000 unknown keys once cost seconds of difflib per rerun."""
    data = {"patient": {"age_years": 60}, **{f"unknwn_field_{i:05d}": i for i in range(1_999)}}
    searches: list[str] = []
    real = difflib.get_close_matches

    def counted(word: str, *args: Any, **kwargs: Any) -> list[str]:
        searches.append(word)
        return real(word, *args, **kwargs)

    with mock.patch("difflib.get_close_matches", counted):  # the module the suggestions call
        findings, problems = salvage(data)
    # The cost is bounded by construction (a few spelling searches per document), not by timing
    # one run: a timed assertion fails on a loaded machine (the bench measures speed).
    assert len(searches) <= 2 * 3
    assert isinstance(findings, Findings)
    assert len(problems) == 1_999
    hinted = [p for p in problems if "did you mean" in p.problem or "allowed fields here" in p.problem]
    assert len(hinted) == 3
    assert problems[-1].problem == "not a field of the findings"
