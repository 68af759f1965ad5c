"""Characters that act on text instead of showing in it, and how to name them.

A right-to-left override (U+202E) makes ``PT-1234`` print as ``PT-4321``; a zero-width joiner
(U+200D) or a byte-order mark (U+FEFF) makes two ids that look the same differ. Ids refuse such
characters (:func:`hidden_characters` names them in the message) and the exports print any that
reach them as ``<U+202E>`` (see ``myelo_cds.exports._document.shown_as_typed``), so what a page or
a printout shows is what was stored.
"""

from __future__ import annotations

import unicodedata

__all__ = ["code_point", "hidden_characters", "is_hidden"]

# Unicode general categories of characters that are not shown as themselves: controls (Cc),
# format characters (Cf: bidi embeddings, overrides and isolates, zero-width space/joiners, the
# byte-order mark, soft hyphen, tags), line and paragraph separators (Zl, Zp), lone surrogates
# (Cs), private use (Co) and code points unassigned in this Python's Unicode version (Cn).
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
# Default-ignorable characters of other categories that render as nothing: the combining
# grapheme joiner, Hangul fillers, Khmer inherent vowels, Mongolian free variation selectors and
# the variation selectors (Unicode DerivedCoreProperties, Default_Ignorable_Code_Point).
_HIDDEN_RANGES = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xE0100, 0xE01EF),
)


def is_hidden(character: str) -> bool:
    """Whether a character acts on the text around it or shows as nothing (see module doc)."""
    if unicodedata.category(character) in _HIDDEN_CATEGORIES:
        return True
    point = ord(character)
    return any(low <= point <= high for low, high in _HIDDEN_RANGES)


def code_point(character: str) -> str:
    """``U+202E`` for a character: its code point, as a reader can look it up."""
    return f"U+{ord(character):04X}"


def hidden_characters(text: str) -> list[str]:
    """The hidden characters of a text, each once in order of first use, named for a message.

    Example: ``hidden_characters("PT-\\u202e1234")`` is
    ``["U+202E RIGHT-TO-LEFT OVERRIDE"]``.
    """
    named: list[str] = []
    for character in dict.fromkeys(text):
        if is_hidden(character):
            name = unicodedata.name(character, "")
            if not name and unicodedata.category(character) == "Cc":
                name = "control character"
            named.append(f"{code_point(character)} {name}".rstrip())
    return named
