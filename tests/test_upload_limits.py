"""One loader for clinic lists (issue 14: "a 0.25 MB .xlsx took a replica for 132 s"): hostile
workbooks and headers are refused quickly, before openpyxl reads a sheet, with a message naming
the limit; the page and ``batch`` read through it and refuse the same files the same way."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openpyxl import Workbook

from bench.generate import flatten, generate_cases
from bench.hostile_inputs import row_jump_xlsx, wide_xlsx, xlsx
from myelo_cds.batch import UploadError, UploadLimits, read_upload
from myelo_cds.batch._loader import check_header, check_xlsx

ROOT = Path(__file__).resolve().parents[1]


def _refused(name: str, data: bytes, limits: UploadLimits | None = None) -> tuple[str, float]:
    started = time.perf_counter()
    with pytest.raises(UploadError) as caught:
        read_upload(name, data, limits) if limits else read_upload(name, data)
    return str(caught.value), time.perf_counter() - started


def test_a_real_16384_column_workbook_from_openpyxl_is_refused_before_its_rows_are_read() -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append([f"c{i}" for i in range(16_384)])
    for _ in range(3):
        sheet.append([1] * 16_384)
    data = io.BytesIO()
    book.save(data)
    message, seconds = _refused("clinic.xlsx", data.getvalue())
    assert "columns wide; at most 400 are read" in message
    assert seconds < 1.0


@pytest.mark.parametrize("declare", [True, False], ids=["declared-dimension", "first-row-only"])
def test_16384_columns_are_refused_from_the_dimension_or_the_first_row(declare: bool) -> None:
    message, seconds = _refused("clinic.xlsx", wide_xlsx(16_384, 3, declare=declare))
    assert "columns wide; at most 400 are read" in message
    assert seconds < 0.5


def test_the_issues_0_25_mb_workbook_is_refused_on_its_compression_ratio_at_once() -> None:
    data = wide_xlsx(16_384, 500)  # about 0.3 MB holding 130 MB of sheet XML
    assert len(data) < 400_000
    message, seconds = _refused("clinic.xlsx", data)
    assert "compressed" in message
    assert "at most 100 to 1" in message
    assert seconds < 0.2


def test_declared_inflated_size_over_the_limit_is_refused() -> None:
    data = xlsx([["case_id", "patient.age_years"], ["A1", 64]])
    message, _ = _refused("clinic.xlsx", data, UploadLimits(max_inflated_bytes=1_000))
    assert "would inflate to" in message


def test_a_sheet_that_jumps_to_row_1048576_stops_at_the_row_budget() -> None:
    message, seconds = _refused("clinic.xlsx", row_jump_xlsx())
    assert "more than 100,000 rows" in message
    assert seconds < 5.0


def test_the_cell_budget_stops_a_sheet_while_it_is_streamed() -> None:
    rows: list[list[object]] = [["case_id", "patient.age_years"], *(["A1", 64] for _ in range(20))]
    message, _ = _refused("clinic.xlsx", xlsx(rows), UploadLimits(max_cells=30))
    assert "more than 30 cells" in message


def test_a_document_type_declaration_is_refused() -> None:
    data = xlsx([["case_id"], ["A1"]], prolog='<!DOCTYPE w [<!ENTITY a "aaaaaaaa">]>')
    message, _ = _refused("clinic.xlsx", data)
    assert "document type" in message


def test_a_workbook_of_the_right_shape_is_read_with_trailing_empty_columns_dropped() -> None:
    upload = read_upload("clinic.xlsx", xlsx([["case_id", "patient.age_years", None], ["A1", 64, None]]))
    assert upload.columns == ["case_id", "patient.age_years"]
    assert upload.records == [["A1", "64"]]


def test_an_unknown_header_is_refused_once_with_a_few_suggestions() -> None:
    columns = ["case_id", "patient.age_yeers", *(f"junk{i}" for i in range(300))]
    data = (",".join(columns) + "\n" + ",".join(["A1"] * len(columns)) + "\n").encode()
    message, seconds = _refused("clinic.csv", data)
    assert message.startswith("unknown columns: 'patient.age_yeers' (did you mean 'age_years'?)")
    assert message.count("did you mean") + message.count("allowed fields here") == 3
    assert "and 298 more" in message
    assert seconds < 0.5


def test_too_many_columns_and_a_column_named_twice_are_refused() -> None:
    with pytest.raises(UploadError, match="401 columns; at most 400"):
        check_header(["case_id"] * 401)
    with pytest.raises(UploadError, match="'case_id' is named twice"):
        check_header(["case_id", "patient.age_years", "case_id"])


def test_a_csv_over_the_cell_budget_is_refused() -> None:
    data = b"case_id,patient.age_years\n" + b"A1,64\n" * 20
    message, _ = _refused("clinic.csv", data, UploadLimits(max_cells=30))
    assert "more than 30 cells" in message


def test_a_damaged_archive_is_refused_with_the_usual_message() -> None:
    with pytest.raises(UploadError, match="not a readable Excel"):
        check_xlsx(b"PK\x03\x04 truncated")


# --- batch reads through the same loader --------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "myelo_cds", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_batch_reads_a_workbook_with_the_same_results_as_its_csv(tmp_path: Path) -> None:
    rows = [flatten(case) for case in generate_cases(10, seed=3)]
    columns = list(dict.fromkeys(column for row in rows for column in row))
    (tmp_path / "in.xlsx").write_bytes(xlsx([columns, *([row.get(c, "") for c in columns] for row in rows)]))
    with (tmp_path / "in.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    for name in ("in.xlsx", "in.csv"):
        result = _cli(
            "batch", str(tmp_path / name), "-o", str(tmp_path / f"{name}.out.csv"), "--date", "2026-12-01"
        )
        assert result.returncode == 0, result.stderr
    from_excel = (tmp_path / "in.xlsx.out.csv").read_text(encoding="utf-8")
    assert from_excel == (tmp_path / "in.csv.out.csv").read_text(encoding="utf-8")
    assert len(from_excel.splitlines()) == 11


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("wide.xlsx", lambda: wide_xlsx(16_384, 3), "columns wide; at most 400 are read"),
        ("bomb.xlsx", lambda: wide_xlsx(16_384, 500), "at most 100 to 1"),
        ("jump.xlsx", row_jump_xlsx, "more than 100,000 rows"),
        ("unknown.csv", lambda: b"case_id,patient.agee\nA1,64\n", "unknown column: 'patient.agee'"),
        ("wide.csv", lambda: ",".join(f"c{i}" for i in range(500)).encode() + b"\n1\n", "500 columns"),
    ],
)
def test_batch_refuses_what_the_page_refuses_with_exit_2_and_the_reason(
    tmp_path: Path, name: str, data: object, message: str
) -> None:
    assert callable(data)
    (tmp_path / name).write_bytes(data())
    result = _cli("batch", str(tmp_path / name), "-o", str(tmp_path / "out.csv"))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.csv").exists()
    with pytest.raises(UploadError, match=message.replace("(", r"\(")):
        read_upload(name, data())


def test_batch_jsonl_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"case_id": "A1"}\n\n{"case_id": \n')
    result = _cli("batch", str(source), "-o", str(tmp_path / "out.jsonl"))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [row["row"] for row in rows] == [1, 2]
    assert rows[1]["error"].startswith("line 3 is not valid JSON: ")
