"""Counts in words a reader expects: "1 item", "2 items" (never "1 items" or "item(s)")."""

from __future__ import annotations

__all__ = ["count"]


def count(number: int, noun: str, plural: str | None = None) -> str:
    """``count(1, "point")`` -> ``"1 point"``; ``count(2, "point")`` -> ``"2 points"``;
    thousands are grouped: ``count(1500, "row")`` -> ``"1,500 rows"``.

    Args:
        number: how many.
        noun: the singular noun (a phrase ending in the noun is fine: "red-flag question").
        plural: the plural when it is not the noun plus "s" (``count(2, "visit window",
            "visit windows")`` needs none; ``count(3, "child", "children")`` does).
    """
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"
