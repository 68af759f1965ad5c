"""Typed text inside Markdown: shown as the characters typed, never as a link, image or markup."""

from __future__ import annotations

import re

__all__ = ["WORD_JOINER", "plain"]

# The Markdown characters that make links, images, HTML and code spans. Streamlit already
# escapes HTML; escaping these too means a typed "[x](http://...)" or "![x](...)" stays text.
_MARKUP = re.compile(r"([\\\[\]!<>`])")
# GitHub-flavoured Markdown also turns bare "http://..." and "www...." into links, whatever
# the escapes: an invisible word joiner inside the scheme separator or after "www" stops it.
WORD_JOINER = "\u2060"
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)", re.IGNORECASE)


def plain(text: str) -> str:
    """``text`` with Markdown's link, image, HTML and code characters escaped; it reads the same."""
    return _AUTOLINK.sub(WORD_JOINER, _MARKUP.sub(r"\\\1", text))
