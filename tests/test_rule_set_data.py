"""The rule set as reviewable data: every row identified, versioned, cited and tagged."""

from __future__ import annotations

import tomllib
from pathlib import Path

from myelo_cds import default_rule_set

ROOT = Path(__file__).resolve().parents[1]


def test_every_rule_has_id_version_source_and_evidence_tag() -> None:
    rule_set = default_rule_set()
    for row in rule_set.all_rows():
        assert row.id, row
        assert row.version, row.id
        assert rule_set.sources[row.source].citation, row.id
        assert row.evidence in ("confirmed", "unconfirmed", "design"), row.id


def test_every_threshold_is_a_cited_parameter() -> None:
    for name, parameter in default_rule_set().parameters.items():
        assert parameter.note, name
        assert parameter.evidence in ("confirmed", "unconfirmed", "design"), name


def test_guideline_recommendations_carry_their_grade() -> None:
    """Fehlings 2017: Rec 1 strong/moderate; Rec 2 weak/very low-low; Recs 3-4 weak/low."""
    rule_set = default_rule_set()
    grades = {row.id: (row.recommendation, row.strength, row.quality) for row in rule_set.pathway}
    assert grades["R11"] == ("Rec 1", "strong", "moderate")
    assert grades["R12"] == ("Rec 1", "strong", "moderate")
    assert grades["R8"] == ("Rec 2", "weak", "very low to low")
    assert grades["R9"][1] == "strong"
    assert grades["R10"][1] == "weak"
    assert grades["R13"] == ("Rec 4", "weak", "low")
    assert grades["R14"] == ("Rec 3", "weak", "low")


def test_design_defaults_are_labelled_as_such() -> None:
    rule_set = default_rule_set()
    assert rule_set.parameters["deterioration_drop_points"].evidence == "design"
    assert rule_set.parameters["rehab_trial_months"].evidence == "design"
    assert rule_set.pathway_rule("R7").evidence == "design"


def test_scale_files_parse_and_bands_cover_0_to_18_once() -> None:
    spec = tomllib.loads((ROOT / "data" / "scales" / "mjoa.toml").read_text())
    covered = [t for band in spec["bands"] for t in range(band["min"], band["max"] + 1)]
    assert sorted(covered) == list(range(19))


def test_intended_use_and_limitations_are_stated() -> None:
    rule_set = default_rule_set()
    assert "clinician decides" in rule_set.intended_use
    assert len(rule_set.limitations) >= 3
