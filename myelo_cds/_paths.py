"""Where the reviewable data files and the schema migrations live.

In a checkout they are ``data/`` and ``migrations/`` beside the package. An installed wheel
(``pip install .``) carries copies inside the package, as ``myelo_cds/_data`` and
``myelo_cds/_migrations`` (mapped in pyproject.toml): those win when present, so an installed
copy never reads a ``data/`` folder that happens to sit next to site-packages.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir", "migrations_dir"]

_PACKAGE = Path(__file__).resolve().parent


def _installed_or_checkout(packaged: str, checkout: str) -> Path:
    inside = _PACKAGE / packaged
    return inside if inside.is_dir() else _PACKAGE.parent / checkout


def data_dir() -> Path:
    """The data folder: ``MYELO_CDS_DATA`` if set, else the installed copy, else ``data/``."""
    override = os.environ.get("MYELO_CDS_DATA")
    if override:
        return Path(override)
    return _installed_or_checkout("_data", "data")


def migrations_dir() -> Path:
    """The Alembic migrations: the installed copy, else ``migrations/`` beside the package."""
    return _installed_or_checkout("_migrations", "migrations")
