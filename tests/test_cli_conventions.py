"""The command line keeps the conventions a hospital's IT team scripts against (issue 15, "Also"):
``--version``, ``-`` for standard input and output, one-line file errors with exit 2, and a
quiet end when the reader of standard output goes away (``| head``).

Every test runs the real command in a subprocess, from a folder other than the checkout.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from myelo_cds import __version__

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "data" / "examples").glob("*.json"))
MODERATE = ROOT / "data" / "examples" / "moderate_dcm.json"
COMMAND = [sys.executable, "-m", "myelo_cds"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def cli(
    *args: str, cwd: Path, stdin: bytes | None = None, stdout: int | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*COMMAND, *args],
        cwd=cwd,
        env=_env(),
        input=stdin,
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        timeout=120,
        check=False,
    )


def _clinic_jsonl(copies: int) -> bytes:
    """Every example case, ``copies`` times, as a JSON Lines clinic list."""
    rows = [json.dumps(json.loads(path.read_text(encoding="utf-8"))) for path in EXAMPLES]
    return ("\n".join(rows * copies) + "\n").encode("utf-8")


def _clinic_csv() -> bytes:
    return (
        b"case_id,patient.age_years,symptoms.hand_clumsiness,exam.umn.hoffmann_tromner,"
        b"mjoa.ue_motor,mjoa.le_motor,mjoa.ue_sensation,mjoa.sphincter,mri.available,"
        b"mri.unlisted_levels_normal,mri.levels.C5-C6.kang\n"
        b"A1,64,true,true,3,5,2,3,true,true,2\n"
        b"A2,64,true,true,9,5,2,3,true,true,2\n"
    )


def test_version_prints_the_package_version(tmp_path: Path) -> None:
    result = cli("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == f"myelo-cds {__version__}\n"
    assert result.stderr == b""


def test_export_fhir_dash_output_is_standard_output_and_no_file_named_dash(tmp_path: Path) -> None:
    result = cli("export-fhir", str(MODERATE), "-o", "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["resourceType"] == "Bundle"
    assert not (tmp_path / "-").exists()
    assert list(tmp_path.iterdir()) == []


def test_export_fhir_to_a_file_writes_the_same_bundle_and_no_partial_file(tmp_path: Path) -> None:
    on_stdout = cli("export-fhir", str(MODERATE), cwd=tmp_path).stdout
    assert cli("export-fhir", str(MODERATE), "-o", "bundle.json", cwd=tmp_path).returncode == 0
    # The same bundle but for the instant of each export (Provenance.recorded and the like).
    instant = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:Z|[+-]\d\d:\d\d)")
    written = (tmp_path / "bundle.json").read_bytes()
    assert instant.search(on_stdout)
    assert instant.sub(b"INSTANT", written) == instant.sub(b"INSTANT", on_stdout)
    assert [path.name for path in tmp_path.iterdir()] == ["bundle.json"]


def test_batch_dash_output_is_standard_output_with_the_summary_on_stderr(tmp_path: Path) -> None:
    source = tmp_path / "clinic.csv"
    source.write_bytes(_clinic_csv())
    result = cli("batch", str(source), "-o", "-", "--date", "2026-11-24", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout.decode())))
    assert [row["case_id"] for row in rows] == ["A1", "A2"]
    assert rows[0]["pathway"] == "surgical_referral"
    assert "mjoa.ue_motor: value '9' is not allowed" in rows[1]["error"]
    assert b"2 rows -> standard output" in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["clinic.csv"]


def test_batch_without_output_writes_standard_output_as_the_file_would(tmp_path: Path) -> None:
    source = tmp_path / "clinic.csv"
    source.write_bytes(_clinic_csv())
    on_stdout = cli("batch", str(source), "--date", "2026-11-24", cwd=tmp_path)
    assert on_stdout.returncode == 0, on_stdout.stderr
    assert cli("batch", str(source), "-o", "out.csv", "--date", "2026-11-24", cwd=tmp_path).returncode == 0
    assert on_stdout.stdout == (tmp_path / "out.csv").read_bytes()


def test_batch_format_jsonl_on_standard_output(tmp_path: Path) -> None:
    source = tmp_path / "clinic.csv"
    source.write_bytes(_clinic_csv())
    result = cli("batch", str(source), "--format", "jsonl", "--date", "2026-11-24", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [(row["row"], row["case_id"]) for row in rows] == [(1, "A1"), (2, "A2")]


def test_batch_format_that_contradicts_the_output_file_exits_2(tmp_path: Path) -> None:
    source = tmp_path / "clinic.csv"
    source.write_bytes(_clinic_csv())
    result = cli("batch", str(source), "-o", "out.csv", "--format", "jsonl", cwd=tmp_path)
    assert result.returncode == 2
    assert b"--format jsonl does not match the output file out.csv" in result.stderr
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(("name", "data"), [("csv", _clinic_csv()), ("jsonl", _clinic_jsonl(1))])
def test_batch_dash_reads_standard_input_as_the_file_would_be_read(
    tmp_path: Path, name: str, data: bytes
) -> None:
    source = tmp_path / f"clinic.{name}"
    source.write_bytes(data)
    from_file = cli("batch", str(source), "-o", "-", "--date", "2026-11-24", cwd=tmp_path)
    from_stdin = cli("batch", "-", "-o", "-", "--date", "2026-11-24", cwd=tmp_path, stdin=data)
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert from_stdin.stdout == from_file.stdout
    assert from_stdin.stdout.count(b"\n") == data.count(b"\n") + (name == "jsonl")  # + the CSV header


def test_batch_dash_reads_an_excel_workbook_from_standard_input(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["case_id", "patient.age_years"])
    sheet.append(["X1", 64])
    buffer = io.BytesIO()
    book.save(buffer)
    result = cli("batch", "-", "--format", "jsonl", cwd=tmp_path, stdin=buffer.getvalue())
    assert result.returncode == 0, result.stderr
    (row,) = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert row["case_id"] == "X1"
    assert row["error"] == ""


def test_batch_header_on_standard_input_that_is_not_utf8_exits_2_naming_standard_input(
    tmp_path: Path,
) -> None:
    result = cli("batch", "-", cwd=tmp_path, stdin=b"case_id,patient.\xffage\nA1,64\n")
    assert result.returncode == 2
    assert result.stderr.decode().startswith("error: cannot read standard input: the header is not UTF-8")
    assert result.stdout == b""


@pytest.mark.parametrize("command", [["assess"], ["export-fhir"], ["batch"]])
def test_a_missing_input_file_is_one_line_and_exit_2(tmp_path: Path, command: list[str]) -> None:
    name = "no-such-list.csv" if command == ["batch"] else "no-such-case.json"
    result = cli(*command, name, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.decode() == f"myelo-cds: cannot read {name}: No such file or directory\n"
    assert result.stdout == b""


@pytest.mark.parametrize("command", [["assess"], ["export-fhir"], ["batch"]])
def test_a_directory_as_input_is_one_line_and_exit_2(tmp_path: Path, command: list[str]) -> None:
    folder = tmp_path / "cases.csv"
    folder.mkdir()
    result = cli(*command, str(folder), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.decode() == f"myelo-cds: cannot read {folder}: Is a directory\n"


def test_an_output_in_a_missing_folder_is_one_line_exit_2_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "bundle.json"
    result = cli("export-fhir", str(MODERATE), "-o", str(target), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.decode() == f"myelo-cds: cannot write {target}: No such file or directory\n"
    source = tmp_path / "clinic.csv"
    source.write_bytes(_clinic_csv())
    target = tmp_path / "missing" / "out.csv"
    result = cli("batch", str(source), "-o", str(target), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.decode() == f"myelo-cds: cannot write {target}: No such file or directory\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["clinic.csv"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a disk that is always full)")
def test_a_full_disk_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """/dev/full fails every write with ENOSPC, as a full disk does; a device target is written
    in place, never replaced by a finished file (that would replace the device itself)."""
    result = cli("export-fhir", str(MODERATE), "-o", "/dev/full", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.decode() == "myelo-cds: cannot write /dev/full: No space left on device\n"
    source = tmp_path / "clinic.jsonl"
    source.write_bytes(_clinic_jsonl(2))
    result = cli("batch", str(source), "-o", "/dev/full", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.decode() == "myelo-cds: cannot write /dev/full: No space left on device\n"
    assert stat.S_ISCHR(Path("/dev/full").stat().st_mode)
    assert not Path("/dev/full.partial").exists()
    with Path("/dev/full").open("wb") as full:
        result = cli("assess", str(MODERATE), cwd=tmp_path, stdout=full.fileno())
    assert result.returncode == 2
    assert result.stderr.decode() == "myelo-cds: cannot write standard output: No space left on device\n"


def test_batch_to_dev_null_is_written_in_place(tmp_path: Path) -> None:
    source = tmp_path / "clinic.csv"
    source.write_bytes(_clinic_csv())
    result = cli("batch", str(source), "-o", os.devnull, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(Path(os.devnull).stat().st_mode)
    assert f"2 rows -> {os.devnull}".encode() in result.stderr


def _pipeline(command: str, cwd: Path) -> tuple[str, str, int]:
    """``command | head -1`` through a real shell: head's output, our stderr and our status."""
    script = f'{command} 2>stderr.txt | head -1; echo "${{PIPESTATUS[0]}}" >status.txt'
    done = subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=120, check=True
    )
    stderr = (cwd / "stderr.txt").read_text()
    return done.stdout, stderr, int((cwd / "status.txt").read_text())


def test_batch_into_head_ends_quietly_with_status_141(tmp_path: Path) -> None:
    """3,600 result rows (over 1 MB) cannot fit the pipe's buffer: head's exit breaks the pipe."""
    (tmp_path / "clinic.jsonl").write_bytes(_clinic_jsonl(600))
    command = shlex.join([*COMMAND, "batch", "clinic.jsonl"])
    out, stderr, status = _pipeline(command, tmp_path)
    assert out.startswith("row,case_id,pathway,urgency")
    assert out.count("\n") == 1
    assert status == 141
    assert "Traceback" not in stderr
    assert "BrokenPipe" not in stderr
    assert "Exception ignored" not in stderr


def test_a_small_output_into_head_never_shows_a_traceback(tmp_path: Path) -> None:
    """A small output may fit the pipe before head exits (status 0) or not (141): either is quiet."""
    for args in (["schema"], ["export-fhir", str(MODERATE)], ["assess", str(MODERATE), "--format", "text"]):
        out, stderr, status = _pipeline(shlex.join([*COMMAND, *args]), tmp_path)
        assert out.count("\n") == 1
        assert status in (0, 141), (args, stderr)
        assert stderr == "", (args, stderr)
