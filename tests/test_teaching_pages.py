"""The training pages under AppTest against a real SQLite file: the quiz flow (commit, reveal,
score, stored attempt), progress with its charts, the supervisor view gated by role (a resident
never sees another resident's results) and case authoring (validated before it is saved)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from myelo_cds.auth import User
from myelo_cds.records import Store
from myelo_cds.teaching import QuizAnswer, attempt_record, case_library, score_answer

ROOT = Path(__file__).resolve().parents[1]
RESIDENT = User(user_id="res-1", role="resident")
OTHER_RESIDENT = User(user_id="res-2", role="resident")
SUPERVISOR = User(user_id="sup-1", role="clinician", supervisor=True)


def _page(name: str, user: User) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=60)
    at.session_state["myelo_cds.user"] = user
    at.run()
    assert not at.exception
    return at


def _by_label(elements, label: str):  # type: ignore[no-untyped-def]
    return next(element for element in elements if element.label == label)


def _store_attempt(store: Store, trainee: str, case_id: str, pathway: str) -> None:
    case = next(c for c in case_library() if c.id == case_id)
    result = score_answer(case, QuizAnswer.model_validate({"pathway": pathway}))
    store.save_training_attempt(attempt_record(case, result, trainee, dt.datetime(2026, 3, 2, tzinfo=dt.UTC)))


def _chart_rows(chart: Any) -> list[dict[str, Any]]:
    """The rows Streamlit sends with a chart (moved out of the spec into an Arrow table)."""
    rows: list[dict[str, Any]] = pa.ipc.open_stream(chart.proto.data.data).read_all().to_pylist()
    return rows


def _text(at: AppTest) -> str:
    return " ".join(
        [md.value for md in at.markdown] + [e.value for e in at.error] + [s.value for s in at.success]
    )


def test_quiz_shows_the_stem_but_not_the_answer_before_the_commit(database: Store) -> None:
    at = _page("quiz.py", RESIDENT)
    _by_label(at.selectbox, "Case (the first one due for re-testing is preselected)").set_value("T05").run()
    assert not at.exception
    text = _text(at)
    assert "Mild DCM at the 14/15 boundary" in " ".join(h.value for h in at.header)
    assert "slight difficulty with buttons" in text
    assert "Rule R8" not in text
    assert "Teaching points" not in text
    assert not at.success  # no reveal box before the commit


def test_quiz_flow_commit_reveal_score_and_store(database: Store) -> None:
    at = _page("quiz.py", RESIDENT)
    _by_label(at.selectbox, "Case (the first one due for re-testing is preselected)").set_value("T05").run()
    # mJOA 15 read correctly except lower-extremity motor (5 instead of 6)
    _by_label(at.selectbox, "mJOA upper-extremity motor (0-5)").set_value(4)
    _by_label(at.selectbox, "mJOA lower-extremity motor (0-7)").set_value(5)
    _by_label(at.selectbox, "mJOA upper-extremity sensation (0-3)").set_value(2)
    _by_label(at.selectbox, "mJOA bladder function (0-3)").set_value(3)
    _by_label(at.radio, "Severity grade").set_value("moderate")
    _by_label(at.radio, "Pathway").set_value("surgical_referral")
    _by_label(at.radio, "Item 1 answer").set_value(-1)
    at.button[0].click().run()
    assert not at.exception
    error = at.error[0].value
    assert "Not the expected pathway" in error
    assert "Surgery or supervised structured rehabilitation" in error
    text = _text(at)
    assert "Rule R8 (Mild DCM (mJOA 15-17)) decided it" in text
    assert "mJOA Lower-extremity motor: you scored 5, the narrative describes 6" in text
    assert "Teaching points" in text
    assert "your credit 1.00" in text
    assert any("not a real expert panel" in caption.value for caption in at.caption)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["mJOA (yours / true)"] == "14 / 15"
    assert metrics["Severity grade"] == "wrong"
    assert metrics["Score"] == "29%"  # (0 pathway x 3 + 0.75 mJOA + 0 severity + 1 SCT) / 6
    assert any("pathway 0 x 3 + mJOA 0.75 x 1" in caption.value for caption in at.caption)
    [stored] = database.training_attempts("res-1")
    assert (stored.case_id, stored.pathway_correct, stored.mjoa_given, stored.mjoa_true) == (
        "T05",
        False,
        14,
        15,
    )
    assert stored.score == pytest.approx(1.75 / 6, abs=1e-4)


def test_committing_without_a_pathway_names_what_is_missing_and_stores_nothing(database: Store) -> None:
    at = _page("quiz.py", RESIDENT)
    _by_label(at.selectbox, "Case (the first one due for re-testing is preselected)").set_value(
        "T38"
    ).run()  # no mJOA recorded
    at.button[0].click().run()
    assert not at.exception
    assert "still empty: Pathway" in at.error[0].value
    assert database.training_attempts("res-1") == []


def test_a_correct_red_flag_answer_scores_full_marks(database: Store) -> None:
    at = _page("quiz.py", RESIDENT)
    _by_label(at.selectbox, "Case (the first one due for re-testing is preselected)").set_value("T38").run()
    _by_label(at.radio, "Pathway").set_value("emergency_referral")
    at.button[0].click().run()
    assert not at.exception
    assert "Correct" in at.success[0].value
    assert {m.label: m.value for m in at.metric}["Score"] == "100%"
    assert any("EMERGENCY" in e.value or "Emergency referral" in e.value for e in at.error)  # engine panel


def test_progress_shows_only_the_residents_own_results_with_charts(database: Store) -> None:
    _store_attempt(database, "res-1", "T01", "surgical_referral")
    _store_attempt(database, "res-1", "T09", "surgical_referral")
    _store_attempt(database, "res-2", "T02", "surveillance")
    at = _page("training_progress.py", RESIDENT)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Answers committed"] == "2"
    assert metrics["Pathway accuracy"] == "50%"
    answers = at.dataframe[-1].value
    assert set(answers["case"]) == {"T01", "T09"}  # never res-2's T02
    by_topic, by_week = at.get("vega_lite_chart")
    assert json.loads(by_topic.proto.spec)["mark"]["type"] == "bar"
    topics = {row["topic"]: row["accuracy"] for row in _chart_rows(by_topic)}
    assert topics == {"moderate_dcm": 1.0, "ascc_without_radiculopathy": 0.0}
    weeks = {(row["week"], row["measure"]): row["value"] for row in _chart_rows(by_week)}
    # T01 right pathway (x3) but no mJOA or severity entered (3/5), T09 wrong (0): mean score 0.3
    assert weeks == {
        ("2026-03-02", "pathway accuracy"): 0.5,
        ("2026-03-02", "mean score"): pytest.approx(0.3, abs=1e-3),
    }
    due = at.dataframe[0].value
    assert "T09" in set(due["case"])  # wrong on 2 March: box 1, overdue


def test_progress_without_answers_says_so(database: Store) -> None:
    at = _page("training_progress.py", OTHER_RESIDENT)
    assert "No committed quiz answers yet" in at.info[0].value


def test_progress_with_every_answer_right_today_has_nothing_due(database: Store) -> None:
    case = next(c for c in case_library() if c.id == "T01")
    result = score_answer(case, QuizAnswer.model_validate({"pathway": "surgical_referral"}))
    assert result.pathway_correct
    database.save_training_attempt(attempt_record(case, result, "res-3", dt.datetime.now(dt.UTC)))
    at = _page("training_progress.py", User(user_id="res-3", role="resident"))
    assert "Due for re-testing** (0;" in _text(at)
    assert "Nothing due today." in [caption.value for caption in at.caption]


def test_supervisor_view_is_refused_to_a_resident(database: Store) -> None:
    _store_attempt(database, "res-2", "T02", "surveillance")
    at = _page("supervisor.py", RESIDENT)
    assert "may not see residents' training results" in at.error[0].value
    assert not at.dataframe
    assert "res-2" not in _text(at)


def test_supervisor_view_lists_every_resident_and_opens_one(database: Store) -> None:
    _store_attempt(database, "res-1", "T01", "surgical_referral")
    _store_attempt(database, "res-2", "T02", "surveillance")
    at = _page("supervisor.py", SUPERVISOR)
    summary = at.dataframe[0].value
    assert list(summary["trainee"]) == ["res-1", "res-2"]
    assert list(summary["pathway accuracy"]) == [1.0, 0.0]
    _by_label(at.selectbox, "Resident").set_value("res-2").run()
    assert not at.exception
    assert "res-2" in [h.value for h in at.header]
    assert set(at.dataframe[-1].value["case"]) == {"T02"}


def _import(at: AppTest, document: dict[str, Any]) -> AppTest:
    _by_label(at.text_area, "or paste the case JSON").set_value(json.dumps(document))
    _by_label(at.button, "Check the imported case").click().run()
    assert not at.exception
    return at


def _case_document(case_id: str = "X-IMPORT-1") -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(next((ROOT / "data" / "cases").glob("t05_*.json")).read_text())
    raw["id"] = case_id
    return raw


def test_authoring_imports_validates_and_a_supervisor_saves_to_the_library(
    database: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = tmp_path / "cases"
    library.mkdir()
    monkeypatch.setenv("MYELO_CDS_CASES_DIR", str(library))
    at = _import(_page("case_authoring.py", SUPERVISOR), _case_document())
    assert "is valid and the engine agrees" in at.success[0].value
    _by_label(at.button, "Save to the case library").click().run()
    assert not at.exception
    assert "Saved as x-import-1.json" in at.success[-1].value
    assert json.loads((library / "x-import-1.json").read_text())["id"] == "X-IMPORT-1"


def test_authoring_refuses_a_case_the_engine_disagrees_with_and_names_the_field(database: Store) -> None:
    document = _case_document()
    document["expected"] = {"pathway": "surveillance"}
    document["findings"]["mjoa"]["sphincter"] = 5
    at = _import(_page("case_authoring.py", SUPERVISOR), document)
    problems = at.error[0].value
    assert "The case was not saved" in problems
    assert "findings.mjoa.sphincter" in problems
    assert "0-3" in problems
    document["findings"]["mjoa"]["sphincter"] = 3
    at = _import(_page("case_authoring.py", SUPERVISOR), document)
    assert "engine gives Surgery or supervised structured rehabilitation" in at.error[0].value


def test_authoring_a_resident_can_check_but_not_save(database: Store) -> None:
    at = _import(_page("case_authoring.py", RESIDENT), _case_document())
    assert at.success
    assert not [b for b in at.button if b.label == "Save to the case library"]
    assert "for supervisors and admins" in at.caption[-1].value


def test_authoring_create_form_builds_a_case_from_the_fields(database: Store) -> None:
    at = _page("case_authoring.py", SUPERVISOR)
    _by_label(at.text_input, "Case id (letters, digits, . _ -)").set_value("X-NEW-2")
    _by_label(at.text_input, "Title").set_value("A new moderate case")
    _by_label(at.multiselect, "Topics").set_value(["moderate_dcm"])
    stem = "A 60-year-old man has clumsy hands; buttons take great difficulty. " * 2
    _by_label(
        at.text_area, "Narrative stem (what the resident reads; describe function so the mJOA can be scored)"
    ).set_value(stem)
    _by_label(at.selectbox, "Start the findings from an example").set_value("moderate_dcm")
    _by_label(at.selectbox, "Expected pathway").set_value("surgical_referral")
    _by_label(at.text_area, "Teaching points (one per line)").set_value(
        "Moderate DCM: surgery is recommended."
    )
    _by_label(at.text_area, "Citations (one per line)").set_value("Fehlings 2017")
    _by_label(at.button, "Check the new case").click().run()
    assert not at.exception
    assert "X-NEW-2 - A new moderate case" in at.success[0].value


def test_attempting_a_case_again_starts_from_a_blank_answer(database: Store) -> None:
    at = _page("quiz.py", RESIDENT)
    _by_label(at.selectbox, "Case (the first one due for re-testing is preselected)").set_value("T38").run()
    _by_label(at.radio, "Pathway").set_value("surveillance")
    at.button[0].click().run()
    assert "Not the expected pathway" in at.error[0].value
    _by_label(at.button, "Attempt this case again").click().run()
    assert not at.exception
    assert _by_label(at.radio, "Pathway").value is None
    _by_label(at.radio, "Pathway").set_value("emergency_referral")
    at.button[0].click().run()
    assert "Correct" in at.success[0].value
    assert [a.pathway_correct for a in database.training_attempts("res-1")] == [False, True]


def test_authoring_create_form_reports_malformed_findings_json(database: Store) -> None:
    at = _page("case_authoring.py", SUPERVISOR)
    _by_label(at.text_area, "Findings (JSON, as the consult takes them)").set_value('{"patient": ')
    _by_label(at.button, "Check the new case").click().run()
    assert not at.exception
    assert "Findings are not valid JSON" in at.error[0].value


def test_authoring_into_a_library_that_cannot_be_written_says_so(
    database: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_folder = tmp_path / "cases"
    not_a_folder.write_text("a file where the library folder should be")
    monkeypatch.setenv("MYELO_CDS_CASES_DIR", str(not_a_folder / "inner"))
    at = _import(_page("case_authoring.py", SUPERVISOR), _case_document())
    _by_label(at.button, "Save to the case library").click().run()
    assert not at.exception
    assert "the case library folder cannot be written" in at.error[-1].value
