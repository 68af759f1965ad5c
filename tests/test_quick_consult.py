"""The quick consult under AppTest (issue 16): one red-flag block derived from the rule set, the
"all negative" control, the result bar, one model behind both views, New patient, copy forward."""

from __future__ import annotations

import json
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from bench.consult_interactions import standard_case
from myelo_cds import Findings, assess
from myelo_cds.findings import example_cases, field_spec
from myelo_cds.records import Store
from myelo_cds.rules.engine import default_engine
from myelo_cds.rules.facts import LEAF_INPUTS
from myelo_cds.rules.red_flag_questions import red_flag_questions
from myelo_cds.ui.consult_form import ALL_NEGATIVE_SHORTCUT, JUMPS, KEY, jump_targets
from myelo_cds.ui.finding_widgets import changed, rerun_scope
from myelo_cds.ui.not_recorded import items
from myelo_cds.ui.patient_bar import carried_forward
from myelo_cds.ui.style import RESERVED_JUMP_LETTERS, add_keyboard_entry, jump_badge
from tests.test_consult_page import consult


def _bar(at: AppTest) -> str:
    return next(md.value for md in at.markdown if "mJOA" in md.value and "badge" in md.value)


def _moderate(at: AppTest) -> AppTest:
    """The issue's standard moderate case on the quick consult (58 y, 8 months, Hoffmann,
    brisk reflexes, mJOA 3/5/2/3, Kang 2 at C5-C6 and C6-C7, no T2 signal)."""
    at.number_input(key="f.patient.age_years").set_value(58)
    at.number_input(key="f.patient.symptom_duration_months").set_value(8)
    at.segmented_control(key="f.symptoms.hand_clumsiness").set_value("Yes")
    at.segmented_control(key="f.symptoms.gait_imbalance").set_value("Yes")
    at.segmented_control(key="f.exam.umn.hoffmann_tromner").set_value("Yes")
    for item, score in {"ue_motor": 3, "le_motor": 5, "ue_sensation": 2, "sphincter": 3}.items():
        at.pills(key=f"f.mjoa.{item}").set_value(score)
    at.toggle(key="f.mri.available").set_value(True).run()
    next(b for b in at.button if b.label.startswith("Brisk throughout")).click().run()
    for level in ("C5-C6", "C6-C7"):
        at.segmented_control(key=f"f.mri.levels.{level}.kang").set_value(2)
        at.segmented_control(key=f"f.mri.levels.{level}.t2_signal").set_value("none")
    at.segmented_control(key="f.mri.unlisted_levels_normal").set_value("Yes").run()
    assert not at.exception
    return at


def _standard_case() -> dict[str, Any]:
    """The bench's standard moderate case with a documented negative screen, and the MRI
    report's epidural collection read as absent."""
    data = standard_case(negative_screen=True)
    data["mri"]["epidural_collection"] = False
    return data


def _all_negative(at: AppTest) -> AppTest:
    at.button(key="red_flags_all_negative").click().run()
    assert not at.exception
    return at


def test_red_flag_block_asks_every_yes_no_input_of_every_red_flag_row() -> None:
    """A red-flag row's own yes/no history inputs are all in the block (none hard-coded)."""
    asked = {question.path for question in red_flag_questions()}
    for row in default_engine().rule_set.red_flags:
        for fact in row.all:
            for path in LEAF_INPUTS.get(fact, ()):
                if field_spec(path).kind == "tri" and not path.startswith(("exam.", "mri.")):
                    assert path in asked, (row.id, path)
    # Settled elsewhere in the screen too: tempo (acute deficit), bladder change, risk factors.
    assert {"symptoms.onset_tempo", "symptoms.sphincter_change", "patient.history.iv_drug_use"} <= asked


def test_every_red_flag_question_is_on_the_quick_consult() -> None:
    at = consult()
    for question in red_flag_questions():
        at.segmented_control(key=KEY + question.path)  # raises KeyError when not drawn


def test_blank_screen_is_not_excluded_in_the_bar_and_all_negative_settles_the_questions() -> None:
    at = _moderate(consult())
    assert "Red flags not excluded" in _bar(at)
    assert "mJOA 13/18 - moderate" in _bar(at)
    assert "Surgical referral" in _bar(at)
    _all_negative(at)
    # What the block cannot answer stays named (no earlier mJOA at a first visit; the MRI's
    # epidural collection is read from the report), never "none".
    assert "Red flags not excluded: Earlier mJOA, Epidural collection" in _bar(at)
    at.segmented_control(key="f.mri.epidural_collection").set_value("No").run()
    assert "Red flags not excluded: Earlier mJOA" in _bar(at)
    assert at.segmented_control(key="f.symptoms.onset_tempo").value == "chronic"
    assert at.segmented_control(key="f.symptoms.sphincter_change").value == "none"
    expected = assess(Findings.model_validate(_standard_case()))
    assert expected.urgency.upper() in _bar(at)
    assert [question.fields for question in expected.to_confirm] == [("earlier_mjoa",)]


def test_all_negative_never_overwrites_a_yes_and_the_banner_stays() -> None:
    at = consult()
    at.number_input(key="f.patient.age_years").set_value(70)
    at.segmented_control(key="f.symptoms.fever").set_value("Yes")
    at.segmented_control(key="f.symptoms.hand_clumsiness").set_value("Yes").run()
    _all_negative(at)
    assert at.segmented_control(key="f.symptoms.fever").value == "Yes"
    assert at.segmented_control(key="f.patient.history.cancer").value == "No"
    assert at.error[0].value.startswith("**EMERGENCY - red flag present.**")
    assert "Red flag PRESENT: RF-INFECTION-FEVER" in _bar(at)
    # Per-item override after the bulk control.
    at.segmented_control(key="f.symptoms.fever").set_value("No").run()
    assert not any("EMERGENCY - red flag present" in error.value for error in at.error)


def test_a_value_entered_in_either_view_is_the_same_value() -> None:
    at = consult()
    at.number_input(key="f.patient.age_years").set_value(66).run()
    at.segmented_control(key="consult_view").set_value("Full examination").run()
    assert at.number_input(key="f.patient.age_years").value == 66
    at.segmented_control(key="f.exam.tongue_signs").set_value("Yes").run()
    at.segmented_control(key="consult_view").set_value("Quick consult").run()
    assert not at.exception
    # Not drawn in the quick consult, and still in the findings the engine reads.
    expected = assess(Findings.model_validate({"patient": {"age_years": 66}, "exam": {"tongue_signs": True}}))
    assert expected.differentials
    shown = " ".join(md.value for md in at.markdown)
    assert expected.differentials[0].condition in shown
    # ...and the quick consult says a finding it does not draw counts.
    assert any(
        caption.value.startswith("1 finding from the full examination is not shown here")
        for caption in at.caption
    )


def test_new_patient_clears_findings_and_case_id() -> None:
    at = consult()
    at.text_input(key="f.case_id").input("NP-2")
    at.number_input(key="f.patient.age_years").set_value(61).run()
    at.button(key="new_patient").click().run()
    assert not at.exception
    assert at.number_input(key="f.patient.age_years").value is None
    assert at.text_input(key="f.case_id").value in (None, "")


def test_copy_forward_keeps_findings_but_asks_the_red_flags_again(database: Store) -> None:
    data = json.loads(example_cases()["moderate_dcm"])
    findings = Findings.model_validate(
        {**data, "symptoms": {**data.get("symptoms", {}), "fever": False}, "assessment_date": "2026-01-10"}
    )
    database.save_assessment(findings, assess(findings), patient_id="CF-2", author="clin-7")
    record = database.latest("CF-2")
    assert record is not None
    carried = carried_forward(record)
    assert "fever" not in carried.get("symptoms", {})
    assert "assessment_date" not in carried
    assert carried["case_id"] == "CF-2"
    assert carried["earlier_mjoa"]["date"] == "2026-01-10"
    assert carried["earlier_mjoa"]["le_motor"] == findings.mjoa.le_motor  # type: ignore[union-attr]
    for question in red_flag_questions():
        section, *rest = question.path.split(".")
        node: Any = carried.get(section, {})
        for name in rest[:-1]:
            node = node.get(name, {})
        assert rest[-1] not in node, question.path


def test_saving_a_consult_remembers_the_patient_for_the_timeline(database: Store) -> None:
    at = consult()
    for path, value in (("f.case_id", "LC-1"),):
        at.text_input(key=path).input(value)
    _moderate(at)
    _all_negative(at)
    at.text_input(key="clinician_id").input("clin-7").run()
    next(b for b in at.button if b.label == "Save this assessment to the record").click().run()
    assert not at.exception
    assert at.session_state["last_case_id"] == "LC-1"
    assert len(database.assessments("LC-1")) == 1


def test_not_recorded_items_collapse_behind_a_count_in_correct_grammar() -> None:
    assert items(1, "emergency-relevant") == "1 emergency-relevant item"
    assert items(3, "other") == "3 other items"
    at = consult()
    at.number_input(key="f.patient.age_years").set_value(64)
    at.segmented_control(key="f.symptoms.hand_clumsiness").set_value("Yes").run()
    rec = assess(
        Findings.model_validate({"patient": {"age_years": 64}, "symptoms": {"hand_clumsiness": True}})
    )
    emergency = [u for u in rec.unknowns if any(s.urgency == "emergency" for s in u.scenarios)]
    assert emergency, "the case leaves emergency-relevant items blank"
    labels = [expander.label for expander in at.expander]
    assert f"{items(len(emergency), 'emergency-relevant')} not recorded - show" in labels
    others = len(rec.unknowns) - len(emergency)
    if others:
        assert f"{items(others, 'other')} not recorded - show" in labels
    # Each item is still there, one click away (never dropped).
    shown = " ".join(md.value for md in at.markdown)
    assert all(unknown.input in shown for unknown in rec.unknowns)


def test_after_new_patient_a_stored_patient_is_offered_for_copy_forward(database: Store) -> None:
    findings = Findings.model_validate(
        {**standard_case(negative_screen=True), "assessment_date": "2026-01-10"}
    )
    database.save_assessment(findings, assess(findings), patient_id="CF-3", author="clin-7")
    at = consult()
    at.multiselect(key="f.mjoa.not_due_to_myelopathy").set_value(["sphincter"]).run()
    at.button(key="new_patient").click().run()
    at.text_input(key="f.case_id").input("CF-3").run()
    offer = next(b for b in at.button if b.label.startswith("Load the last visit (2026-01-10)"))
    offer.click().run()
    assert not at.exception
    assert at.number_input(key="f.patient.age_years").value == 58
    assert at.pills(key="f.mjoa.le_motor").value == 5
    assert at.segmented_control(key="f.symptoms.fever").value is None  # asked again today
    assert "Red flags not excluded" in _bar(at)
    assert any("Loaded the visit of 2026-01-10" in info.value for info in at.info)


# --- keyboard entry: section jumps (issue 16, keyboard-only within 60 key presses) ----------


def _drawn(at: AppTest, key: str) -> bool:
    for kind in ("number_input", "segmented_control", "pills", "toggle", "button"):
        try:
            getattr(at, kind)(key=key)
        except KeyError:
            continue
        return True
    return False


def test_every_section_jump_focuses_a_control_the_quick_consult_draws() -> None:
    at = consult()
    targets = jump_targets()
    assert len(targets) == len(JUMPS) == len(set(JUMPS.values()))  # one letter per section
    assert not set(targets) & RESERVED_JUMP_LETTERS
    assert ALL_NEGATIVE_SHORTCUT[-1] not in targets  # All negative keeps its own chord
    for letter, key in targets.items():
        assert _drawn(at, key), (letter, key)


def test_each_section_heading_shows_its_jump_key() -> None:
    at = consult()
    text = "\n".join(md.value for md in at.markdown)
    for letter in JUMPS.values():
        assert jump_badge(letter) in text, letter


def test_a_jump_letter_the_browser_or_streamlit_keeps_is_refused() -> None:
    with pytest.raises(ValueError, match="jump letter"):
        add_keyboard_entry({"F": "f.patient.age_years"}, "", KEY)


# --- each section a fragment (issue 16 latency) --------------------------------------------------


def test_a_widget_in_a_section_reruns_the_answer_and_its_section_in_that_order() -> None:
    """Inside ``rerun_scope`` a change calls the widget's own action, then asks for exactly the
    scope's fragments; outside it the widget keeps its own callback (or none)."""
    calls: list[tuple[Any, ...]] = []

    def action(*args: Any) -> None:
        calls.append(args)

    assert changed() == (None, ())
    assert changed(action, (1,)) == (action, (1,))
    with rerun_scope(("consult_top", "consult_result", "consult_mjoa")):
        callback, args = changed(action, (2,))
        assert args == (("consult_top", "consult_result", "consult_mjoa"), action, (2,))
        assert callback is not None
    assert changed(action) == (action, ())  # the scope ends with its block
    callback(*args)  # no fragment is running here (as in a whole-page run): nothing is narrowed
    assert calls == [(2,)]


def test_the_page_draws_the_same_answer_in_the_bar_and_the_recommendation() -> None:
    """The bar and the recommendation are drawn by separate fragments from one assessment."""
    at = _moderate(consult())
    assert "Surgical referral" in _bar(at)
    assert "mJOA 13/18" in _bar(at)
    assert "Surgical referral" in at.warning[0].value
    assert at.session_state["_consult_assessed"][1][2].pathway == "surgical_referral"
