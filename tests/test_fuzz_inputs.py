"""Fuzzing (hypothesis) the ways data enters: the assessment input, the case-file upload, the
batch CSV/JSONL reader and the record store. Invariants: nothing crashes (bad input is refused
with a message) and nothing is half-written (a refused save or batch leaves no trace)."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from myelo_cds import Findings, assess
from myelo_cds.batch import OUTPUT_COLUMNS, evaluate_row, parse_header, run_batch
from myelo_cds.findings import describe_validation_error, leaf_paths
from myelo_cds.records import RecordError, Store
from myelo_cds.rules.result import Recommendation
from tests.strategies import any_findings_dicts

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
PATHS = sorted(leaf_paths())


@st.composite
def damaged_findings(draw: st.DrawFn) -> Any:
    """A valid case with one value replaced by anything JSON can hold, or any JSON document."""
    if draw(st.booleans()):
        return draw(JSON)
    data = draw(any_findings_dicts())
    target = data
    parts = draw(st.sampled_from(PATHS)).split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {}) if isinstance(target.get(part, {}), dict) else {}
    target[parts[-1]] = draw(JSON)
    return data


def _assessed_or_refused(data: Any) -> Recommendation | list[str]:
    try:
        findings = Findings.model_validate(data)
    except ValidationError as error:
        lines = describe_validation_error(error)
        assert lines
        assert all(isinstance(line, str) and line for line in lines)
        return lines
    return assess(findings)


@FUZZ
@given(damaged_findings())
def test_any_assessment_input_is_assessed_or_refused_with_a_message(data: Any) -> None:
    result = _assessed_or_refused(data)
    if isinstance(result, Recommendation):
        assert result.rules_fired, "a recommendation always shows its basis"


@FUZZ
@given(st.one_of(st.binary(max_size=300), damaged_findings().map(lambda d: json.dumps(d).encode())))
def test_any_uploaded_case_file_is_loaded_or_refused_with_a_message(content: bytes) -> None:
    """The consult's upload parser: ``Findings.model_validate_json`` on the file's bytes."""
    try:
        findings: Findings | None = Findings.model_validate_json(content)
        message: list[str] = []
    except ValidationError as error:
        findings, message = None, describe_validation_error(error)
    if findings is None:
        assert message, "a refused file is explained"
    else:
        assert assess(findings).pathway


@FUZZ
@given(
    st.lists(st.sampled_from(PATHS), min_size=1, max_size=6, unique=True),
    st.lists(st.text(max_size=12), max_size=7),
)
def test_any_csv_row_gives_a_result_or_its_reason_never_an_exception(
    columns: list[str], cells: list[str]
) -> None:
    out = evaluate_row(1, cells, None, parse_header(columns))
    assert set(out) == set(OUTPUT_COLUMNS)
    assert bool(out["error"]) != bool(out["pathway"]), out


def _csv_text(columns: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


_CSV_FILES = st.one_of(
    st.binary(max_size=400),
    st.builds(
        lambda columns, rows: _csv_text(columns, rows).encode(),
        st.lists(st.sampled_from(PATHS), min_size=1, max_size=5, unique=True),
        st.lists(st.lists(st.text(max_size=10), max_size=6), max_size=5),
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_CSV_FILES, st.sampled_from([".csv", ".jsonl"]))
def test_any_batch_file_is_written_whole_or_not_at_all(content: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / f"in{suffix}", Path(folder) / "out.csv"
        source.write_bytes(content)
        try:
            counts = run_batch(source, target, workers=1)
        except (UnicodeDecodeError, ValueError):
            assert sorted(p.name for p in Path(folder).iterdir()) == [source.name], "nothing left behind"
            return
        written = list(csv.DictReader(target.open(encoding="utf-8", newline="")))
        assert len(written) == sum(counts.values())
        assert all(row["error"] or row["pathway"] for row in written)
        assert not (Path(folder) / "out.csv.partial").exists()


_STORE = Store(f"sqlite:///{Path(tempfile.mkdtemp(prefix='myelo-fuzz-')) / 'records.sqlite3'}")
_IDS = st.one_of(st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True), st.text(max_size=70))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    any_findings_dicts(),
    _IDS,
    st.one_of(st.from_regex(r"[a-z.]{1,20}", fullmatch=True), st.text(max_size=70)),
)
def test_a_save_with_any_patient_id_and_author_is_whole_or_leaves_nothing(
    data: dict[str, Any], patient_id: str, author: str
) -> None:
    findings = Findings.model_validate({**data, "case_id": None})
    before = (len(_STORE.audit_events(100_000)), len(_STORE.patients()))
    known = _STORE.assessments(patient_id) if _patient_id_ok(patient_id) else []
    try:
        saved = _STORE.save_assessment(findings, assess(findings), patient_id=patient_id, author=author)
    except RecordError as error:
        refused = str(error)
    else:
        refused = ""
    if refused:
        assert len(patient_id) < 8 or patient_id not in refused, "a refused value is not echoed"
        assert (len(_STORE.audit_events(100_000)), len(_STORE.patients())) == before
        return
    after = _STORE.assessments(saved.patient_id)
    assert len(after) == len(known) + 1
    assert len(_STORE.audit_events(100_000)) == before[0] + 1
    assert _STORE.audit_events(1)[0].detail == f"assessment {saved.id}"


def _patient_id_ok(patient_id: str) -> bool:
    try:
        _STORE.assessments(patient_id)
    except RecordError:
        return False
    return True
