"""A documented "not done" answer (issue 16): the item leaves the not-recorded list, the answer
stays exactly as uncertain - and as safe - as with the item blank."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from streamlit.testing.v1 import AppTest

from myelo_cds import Findings, assess
from myelo_cds.findings import NOT_DONE_ANSWERS, not_done_inputs
from myelo_cds.findings._paths import resolve_path
from myelo_cds.rules.result import Recommendation
from myelo_cds.ui.not_recorded import not_done_label
from tests.strategies import any_findings_dicts
from tests.test_consult_page import ROOT, consult
from tests.test_quick_consult import _moderate

EDX = "Electrodiagnostics"


def _moderate_data(**electro: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "data" / "examples" / "moderate_dcm.json").read_text())
    data["electro"] = {**data.get("electro", {}), **electro}
    return data


def _safety(rec: Recommendation) -> tuple[Any, ...]:
    """Everything a "not done" must leave as it is: the answer, its certainty and the triage."""
    return (
        rec.pathway,
        rec.urgency,
        rec.headline,
        rec.provisional,
        rec.to_confirm,
        rec.incomplete,
        rec.rules_fired,
        [(unknown.input, unknown.fields, unknown.scenarios) for unknown in rec.unknowns],
    )


def test_every_not_done_answer_names_real_inputs() -> None:
    for answer, paths in NOT_DONE_ANSWERS.items():
        resolve_path(answer)
        for path in paths:
            resolve_path(path)
            assert path.split(".")[0] == answer.split(".")[0]


def test_electrodiagnostics_not_done_leaves_the_not_recorded_list() -> None:
    blank = assess(Findings.model_validate(_moderate_data()))
    assert EDX in [unknown.input for unknown in blank.not_recorded], "the example leaves EDX blank"
    assert not blank.not_done
    done = assess(Findings.model_validate(_moderate_data(not_done=True)))
    assert EDX not in [unknown.input for unknown in done.not_recorded]
    assert [unknown.input for unknown in done.not_done] == [EDX]
    # An answer, not a result: the rules still read the results as unknown.
    assert _safety(done) == _safety(blank)


def test_not_done_does_not_hide_a_result_that_was_entered() -> None:
    findings = Findings.model_validate(_moderate_data(not_done=True, summary="normal"))
    rec = assess(findings)
    assert "electro.summary" in not_done_inputs(findings)
    assert EDX not in [unknown.input for unknown in rec.unknowns]  # known: nothing to list


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_findings_dicts())
def test_not_done_never_changes_the_answer_or_the_red_flag_triage(data: dict[str, Any]) -> None:
    marked = copy.deepcopy(data)
    marked.setdefault("electro", {})["not_done"] = True
    before = assess(Findings.model_validate(data))
    after = assess(Findings.model_validate(marked))
    assert _safety(after) == _safety(before)
    assert set(after.not_recorded) | {
        u.model_copy(update={"not_done": False}) for u in after.not_done
    } == set(before.unknowns)
    for unknown in after.not_done:
        assert set(unknown.fields) <= set(NOT_DONE_ANSWERS["electro.not_done"])


def _shown(at: AppTest) -> str:
    return " ".join(
        [md.value for md in at.markdown] + [c.value for c in at.caption] + [w.value for w in at.warning]
    )


def _not_recorded_text(at: AppTest) -> str:
    return " ".join(
        md.value for expander in at.expander if "not recorded" in expander.label for md in expander.markdown
    )


def test_consult_not_done_toggle_takes_the_item_off_the_list_and_keeps_the_answer() -> None:
    at = _moderate(consult())
    assert EDX in _not_recorded_text(at)
    headline = [alert.value for alert in (*at.success, *at.warning, *at.info, *at.error)]
    toggle = at.toggle(key="f.electro.not_done")
    assert toggle.label == not_done_label("electro.not_done")
    toggle.set_value(True).run()
    assert not at.exception
    assert EDX not in _not_recorded_text(at)
    assert f"{EDX}: not done (documented)" in _shown(at)
    assert "widespread anterior horn" in _shown(at)  # the choice in words, never its id
    assert "widespread_anterior_horn" not in _shown(at)
    assert [alert.value for alert in (*at.success, *at.warning, *at.info, *at.error)] == headline
    # Drawn beside the list in both views: never counted as a finding the quick consult hides.
    assert not [c.value for c in at.caption if "not shown here" in c.value]
    # Taken back: the item is listed as not recorded again.
    at.toggle(key="f.electro.not_done").set_value(False).run()
    assert EDX in _not_recorded_text(at)


def _emergency_not_done_page() -> None:
    from myelo_cds import Findings, assess
    from myelo_cds.ui.not_recorded import render_what_would_change

    rec = assess(
        Findings.model_validate({"patient": {"age_years": 64}, "symptoms": {"hand_clumsiness": True}})
    )
    urgent = next(u for u in rec.unknowns if any(s.urgency == "emergency" for s in u.scenarios))
    marked = tuple(u.model_copy(update={"not_done": True}) if u is urgent else u for u in rec.unknowns)
    render_what_would_change(rec.model_copy(update={"unknowns": marked}))


def test_an_emergency_relevant_item_not_done_stays_in_view_as_not_excluded() -> None:
    at = AppTest.from_function(_emergency_not_done_page, default_timeout=30).run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1
    assert "not done" in warnings[0]
    assert "emergency is not excluded" in warnings[0]
    assert "-> Emergency referral" in warnings[0] or "(emergency)" in warnings[0]


def test_the_consult_note_says_electrodiagnostics_not_done() -> None:
    from myelo_cds.exports import consult_note_text

    findings = Findings.model_validate(_moderate_data(not_done=True))
    assert "Electrodiagnostics: not done" in consult_note_text(assess(findings), findings)
    blank = Findings.model_validate(_moderate_data())
    assert "Electrodiagnostics: not done" not in consult_note_text(assess(blank), blank)
