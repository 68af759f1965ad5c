"""For ``bench/deploy_load.py --variant``: a replica whose ``gc.freeze()`` does nothing.

With ``PYTHONPATH=bench/unfrozen`` Python imports this module at start-up, so ``asgi.py``'s
warm-up leaves its start-up objects to every collection, as the server did before issue 17.
Together with ``STREAMLIT_RUNNER_POST_SCRIPT_GC=true`` (Streamlit's default) it is the previous
configuration, measured in the same run as the shipped one. Never on a server's path.
"""

import gc


def _no_freeze() -> None:
    """Leave every object to the collector (the previous configuration)."""


gc.freeze = _no_freeze
