"""The fast batch path gives exactly what the single-case engine gives, row by row.

The batch splits the file into byte ranges for the workers and evaluates each range column
by column (myelo_cds/batch/_columnar.py): cells validated once per distinct text, rows accepted
only when the findings models would accept them, each findings section built, each part of
``observe`` and each fact function called, once per distinct combination of its values, and
the result columns computed once per distinct value of what they read (the outcome key). Each
of these must be invisible in the result: same pathway and urgency as ``assess``, the same
result row as the plain path (``evaluate_row``), the same error text for a bad row, the same
rows whatever the chunking. And the columns must really do the work: a valid row that fell
back to the plain path would hide a slow batch.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.generate import flatten, generate_cases
from myelo_cds import Findings, assess
from myelo_cds.batch import _columnar as columnar
from myelo_cds.batch import _rows as batch
from myelo_cds.batch import evaluate_row, parse_header, run_batch
from myelo_cds.rules.engine import default_engine
from myelo_cds.rules.facts import observe
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
    out: list[tuple[str, str]] = []
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


@pytest.mark.no_cover  # repeats measured code many times: see the no_cover hook in conftest
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


ON = dt.date(2026, 11, 24)


def _columns_of(rows: list[dict[str, str]]) -> list[str]:
    return list(dict.fromkeys(column for row in rows for column in row))


def _records_of(cases: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """The cases as CSV records: every column used, in first-use order, and each row's cells."""
    rows = [flatten(case) for case in cases]
    columns = _columns_of(rows)
    return columns, [[row.get(column, "") for column in columns] for row in rows]


def _chunk(columns: list[str], records: list[list[str]]) -> columnar.ChunkResult:
    plan = batch._plan(parse_header(columns), ON)
    assert plan is not None
    assert plan.engine is default_engine()
    return columnar.evaluate_chunk(plan, columnar.table_of_cells(records, len(columns)), skip_blank=False)


def _plain_rows(columns: list[str], records: list[list[str]]) -> list[dict[str, Any]]:
    header = parse_header(columns)
    return [evaluate_row(number, cells, ON, header) for number, cells in enumerate(records, start=1)]


def test_generated_rows_are_all_evaluated_by_the_columns_with_the_plain_result() -> None:
    """Every valid generated row is accepted by the columns and gets the plain path's row."""
    cases = list(generate_cases(2000, seed=9))
    columns, records = _records_of(cases)
    assert _chunk(columns, records).accepted.all()
    got = [out for out, _ in batch.evaluate_table(parse_header(columns), records, ON)]
    assert got == _plain_rows(columns, records)


@pytest.mark.no_cover  # repeats measured code many times: see the no_cover hook in conftest
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(any_findings_dicts(), min_size=1, max_size=8))
def test_any_valid_rows_get_the_engines_decision(cases: list[dict[str, Any]]) -> None:
    """Hypothesis lists of findings (with unknowns anywhere), every row through the columns."""
    columns, records = _records_of(cases)
    assert _chunk(columns, records).accepted.all()
    results = [out for out, _ in batch.evaluate_table(parse_header(columns), records, ON)]
    assert results == _plain_rows(columns, records)
    for case, out in zip(cases, results, strict=True):
        recommendation = assess(Findings.model_validate(case), None if case.get("assessment_date") else ON)
        assert (out["pathway"], out["urgency"]) == (recommendation.pathway, recommendation.urgency)
        assert out["provisional"] == ("yes" if recommendation.provisional else "")
        assert out["deciding_rules"] == ";".join(
            rule.id for rule in recommendation.rules_fired if rule.kind == "pathway"
        )
        assert out["flags"] == ";".join(flag.id for flag in recommendation.flags)
        assert out["differentials"] == ";".join(item.id for item in recommendation.differentials)


def _at(findings: Findings, path: str) -> Any:
    value: Any = findings
    for name in path.split("."):
        value = getattr(value, name)
    return value


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_findings_dicts(), st.dates(dt.date(2000, 1, 1), dt.date(2040, 12, 31)))
def test_the_parts_the_columns_call_make_up_observe(case: dict[str, Any], on: dt.date) -> None:
    """The columns call the parts of ``observe`` themselves, once per distinct value of the
    fields each reads (dotted paths): merged in order, their leaves are ``observe``'s, value
    for value and in the same order."""
    findings = Findings.model_validate(case)
    params = default_engine().params
    merged: dict[str, Any] = {}
    for _, fields, read in columnar.observe_parts(params):
        merged.update(read(*(on if name == columnar.ON else _at(findings, name) for name in fields)))
    leaves = observe(findings, params, on)
    missing, extra = sorted(leaves.keys() - merged.keys()), sorted(merged.keys() - leaves.keys())
    assert not missing, f"observe reads these leaves outside columnar.observe_parts: {missing}"
    assert not extra, f"columnar.observe_parts gives leaves observe does not: {extra}"
    assert list(merged.items()) == list(leaves.items())


# Cell texts that are wrong for some fields and right for others (range, type, enum, date,
# list), and empty cells (a required field left out, a section dropped).
_ODD_CELLS = st.sampled_from(
    [
        "",
        " ",
        "9",
        "-1",
        "3.0",
        "seven",
        "true",
        "no",
        "2020-13-01",
        "2026-12-31",
        "ue_motor;nonsense",
        "sharp",
    ]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(any_findings_dicts(), min_size=1, max_size=6), st.data())
def test_rows_with_odd_cells_are_accepted_only_when_the_models_accept_them(
    cases: list[dict[str, Any]], data: st.DataObject
) -> None:
    """Damaged cells anywhere: the columns accept exactly the valid rows, and every row gets
    the plain path's result (a refused row goes there and keeps its exact message)."""
    columns, records = _records_of(cases)
    for record in records:
        for _ in range(data.draw(st.integers(0, 3))):
            record[data.draw(st.integers(0, len(columns) - 1))] = data.draw(_ODD_CELLS)
    header = parse_header(columns)
    plain = _plain_rows(columns, records)
    accepted = _chunk(columns, records).accepted.tolist()
    assert accepted == [not row["error"] for row in plain]
    assert [out for out, _ in batch.evaluate_table(header, records, ON)] == plain


def test_cross_field_checks_are_the_model_validators() -> None:
    """Rows refused by a model validator (not by a cell) are refused by the columns too."""
    good = flatten(next(iter(generate_cases(1, seed=3))))
    variants = []
    rehab = {**good, "patient.management": "supervised_rehabilitation", "patient.management_since": ""}
    variants.append(rehab)
    variants.append({**good, "mri.available": "false", "mri.opll": "true"})
    no_scan = {column: "" for column in good if column.startswith("mri.")}
    variants.append({**good, **no_scan, "mri.available": "false", "mri.opll": "false"})  # "no" is no finding
    variants.append({**good, "assessment_date": "2025-01-01", "earlier_mjoa.date": "2025-06-01"})
    variants.append({**good, "mjoa.ue_motor": ""})  # a required item of a given section
    variants.append(good)
    columns = _columns_of(variants)
    records = [[row.get(column, "") for column in columns] for row in variants]
    plain = _plain_rows(columns, records)
    assert [bool(row["error"]) for row in plain] == [True, True, False, True, True, False]
    assert _chunk(columns, records).accepted.tolist() == [not row["error"] for row in plain]


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
    monkeypatch.setattr(batch, "_CSV_CHUNK_BYTES", 97)
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


@pytest.mark.no_cover  # repeats measured code many times: see the no_cover hook in conftest
@pytest.mark.parametrize("size", [97, 4000, 1 << 20])
def test_plain_chunks_of_any_size_give_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """Unquoted CSV (the columnar path) split anywhere between records gives the same file."""
    monkeypatch.setattr(batch, "_CSV_CHUNK_BYTES", size)
    cases = list(generate_cases(300, seed=4))
    rows = [flatten(case) for case in cases]
    rows[7]["patient.age_years"] = "200"  # a bad row among good ones
    columns = _columns_of(rows)
    source = tmp_path / "clinic.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        handle.write(" , ,\n")  # a blank record is skipped
    target = tmp_path / "out.csv"
    run_batch(source, target, workers=2, on=ON)
    header = parse_header(columns)
    expected = [
        {
            key: str(value)
            for key, value in evaluate_row(n, [r.get(c, "") for c in columns], ON, header).items()
        }
        for n, r in enumerate(rows, start=1)
    ]
    assert _batch_rows(target) == expected


@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 2), st.integers(0, 40), st.integers(0, 3)),
        min_size=1,
        max_size=60,
    ),
    st.integers(1, 40),
)
@settings(max_examples=60, deadline=None)
def test_packed_keys_group_rows_exactly_as_sorting_the_rows_of_codes(
    rows: list[tuple[int, ...]], width: int
) -> None:
    """``_distinct_rows`` (codes packed into one integer, re-ranked when the next would not
    fit) finds the same groups as ``np.unique(..., axis=0)``; narrow key budgets force the
    re-ranking."""
    import numpy as np

    table = np.asarray(rows, np.int32)
    codes = [table[:, index] for index in range(table.shape[1])]
    bits = [max(1, int(column.max()).bit_length()) for column in codes]
    original = columnar._KEY_BITS
    try:
        columnar._KEY_BITS = max(width, max(bits) + len(rows).bit_length())
        first, inverse = columnar._distinct_rows(codes, bits)
    finally:
        columnar._KEY_BITS = original
    assert len(first) == len({tuple(row) for row in rows})
    for row, group in zip(rows, inverse.tolist(), strict=True):
        assert tuple(table[first[group]]) == row


def test_sections_built_by_copy_equal_the_validated_findings_sections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A section is a copy of one model made once with every field, updated with the row's
    values: equal to the section the findings model validates from the same row (what the
    leaves functions read), with every field set, as ``model_construct`` of them all gives."""
    cases = list(generate_cases(300, seed=11))
    rows = [flatten(case) for case in cases]
    columns = list(dict.fromkeys(column for row in rows for column in row))
    header = parse_header(columns)
    cells = [[row.get(column, "") for column in columns] for row in rows]
    plan = columnar.compile_plan(header, default_engine(), dt.date(2025, 1, 1))
    assert plan is not None
    built: dict[str, list[Any]] = {}
    original = columnar._section_column

    def capture(section: Any, columns_: Any, given: Any) -> Any:
        result = original(section, columns_, given)
        built[section.path] = [result.dictionary.values[code] for code in result.codes.tolist()]
        return result

    monkeypatch.setattr(columnar, "_section_column", capture)
    chunk = columnar.evaluate_chunk(plan, columnar.table_of_cells(cells, len(columns)), skip_blank=False)
    assert chunk.accepted.all()
    for path in ("mri", "symptoms", "mjoa", "exam.reflexes"):
        assert len(built[path]) == len(cells)
        for row, section in zip(cells, built[path], strict=True):
            expected: Any = Findings.model_validate(batch.cells_to_findings(header, row))
            for name in path.split("."):
                expected = getattr(expected, name)
            assert section == expected
            if section is not None:
                assert section.model_fields_set == set(type(section).model_fields)


@pytest.mark.parametrize("enabled", [True, False])
def test_a_range_is_evaluated_with_the_cycle_collector_paused_and_then_restored(
    enabled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker pauses Python's cycle collector for one byte range only: it is back as it
    was afterwards, also when the range fails."""
    import gc

    seen: list[bool] = []

    def evaluate(job: Any) -> Any:
        seen.append(gc.isenabled())
        if job == "fail":
            raise RuntimeError("a failed range")
        return [], {}

    monkeypatch.setattr(batch, "_evaluate_range", evaluate)
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        batch._work("ok")  # type: ignore[arg-type]
        assert gc.isenabled() is enabled
        with pytest.raises(RuntimeError):
            batch._work("fail")  # type: ignore[arg-type]
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert seen == [False, False]


def test_a_split_part_with_more_distinct_values_than_its_first_table_keeps_every_leaf() -> None:
    """A part that meets more distinct values than the split's first table holds (1,024) grows
    the table and keeps the codes already given."""
    split = columnar._Split(("a", "b"))
    part = columnar._Dictionary(key=repr)
    first = [part.code({"a": n, "b": n % 7}) for n in range(1000)]
    before = split(columnar._Col(np.array(first, np.int32), part))
    more = [part.code({"a": n, "b": n % 7}) for n in range(3000)]
    after = split(columnar._Col(np.array(more, np.int32), part))
    for columns, count in ((before, 1000), (after, 3000)):
        assert [columns["a"].dictionary.values[c] for c in columns["a"].codes] == list(range(count))
        assert [columns["b"].dictionary.values[c] for c in columns["b"].codes] == [
            n % 7 for n in range(count)
        ]
