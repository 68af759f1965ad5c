"""Every error myelo-cds raises on purpose, in one hierarchy.

Callers catch :class:`MyeloCdsError` for any of them, or a branch for one kind of problem:

- :class:`InputError`: what a person or a file sent is not allowed (a finding, an upload, a
  password, a hook request). The message names the field, the value and what is allowed.
- :class:`DataFileError`: a reviewable data file in ``data/`` (rule set, scale, protocol,
  handout, teaching case) is inconsistent. Raised when the file is loaded, never later.
- :class:`RecordError`: a value the record store refuses.
- :class:`SettingsError`: a deployment setting that is not allowed.
- :class:`ExportError`: an export cannot be built as asked.
- :class:`FontsMissingError`: the fonts the PDF exports embed are not installed.

The input, data and record errors are also :class:`ValueError` and the fonts error a
:class:`RuntimeError`, so pydantic validators and older callers keep working.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CaseError",
    "DataFileError",
    "ExportError",
    "FontsMissingError",
    "HookRequestError",
    "InputError",
    "JsonInputError",
    "MyeloCdsError",
    "PasswordError",
    "RecordError",
    "RuleSetError",
    "RuleSetProblem",
    "RuleSetProblemKind",
    "SettingsError",
    "UploadError",
]


class MyeloCdsError(Exception):
    """The base of every error myelo-cds raises on purpose."""


class InputError(MyeloCdsError, ValueError):
    """Input that is not allowed; the message says which field, what was given and what is allowed."""


class DataFileError(MyeloCdsError, ValueError):
    """A reviewable data file (``data/``) is inconsistent; the message names the file and entry."""


class RecordError(MyeloCdsError, ValueError):
    """A value the records refuse, with what is allowed. The refused value is not repeated,
    so that a name typed into the wrong field never reaches a log through the message."""


class SettingsError(MyeloCdsError, ValueError):
    """A setting with a value that is not allowed; the message names the setting."""


class ExportError(MyeloCdsError, ValueError):
    """An export that cannot be built as asked (the message says why)."""


class FontsMissingError(MyeloCdsError, RuntimeError):
    """The DejaVu fonts the PDF exports embed are not installed."""


class PasswordError(InputError):
    """A new password that is not allowed (the message says why, never repeats it)."""


class UploadError(InputError):
    """The file cannot be read as a clinic list (the message says why and what to do)."""


class JsonInputError(InputError):
    """A JSON document that cannot be read: not UTF-8, not JSON, too large or too deep, a number
    too long or not finite, or a key written twice. The message (``<source> is not valid JSON:
    <reason>``) names the source and the place; ``reason`` alone suits a page that names the
    source itself. String values are never repeated (only a key or the start of a number)."""

    def __init__(
        self,
        source: str,
        reason: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
        offset: int | None = None,
    ) -> None:
        self.source, self.reason = source, reason
        # Where it is, when known: the key path (``patient.age_years``), line and column, byte offset.
        self.path, self.line, self.column, self.offset = path, line, column, offset
        super().__init__(f"{source} is not valid JSON: {reason}")


class HookRequestError(InputError):
    """The request is not a valid patient-view hook call."""


RuleSetProblemKind = Literal[
    "malformed_file",
    "invalid_row",
    "no_condition",
    "duplicate_id",
    "unknown_source",
    "unknown_fact",
    "fact_not_yes_no",
    "escalation_outside_red_flags",
    "unknown_feature",
    "unknown_value",
    "unusable_parameters",
]
"""What can be wrong in a rule-set file, one kind per check made when it loads."""


@dataclass(frozen=True, slots=True)
class RuleSetProblem:
    """One problem in a rule-set file: where it is, what is wrong and, for a misspelt name, the
    nearest name that exists."""

    kind: RuleSetProblemKind
    file: str
    """The rule-set file's name."""
    row: str
    """The row's id (``RF-TRAUMA``), ``parameter <name>``, or ``""`` for the file as a whole."""
    message: str
    name: str | None = None
    """The name or value at fault, as written in the file."""
    suggestion: str | None = None
    """The nearest valid name, for a misspelt one."""

    def __str__(self) -> str:
        where = f"{self.file}: {self.row}: " if self.row else f"{self.file}: "
        hint = f"; did you mean {self.suggestion!r}?" if self.suggestion else ""
        return where + self.message + hint


class RuleSetError(DataFileError):
    """The rule-set file is inconsistent; ``problems`` holds every problem found, one each."""

    def __init__(self, problems: Sequence[RuleSetProblem]) -> None:
        self.problems = list(problems)
        count = f"{len(self.problems)} problem" + ("" if len(self.problems) == 1 else "s")
        super().__init__(f"rule set: {count}:\n" + "\n".join(f"  {problem}" for problem in self.problems))


class CaseError(DataFileError):
    """A case that cannot be used, with one line per problem (field, value, what is allowed)."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))
