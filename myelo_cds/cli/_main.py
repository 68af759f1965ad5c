"""Command line: ``python -m myelo_cds COMMAND`` (``assess``, ``export-fhir``, ``fhir-artifacts``,
``schema``, ``verify``, ``batch``, ``users``, ``migrate``, ``verify-audit``).

A stable contract others script against. Exit status: 0 success; 1 verification failed;
2 bad input (the message names the field, the value and the allowed range) or a file that
cannot be read or written (``myelo-cds: cannot read X: reason``); 141 when the reader of
standard output went away (``| head``). Never a traceback for bad input. ``-`` means standard
input or output wherever a file is named (see :mod:`myelo_cds.cli._io`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn, TextIO

from pydantic import ValidationError

from myelo_cds import __version__
from myelo_cds.cli._io import (
    PROGRAM,
    STDIO,
    FileProblem,
    cannot,
    copy_to_output,
    is_special,
    is_write_error,
    quiet_broken_pipe,
    spool_stdin,
    write_output,
    write_stdout,
)
from myelo_cds.errors import JsonInputError
from myelo_cds.findings import Findings, JsonLimits, describe_validation_error, parse_json_object
from myelo_cds.rules.result import Recommendation

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
DEFAULT_JSON_LIMITS = JsonLimits()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"date {text!r} is not YYYY-MM-DD") from None


def _bad(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _read_capped(case: str) -> bytes:
    """The case file's bytes, read no further than one byte past the JSON size limit (a larger
    file is refused by the reader without being read whole)."""
    limit = DEFAULT_JSON_LIMITS.max_bytes + 1
    if case == "-":
        stream = getattr(sys.stdin, "buffer", None)  # a text stream (a test's StringIO) has none
        return stream.read(limit) if stream is not None else sys.stdin.read(limit).encode("utf-8")
    with Path(case).open("rb") as handle:
        return handle.read(limit)


def _assessed(args: argparse.Namespace) -> tuple[Findings, Recommendation] | int:
    """The case file's findings and recommendation, or the exit status of bad input."""
    from myelo_cds.rules.engine import assess

    source = "standard input" if args.case == "-" else args.case
    try:
        raw = _read_capped(args.case)
    except OSError as error:
        raise cannot("read", source, error) from None
    try:
        data = parse_json_object(raw, source=source)
    except JsonInputError as error:
        return _bad(str(error))
    try:
        findings = Findings.model_validate(data)
    except ValidationError as error:
        lines = describe_validation_error(error)
        print(f"error: {args.case} has {len(lines)} invalid field(s):", file=sys.stderr)
        for line in lines:
            print(f"  {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.date is not None and findings.earlier_mjoa is not None and args.date < findings.earlier_mjoa.date:
        return _bad(
            f"--date {args.date} is before earlier_mjoa.date {findings.earlier_mjoa.date}; "
            "the assessment must come after the earlier score"
        )
    return findings, assess(findings, args.date)


def _assess(args: argparse.Namespace) -> int:
    from myelo_cds.exports.consult_note import consult_summary

    assessed = _assessed(args)
    if isinstance(assessed, int):
        return assessed
    recommendation = assessed[1]
    if args.format == "text":
        write_stdout(consult_summary(recommendation) + "\n")
    else:
        write_stdout(recommendation.model_dump_json(indent=2) + "\n")
    return EXIT_OK


def _export_fhir(args: argparse.Namespace) -> int:
    from myelo_cds.exports.fhir import bundle_json, transaction_json

    assessed = _assessed(args)
    if isinstance(assessed, int):
        return assessed
    build = transaction_json if args.transaction else bundle_json
    try:
        text = build(*assessed, clinician_id=args.clinician_id, note_pdf=args.note_pdf)
    except ValueError as error:  # the consult note's refusal, e.g. a clinician id with a line break
        return _bad(str(error))
    write_output(args.output, text + "\n")
    return EXIT_OK


def _fhir_artifacts(args: argparse.Namespace) -> int:
    from myelo_cds.exports.fhir import artifacts_json

    write_output(args.output, artifacts_json() + "\n")
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    write_stdout(json.dumps(Findings.model_json_schema(), indent=2) + "\n")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from myelo_cds.rules.verify import verify_rule_set

    report = verify_rule_set()
    if args.format == "json":
        write_stdout(json.dumps({"passed": report.passed, **report.model_dump()}, indent=2) + "\n")
    else:
        write_stdout(report.text() + "\n")
    return EXIT_OK if report.passed else EXIT_FAILED


class _Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, stream: TextIO, total: int | None) -> None:
        self.stream, self.total, self.start = stream, total, time.perf_counter()
        self.active = stream.isatty()

    def __call__(self, done: int) -> None:
        if not self.active:
            return
        rate = done / max(time.perf_counter() - self.start, 1e-9)
        if self.total:
            filled = int(30 * done / self.total)
            bar = "#" * filled + "-" * (30 - filled)
            self.stream.write(f"\r[{bar}] {done:,}/{self.total:,} rows ({rate:,.0f}/s)")
        else:
            self.stream.write(f"\r{done:,} rows ({rate:,.0f}/s)")
        self.stream.flush()

    def close(self) -> None:
        if self.active:
            self.stream.write("\n")


def _count_rows(path: Path) -> int | None:
    try:
        with path.open("rb") as handle:
            lines = sum(1 for _ in handle)
    except OSError:
        return None
    return max(lines - 1, 0) if path.suffix.lower() == ".csv" else lines


_BATCH_INPUTS = (".csv", ".jsonl", ".ndjson", ".xlsx")
_BATCH_OUTPUTS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def _batch(args: argparse.Namespace) -> int:
    """``batch IN [-o OUT]``; ``IN`` and ``OUT`` may be ``-`` (standard input and output).

    Standard input is copied to a temporary file first (the batch reads its input in byte
    ranges, from several processes). A result for standard output or a device is finished in a
    temporary file and then copied out, so the rows come out whole and in order.
    """
    output = args.output or STDIO
    streamed = output == STDIO or is_special(Path(output))
    named = _BATCH_OUTPUTS.get(Path(output).suffix.lower()) if output != STDIO else None
    if args.input != STDIO and Path(args.input).suffix.lower() not in _BATCH_INPUTS:
        return _bad(f"batch input {Path(args.input).name} must end in .csv, .jsonl or .xlsx")
    if not streamed and named is None:
        return _bad(f"batch output {Path(output).name} must end in .csv or .jsonl")
    if args.format and named and args.format != named:
        return _bad(f"--format {args.format} does not match the output file {Path(output).name}")
    if args.input != STDIO:
        try:
            with Path(args.input).open("rb"):  # missing, a directory, not allowed: said now
                pass
        except OSError as error:
            raise cannot("read", args.input, error) from None
    with tempfile.TemporaryDirectory(prefix="myelo-cds-batch-") as scratch:
        folder = Path(scratch)
        source = spool_stdin(folder) if args.input == STDIO else Path(args.input)
        target = folder / f"result.{args.format or named or 'csv'}" if streamed else Path(output)
        shown = "standard output" if output == STDIO else output
        label = f"the result for {shown} in {folder}" if streamed else output
        counts = _run_batch(args, source, target, label=label)
        if isinstance(counts, int):
            return counts
        if streamed:
            copy_to_output(target, output)
    summary = ", ".join(f"{key} {count:,}" for key, count in sorted(counts.items()))
    print(f"{sum(counts.values()):,} rows -> {shown}: {summary}", file=sys.stderr)
    return EXIT_OK


def _run_batch(args: argparse.Namespace, source: Path, target: Path, *, label: str) -> dict[str, int] | int:
    """The counts by pathway, or the exit status of a list that cannot be read."""
    from myelo_cds.batch import run_batch

    read, name = ("standard input",) * 2 if args.input == STDIO else (args.input, source.name)
    countable = sys.stderr.isatty() and source.suffix.lower() != ".xlsx"
    progress = _Progress(sys.stderr, _count_rows(source) if countable else None)
    try:
        counts = run_batch(source, target, on=args.date, workers=args.workers, progress=progress)
    except (UnicodeDecodeError, ValueError) as error:
        return _bad(f"cannot read {name}: {error}")
    except OSError as error:
        if is_write_error(error, target, target.with_name(target.name + ".partial")):
            raise cannot("write", label, error) from None
        raise cannot("read", read, error) from None
    finally:
        progress.close()
    return counts


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=_program(),
        description="Decision support for degenerative cervical myelopathy (the clinician decides).",
    )
    parser.add_argument("--version", action="version", version=f"{PROGRAM} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    assess = commands.add_parser("assess", help="assess one case (JSON findings)")
    assess.add_argument("case", help="findings JSON file, or - for standard input")
    assess.add_argument("--format", choices=("json", "text"), default="json")
    assess.add_argument(
        "--date", type=_date, help="assessment date YYYY-MM-DD (default: the case's, else today)"
    )
    assess.set_defaults(run=_assess)
    fhir = commands.add_parser("export-fhir", help="assess one case and write it as a FHIR R4 Bundle")
    fhir.add_argument("case", help="findings JSON file, or - for standard input")
    fhir.add_argument(
        "-o", "--output", help="Bundle JSON file to write; - or none: standard output (the default)"
    )
    fhir.add_argument(
        "--date", type=_date, help="assessment date YYYY-MM-DD (default: the case's, else today)"
    )
    fhir.add_argument(
        "--transaction",
        action="store_true",
        help="a transaction Bundle for a FHIR server (conditional creates, repeatable writes)",
    )
    fhir.add_argument("--clinician-id", help="the clinician's pseudonymous id, as on the consult note")
    fhir.add_argument("--note-pdf", action="store_true", help="also attach the consult note as PDF")
    fhir.set_defaults(run=_export_fhir)
    artifacts = commands.add_parser(
        "fhir-artifacts",
        help="write the mJOA Questionnaire, rule-set Library and CodeSystems as a FHIR transaction"
        " Bundle (load once into the FHIR server that receives the exports)",
    )
    artifacts.add_argument("-o", "--output", help="Bundle JSON file to write; - or none: standard output")
    artifacts.set_defaults(run=_fhir_artifacts)
    schema = commands.add_parser("schema", help="print the JSON Schema of the input")
    schema.set_defaults(run=_schema)
    verify = commands.add_parser("verify", help="verify the rule set over the whole input space")
    verify.add_argument("--format", choices=("json", "text"), default="text")
    verify.set_defaults(run=_verify)
    batch = commands.add_parser("batch", help="evaluate a clinic list (CSV, JSONL or Excel .xlsx)")
    batch.add_argument(
        "input",
        help="input .csv or .xlsx (dotted column names) or .jsonl, or - for standard input (read "
        "as .xlsx when it starts as a ZIP file, .jsonl when with '{', else .csv); a header or "
        "workbook the registry audit would refuse exits 2, a bad row is reported in its error column",
    )
    batch.add_argument(
        "-o", "--output", help="output .csv or .jsonl; - or none: standard output (the default)"
    )
    batch.add_argument(
        "--format",
        choices=("csv", "jsonl"),
        help="output format (default: the output file's suffix; csv on standard output)",
    )
    batch.add_argument("--date", type=_date, help="assessment date for rows without one")
    batch.add_argument("--workers", type=int, default=None, help="processes (default: CPUs)")
    batch.set_defaults(run=_batch)
    from myelo_cds.cli._accounts import add_users_commands

    add_users_commands(commands)
    from myelo_cds.cli._records import add_records_commands

    add_records_commands(commands)
    return parser


def _program() -> str:
    """The name usage lines show: the installed command, or how ``./run cli`` calls it."""
    return PROGRAM if Path(sys.argv[0]).name == PROGRAM else "python -m myelo_cds"


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit status (see the module's docstring)."""
    try:
        args = build_parser().parse_args(argv)
        code: int = args.run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        return quiet_broken_pipe()
    except FileProblem as problem:
        print(f"{PROGRAM}: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as error:
        if error.filename is not None or not is_write_error(error):
            raise
        print(f"{PROGRAM}: {cannot('write', 'standard output', error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return code
