"""The consult's answer for the draft, worked out once per change: the result bar, the red-flag
banner and the recommendation (separate fragments of the page) draw the same one."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import MutableMapping
from typing import Any

from myelo_cds import Findings, assess
from myelo_cds.errors import InputError
from myelo_cds.findings import FieldProblem, salvage
from myelo_cds.rules.result import Recommendation

__all__ = ["Answer", "assessed"]

#: The findings (every valid value entered), the values left out, and the recommendation; or
#: why there is none (nothing valid to build findings from).
Answer = tuple[Findings, tuple[FieldProblem, ...], Recommendation] | str

_KEPT = "_consult_assessed"


def assessed(data: dict[str, Any], kept: MutableMapping[Any, Any], today: dt.date | None = None) -> Answer:
    """The answer for ``data``, kept in ``kept`` (the session's state) until the draft or the
    day changes: a blank assessment date is today, and the follow-up dates count from it, so a
    tab left open past midnight never shows yesterday's answer."""
    day = today or dt.date.today()
    key = json.dumps([data, day], sort_keys=True, default=str)
    cached = kept.get(_KEPT)
    if cached is not None and cached[0] == key:
        answer: Answer = cached[1]
        return answer
    try:
        findings, problems = salvage(data)
    except InputError as error:
        answer = str(error)
    else:
        answer = (findings, problems, assess(findings, findings.assessment_date or day))
    kept[_KEPT] = (key, answer)
    return answer
