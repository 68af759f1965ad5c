"""Spreadsheet-safe cells: text that a spreadsheet would run as a formula is neutralised."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["safe_cell", "safe_cells"]

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
