"""``python -m myelo_cds``: see :mod:`myelo_cds.cli`."""

import sys

from myelo_cds.cli import main

sys.exit(main())
