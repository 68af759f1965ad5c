"""Spreadsheet-safe cells: text that a spreadsheet would run as a formula is neutralised."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["safe_cell", "safe_cells", "safe_csv", "safe_texts"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Prefix text starting with a formula character with a quote (OWASP CSV injection).

    Numbers are returned unchanged, so a negative number stays a number.
    """
    return safe_cells((value,))[0]


def safe_cells(values: Iterable[Any]) -> list[Any]:
    """:func:`safe_cell` of each value, in one call (the batch writer's row at a time)."""
    return [
        "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value
        for value in values
    ]


def safe_texts(texts: Iterable[str]) -> list[str]:
    """:func:`safe_cell` of each text (the batch writer's case ids, a column at a time)."""
    return ["'" + text if text.startswith(_FORMULA_START) else text for text in texts]


def safe_csv(rows: Iterable[Mapping[str, Any]], columns: list[str]) -> str:
    """A CSV document of ``rows`` (one line each, ``columns`` in order) with every cell made safe.

    ``None`` becomes an empty cell; every other value its text, neutralised by :func:`safe_cell`.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(
        {key: safe_cell("" if value is None else str(value)) for key, value in row.items()} for row in rows
    )
    return buffer.getvalue()
