"""The findings as JSON that ``python -m myelo_cds assess`` accepts back unchanged."""

from __future__ import annotations

import datetime as dt
import json
from enum import Enum

from myelo_cds.findings import Findings

__all__ = ["assessment_json"]


def _plain(value: object) -> object:
    """JSON-ready data: unknowns (``None``) and empty groups left out, sets sorted, enums as values.

    ``False`` is kept: "examined and absent" is information, unlike "not examined".
    """
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            plain = _plain(item)
            if plain is None or plain in ({}, []):
                continue
            out[str(key.value if isinstance(key, Enum) else key)] = plain
        return out
    if isinstance(value, frozenset | set):
        return sorted(str(_plain(item)) for item in value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def assessment_json(findings: Findings) -> str:
    """The findings as indented JSON, for saving a case and assessing it again later.

    Unknown findings are left out (leaving a finding out means "not examined", so nothing is lost)
    and so are empty groups; known values, including ``false``, are kept. The result validates
    back to equal findings: ``Findings.model_validate(json.loads(out)) == findings``.

    Args:
        findings: validated findings.

    Returns:
        The JSON text, with ``schema_version`` first and a trailing newline.
    """
    data = _plain(findings.model_dump(exclude_none=True))
    if not isinstance(data, dict):  # pragma: no cover - a model always dumps to a dict
        raise TypeError("findings did not dump to an object")
    ordered = {"schema_version": findings.schema_version, **data}
    return json.dumps(ordered, indent=2, ensure_ascii=False) + "\n"
