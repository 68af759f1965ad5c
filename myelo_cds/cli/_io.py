"""The command line's file conventions, as other Unix tools keep them.

- ``-`` as an input means standard input, as an output (``-o -``) standard output.
- A file that cannot be read or written (missing, a directory, no permission, no space) is one
  line, ``myelo-cds: cannot read X: reason``, and exit status 2; never a traceback.
- A reader that stops early (``myelo-cds batch in.csv | head -1``) ends the output quietly:
  exit status 141 (128 + SIGPIPE), what a shell reports for a tool the closed pipe stopped,
  so ``set -o pipefail`` scripts see the same as with ``cat``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import sys
from pathlib import Path

__all__ = [
    "EXIT_BROKEN_PIPE",
    "PROGRAM",
    "STDIO",
    "FileProblem",
    "cannot",
    "copy_to_output",
    "is_special",
    "is_write_error",
    "quiet_broken_pipe",
    "spool_stdin",
    "write_output",
    "write_stdout",
]

PROGRAM = "myelo-cds"
STDIO = "-"
EXIT_BROKEN_PIPE = 128 + 13  # SIGPIPE
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


class FileProblem(Exception):
    """A file or stream that cannot be used; the message is the line after ``myelo-cds: ``."""


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def cannot(action: str, name: str, error: OSError) -> FileProblem:
    """``cannot read X: reason`` (or write) for ``error``."""
    return FileProblem(f"cannot {action} {name}: {_reason(error)}")


def is_write_error(error: OSError, *written: Path) -> bool:
    """Whether ``error`` came from writing: a full or read-only disk, or one of ``written``."""
    if error.errno in _WRITE_ERRNOS:
        return True
    names = {os.fspath(path) for path in written}
    return any(os.fspath(name) in names for name in (error.filename, error.filename2) if name is not None)


def is_special(path: Path) -> bool:
    """Whether ``path`` exists and is not a regular file (a device such as /dev/null, a FIFO).

    Such a target is written in place: replacing it with a finished file (what a regular target
    gets, so a failed run leaves no half result) would replace the device itself.
    """
    try:
        return not stat.S_ISREG(path.stat().st_mode)
    except FileNotFoundError:
        return False
    except OSError as error:
        raise cannot("write", str(path), error) from None


def write_stdout(text: str) -> None:
    """``text`` on standard output, flushed, so that a full disk is reported here."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        raise cannot("write", "standard output", error) from None


def write_output(output: str | None, text: str) -> None:
    """``text`` to the file ``output``, or standard output for ``None`` or ``-``.

    A regular file is written beside itself and renamed when complete, so a full disk or a
    killed run never leaves a truncated file where the result belongs.
    """
    if output is None or output == STDIO:
        write_stdout(text)
        return
    target = Path(output)
    try:
        if is_special(target):
            with target.open("w", encoding="utf-8") as handle:
                handle.write(text)
            return
        partial = target.with_name(target.name + ".partial")
        try:
            partial.write_text(text, encoding="utf-8")
            partial.replace(target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    except OSError as error:
        raise cannot("write", output, error) from None


def copy_to_output(source: Path, output: str) -> None:
    """Copy the finished file ``source`` to standard output (``-``) or to a special file."""
    name = "standard output" if output == STDIO else output
    try:
        with source.open("rb") as src:
            if output == STDIO:
                sys.stdout.flush()
                shutil.copyfileobj(src, sys.stdout.buffer)
                sys.stdout.buffer.flush()
            else:
                with Path(output).open("wb") as dst:
                    shutil.copyfileobj(src, dst)
    except BrokenPipeError:
        raise
    except OSError as error:
        raise cannot("write", name, error) from None


def spool_stdin(folder: Path) -> Path:
    """Standard input copied to a file in ``folder``, named by what it holds.

    An Excel workbook starts with the ZIP signature and a JSON Lines list with ``{``; anything
    else is read as CSV (a CSV header is dotted column names and never starts with ``{``).
    """
    stream = getattr(sys.stdin, "buffer", None)
    try:
        head = stream.read(64 * 1024) if stream is not None else sys.stdin.read().encode("utf-8")
    except OSError as error:
        raise cannot("read", "standard input", error) from None
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    suffix = ".xlsx" if head.startswith(b"PK\x03\x04") else ".jsonl" if start.startswith(b"{") else ".csv"
    path = folder / f"standard-input{suffix}"
    try:
        with path.open("wb") as dst:
            dst.write(head)
            if stream is not None:
                shutil.copyfileobj(stream, dst)
    except OSError as error:
        if error.errno in _WRITE_ERRNOS:
            raise cannot("write", f"a copy of standard input in {folder}", error) from None
        raise cannot("read", "standard input", error) from None
    return path


def quiet_broken_pipe() -> int:
    """After the reader closed standard output: the Python documentation's recipe.

    Standard output is pointed at /dev/null, so the interpreter's own flush at exit finds no
    broken pipe to complain about; the status is 141, as for a tool stopped by SIGPIPE.
    """
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return EXIT_BROKEN_PIPE
