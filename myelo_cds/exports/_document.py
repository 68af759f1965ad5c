"""A small document model shared by the text, markdown and PDF renderings of an export.

An export is built once as sections of blocks; each surface renders the same sections, so the
copyable text and the printed PDF can never say different things. Every text passes through
:func:`shown_as_typed` on its way out, so a bidi override or zero-width character in an id
prints as ``<U+202E>`` instead of reordering or hiding what was typed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from myelo_cds.errors import ExportError
from myelo_cds.findings._characters import code_point, is_hidden

__all__ = [
    "PAGE_RULE",
    "Block",
    "Box",
    "Entry",
    "Paragraph",
    "Section",
    "Table",
    "render_markdown",
    "render_plain",
    "sections_shown",
    "shown_as_typed",
]

#: The marker drawn beside a boxed section: a shape as well as a word, never colour alone.
Box = Literal["emergency", "urgent", "expedited", "routine", "warning"]


@dataclass(frozen=True)
class Entry:
    """One line of a list, with optional detail lines under it.

    Attributes:
        text: the line.
        details: lines shown indented under it (inputs, source, ...).
        bullet: ``True`` for a bulleted item, ``False`` for a plain line.
    """

    text: str
    details: tuple[str, ...] = ()
    bullet: bool = True


@dataclass(frozen=True)
class Paragraph:
    """Running text; ``strong`` renders it in bold."""

    text: str
    strong: bool = False


@dataclass(frozen=True)
class Table:
    """A table with a header row; ``widths`` are relative column widths for print."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[int, ...]

    def __post_init__(self) -> None:
        columns = len(self.header)
        if len(self.widths) != columns or any(len(row) != columns for row in self.rows):
            raise ExportError(f"table {self.header}: every row and the widths need {columns} columns")


Block = Entry | Paragraph | Table


@dataclass(frozen=True)
class Section:
    """A titled group of blocks.

    Attributes:
        title: the heading.
        blocks: the content, in order.
        level: 1 for a main heading, 2 for a sub-heading.
        box: draw the section in a box with this marker (PDF); ``None`` for no box.
        new_page: start a new page with this section (PDF); a rule line in plain text.
    """

    title: str
    blocks: tuple[Block, ...]
    level: int = 1
    box: Box | None = None
    new_page: bool = False


def shown_as_typed(text: str, has_glyph: Callable[[int], bool] | None = None) -> str:
    """The text with each character that would not show as itself written as ``<U+XXXX>``.

    Controls, format characters (bidi overrides and isolates, zero-width space and joiners, the
    byte-order mark, soft hyphen), separators and unassigned code points would reorder, hide or
    break the text around them; a character the font has no glyph for would vanish from a PDF.
    Each is printed as its code point instead, so a printed id reads as it was typed, in order.

    Args:
        text: the text to show.
        has_glyph: for a PDF, whether the embedded font can draw a code point; ``None`` for text.

    Returns:
        The text, unchanged when every character shows as itself.
    """
    if text.isascii() and text.isprintable():  # the common case: nothing to reveal
        return text
    return "".join(
        f"<{code_point(character)}>"
        if is_hidden(character) or (has_glyph is not None and not has_glyph(ord(character)))
        else character
        for character in text
    )


def _block_shown(block: Block, show: Callable[[str], str]) -> Block:
    if isinstance(block, Entry):
        return replace(block, text=show(block.text), details=tuple(show(text) for text in block.details))
    if isinstance(block, Paragraph):
        return replace(block, text=show(block.text))
    return replace(
        block,
        header=tuple(show(cell) for cell in block.header),
        rows=tuple(tuple(show(cell) for cell in row) for row in block.rows),
    )


def sections_shown(sections: Sequence[Section], show: Callable[[str], str] = shown_as_typed) -> list[Section]:
    """The sections with every title, line and cell passed through ``show`` (see
    :func:`shown_as_typed`): what each rendering prints."""
    return [
        replace(
            section, title=show(section.title), blocks=tuple(_block_shown(b, show) for b in section.blocks)
        )
        for section in sections
    ]


def _plain_table(table: Table, indent: str) -> list[str]:
    cells = [table.header, *table.rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(table.header))]

    def line(row: Sequence[str]) -> str:
        return (
            indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        ).rstrip()

    return [line(table.header), line(["-" * width for width in widths]), *(line(row) for row in table.rows)]


#: What a page break prints as in plain text.
PAGE_RULE = "=" * 72


def render_plain(sections: Sequence[Section]) -> str:
    """Sections as plain text for pasting into a record: ``Title:`` then indented lines."""
    out: list[str] = []
    for section in sections_shown(sections):
        if out:
            out.append("")
        if section.new_page and out:
            out.extend([PAGE_RULE, ""])
        out.append(f"{section.title}:")
        for block in section.blocks:
            if isinstance(block, Entry):
                out.append(f"  - {block.text}" if block.bullet else f"  {block.text}")
                out.extend(f"      {detail}" for detail in block.details)
            elif isinstance(block, Paragraph):
                out.append(f"  {block.text}")
            else:
                out.extend(_plain_table(block, "  "))
    return "\n".join(out)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _is_bullet(block: Block) -> bool:
    return isinstance(block, Entry) and block.bullet


def render_markdown(sections: Sequence[Section], *, top_level: int = 2) -> str:
    """Sections as Markdown; level-1 sections become ``##`` headings by default."""
    out: list[str] = []
    for section in sections_shown(sections):
        out.extend(["#" * (top_level + section.level - 1) + " " + section.title, ""])
        previous: Block | None = None
        for block in section.blocks:
            if previous is not None and not (_is_bullet(previous) and _is_bullet(block)):
                out.append("")
            if isinstance(block, Entry):
                out.append(f"- {block.text}" if block.bullet else block.text)
                out.extend(f"  - {detail}" for detail in block.details)
            elif isinstance(block, Paragraph):
                out.append(f"**{block.text}**" if block.strong else block.text)
            else:
                out.append("| " + " | ".join(_md_cell(cell) for cell in block.header) + " |")
                out.append("|" + "|".join("---" for _ in block.header) + "|")
                out.extend("| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in block.rows)
            previous = block
        out.append("")
    return "\n".join(out).rstrip() + "\n"
