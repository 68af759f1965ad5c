"""Where the reviewable data files live."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir"]


def data_dir() -> Path:
    """The ``data/`` folder: ``MYELO_CDS_DATA`` if set, else the one beside the package."""
    override = os.environ.get("MYELO_CDS_DATA")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "data"
