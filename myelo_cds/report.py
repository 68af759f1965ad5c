"""A readable consult summary of a recommendation (plain text).

Kept so that ``from myelo_cds.report import consult_summary`` still works; the summary now lives
with the other exports in :mod:`myelo_cds.exports.consult_note`.
"""

from __future__ import annotations

from myelo_cds.exports.consult_note import consult_summary

__all__ = ["consult_summary"]
