"""A broken rule file is refused when it loads, with one structured problem per fault (issue 12,
item 2): the kind, the file, the row id, the name at fault and, for a misspelt name, the
nearest one that exists. One test per kind of problem, named after it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import get_args

import pytest

from myelo_cds import RuleSetError, default_rule_set, load_rule_set
from myelo_cds.errors import RuleSetProblem, RuleSetProblemKind
from myelo_cds.rules._fact_types import fact_kinds

RULES = Path(__file__).resolve().parents[1] / "data" / "rules" / "dcm_rules.toml"


def _replace(old: str, new: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        assert old in text, f"the shipped rule file no longer has {old!r}"
        return text.replace(old, new, 1)

    return change


def _error(tmp_path: Path, change: Callable[[str], str]) -> RuleSetError:
    path = tmp_path / RULES.name
    path.write_text(change(RULES.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(RuleSetError) as caught:
        load_rule_set(path)
    assert caught.value.problems, "a rule-set error always lists its problems"
    assert all(problem.file == RULES.name for problem in caught.value.problems)
    return caught.value


def _problems(tmp_path: Path, change: Callable[[str], str]) -> list[RuleSetProblem]:
    return _error(tmp_path, change).problems


def _one(problems: list[RuleSetProblem], kind: RuleSetProblemKind) -> RuleSetProblem:
    (problem,) = [problem for problem in problems if problem.kind == kind]
    return problem


def test_malformed_file_not_toml(tmp_path: Path) -> None:
    problems = _problems(tmp_path, lambda text: text + "\n[[red_flags]\n")
    assert [problem.kind for problem in problems] == ["malformed_file"]
    assert "not readable as TOML" in problems[0].message


def test_malformed_file_missing_section(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _replace('[decision]\nhit_policy = "PRIORITY"\n', ""))
    problem = _one(problems, "malformed_file")
    assert (problem.row, problem.name) == ("", "decision")
    assert "missing section [decision]" in str(problem)


def test_invalid_row_names_the_row_and_the_nearest_key(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path, _replace('source = "AOSPINE2024_SCI"\nstrength', 'sorce = "AOSPINE2024_SCI"\nstrength')
    )
    assert {problem.kind for problem in problems} == {"invalid_row"}
    unknown = next(problem for problem in problems if problem.name == "sorce")
    assert (unknown.row, unknown.suggestion) == ("RF-TRAUMA", "source")
    missing = next(problem for problem in problems if problem.name == "source")
    assert missing.row == "RF-TRAUMA"
    assert "Field required" in missing.message


def test_no_condition(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path, _replace('all = ["trauma_or_implied", "deficit_after_trauma"]', "all = []")
    )
    problem = _one(problems, "no_condition")
    assert problem.row == "RF-TRAUMA"


def test_duplicate_id(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _replace('id = "RF-RAPID-AMBULATION"', 'id = "RF-TRAUMA"'))
    problem = _one(problems, "duplicate_id")
    assert (problem.row, problem.name) == ("RF-TRAUMA", "RF-TRAUMA")


def test_unknown_source_suggests_the_nearest_source(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _replace('source = "AOSPINE2024_SCI"', 'source = "AOSPINE2024_SC"'))
    problem = _one(problems, "unknown_source")
    assert (problem.row, problem.name, problem.suggestion) == (
        "RF-TRAUMA",
        "AOSPINE2024_SC",
        "AOSPINE2024_SCI",
    )


def test_unknown_fact_suggests_the_nearest_fact(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        _replace(
            'all = ["trauma_or_implied", "deficit_after_trauma"]',
            'all = ["recent_truama", "deficit_after_trauma"]',
        ),
    )
    problem = _one(problems, "unknown_fact")
    assert (problem.row, problem.name, problem.suggestion) == ("RF-TRAUMA", "recent_truama", "recent_trauma")
    assert "RF-TRAUMA: unknown fact 'recent_truama'; did you mean 'recent_trauma'?" in str(problem)


def test_fact_not_yes_no_a_red_flag_on_a_text_fact_is_refused(tmp_path: Path) -> None:
    # Loaded before, this red flag could never fire: management is a text ("untreated"...).
    problems = _problems(tmp_path, _replace('all = ["rapid_loss_of_ambulation"]', 'all = ["management"]'))
    problem = _one(problems, "fact_not_yes_no")
    assert (problem.row, problem.name) == ("RF-RAPID-AMBULATION", "management")
    assert "holds a text, not yes/no/unknown" in problem.message


def test_fact_not_yes_no_a_choice_or_a_number_is_refused_and_the_nearest_yes_no_fact_offered(
    tmp_path: Path,
) -> None:
    problems = _problems(
        tmp_path,
        _replace('all = ["rapid_loss_of_ambulation"]', 'all = ["tempo", "mjoa_total"]'),
    )
    by_name = {problem.name: problem for problem in problems if problem.kind == "fact_not_yes_no"}
    assert "a choice from a list" in by_name["tempo"].message
    assert "a number" in by_name["mjoa_total"].message
    assert by_name["tempo"].suggestion is not None
    assert fact_kinds(default_rule_set().params)[by_name["tempo"].suggestion] == "yes_no"


def test_escalation_outside_red_flags(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        _replace(
            'id = "FL-MYELOMALACIA"\n',
            'id = "FL-MYELOMALACIA"\nif_not_excluded = { urgency = "urgent", when = ["fever"], source = "ABSCESS" }\n',
        ),
    )
    problem = _one(problems, "escalation_outside_red_flags")
    assert problem.row == "FL-MYELOMALACIA"


def test_unknown_feature_suggests_the_nearest_feature(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _replace('when = { red_flag = "yes" }', 'when = { red_flg = "yes" }'))
    problem = _one(problems, "unknown_feature")
    assert (problem.row, problem.name, problem.suggestion) == ("R1", "red_flg", "red_flag")


def test_unknown_value_suggests_the_nearest_value(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _replace('band = "moderate" }', 'band = "moderat" }'))
    problem = _one(problems, "unknown_value")
    assert (problem.name, problem.suggestion) == ("moderat", "moderate")
    assert "band has no value 'moderat'" in str(problem)


def test_unusable_parameters(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        _replace(
            "[parameters.compression_min_kang]\nvalue = 2", '[parameters.compression_min_kang]\nvalue = "2"'
        ),
    )
    problem = _one(problems, "unusable_parameters")
    assert "cannot be computed with these parameters" in problem.message


def test_every_problem_is_reported_at_once_one_line_each(tmp_path: Path) -> None:
    def two_faults(text: str) -> str:
        text = _replace('all = ["rapid_loss_of_ambulation"]', 'all = ["management"]')(text)
        return _replace('band = "moderate" }', 'band = "moderat" }')(text)

    error = _error(tmp_path, two_faults)
    assert [problem.kind for problem in error.problems] == ["fact_not_yes_no", "unknown_value"]
    lines = str(error).splitlines()
    assert lines[0] == "rule set: 2 problems:"
    assert lines[1:] == [f"  {problem}" for problem in error.problems]


def test_every_kind_of_problem_has_a_test_named_after_it() -> None:
    tests = [name for name in globals() if name.startswith("test_")]
    untested = [
        kind for kind in get_args(RuleSetProblemKind) if not any(t.startswith(f"test_{kind}") for t in tests)
    ]
    assert not untested


def test_every_fact_the_shipped_rules_can_read_has_a_known_kind() -> None:
    kinds = fact_kinds(default_rule_set().params)
    assert "none" not in kinds.values(), [name for name, kind in kinds.items() if kind == "none"]
    assert (kinds["myelopathy"], kinds["management"], kinds["tempo"], kinds["mjoa_total"]) == (
        "yes_no",
        "text",
        "choice",
        "number",
    )
