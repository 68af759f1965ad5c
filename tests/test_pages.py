"""Every page launches under AppTest; main interactions of the follow-up, rules and about pages."""

from __future__ import annotations

import json
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
    pathway_table = at.dataframe[0].value
    assert {"R1", "R11", "R14"} <= set(pathway_table["id"])
    assert pathway_table.loc[pathway_table["id"] == "R11", "strength"].item() == "strong"
    assert "Fehlings" in pathway_table.loc[pathway_table["id"] == "R11", "source"].item()
    assert any("53 of 53" in md.value for md in at.markdown)


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
