"""Resident training: the DCM case library, commit-then-reveal quiz scoring and progress.

Cases are data (``data/cases``); scoring and progress are pure functions over them and the
attempts kept in the record store. No Streamlit here: the pages render what this returns.
"""

from myelo_cds.teaching._attempts import attempt_record
from myelo_cds.teaching._case import (
    DIFFICULTIES,
    SCT_SCALE,
    TOPICS,
    ExpectedAnswer,
    ScriptConcordanceItem,
    TeachingCase,
)
from myelo_cds.teaching._library import (
    CaseError,
    case_library,
    cases_dir,
    check_case,
    engine_disagreement,
    parse_case,
    save_case,
)
from myelo_cds.teaching._progress import (
    LEITNER_INTERVAL_DAYS,
    DueCase,
    TopicAccuracy,
    WeekAccuracy,
    accuracy_by_topic,
    accuracy_by_week,
    attempts_by_trainee,
    due_cases,
    leitner_box,
    visible_attempts,
)
from myelo_cds.teaching._quiz import (
    BAND_LABELS,
    PART_WEIGHTS,
    QuizAnswer,
    QuizResult,
    score_answer,
    score_working,
    sct_credit,
)

__all__ = [
    "BAND_LABELS",
    "DIFFICULTIES",
    "LEITNER_INTERVAL_DAYS",
    "PART_WEIGHTS",
    "SCT_SCALE",
    "TOPICS",
    "CaseError",
    "DueCase",
    "ExpectedAnswer",
    "QuizAnswer",
    "QuizResult",
    "ScriptConcordanceItem",
    "TeachingCase",
    "TopicAccuracy",
    "WeekAccuracy",
    "accuracy_by_topic",
    "accuracy_by_week",
    "attempt_record",
    "attempts_by_trainee",
    "case_library",
    "cases_dir",
    "check_case",
    "due_cases",
    "engine_disagreement",
    "leitner_box",
    "parse_case",
    "save_case",
    "score_answer",
    "score_working",
    "sct_credit",
    "visible_attempts",
]
