"""The example case files shipped in ``data/examples`` (for new users and the demo page)."""

from __future__ import annotations

from functools import cache

from myelo_cds._paths import data_dir

__all__ = ["example_cases"]


@cache
def example_cases() -> dict[str, str]:
    """Example name -> the findings JSON text, in name order."""
    folder = data_dir() / "examples"
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.json"))}
