"""Which Python processes that the tests start the gate's coverage measures.

Coverage's subprocess patch (``[tool.coverage.run] patch``) measures every Python process a test
starts, through two environment variables. A measured process costs more CPU: it traces the
import of the whole package and all it runs, and writes a data file of its own. A test whose process
runs code that in-process tests already measure starts it :func:`unmeasured`; the gate's coverage
total shows a wrong choice (it would drop).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["unmeasured"]

#: The variables through which coverage's subprocess patch reaches a child process.
COVERAGE_VARIABLES = ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START")


def unmeasured(environment: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environment`` (default: this process's) without the variables that start coverage."""
    plain = dict(os.environ if environment is None else environment)
    for name in COVERAGE_VARIABLES:
        plain.pop(name, None)
    return plain
