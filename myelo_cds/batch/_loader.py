"""One loader for clinic lists (CSV, JSONL, Excel .xlsx): the registry audit page and ``batch``
read through it, with the same limits and the same messages.

An .xlsx file is a zip archive of XML: 0.25 MB of it once declared 124 MB of sheet and held a
replica for 132 s (16,384 columns x 500 rows). So an archive is checked before any XML is read:
the inflated sizes its central directory declares (``zipfile`` never inflates a member past its
declared size, and a wrong size or checksum is an error), the compression ratio, and the first
sheet's width (its ``dimension`` and the cells of its first row, read by a streaming parser that
stops at the end of that row). Only then does openpyxl read the sheet, in read-only (streaming)
mode, under a budget of rows and cells. A header is checked once for every format: too many
columns, an unknown column (with a few spelling suggestions), a column named twice.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any
from xml.etree import ElementTree

from myelo_cds.errors import UploadError
from myelo_cds.findings import resolve_path
from myelo_cds.findings._messages import unknown_names_message

__all__ = ["DEFAULT_UPLOAD_LIMITS", "Upload", "UploadLimits", "check_header", "check_xlsx", "read_upload"]


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """What one clinic list may hold. A full-template row is about 150 cells; the defaults take
    100,000 rows of a typical list and refuse what would cost a server more than a few hundred MB."""

    max_bytes: int = 50 * 1024 * 1024
    """Size of the file as uploaded."""
    max_rows: int = 100_000
    """Rows under the header (empty rows of a sheet count: a sheet can jump to row 1,048,576)."""
    max_columns: int = 400
    """Columns (the template has about 150)."""
    max_cells: int = 5_000_000
    """Rows x columns read from a sheet, empty cells included."""
    max_inflated_bytes: int = 256 * 1024 * 1024
    """An .xlsx archive's members, inflated, as its central directory declares them."""
    max_ratio: int = 100
    """Inflated size over compressed size, of the archive and of each member over 1 MB (real
    workbooks are 5-20; the 132 s file was about 500)."""
    max_members: int = 1_000
    """Files in an .xlsx archive."""


DEFAULT_UPLOAD_LIMITS = UploadLimits()


@dataclass(frozen=True, slots=True)
class Upload:
    """A clinic list read from a file: CSV-like cells under a header, or JSONL lines."""

    columns: list[str] | None
    records: list[Any]
    lines: list[int] | None = None
    """For JSONL, each record's line number in the file (messages name it)."""


def read_upload(name: str, data: bytes, limits: UploadLimits = DEFAULT_UPLOAD_LIMITS) -> Upload:
    """Read a clinic list; raises :class:`UploadError` with a clear message.

    Args:
        name: the file name (its ending says the format: .csv, .jsonl or .ndjson, .xlsx).
        data: the file's bytes.
        limits: size, rows, columns, cells and, for .xlsx, the archive's limits.
    """
    suffix = name.lower().rsplit(".", 1)[-1] if "." in name else ""
    if len(data) > limits.max_bytes:
        raise UploadError(
            f"the file is {_mb(len(data))}; the largest taken is {_mb(limits.max_bytes)} "
            "(split the list, or use `python -m myelo_cds batch` for a long CSV or JSONL list)"
        )
    if suffix == "xlsx":
        upload = _read_excel(data, limits)
    elif suffix == "csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            raise UploadError(
                f"the file is not UTF-8 text (byte {error.start:,}, line {line:,}); save it as UTF-8"
            ) from error
        upload = _read_csv(text, limits)
    elif suffix in ("jsonl", "ndjson"):
        upload = _read_jsonl(data, limits)
    else:
        raise UploadError(f"{name}: a clinic list must be .csv, .xlsx or .jsonl")
    if not upload.records:
        raise UploadError("the file has no rows to audit")
    return upload


def _read_csv(text: str, limits: UploadLimits) -> Upload:
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        columns = next(reader, None)
        if not columns:
            raise UploadError("the file is empty: the first line must hold the column names")
        check_header(columns, limits)
        records = []
        for cells in reader:
            if any(cell.strip(", \r\n") for cell in cells):
                records.append(cells)
                _check_rows(len(records), limits)
    except csv.Error as error:
        raise UploadError(f"the CSV is malformed: {error}") from error
    _check_cells(len(records) * len(columns), limits)
    return Upload(columns, records)


def _read_jsonl(data: bytes, limits: UploadLimits) -> Upload:
    """Each non-blank line, left as bytes: the JSON reader decodes each one, so a line that is
    not UTF-8 is that row's error, as in ``batch``."""
    records, lines = [], []
    for number, line in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), start=1):
        if line.strip():
            records.append(line)
            lines.append(number)
            _check_rows(len(records), limits)
    return Upload(None, records, lines)


def _check_rows(rows: int, limits: UploadLimits) -> None:
    if rows > limits.max_rows:
        raise UploadError(
            f"the file has more than {limits.max_rows:,} rows; split it or use `python -m myelo_cds batch`"
        )


def _check_cells(cells: int, limits: UploadLimits) -> None:
    if cells > limits.max_cells:
        raise UploadError(
            f"the file has more than {limits.max_cells:,} cells (rows x columns); "
            "leave out empty columns or split the list"
        )


def check_header(columns: Sequence[str], limits: UploadLimits = DEFAULT_UPLOAD_LIMITS) -> None:
    """Refuse a header once, not every row: too many columns, a column that names no findings
    field (the first few with a spelling suggestion), or one named twice. Blank names are let
    through (a spreadsheet's trailing empty columns); a value under one is reported on its row."""
    if len(columns) > limits.max_columns:
        raise UploadError(
            f"the header has {len(columns):,} columns; at most {limits.max_columns:,} are read "
            "(the template lists every column)"
        )
    names = [column.strip() for column in columns]
    unknown = [name for name in names if name and not _known(name)]
    if unknown:
        raise UploadError(
            unknown_names_message(unknown) + "; use the column names of the template (dotted paths)"
        )
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            raise UploadError(f"the column {name!r} is named twice (keep one)")
        seen.add(name)


def _known(name: str) -> bool:
    try:
        resolve_path(tuple(name.split(".")))
    except KeyError:
        return False
    return True


# --- Excel ------------------------------------------------------------------------------------

_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_COLUMN = re.compile(r"([A-Z]{1,3})")
_MB = 1024 * 1024


def check_xlsx(data: bytes, limits: UploadLimits = DEFAULT_UPLOAD_LIMITS) -> None:
    """Refuse an .xlsx archive before any sheet is read: too many members, too large or too
    compressed once inflated (as declared), an XML document type declaration (no workbook has
    one; entity expansion lives there), or a first sheet wider than ``max_columns``."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UploadError(f"not a readable Excel .xlsx workbook ({type(error).__name__})") from error
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_members:
            raise UploadError(f"the workbook holds {len(members):,} files; at most {limits.max_members:,}")
        inflated = sum(member.file_size for member in members)
        if inflated > limits.max_inflated_bytes:
            raise UploadError(
                f"the workbook would inflate to {_mb(inflated)}; at most {_mb(limits.max_inflated_bytes)} "
                "is read (leave out empty columns or split the list)"
            )
        sizes = [(inflated, len(data)), *((m.file_size, m.compress_size) for m in members)]
        for size, packed in sizes:
            if size > _MB and size > limits.max_ratio * max(packed, 1):
                raise UploadError(
                    f"the workbook is compressed {size / max(packed, 1):,.0f} to 1 (at most "
                    f"{limits.max_ratio} to 1 is read): it holds far more cells than its size suggests"
                )
        try:
            for member in members:
                if member.filename.endswith((".xml", ".rels")):
                    with archive.open(member) as stream:
                        if b"<!DOCTYPE" in stream.read(4096).upper():
                            raise UploadError("the workbook's XML declares a document type; not read")
            sheet = _first_sheet(archive)
            with archive.open(sheet) as stream:
                width = _sheet_width(stream, limits.max_columns)
        except (KeyError, zipfile.BadZipFile, ElementTree.ParseError, OSError, EOFError) as error:
            raise UploadError(f"not a readable Excel .xlsx workbook ({type(error).__name__})") from error
    if width > limits.max_columns:
        raise UploadError(
            f"the first sheet is at least {width:,} columns wide; at most {limits.max_columns:,} are read "
            "(delete the empty columns to the right of the list)"
        )


def _first_sheet(archive: zipfile.ZipFile) -> str:
    """The archive path of the workbook's first sheet (as openpyxl orders them)."""
    book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    first = book.find(f"{_NS}sheets/{_NS}sheet")
    if first is None:
        raise KeyError("no sheet")
    rel_id = first.get(f"{_REL_NS}id")
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    for rel in rels:
        if rel.get("Id") == rel_id:
            target = rel.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else "xl/" + target
    raise KeyError("first sheet")


def _sheet_width(stream: IO[bytes], limit: int) -> int:
    """The sheet's width: its declared dimension, or its first row's cells and references,
    whichever is wider. The parser stops at the end of the first row, or as soon as the width
    passes ``limit``."""
    width = cells = 0
    for _, element in ElementTree.iterparse(stream, events=("end",)):
        if element.tag == f"{_NS}c":
            cells += 1
            width = max(width, cells, _column_index(element.get("r", "")))
            element.clear()
        elif element.tag == f"{_NS}dimension":
            width = max(width, *(_column_index(ref) for ref in element.get("ref", "").split(":")))
        elif element.tag == f"{_NS}row":
            return width
        if width > limit:
            return width
    return width


def _column_index(ref: str) -> int:
    """``XFD500`` -> 16384 (0 when there is no column letter)."""
    match = _COLUMN.match(ref)
    if not match:
        return 0
    index = 0
    for letter in match.group(1):
        index = index * 26 + ord(letter) - ord("A") + 1
    return index


def _excel_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_excel(data: bytes, limits: UploadLimits) -> Upload:
    check_xlsx(data, limits)
    from openpyxl import load_workbook  # only when an Excel file is uploaded

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a damaged file
        raise UploadError(f"not a readable Excel .xlsx workbook ({type(error).__name__})") from error
    try:
        sheet = book.worksheets[0]
        header = next(sheet.iter_rows(max_row=1, max_col=limits.max_columns, values_only=True), None)
        if not header or not any(value is not None for value in header):
            raise UploadError("the first sheet is empty: the first row must hold the column names")
        columns = [_excel_cell(value) for value in header]
        while columns and not columns[-1].strip():
            columns.pop()  # empty columns to the right of the list
        check_header(columns, limits)
        width = len(columns)
        records = []
        # Rows are cut (or padded) to the header's width: cells beyond it are never built.
        for values in _budgeted(sheet.iter_rows(min_row=2, max_col=width, values_only=True), limits):
            cells = [_excel_cell(value) for value in values]
            if any(cell.strip() for cell in cells):
                records.append(cells)
    except UploadError:
        raise
    except Exception as error:  # a damaged sheet found while streaming it
        raise UploadError(f"not a readable Excel .xlsx workbook ({type(error).__name__})") from error
    finally:
        book.close()
    return Upload(columns, records)


def _budgeted(rows: Iterator[tuple[Any, ...]], limits: UploadLimits) -> Iterator[tuple[Any, ...]]:
    """The sheet's rows, stopped with a message past the row or cell budget (every row a sheet
    yields counts, empty ones too: openpyxl fills the rows a sheet skips)."""
    cells = 0
    for number, row in enumerate(rows, start=1):
        cells += len(row)
        _check_rows(number, limits)
        _check_cells(cells, limits)
        yield row


def _mb(size: int) -> str:
    return f"{size / _MB:,.1f} MB"
