"""The command line is a contract: outputs, exit codes and messages for people."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "data" / "examples").glob("*.json"))


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "myelo_cds", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_assess_every_example_as_json(example: Path) -> None:
    result = cli("assess", str(example))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    for key in ("pathway", "urgency", "rules_fired", "flags", "differentials", "unknowns", "follow_up"):
        assert key in out
    assert set(out["rule_set"]) >= {"version", "sha256"}
    assert out["rules_fired"], "a recommendation always shows its basis"


def test_assess_text_is_a_readable_consult_summary() -> None:
    result = cli("assess", str(ROOT / "data" / "examples" / "moderate_dcm.json"), "--format", "text")
    assert result.returncode == 0
    assert "RECOMMENDATION: Surgical referral" in result.stdout
    assert "Basis (rules fired):" in result.stdout
    assert "the clinician decides" in result.stdout


def test_assess_date_option_sets_the_schedule_start() -> None:
    result = cli("assess", str(EXAMPLES[0]), "--date", "2030-01-15")
    out = json.loads(result.stdout)
    assert out["assessment_date"] == "2030-01-15"
    assert out["follow_up"]["start"] == "2030-01-15"


def test_json_output_round_trips_the_input() -> None:
    """The assessment JSON names the case; the input file itself is what `assess` accepts back."""
    source = json.loads((ROOT / "data" / "examples" / "mild_dcm.json").read_text())
    result = cli("assess", "-", stdin=json.dumps(source))
    assert json.loads(result.stdout)["case_id"] == source["case_id"]


def test_out_of_range_value_exits_2_naming_field_value_and_range() -> None:
    result = cli("assess", "-", stdin=json.dumps({"patient": {"age_years": 64}, "nurick": 7}))
    assert result.returncode == 2
    assert "nurick: value 7 is not allowed" in result.stderr
    assert "(0-5)" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_field_exits_2_and_suggests_the_nearest_name() -> None:
    result = cli("assess", "-", stdin=json.dumps({"patient": {"age_years": 64}, "symptoms": {"fevr": True}}))
    assert result.returncode == 2
    assert "symptoms.fevr: unknown field; did you mean 'fever'?" in result.stderr


def test_malformed_json_exits_2_with_line_and_column() -> None:
    result = cli("assess", "-", stdin="{oops")
    assert result.returncode == 2
    assert "not valid JSON" in result.stderr
    assert "line 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file_and_bad_date_exit_2() -> None:
    assert cli("assess", "no-such-file.json").returncode == 2
    bad_date = cli("assess", str(EXAMPLES[0]), "--date", "2026-02-30")
    assert bad_date.returncode == 2
    assert "YYYY-MM-DD" in bad_date.stderr


def test_schema_is_the_input_json_schema() -> None:
    schema = json.loads(cli("schema").stdout)
    assert schema["title"] == "Findings"
    assert "patient" in schema["required"]
    assert schema["$defs"]["MJOA"]["properties"]["ue_motor"]["maximum"] == 5


def test_verify_exits_0_and_reports_every_check() -> None:
    result = cli("verify")
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("[PASS]") == 7
    assert "[FAIL]" not in result.stdout
    assert "[PASS] no silent red flag" in result.stdout
    assert "VERIFIED" in result.stdout


def test_batch_csv_reports_bad_rows_and_keeps_going(tmp_path: Path) -> None:
    source = tmp_path / "clinic.csv"
    source.write_text(
        "case_id,patient.age_years,symptoms.hand_clumsiness,exam.umn.hoffmann_tromner,"
        "mjoa.ue_motor,mjoa.le_motor,mjoa.ue_sensation,mjoa.sphincter,mri.available,"
        "mri.unlisted_levels_normal,mri.levels.C5-C6.kang\n"
        "A1,64,true,true,3,5,2,3,true,true,2\n"
        "A2,64,true,true,9,5,2,3,true,true,2\n"
        "A3,70,,,5,7,3,3,true,true,0\n"
    )
    target = tmp_path / "out.csv"
    result = cli("batch", str(source), "-o", str(target), "--date", "2026-11-24")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(target.open()))
    assert [row["case_id"] for row in rows] == ["A1", "A2", "A3"]
    assert rows[0]["pathway"] == "surgical_referral"
    assert rows[0]["deciding_rules"] == "R11"
    assert rows[1]["pathway"] == ""
    assert "mjoa.ue_motor: value '9' is not allowed" in rows[1]["error"]
    assert rows[2]["pathway"] == "further_workup"
    assert "3 rows" in result.stderr


def test_batch_jsonl_gives_the_same_pathways_as_assess(tmp_path: Path) -> None:
    source = tmp_path / "cases.jsonl"
    source.write_text("".join(json.dumps(json.loads(p.read_text())) + "\n" for p in EXAMPLES))
    target = tmp_path / "out.jsonl"
    assert cli("batch", str(source), "-o", str(target), "--workers", "2").returncode == 0
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    expected = [json.loads(cli("assess", str(p)).stdout)["pathway"] for p in EXAMPLES]
    assert [row["pathway"] for row in rows] == expected


def test_batch_neutralises_spreadsheet_formulas(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"patient": {"age_years": "=1+1"}}\n')
    target = tmp_path / "out.csv"
    assert cli("batch", str(source), "-o", str(target)).returncode == 0
    row = next(csv.DictReader(target.open()))
    assert not row["error"].startswith("=")
    assert "'=1+1'" in row["error"]


def test_batch_refuses_unknown_file_types_with_exit_2(tmp_path: Path) -> None:
    source = tmp_path / "in.pdf"
    source.write_text("x")
    result = cli("batch", str(source), "-o", str(tmp_path / "out.csv"))
    assert result.returncode == 2
    assert ".csv, .jsonl or .xlsx" in result.stderr
    result = cli("batch", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.xlsx"))
    assert result.returncode == 2
    assert "output out.xlsx must end in .csv or .jsonl" in result.stderr


def test_batch_refuses_a_damaged_workbook_with_exit_2_and_the_reason(tmp_path: Path) -> None:
    source = tmp_path / "in.xlsx"
    source.write_text("x")
    result = cli("batch", str(source), "-o", str(tmp_path / "out.csv"))
    assert result.returncode == 2
    assert "not a readable Excel .xlsx workbook" in result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_no_command_is_a_usage_error() -> None:
    result = cli()
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_a_failed_batch_leaves_no_result_file(tmp_path: Path) -> None:
    """Rows are written to a .partial file renamed only at the end: no half result is mistaken for a whole one."""
    from myelo_cds.batch import run_batch

    source = tmp_path / "in.csv"
    source.write_bytes(b"case_id,patient.age_years\nA1,64\nA2,70\n")
    target = tmp_path / "out.csv"

    def interrupted(done: int) -> None:  # as a kill or a full disk would, after rows were written
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(source, target, workers=1, progress=interrupted)
    assert not target.exists()
    assert not list(tmp_path.glob("*.partial"))


def test_a_header_that_is_not_utf8_exits_2_and_leaves_no_result_file(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"case_id,patient.\xffage\nA1,64\n")
    target = tmp_path / "out.csv"
    result = cli("batch", str(source), "-o", str(target))
    assert result.returncode == 2
    assert "cannot read in.csv: the header is not UTF-8" in result.stderr
    assert not target.exists()
    assert not list(tmp_path.glob("*.partial"))


def test_rows_that_are_not_utf8_are_reported_and_the_batch_goes_on(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"case_id,patient.age_years\nA1,64\n" + b"\xff\xfe bad bytes\n" * 3 + b"A2,70\n")
    target = tmp_path / "out.csv"
    result = cli("batch", str(source), "-o", str(target))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert [row["case_id"] for row in rows] == ["A1", "", "", "", "A2"]
    assert [bool(row["error"]) for row in rows] == [False, True, True, True, False]
    assert "not UTF-8" in rows[1]["error"]


def test_batch_date_never_overrides_a_rows_own_assessment_date(tmp_path: Path) -> None:
    """A red flag timed from the row's own date must not vanish because of --date."""
    case = json.loads((ROOT / "data" / "validation" / "v45_rapid_mjoa_decline.json").read_text())["findings"]
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(case) + "\n")
    target = tmp_path / "out.jsonl"
    assert cli("batch", str(source), "-o", str(target), "--date", "2027-01-01").returncode == 0
    row = json.loads(target.read_text())
    assert row["pathway"] == "emergency_referral"
    assert "RF-RAPID-MJOA" in row["red_flags"]


def test_assess_date_before_the_earlier_mjoa_is_refused() -> None:
    case = json.loads((ROOT / "data" / "validation" / "v45_rapid_mjoa_decline.json").read_text())["findings"]
    result = cli("assess", "-", "--date", "2000-01-01", stdin=json.dumps(case))
    assert result.returncode == 2
    assert "before earlier_mjoa.date" in result.stderr
