"""Display names and user ids are shown as the characters typed, never as markdown.

A display name comes from an administrator (``users add --name``) or from the identity
provider's ``name`` claim, so it is input like any other: a name such as
``[Open the record](https://evil.example)`` must not become a link on a page.
"""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from myelo_cds.auth import User
from myelo_cds.records import Store

ROOT = Path(__file__).resolve().parents[1]
HOSTILE_NAME = "[Open the record](https://evil.example/x) ![pixel](https://evil.example/p.png) `code`"


def test_training_progress_shows_a_markdown_display_name_as_text(database: Store) -> None:
    """Reproduces the attack: a display name with a markdown link and image rendered as a live
    link and a remote image on Training progress (before the fix the caption held them raw)."""
    at = AppTest.from_file(str(ROOT / "pages" / "training_progress.py"), default_timeout=60)
    at.session_state["myelo_cds.user"] = User(user_id="res-1", role="resident", display_name=HOSTILE_NAME)
    at.run()
    assert not at.exception
    caption = next(c.value for c in at.caption if "Signed in as" in c.value)
    assert "](https://" not in caption  # no markdown link or image left
    for shown in ("\\[Open the record\\]", "\\!\\[pixel\\]", "\\`code\\`"):
        assert shown in caption
