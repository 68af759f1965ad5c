"""Spreadsheet-safe cells: text that a spreadsheet would run as a formula is neutralised."""

from __future__ import annotations

from typing import Any

__all__ = ["safe_cell"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Prefix text starting with a formula character with a quote (OWASP CSV injection).

    Numbers are returned unchanged, so a negative number stays a number.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
