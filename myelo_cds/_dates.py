"""Calendar arithmetic shared by the rules and the schedules."""

from __future__ import annotations

import calendar
import datetime as dt

__all__ = ["add_months"]


def add_months(start: dt.date, months: int) -> dt.date:
    """Same day of the month ``months`` later (clamped to the month's last day)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
