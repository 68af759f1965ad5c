"""The timeline page (issue 16): the patient just seen is preselected, the bands are coloured in
severity order, the axes show whole points and the year, and blanks and pathways read in words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from myelo_cds import Findings, assess
from myelo_cds.findings import example_cases
from myelo_cds.records import Store
from myelo_cds.rules.engine import PATHWAY_LABELS
from myelo_cds.scales import mjoa_scale

ROOT = Path(__file__).resolve().parents[1]


def _save(database: Store, case_id: str, date: str, le_motor: int, *, nurick: int | None) -> None:
    data: dict[str, Any] = json.loads(example_cases()["mild_dcm"])
    data.update(case_id=case_id, assessment_date=date, nurick=nurick)
    data["mjoa"]["le_motor"] = le_motor
    data.pop("earlier_mjoa", None)
    findings = Findings.model_validate(data)
    database.save_assessment(findings, assess(findings), patient_id=case_id, author="clin-7")


def _timeline(last_case_id: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "timeline.py"), default_timeout=60)
    if last_case_id is not None:
        at.session_state["last_case_id"] = last_case_id
    at.run()
    assert not at.exception
    return at


def _layers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(spec.get("layer", [spec]))


def test_the_patient_just_seen_is_preselected(database: Store) -> None:
    _save(database, "PT-A", "2026-01-10", 6, nurick=1)
    _save(database, "PT-B", "2026-01-12", 6, nurick=1)
    at = _timeline(last_case_id="PT-B")
    assert at.selectbox[0].value == "PT-B"
    assert at.dataframe, "the course of the preselected patient is shown at once"


def test_without_a_consult_nothing_is_preselected(database: Store) -> None:
    _save(database, "PT-A", "2026-01-10", 6, nurick=1)
    at = _timeline()
    assert at.selectbox[0].value is None
    assert not at.dataframe
    at = _timeline(last_case_id="PT-NOT-STORED")  # a consult not saved: no wrong patient chosen
    assert at.selectbox[0].value is None


def test_the_table_says_not_recorded_and_names_the_pathway(database: Store) -> None:
    _save(database, "PT-A", "2025-11-10", 6, nurick=None)
    _save(database, "PT-A", "2026-06-10", 4, nurick=2)
    at = _timeline(last_case_id="PT-A")
    table = at.dataframe[0].value
    assert list(table["Nurick"]) == ["not recorded", "2"]
    assert set(table["pathway"]) <= set(PATHWAY_LABELS.values())


def test_the_mjoa_chart_has_bands_in_severity_order_integer_ticks_and_the_year(database: Store) -> None:
    _save(database, "PT-A", "2025-11-10", 6, nurick=1)
    _save(database, "PT-A", "2026-06-10", 4, nurick=2)
    at = _timeline(last_case_id="PT-A")
    mjoa_chart, subdomains = (json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart"))
    bands, *rest = _layers(mjoa_chart)
    color = bands["encoding"]["color"]
    worst_first = [band["id"] for band in sorted(mjoa_scale()["bands"], key=lambda band: band["min"])]
    assert [name.replace("no deficit", "normal") for name in color["scale"]["domain"]] == worst_first
    assert color["type"] == "ordinal"
    assert color["scale"]["scheme"] != "reds"  # red is for emergencies
    assert bands["encoding"]["y"]["axis"]["format"] == "d"
    dated = [layer for layer in rest if layer.get("encoding", {}).get("x", {}).get("title") == "Visit date"]
    assert dated
    assert all("%Y" in layer["encoding"]["x"]["axis"]["format"] for layer in dated)
    shapes = [layer["encoding"]["shape"] for layer in rest if "shape" in layer.get("encoding", {})]
    assert shapes
    assert shapes[0]["title"] == "Pathway"
    values = [row for dataset in mjoa_chart.get("datasets", {}).values() for row in dataset]
    assert {row["pathway"] for row in values if "pathway" in row} <= set(PATHWAY_LABELS.values())
    sub = subdomains["spec"]["encoding"]
    assert sub["y"]["axis"]["format"] == "d"
    assert "%Y" in sub["x"]["axis"]["format"]
