"""Hostile clinic lists and JSON documents, generated (the tests and the resilience benchmark
use the same files).

The workbooks are written by hand as zip archives of the few XML parts an .xlsx needs (inline
strings, no shared-string table), so that a 16,384-column sheet takes a second to write, not the
minutes openpyxl would take to build it cell by cell; openpyxl reads them as any workbook.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence

__all__ = [
    "deep_json",
    "duplicate_key_json",
    "hostile_jsonl_lines",
    "long_number_json",
    "row_jump_xlsx",
    "wide_xlsx",
    "xlsx",
]

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Clinic" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>'
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


def _column(index: int) -> str:
    """1 -> A, 16384 -> XFD."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _cell(value: object) -> str:
    if value is None or value == "":
        return "<c/>"
    if isinstance(value, bool):
        return f'<c t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f"<c><v>{value}</v></c>"
    text = str(value).replace("&", "&amp;").replace("<", "&lt;")
    return f'<c t="inlineStr"><is><t>{text}</t></is></c>'


def xlsx(
    rows: Sequence[Sequence[object]], *, dimension: str | None = None, prolog: str = "", body: str = ""
) -> bytes:
    """A one-sheet workbook of ``rows`` (the first is the header). ``dimension`` is written as
    the sheet's declared range; ``prolog`` goes before the root element and ``body`` after the
    rows (to build hostile variants)."""
    sheet = io.StringIO()
    sheet.write(_SHEET_HEAD.replace("<worksheet", prolog + "<worksheet", 1) if prolog else _SHEET_HEAD)
    if dimension:
        sheet.write(f'<dimension ref="{dimension}"/>')
    sheet.write("<sheetData>")
    for number, row in enumerate(rows, start=1):
        sheet.write(f'<row r="{number}">' + "".join(_cell(value) for value in row) + "</row>")
    sheet.write("</sheetData>" + body + "</worksheet>")
    return _archive(sheet.getvalue().encode("utf-8"))


def _archive(sheet: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return buffer.getvalue()


def wide_xlsx(columns: int = 16_384, rows: int = 500, *, declare: bool = True) -> bytes:
    """The issue's workbook: ``columns`` x ``rows`` numeric cells (16,384 x 500 is about 0.25 MB
    compressed and 130 MB of sheet XML). ``declare`` writes the true dimension (A1:XFD500); without
    it only the first row's cells tell the width."""
    header = (
        "<row>" + "".join(f'<c t="inlineStr"><is><t>c{i}</t></is></c>' for i in range(columns)) + "</row>"
    )
    line = "<row>" + "<c><v>1</v></c>" * columns + "</row>"
    dimension = f'<dimension ref="A1:{_column(columns)}{rows + 1}"/>' if declare else ""
    sheet = _SHEET_HEAD + dimension + "<sheetData>" + header + line * rows + "</sheetData></worksheet>"
    return _archive(sheet.encode("ascii"))


def row_jump_xlsx(last_row: int = 1_048_576) -> bytes:
    """A header, one case, and one cell in the sheet's last row: openpyxl fills every row between
    with an empty one (a million rows from a few hundred bytes)."""
    sheet = (
        _SHEET_HEAD
        + '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>case_id</t></is></c></row>'
        + '<row r="2"><c r="A2" t="inlineStr"><is><t>A1</t></is></c></row>'
        + f'<row r="{last_row}"><c r="A{last_row}" t="inlineStr"><is><t>x</t></is></c></row>'
        + "</sheetData></worksheet>"
    )
    return _archive(sheet.encode("ascii"))


def deep_json(depth: int = 100_000) -> str:
    """``{"patient": [[[...]]]}``: nesting that exhausts a recursive decoder's stack."""
    return '{"patient": ' + "[" * depth + "]" * depth + "}"


def long_number_json(digits: int = 5_000) -> str:
    """An age of ``digits`` digits (``int()`` refuses past 4,300 digits with a bare ValueError)."""
    return '{"patient": {"age_years": ' + "7" * digits + "}}"


def duplicate_key_json() -> str:
    """Age 70, then age 15 in the same object (a silent last-one-wins changed the pathway)."""
    return '{"patient": {"age_years": 70, "age_years": 15}}'


def hostile_jsonl_lines() -> list[bytes]:
    """One line of each hostile kind (each must be that line's error, and the batch go on)."""
    return [
        deep_json().encode(),
        long_number_json().encode(),
        b'{"case_id": "X\xff\xfe"}',
        duplicate_key_json().encode(),
        b'{"patient": {"age_years": NaN}}',
        b"[1, 2, 3]",
        json.dumps({f"k{i}": i for i in range(5_000)}).encode(),
    ]
