"""The consult page under AppTest: findings entered through the widgets give the engine's answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from myelo_cds import Findings, assess

ROOT = Path(__file__).resolve().parents[1]
VALIDATION = sorted((ROOT / "data" / "validation").glob("*.json"))


def consult() -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "consult.py"), default_timeout=30)
    at.run()
    assert not at.exception
    return at


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for name, value in data.items():
        if isinstance(value, dict):
            out += _flatten(value, f"{prefix}{name}.")
        elif value is not None:
            out.append((prefix + name, value))
    return out


def enter(at: AppTest, data: dict[str, Any]) -> AppTest:
    """Type a case into the widgets one by one, as a clinician would (full examination, MRI
    switched on first)."""
    full_examination(at)
    if data.get("mri", {}).get("available"):
        at.toggle(key="f.mri.available").set_value(True).run()
    for path, value in _flatten(data):
        if path == "mri.available":
            continue
        key = "f." + path
        widget = _find(at, key)
        widget.set_value(("Yes" if value else "No") if isinstance(value, bool) else value)
    at.run()
    assert not at.exception
    return at


def full_examination(at: AppTest) -> AppTest:
    """One click from the quick consult to every finding (the same widgets, the same values)."""
    at.segmented_control(key="consult_view").set_value("Full examination").run()
    assert not at.exception
    return at


def _find(at: AppTest, key: str) -> Any:
    kinds = (
        "number_input",
        "selectbox",
        "segmented_control",
        "pills",
        "text_input",
        "date_input",
        "multiselect",
    )
    for kind in kinds:
        try:
            return getattr(at, kind)(key=key)
        except KeyError:
            continue
    raise KeyError(key)


def recommendation_text(at: AppTest) -> str:
    return " ".join(e.value for e in (*at.error, *at.warning, *at.success))


def test_empty_form_shows_the_neutral_incomplete_state_asking_for_the_age() -> None:
    at = consult()
    assert at.info[0].value.startswith(
        "**Incomplete - enter age in whole years (0-120) (patient.age_years) to get a pathway.**"
    )
    assert not at.success, "an empty form is never a green routine answer"
    assert not at.error
    assert any("PROVISIONAL" in md.value for md in at.markdown)


#: A chronic, stable patient's red-flag screen, every question answered "no".
SCREEN_NEGATIVE = {
    "symptoms.onset_tempo": "chronic",
    "patient.history.recent_trauma": "No",
    "symptoms.deficit_after_trauma": "No",
    "symptoms.rapid_loss_of_ambulation": "No",
    "symptoms.breathing_difficulty": "No",
    "symptoms.fever": "No",
    "patient.history.iv_drug_use": "No",
    "patient.history.immunosuppression": "No",
    "patient.history.cancer": "No",
    "symptoms.sphincter_change": "none",
}


def test_moderate_dcm_entered_through_widgets() -> None:
    at = consult()
    at.number_input(key="f.patient.age_years").set_value(64)
    for path, answer in SCREEN_NEGATIVE.items():
        _find(at, "f." + path).set_value(answer)
    at.segmented_control(key="f.symptoms.hand_clumsiness").set_value("Yes")
    at.segmented_control(key="f.exam.umn.hoffmann_tromner").set_value("Yes")
    for item, score in {"ue_motor": 3, "le_motor": 5, "ue_sensation": 2, "sphincter": 3}.items():
        at.pills(key=f"f.mjoa.{item}").set_value(score)
    at.toggle(key="f.mri.available").set_value(True).run()
    at.segmented_control(key="f.mri.levels.C5-C6.kang").set_value(2)
    at.segmented_control(key="f.mri.unlisted_levels_normal").set_value("Yes")
    at.run()
    assert not at.exception
    assert at.metric[0].value == "13/18"
    assert "Surgical referral" in at.warning[0].value
    assert "EXPEDITED" in at.warning[0].value
    assert "PROVISIONAL" not in at.warning[0].value
    assert any(exp.label.startswith("R11") for exp in at.expander)


def test_positive_red_flag_puts_the_emergency_banner_on_top_with_its_trigger() -> None:
    at = consult()
    at.number_input(key="f.patient.age_years").set_value(70)
    at.segmented_control(key="f.symptoms.fever").set_value("Yes")
    at.segmented_control(key="f.symptoms.hand_clumsiness").set_value("Yes")
    at.run()
    banner = at.error[0].value
    assert banner.startswith("**EMERGENCY - red flag present.**")
    assert "RF-INFECTION-FEVER" in banner


def test_bad_combination_names_the_field_and_keeps_what_was_entered() -> None:
    at = consult()
    at.number_input(key="f.patient.age_years").set_value(60)
    at.segmented_control(key="f.patient.management").set_value("postoperative")
    at.run()
    assert not at.exception
    assert "management_since is required" in at.warning[0].value
    assert not at.error, "no emergency here: nothing on the page is red"
    assert at.number_input(key="f.patient.age_years").value == 60


def test_loading_an_example_fills_the_form() -> None:
    at = consult()
    at.selectbox[0].set_value("red_flag_trauma").run()
    next(button for button in at.button if button.label == "Load example").click().run()
    assert not at.exception
    assert at.number_input(key="f.patient.age_years").value == 68
    assert "EMERGENCY" in at.error[0].value


@pytest.mark.parametrize("case_file", VALIDATION[::6], ids=lambda p: p.stem)
def test_validation_case_entered_through_widgets_matches_the_engine(case_file: Path) -> None:
    case = json.loads(case_file.read_text())
    expected = assess(Findings.model_validate(case["findings"]))
    at = enter(consult(), case["findings"])
    text = recommendation_text(at)
    from myelo_cds.rules.engine import PATHWAY_LABELS

    assert PATHWAY_LABELS[expected.pathway] in text
    assert expected.urgency.upper() in text


def test_a_clinician_id_the_note_refuses_is_reported_not_a_crash() -> None:
    at = consult()
    at.number_input(key="f.patient.age_years").set_value(64)
    at.run()
    at.text_input(key="clinician_id").input("Dr\tX").run()
    assert not at.exception
    assert any("Clinician id" in error.value for error in at.error)


# --- issue 13: the page never hides a red flag ---------------------------------------------------


def test_emergency_banner_shows_with_an_unrelated_field_invalid() -> None:
    """Supervised rehabilitation chosen before its date must not hide a deficit after trauma."""
    at = consult()
    at.number_input(key="f.patient.age_years").set_value(58)
    at.segmented_control(key="f.patient.management").set_value("supervised_rehabilitation")
    at.segmented_control(key="f.patient.history.recent_trauma").set_value("Yes")
    at.segmented_control(key="f.symptoms.deficit_after_trauma").set_value("Yes")
    at.run()
    assert not at.exception
    banner, problems = at.error[0].value, at.warning[0].value
    assert banner.startswith("**EMERGENCY - red flag present.**")
    assert "RF-TRAUMA" in banner
    assert "Some entries were left out" in problems  # amber: red is kept for the emergency
    assert "patient.management" in problems
    assert "management_since is required" in problems
    assert any("EMERGENCY" in error.value and "Emergency referral" in error.value for error in at.error[1:])
    assert all("EMERGENCY" in error.value for error in at.error)
    assert at.segmented_control(key="f.patient.management").value == "supervised_rehabilitation"


def test_documents_and_save_wait_until_the_left_out_entries_are_corrected() -> None:
    at = consult()
    at.number_input(key="f.patient.age_years").set_value(58)
    at.segmented_control(key="f.patient.management").set_value("postoperative")
    at.run()
    assert not at.exception
    assert not at.get("download_button")
    assert any("Correct the entries listed at the top" in caption.value for caption in at.caption)


def test_emergency_banner_shows_with_the_age_blank() -> None:
    at = consult()
    at.segmented_control(key="f.symptoms.fever").set_value("Yes")
    at.segmented_control(key="f.symptoms.hand_clumsiness").set_value("Yes")
    at.run()
    assert not at.exception
    assert at.number_input(key="f.patient.age_years").value is None
    assert at.error[0].value.startswith("**EMERGENCY - red flag present.**")
    assert "RF-INFECTION-FEVER" in at.error[0].value
    headline = at.error[1].value
    assert "EMERGENCY" in headline
    assert "Incomplete - enter age in whole years" in headline


def test_emergency_banner_shows_with_the_age_blank_and_an_unrelated_field_invalid() -> None:
    at = consult()
    at.segmented_control(key="f.patient.management").set_value("supervised_rehabilitation")
    at.segmented_control(key="f.symptoms.deficit_after_trauma").set_value("Yes")
    at.segmented_control(key="f.patient.history.recent_trauma").set_value("Yes")
    at.run()
    assert not at.exception
    assert at.error[0].value.startswith("**EMERGENCY - red flag present.**")
    assert "RF-TRAUMA" in at.error[0].value
    assert "patient.management" in at.warning[0].value
    assert "Incomplete - enter age in whole years" in at.error[1].value
