"""Every page launches under AppTest; main interactions of the follow-up, rules and about pages."""

from __future__ import annotations

import json
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from myelo_cds.ui.consult_form import KEY

ROOT = Path(__file__).resolve().parents[1]


def page(name: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=60)
    at.run()
    assert not at.exception
    return at


def test_rules_page_lists_every_rule_with_its_source() -> None:
    at = page("rules_evidence.py")
    pathway_table = at.table[0].value
    assert {"R1", "R11", "R14"} <= set(pathway_table["id"])
    assert pathway_table.loc[pathway_table["id"] == "R11", "strength"].item() == "strong"
    assert "Fehlings" in pathway_table.loc[pathway_table["id"] == "R11", "source"].item()
    # every vignette agrees: "N of N" whatever the number of vignettes
    assert any(re.search(r"\*\*(\d+) of \1\*\* vignettes agree", md.value) for md in at.markdown)


def test_rules_page_runs_the_verification_on_request() -> None:
    at = page("rules_evidence.py")
    at.button[0].click().run()
    assert not at.exception
    assert at.success[0].value.startswith("VERIFIED")


def _app_with_case(example: str) -> AppTest:
    """The whole app, with a case loaded into the consult draft as the Consult page does."""
    from myelo_cds.findings import example_cases, field_spec
    from myelo_cds.ui.consult_form import _flatten, _to_widget

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for path, value in _flatten(json.loads(example_cases()[example])):
        at.session_state[KEY + path] = _to_widget(field_spec(path), value)
    at.run()
    assert not at.exception
    return at


def test_follow_up_page_without_a_consult_asks_for_one() -> None:
    at = page("follow_up.py")
    assert "Complete the consult first" in at.info[0].value


def test_follow_up_page_shows_table_timeline_and_calendar_for_the_consult() -> None:
    at = _app_with_case("mild_dcm")
    at.switch_page("pages/follow_up.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert "Failure-to-improve check (3 months of rehabilitation)" in set(table["what"])
    assert any("Escalate when" in md.value for md in at.markdown)
    (chart,) = at.get("vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    assert len(spec["layer"]) == 2, "visit windows and due dates"
    assert at.get("download_button")[0].proto.label == "Download the schedule (.ics)"
    assert at.markdown[0].value.startswith("**Patient EX-mild-dcm**, consult of ")  # names its patient


def test_rules_page_shows_every_condition_in_full() -> None:
    """Each rule table is a static table, whose cells wrap (a data grid clips a cell to one
    line): every condition of every table is printed whole."""
    from myelo_cds import default_rule_set
    from myelo_cds.rules.describe import rule_tables

    at = page("rules_evidence.py")
    tables = rule_tables(default_rule_set())
    assert len(at.table) == 6  # pathway, red flags, urgency, differentials, flags, parameters
    shown = {str(cell) for table in at.table for cell in table.value.to_numpy().ravel()}
    conditions = {str(row["when"]) for rows in tables.values() for row in rows if "when" in row}
    assert conditions
    assert conditions <= shown
    grids = " ".join(" ".join(map(str, grid.value.columns)) for grid in at.dataframe)
    assert "when" not in grids.split()  # no rule table is left in a clipping grid


def test_about_page_shows_the_handout_for_the_consult_pathway() -> None:
    at = _app_with_case("asymptomatic_compression")
    at.switch_page("pages/about.py").run()
    assert not at.exception
    text = " ".join(md.value for md in at.markdown)
    assert "myelopathy" in text.lower()
    assert "surveillance" in at.caption[-1].value or "surveillance" in text.lower()


def test_about_page_previews_an_example_without_a_consult() -> None:
    at = page("about.py")
    assert at.selectbox[0].value is not None
    assert "clinician does" in at.markdown[0].value


# --- issue 13: what a page shows of an uncertain answer -----------------------------------------


def test_case_file_with_an_invalid_value_still_shows_the_banner_and_names_the_value() -> None:
    at = page("assess_case.py")
    case = {"patient": {"age_years": 70}, "symptoms": {"fever": True, "hand_clumsiness": True}, "nurick": 9}
    at.text_area[0].input(json.dumps(case)).run()
    assert not at.exception
    assert at.error[0].value.startswith("**EMERGENCY - red flag present.**")
    assert "nurick" in at.warning[0].value  # amber: red is kept for the emergency
    assert "0-5" in at.warning[0].value
    assert "RECOMMENDATION: Emergency referral [!!! EMERGENCY]" in at.code[0].value


def _panel(rec_json: str) -> None:
    """Renders one recommendation with the consult's panel (run by AppTest as a script)."""
    from myelo_cds.rules.result import Recommendation
    from myelo_cds.ui.panels import render_recommendation

    render_recommendation(Recommendation.model_validate_json(rec_json))


def _shown(**update: object) -> AppTest:
    from myelo_cds import Findings, assess
    from myelo_cds.findings import example_cases

    findings = Findings.model_validate(json.loads(example_cases()["mild_dcm"]))
    rec = assess(findings).model_copy(update=update)
    at = AppTest.from_function(_panel, args=(rec.model_dump_json(),), default_timeout=60)
    at.run()
    assert not at.exception
    return at


def _question(text: str, urgency: str, escalated: bool) -> object:
    from myelo_cds.rules.result import ToConfirm

    return ToConfirm(
        input=text,
        fields=("symptoms.x",),
        red_flags=("RF-X",),
        urgency_if_positive=urgency,
        escalated=escalated,
    )


def test_a_provisional_answer_shows_the_mark_and_the_questions_most_dangerous_first() -> None:
    at = _shown(
        urgency="emergency",
        provisional=True,
        to_confirm=(
            _question("Loss of walking within days", "urgent", True),
            _question("Current or past cancer", "emergency", False),
            _question("Onset tempo", "emergency", True),
        ),
    )
    assert "PROVISIONAL" in at.error[0].value
    assert any("PROVISIONAL" in md.value for md in at.markdown)
    (questions,) = [md.value for md in at.markdown if "Onset tempo" in md.value]
    assert questions.splitlines() == [
        "- Emergency not excluded: ask Onset tempo",
        "- Urgent review not excluded: ask Loss of walking within days",
    ]
    # a question whose "yes" would not change today's emergency is still asked, one click away
    (others,) = [
        e for e in at.expander if e.label.startswith("Other red-flag questions not yet answered (1)")
    ]
    assert (
        "Not yet asked: Current or past cancer (the answer could mean emergency)" in others.markdown[0].value
    )


def test_an_incomplete_answer_is_neutral_never_a_green_routine_answer() -> None:
    at = _shown(urgency="routine", incomplete=("patient.age_years",))
    assert not at.success
    assert at.info[0].value.startswith("**Incomplete - enter age in whole years")
    assert "patient.age_years" in at.info[0].value


def test_an_urgent_answer_is_amber_with_its_word_never_red() -> None:
    at = _shown(urgency="urgent")
    assert not at.error
    assert "URGENT - specialist assessment within days" in at.warning[0].value
    assert at.warning[0].icon == ":material/alarm:"


def test_consistency_warnings_are_listed_beside_the_answer() -> None:
    from myelo_cds.rules.result import ConsistencyWarning

    warning = ConsistencyWarning(
        code="W-BLADDER", message="mJOA bladder 0 with no bladder change recorded", fields=("mjoa.sphincter",)
    )
    at = _shown(warnings=(warning,))
    assert any("mJOA bladder 0 with no bladder change recorded" in w.value for w in at.warning)
