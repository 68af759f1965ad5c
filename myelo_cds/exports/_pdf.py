"""Print a document (see ``_document``) as an A4 PDF with fpdf2.

fpdf2 is imported only here and only when a PDF is asked for, so the command line and the
text exports do not pay for it. The DejaVu Sans fonts are embedded; every text is printed
through :func:`~myelo_cds.exports._document.shown_as_typed` with the fonts' own glyph list, so a
character they cannot draw prints as ``<U+1F9E0>`` rather than vanishing, and a bidi override
or zero-width character in an id prints as its code point rather than acting.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

from myelo_cds.errors import FontsMissingError
from myelo_cds.exports._document import (
    Box,
    Entry,
    Paragraph,
    Section,
    Table,
    sections_shown,
    shown_as_typed,
)

if TYPE_CHECKING:
    from fpdf import FPDF

__all__ = ["FONT_DIR", "FontsMissingError", "PageFrame", "font_files", "render_pdf"]

#: Where Debian's ``fonts-dejavu-core`` puts the fonts; ``MYELO_CDS_FONT_DIR`` overrides it.
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
_FONT_NAMES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
_FAMILY = "DejaVu"

_MARGIN = 15.0
_PT = 0.3528  # millimetres per point
_INK = (20, 20, 20)
_MUTED = (70, 70, 70)
_RULE = (150, 150, 150)
_BOX_PAD = 3.0
_LEADING = 1.4  # line height as a multiple of the text size
_BODY_TOP = 24.0  # where the body starts under the header
_TABLE_PADDING = (0.8, 1.2, 0.8, 1.2)  # top, right, bottom, left (mm)
_TABLE_UNIT = 9.0  # millimetres per unit of Table.widths; wide tables shrink to the page
# Colour is only a second channel: each box also has its own shape and its urgency in words.
_BOX_INK: dict[Box, tuple[int, int, int]] = {
    "emergency": (165, 20, 20),
    "warning": (165, 20, 20),
    "urgent": (190, 80, 0),  # orange, not red: red is kept for emergencies
    "expedited": (150, 85, 0),
    "routine": (25, 75, 135),
}
_BOX_TINT: dict[Box, tuple[int, int, int]] = {
    "emergency": (252, 236, 236),
    "warning": (252, 236, 236),
    "urgent": (255, 236, 214),
    "expedited": (255, 244, 224),
    "routine": (233, 240, 250),
}


def font_files() -> tuple[Path, Path]:
    """The regular and bold DejaVu Sans font files.

    Returns:
        The paths of ``DejaVuSans.ttf`` and ``DejaVuSans-Bold.ttf``.

    Raises:
        FontsMissingError: if either file is missing, with how to install them.
    """
    folder = Path(os.environ.get("MYELO_CDS_FONT_DIR") or FONT_DIR)
    regular, bold = (folder / name for name in _FONT_NAMES)
    missing = [str(path) for path in (regular, bold) if not path.is_file()]
    if missing:
        raise FontsMissingError(
            "PDF export needs the DejaVu Sans fonts, which were not found: "
            + ", ".join(missing)
            + ". Install them (Debian/Ubuntu: apt-get install fonts-dejavu-core) or set "
            "MYELO_CDS_FONT_DIR to a folder that holds DejaVuSans.ttf and DejaVuSans-Bold.ttf."
        )
    return regular, bold


@dataclass(frozen=True)
class PageFrame:
    """What is printed on every page.

    Attributes:
        title: the bold header line.
        meta: the second header line (case id, date, ...).
        footer: the first footer line (left); the page number goes on the right.
        footer_note: the second footer line (e.g. the rule-set version and hash).
        body_size: body text size in points.
        first_page_min_size: if given, the sections before the first ``new_page`` section (a
            letter page) are printed in the largest size from ``body_size`` down to this one,
            in half points, that keeps them on one page; at this size they may still run on.
        first_page_leading: line height of those sections as a multiple of the text size
            (the rest of the document has 1.4).
    """

    title: str
    meta: str
    footer: str
    footer_note: str
    body_size: float = 9.0
    first_page_min_size: float | None = None
    first_page_leading: float = _LEADING


def _line_height(pdf: FPDF, size: float) -> float:
    return size * _PT * float(getattr(pdf, "leading", _LEADING))


def _new_pdf(frame: PageFrame) -> tuple[FPDF, Callable[[str], str]]:
    """A PDF with the fonts embedded and the first page begun, and the function that makes a
    text printable in those fonts (the frame already went through it)."""
    from fpdf import FPDF

    regular, bold = font_files()

    class _Document(FPDF):
        page_frame: PageFrame
        leading: float = _LEADING

        def header(self) -> None:
            frame = self.page_frame
            self.set_text_color(*_INK)
            self.set_font(_FAMILY, "B", 11)
            self.set_xy(_MARGIN, 9)
            self.cell(self.epw, 5.5, frame.title)
            self.set_font(_FAMILY, "", 8.5)
            self.set_text_color(*_MUTED)
            self.set_xy(_MARGIN, 14.5)
            self.cell(self.epw, 4.5, frame.meta)
            self.set_draw_color(*_RULE)
            self.set_line_width(0.3)
            self.line(_MARGIN, 20, self.w - _MARGIN, 20)
            self.set_text_color(*_INK)
            self.set_y(_BODY_TOP)

        def footer(self) -> None:
            frame = self.page_frame
            self.set_draw_color(*_RULE)
            self.set_line_width(0.3)
            self.line(_MARGIN, self.h - 15, self.w - _MARGIN, self.h - 15)
            self.set_text_color(*_MUTED)
            self.set_font(_FAMILY, "B", 7.5)
            self.set_xy(_MARGIN, self.h - 14)
            self.cell(self.epw * 0.7, 4, frame.footer)
            self.set_font(_FAMILY, "", 7.5)
            self.cell(self.epw * 0.3, 4, f"Page {self.page_no()} of {{nb}}", align="R")
            self.set_font(_FAMILY, "", 7)
            self.set_xy(_MARGIN, self.h - 10)
            self.cell(self.epw, 3.5, frame.footer_note)
            self.set_text_color(*_INK)

    pdf = _Document(format="A4", unit="mm")
    pdf.add_font(_FAMILY, "", str(regular))
    pdf.add_font(_FAMILY, "B", str(bold))
    show = _printable_in(pdf)
    pdf.page_frame = replace(
        frame,
        title=show(frame.title),
        meta=show(frame.meta),
        footer=show(frame.footer),
        footer_note=show(frame.footer_note),
    )
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(True, margin=20)
    pdf.set_title(pdf.page_frame.title)
    pdf.set_creator("myelo-cds")
    pdf.add_page()
    return pdf, show


def _printable_in(pdf: FPDF) -> Callable[[str], str]:
    """:func:`shown_as_typed` for the fonts embedded in ``pdf``: a code point counts as drawable
    only when every one of them (regular and bold) has a glyph for it."""
    from fpdf.fonts import TTFFont

    drawable: set[int] | None = None
    for font in pdf.fonts.values():
        if isinstance(font, TTFFont):
            points = set(font.cmap)
            drawable = points if drawable is None else drawable & points
    has_glyph = (drawable or set()).__contains__

    def show(text: str) -> str:
        return shown_as_typed(text, has_glyph)

    return show


def _text_height(pdf: FPDF, text: str, width: float, size: float, style: str = "") -> float:
    """The height ``multi_cell`` would take for a text, without printing it."""
    pdf.set_font(_FAMILY, style, size)
    height = pdf.multi_cell(width, _line_height(pdf, size), text, dry_run=True, output="HEIGHT")
    if not isinstance(height, float | int):  # pragma: no cover - fpdf2 returns a number for HEIGHT
        raise TypeError(f"fpdf2 returned {type(height).__name__} for a height")
    return float(height)


def _entry_height(pdf: FPDF, entry: Entry, width: float, size: float, indent: float) -> float:
    height = _text_height(pdf, entry.text, width - indent, size)
    return height + sum(_text_height(pdf, detail, width - indent - 3, size - 1) for detail in entry.details)


def _entry(pdf: FPDF, entry: Entry, x: float, width: float, size: float) -> None:
    """A list item with its details, kept on one page."""
    height = _line_height(pdf, size)
    indent = 4.5 if entry.bullet else 0.0
    if pdf.get_y() + _entry_height(pdf, entry, width, size, indent) > pdf.page_break_trigger:
        pdf.add_page()
    pdf.set_font(_FAMILY, "", size)
    pdf.set_text_color(*_INK)
    pdf.set_x(x)
    if entry.bullet:
        pdf.cell(indent, height, "\u2022")
    pdf.multi_cell(width - indent, height, entry.text, align="L", new_x="LEFT", new_y="NEXT")
    if entry.details:
        pdf.set_font(_FAMILY, "", size - 1)
        pdf.set_text_color(*_MUTED)
        for detail in entry.details:
            pdf.set_x(x + indent + 3)
            pdf.multi_cell(
                width - indent - 3, _line_height(pdf, size - 1), detail, align="L", new_x="LEFT", new_y="NEXT"
            )
        pdf.set_text_color(*_INK)
    pdf.ln(0.4)


def _paragraph(pdf: FPDF, paragraph: Paragraph, x: float, width: float, size: float) -> None:
    """Running text, moved whole to the next page rather than split (it is never long)."""
    style = "B" if paragraph.strong else ""
    if pdf.get_y() + _text_height(pdf, paragraph.text, width, size, style) > pdf.page_break_trigger:
        pdf.add_page()
    pdf.set_font(_FAMILY, style, size)
    pdf.set_x(x)
    pdf.multi_cell(width, _line_height(pdf, size), paragraph.text, align="L", new_x="LEFT", new_y="NEXT")
    pdf.ln(1.2)


def _draw_table(pdf: FPDF, table: Table, x: float, width: float, size: float) -> None:
    from fpdf.fonts import FontFace

    margin = pdf.l_margin
    pdf.set_left_margin(x)
    pdf.set_font(_FAMILY, "", size - 0.5)
    pdf.set_text_color(*_INK)
    pdf.set_fill_color(255, 255, 255)  # the table takes its base style from the current one
    pdf.set_draw_color(*_RULE)
    pdf.set_line_width(0.2)
    pdf.set_x(x)
    with pdf.table(
        col_widths=table.widths,
        width=min(width, sum(table.widths) * _TABLE_UNIT),
        align="LEFT",
        text_align="LEFT",
        line_height=_line_height(pdf, size - 0.5),
        padding=_TABLE_PADDING,
        borders_layout="HORIZONTAL_LINES",
        cell_fill_mode="ROWS",
        cell_fill_color=(244, 244, 244),
        headings_style=FontFace(emphasis="BOLD", fill_color=(225, 225, 225)),
    ) as rows:
        for cells in (table.header, *table.rows):
            row = rows.row()
            for cell in cells:
                row.cell(cell)
    pdf.set_left_margin(margin)
    pdf.ln(2)


def _table_height(pdf: FPDF, table: Table, width: float, size: float) -> float:
    """The printed height of a table, measured the way fpdf2 lays out its cells."""
    width = min(width, sum(table.widths) * _TABLE_UNIT)
    columns = [width * share / sum(table.widths) for share in table.widths]
    pad_x, pad_y = _TABLE_PADDING[1] + _TABLE_PADDING[3], _TABLE_PADDING[0] + _TABLE_PADDING[2]
    total = 2.0
    for index, row in enumerate((table.header, *table.rows)):
        style = "B" if index == 0 else ""
        total += pad_y + max(
            _text_height(pdf, cell or " ", column - pad_x, size - 0.5, style)
            for cell, column in zip(row, columns, strict=True)
        )
    return total


def _table(pdf: FPDF, table: Table, x: float, width: float, size: float) -> None:
    """A table, moved whole to the next page when it would split and fits on one page."""
    height = _table_height(pdf, table, width, size)
    if pdf.get_y() + height > pdf.page_break_trigger and height < pdf.page_break_trigger - _BODY_TOP:
        pdf.add_page()
    _draw_table(pdf, table, x, width, size)


def _blocks(
    pdf: FPDF, blocks: Sequence[Entry | Paragraph | Table], x: float, width: float, size: float
) -> None:
    for index, block in enumerate(blocks):
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        if isinstance(block, Paragraph) and block.strong and following is not None:
            # a bold lead-in line stays with what it introduces
            lead_in, next_block = (
                _block_height(pdf, block, width, size),
                _block_height(pdf, following, width, size),
            )
            needed = lead_in + min(next_block, 40)
            if pdf.get_y() + needed > pdf.page_break_trigger:
                pdf.add_page()
        if isinstance(block, Entry):
            _entry(pdf, block, x, width, size)
        elif isinstance(block, Paragraph):
            _paragraph(pdf, block, x, width, size)
        else:
            _table(pdf, block, x, width, size)


def _block_height(pdf: FPDF, block: Entry | Paragraph | Table, width: float, size: float) -> float:
    if isinstance(block, Entry):
        return _entry_height(pdf, block, width, size, 4.5 if block.bullet else 0.0)
    if isinstance(block, Paragraph):
        return _text_height(pdf, block.text, width, size, "B" if block.strong else "")
    return _table_height(pdf, block, width, size)


def _section(pdf: FPDF, section: Section, size: float) -> None:
    """A heading and its blocks; the heading moves to the next page with its first block."""
    first = _block_height(pdf, section.blocks[0], pdf.epw, size) if section.blocks else 0.0
    body = pdf.page_break_trigger - _BODY_TOP
    needed = _text_height(pdf, section.title, pdf.epw, size + 2.5, "B") + 6 + min(first, body - 30)
    if pdf.get_y() + needed > pdf.page_break_trigger:
        pdf.add_page()
    _heading(pdf, section, size)
    _blocks(pdf, section.blocks, pdf.l_margin, pdf.epw, size)


def _heading(pdf: FPDF, section: Section, size: float) -> None:
    if section.level == 1:
        pdf.ln(2.5)
        pdf.set_font(_FAMILY, "B", size + 2.5)
        pdf.set_x(pdf.l_margin)
        pdf.multi_cell(pdf.epw, _line_height(pdf, size + 2.5), section.title, align="L", new_x="LMARGIN")
        pdf.set_draw_color(*_RULE)
        pdf.set_line_width(0.3)
        pdf.line(pdf.l_margin, pdf.get_y() + 0.5, pdf.l_margin + pdf.epw, pdf.get_y() + 0.5)
        pdf.ln(2)
    else:
        pdf.ln(1)
        pdf.set_font(_FAMILY, "B", size + 0.5)
        pdf.set_x(pdf.l_margin)
        pdf.multi_cell(pdf.epw, _line_height(pdf, size + 0.5), section.title, align="L", new_x="LMARGIN")
        pdf.ln(0.8)


def _icon(pdf: FPDF, box: Box, x: float, y: float) -> None:
    """A shape per marker, readable in black and white: triangle, diamond, clock or calendar."""
    ink = _BOX_INK[box]
    pdf.set_draw_color(*ink)
    pdf.set_fill_color(*ink)
    pdf.set_line_width(0.5)
    if box in ("emergency", "warning"):
        pdf.polygon([(x + 5, y), (x + 10.5, y + 9.5), (x - 0.5, y + 9.5)], style="DF")
        pdf.set_text_color(255, 255, 255)
        pdf.set_font(_FAMILY, "B", 12)
        pdf.set_xy(x, y + 2.6)
        pdf.cell(10, 6.5, "!", align="C")
    elif box == "urgent":
        pdf.polygon([(x + 5, y), (x + 10.5, y + 5.25), (x + 5, y + 10.5), (x - 0.5, y + 5.25)], style="DF")
        pdf.set_text_color(255, 255, 255)
        pdf.set_font(_FAMILY, "B", 11)
        pdf.set_xy(x, y + 2)
        pdf.cell(10, 6.5, "!!", align="C")
    elif box == "expedited":
        pdf.circle(x + 5, y + 5, 5, style="DF")  # fpdf2 2.8: x, y is the centre
        pdf.set_draw_color(255, 255, 255)
        pdf.set_line_width(0.8)
        pdf.line(x + 5, y + 5, x + 5, y + 1.6)
        pdf.line(x + 5, y + 5, x + 7.6, y + 6.4)
    else:
        pdf.rect(x, y + 1.5, 10, 8.5, style="D")
        pdf.rect(x, y + 1.5, 10, 2.5, style="DF")
        pdf.rect(x + 2.2, y, 1.2, 3, style="F")
        pdf.rect(x + 6.6, y, 1.2, 3, style="F")
        for row in range(2):
            for col in range(3):
                pdf.rect(x + 1.6 + col * 2.6, y + 5.2 + row * 2.2, 1.5, 1.2, style="F")
    pdf.set_text_color(*_INK)
    pdf.set_draw_color(*_RULE)


def _box_content(pdf: FPDF, section: Section, x: float, width: float, size: float) -> None:
    pdf.set_font(_FAMILY, "B", size + 2)
    pdf.set_x(x)
    pdf.multi_cell(width, _line_height(pdf, size + 2), section.title, align="L", new_x="LEFT", new_y="NEXT")
    pdf.ln(1)
    _blocks(pdf, section.blocks, x, width, size)


def _box_height(pdf: FPDF, section: Section, x: float, width: float, size: float) -> float | None:
    """The height the box needs from the current position, or ``None`` if it would not fit."""
    top = pdf.get_y()
    with pdf.offset_rendering() as trial:
        trial.set_y(top + _BOX_PAD)
        _box_content(cast("FPDF", trial), section, x, width, size)
        height: float = trial.get_y() - top + _BOX_PAD
    return None if trial.page_break_triggered else height


def _boxed(pdf: FPDF, section: Section, box: Box, size: float) -> None:
    """A section in a tinted, bordered box with its marker; kept on one page."""
    icon = 16.0
    x, width = pdf.l_margin + icon, pdf.epw - icon - _BOX_PAD
    pdf.ln(1)
    height = _box_height(pdf, section, x, width, size)
    if height is None:
        pdf.add_page()
        height = _box_height(pdf, section, x, width, size)
    if height is None:  # taller than a page: print it unboxed rather than overlap the footer
        _section(pdf, section, size)
        return
    top = pdf.get_y()
    pdf.set_fill_color(*_BOX_TINT[box])
    pdf.set_draw_color(*_BOX_INK[box])
    pdf.set_line_width(0.7)
    pdf.rect(pdf.l_margin, top, pdf.epw, height, style="DF")
    _icon(pdf, box, pdf.l_margin + 3, top + _BOX_PAD)
    pdf.set_y(top + _BOX_PAD)
    _box_content(pdf, section, x, width, size)
    pdf.set_y(top + height + 2)


def _use_leading(pdf: FPDF, leading: float) -> None:
    """Line height from here on, as a multiple of the text size (read by ``_line_height``)."""
    object.__setattr__(pdf, "leading", leading)


def _print(sections: Sequence[Section], frame: PageFrame, first_size: float) -> tuple[FPDF, int]:
    """The PDF, and how many pages the sections before the first ``new_page`` one took."""
    pdf, show = _new_pdf(frame)
    size, first_pages = first_size, 0
    _use_leading(pdf, frame.first_page_leading)
    # every text is measured and printed as shown: hidden and glyph-less characters as <U+XXXX>
    for section in sections_shown(sections, show):
        if section.new_page:
            first_pages = first_pages or pdf.page_no()
            size = frame.body_size
            _use_leading(pdf, _LEADING)
            pdf.add_page()
        if section.box is not None:
            _boxed(pdf, section, section.box, size)
            continue
        _section(pdf, section, size)
    return pdf, first_pages or pdf.page_no()


def _sizes(frame: PageFrame) -> list[float]:
    smallest = frame.first_page_min_size
    if smallest is None or smallest >= frame.body_size:
        return [frame.body_size]
    steps = round((frame.body_size - smallest) * 2)
    return [frame.body_size - step / 2 for step in range(steps + 1)]


def render_pdf(sections: Sequence[Section], frame: PageFrame) -> bytes:
    """Print sections as an A4 PDF with a header and footer on every page.

    A section marked ``new_page`` starts a page. With ``frame.first_page_min_size`` the
    sections before it are fitted to the first page by printing them smaller (never by leaving
    anything out).

    Args:
        sections: the document, in order.
        frame: header and footer text, and the body text size.

    Returns:
        The PDF file as bytes.

    Raises:
        FontsMissingError: if the DejaVu fonts are not installed.
    """
    for size in _sizes(frame):
        pdf, first_pages = _print(sections, frame, size)
        if first_pages == 1:
            break
    return bytes(pdf.output())
