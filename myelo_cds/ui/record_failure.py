"""What a page shows when the record database fails, instead of Streamlit's error trace.

The record database can be replaced (a restore gone wrong), read-only or unreachable while the
server runs. The consult needs it only to save and to compare with earlier visits, and says so
itself (:mod:`myelo_cds.ui.records`); every other page that reads or writes records (timeline,
worklist, audit log, quiz, training progress, supervisor view, registry audit) runs inside
:func:`record_failures_shown`, which turns the :class:`~myelo_cds.records.RecordError` into one
clear message: what failed (its kind only, never a value nor the database's address) and that
the consult still gives recommendations.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import streamlit as st

from myelo_cds.records import RecordError

__all__ = ["record_failures_shown", "render_records_unavailable", "render_sign_in_unavailable"]


def _sentence(error: RecordError) -> str:
    text = str(error).rstrip(".")
    return f"{text[:1].upper()}{text[1:]}."


def render_records_unavailable(error: RecordError) -> None:
    """The message of a page stopped by a record database failure."""
    st.error(
        "**The record database cannot be read or written right now**, and this page needs it.\n\n"
        f"{_sentence(error)}\n\n"
        "The consult still gives recommendations (without comparing with earlier visits): use the"
        " Consult page and write the result in the patient's notes. Tell the administrator.",
        icon=":material/cloud_off:",
    )


def render_sign_in_unavailable(error: RecordError) -> None:
    """The message when the accounts cannot be read: no sign-in can be checked, so nobody is
    signed in until the database answers again (fail closed)."""
    st.error(
        "**Signing in is not possible right now**: the record database, which holds the accounts,"
        f" cannot be read.\n\n{_sentence(error)}\n\nTell the administrator; try again in a few minutes.",
        icon=":material/cloud_off:",
    )


@contextlib.contextmanager
def record_failures_shown() -> Iterator[None]:
    """Run a page; a record database failure it raises is shown as a message, not a trace.

    Streamlit's own control flow (``st.stop``, ``st.rerun``) and every other error pass through.
    """
    try:
        yield
    except RecordError as error:
        render_records_unavailable(error)
