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

__all__ = [
    "CaseError",
    "DataFileError",
    "ExportError",
    "FontsMissingError",
    "HookRequestError",
    "InputError",
    "MyeloCdsError",
    "PasswordError",
    "RecordError",
    "RuleSetError",
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


class HookRequestError(InputError):
    """The request is not a valid patient-view hook call."""


class RuleSetError(DataFileError):
    """The rule-set file is inconsistent (unknown fact, feature, value or source)."""


class CaseError(DataFileError):
    """A case that cannot be used, with one line per problem (field, value, what is allowed)."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))
