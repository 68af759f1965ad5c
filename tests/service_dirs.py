"""Scratch directories that a service's own system user can reach.

The tests start PostgreSQL (as ``postgres`` when run as root) and nginx (whose workers run as
``nobody`` under a root master) in throwaway directories. ``TMPDIR`` may be private to the
user running the tests (mode 0700, as some CI runners and ``systemd`` services set it), and
then a service user cannot enter a directory made there: the first candidate base directory
that ``user`` can enter is used instead (root makes the directory and hands it over).
"""

from __future__ import annotations

import functools
import os
import pwd
import subprocess
import tempfile
from pathlib import Path

__all__ = ["scratch_directory"]


@functools.cache
def _base_for(user: str) -> str | None:
    """The first of ``$TMPDIR``, ``/tmp``, ``/var/tmp`` and the user's home that ``user`` can
    enter, path and all (checked as that user); None when not running as root (no other user)."""
    if os.geteuid() != 0:
        return None
    candidates = [tempfile.gettempdir(), "/tmp", "/var/tmp", pwd.getpwnam(user).pw_dir]
    for candidate in dict.fromkeys(candidates):
        check = ["runuser", "-u", user, "--", "test", "-d", candidate, "-a", "-x", candidate]
        if subprocess.run(check, capture_output=True, check=False).returncode == 0:
            return candidate
    raise RuntimeError(f"no directory that the {user!r} user can enter: tried {', '.join(candidates)}")


def scratch_directory(prefix: str, user: str) -> Path:
    """A new empty directory (``mkdtemp``) where ``user`` can reach it; under ``TMPDIR`` when
    not running as root (the service then runs as the same user)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=_base_for(user)))
