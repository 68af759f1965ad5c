"""The fast batch path gives exactly what the single-case engine gives, row by row.

The batch reuses validated sections between rows (myelo_cds/row_builder.py), reads leaves
once per shared section (facts.SectionMemo) and splits the file into byte ranges for the
workers. Each of these must be invisible in the result: same findings, same pathway and
urgency as ``assess``, same error text for a bad row, same rows whatever the chunking.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.generate import flatten, generate_cases
from myelo_cds import Findings, assess, batch
from myelo_cds.batch import cells_to_findings, evaluate_row, parse_header, run_batch
from myelo_cds.row_builder import compile_header
from tests.strategies import any_findings_dicts

ROOT = Path(__file__).resolve().parents[1]
VALIDATION = sorted((ROOT / "data" / "validation").glob("*.json"))


def _write_csv(path: Path, cases: list[dict[str, Any]]) -> list[str]:
    rows = [flatten(case) for case in cases]
    columns = list(dict.fromkeys(column for row in rows for column in row))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return columns


def _assess_all(cases: list[dict[str, Any]]) -> list[tuple[str, str]]:
    out = []
    for case in cases:
        recommendation = assess(Findings.model_validate(case))
        out.append((recommendation.pathway, recommendation.urgency))
    return out


def _batch_rows(target: Path) -> list[dict[str, Any]]:
    if target.suffix == ".csv":
        return list(csv.DictReader(target.open(encoding="utf-8")))
    return [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize(("suffix", "workers"), [(".csv", 2), (".jsonl", 2), (".csv", 1)])
def test_validation_cases_get_the_single_case_pathway_and_urgency(
    tmp_path: Path, suffix: str, workers: int
) -> None:
    cases = [json.loads(path.read_text())["findings"] for path in VALIDATION]
    expected = [json.loads(path.read_text())["expected"] for path in VALIDATION]
    source = tmp_path / f"cases{suffix}"
    if suffix == ".csv":
        _write_csv(source, cases)
    else:
        source.write_text("".join(json.dumps(case) + "\n" for case in cases))
    target = tmp_path / "out.csv"
    run_batch(source, target, workers=workers)
    rows = _batch_rows(target)
    assert [(row["pathway"], row["urgency"]) for row in rows] == _assess_all(cases)
    assert [row["pathway"] for row in rows] == [case["pathway"] for case in expected]
    assert [row["row"] for row in rows] == [str(n) for n in range(1, len(cases) + 1)]


def test_generated_clinic_list_matches_assess_row_by_row(tmp_path: Path) -> None:
    cases = list(generate_cases(3000, seed=5))
    source, target = tmp_path / "clinic.csv", tmp_path / "out.jsonl"
    _write_csv(source, cases)
    counts = run_batch(source, target, workers=2)
    rows = _batch_rows(target)
    assert [(row["pathway"], row["urgency"]) for row in rows] == _assess_all(cases)
    assert [row["case_id"] for row in rows] == [case["case_id"] for case in cases]
    assert sum(counts.values()) == len(cases)
    assert "error" not in counts


def test_sections_reused_between_rows_build_the_same_findings() -> None:
    """The compiled header builds findings equal to the plain path's, row after row."""
    cases = list(generate_cases(2000, seed=9))
    rows = [flatten(case) for case in cases]
    columns = list(dict.fromkeys(column for row in rows for column in row))
    header = parse_header(columns)
    builder = compile_header(header)
    assert builder is not None
    for row in rows:
        cells = [row.get(column, "") for column in columns]
        assert builder.findings(cells) == Findings.model_validate(cells_to_findings(header, cells))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(any_findings_dicts(), min_size=1, max_size=8))
def test_any_valid_rows_get_the_engines_decision(cases: list[dict[str, Any]]) -> None:
    """Hypothesis lists of findings (with unknowns anywhere) through the fast row path."""
    rows = [flatten(case) for case in cases]
    columns = list(dict.fromkeys(column for row in rows for column in row))
    header = parse_header(columns)
    compiled = batch._builder(header)
    for case, row in zip(cases, rows, strict=True):
        cells = [row.get(column, "") for column in columns]
        out = batch._evaluate_cells(cells, header, compiled, None)
        findings = Findings.model_validate(case)
        recommendation = assess(findings)
        assert (out["pathway"], out["urgency"]) == (recommendation.pathway, recommendation.urgency)
        assert out["deciding_rules"] == ";".join(
            rule.id for rule in recommendation.rules_fired if rule.kind == "pathway"
        )
        assert out["flags"] == ";".join(flag.id for flag in recommendation.flags)


def test_bad_rows_carry_the_plain_paths_message_and_never_stop_the_rest(tmp_path: Path) -> None:
    good = next(iter(generate_cases(1, seed=3)))
    bad_values = [
        ("mjoa.ue_motor", "9"),
        ("patient.age_years", "-4"),
        ("mri.levels.C5-C6.kang", "seven"),
        ("patient.management", "supervised_rehabilitation"),  # without its start date
        ("assessment_date", "2020-13-01"),
    ]
    cases = []
    for column, value in bad_values:
        row = flatten(good)
        row[column] = value
        if column == "patient.management":
            row.pop("patient.management_since", None)
        cases.append(row)
    cases.insert(2, flatten(good))
    columns = list(dict.fromkeys(column for row in cases for column in row))
    source = tmp_path / "clinic.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(cases)
    target = tmp_path / "out.csv"
    run_batch(source, target, workers=2)
    rows = _batch_rows(target)
    header = parse_header(columns)
    for number, (row, case) in enumerate(zip(rows, cases, strict=True), start=1):
        plain = evaluate_row(number, [case.get(column, "") for column in columns], None, header)
        assert row["error"] == plain["error"]
        assert row["pathway"] == plain["pathway"]
    assert [bool(row["error"]) for row in rows] == [True, True, False, True, True, True]


def test_chunking_never_splits_a_quoted_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Byte ranges end only between records, even with a line break inside a quoted cell."""
    monkeypatch.setattr(batch, "_CHUNK_BYTES", 97)
    cases = list(generate_cases(40, seed=2))
    rows = [flatten(case) for case in cases]
    for index in range(0, len(rows), 3):
        rows[index]["case_id"] = f"multi\nline{index}"  # invalid id: reported, with its text
    columns = list(dict.fromkeys(column for row in rows for column in row))
    source = tmp_path / "clinic.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        handle.write("\ufeff")  # a spreadsheet's byte-order mark does not spoil the first column
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
        handle.write(",,,\r\n")  # a blank record is skipped
    target = tmp_path / "out.csv"
    run_batch(source, target, workers=2, on=dt.date(2026, 11, 24))
    out = _batch_rows(target)
    assert len(out) == len(rows)
    header = parse_header(columns)
    for number, (got, row) in enumerate(zip(out, rows, strict=True), start=1):
        plain = evaluate_row(
            number, [row.get(column, "") for column in columns], dt.date(2026, 11, 24), header
        )
        assert (got["pathway"], got["urgency"], got["error"]) == (
            plain["pathway"],
            plain["urgency"],
            plain["error"],
        )
    assert "case_id" in out[0]["error"]
