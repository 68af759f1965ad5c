"""Download buttons that leave an audit event: who exported what, and for which case.

Every file a page offers for download goes through :func:`audited_download_button`. The file is
built only when the browser asks for it (Streamlit's deferred download data), and the audit
event is written in that same step, just before the file is handed out:

- the event is tied to the file actually leaving the server, not to a click the browser
  reports (a client can ask for a deferred file without sending a click, and a click
  callback would also rerun the whole page);
- if the event cannot be written (database down), the file is not handed out: an export
  the audit log does not know about never happens;
- the event carries the actor, an action such as ``export_pdf``, the pseudonymous case id
  when there is one and the file's kind; never findings, names or the file's content;
- a link belongs to the sign-in that drew it: after sign-out or a session time-out the file is
  not built (:func:`myelo_cds.ui.session.sign_in_is_live`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from myelo_cds.records import Store
from myelo_cds.ui.current_user import signed_in_user
from myelo_cds.ui.records import store
from myelo_cds.ui.session import sign_in_is_live

__all__ = ["audited_download_button", "audited_file"]

FileData = str | bytes


def audited_file(
    build: Callable[[], FileData] | FileData,
    *,
    records: Store,
    action: str,
    actor: str,
    patient_id: str | None = None,
    detail: str = "",
    live: Callable[[], bool] | None = None,
) -> Callable[[], FileData]:
    """A deferred file builder that records ``action`` in the audit log each time it runs.

    Args:
        build: the file's content, or a function that builds it.
        records: the store whose audit log gets the event.
        action: the audit action (``export_pdf``, ``export_ics``, ``export_fhir``, ...).
        actor: the signed-in user's id.
        patient_id: the pseudonymous case id the file is about, if any.
        detail: what was exported (``consult note``); never findings or names.
        live: whether the sign-in that offered the file still lasts; when it answers ``False``
            nothing is built or recorded.

    Returns:
        A function that builds the file and then records the event; if the sign-in has ended
        or the event cannot be recorded it raises, so the file is not handed out.

    Raises:
        PermissionError: (from the returned function) the sign-in that offered the file ended.
    """

    def deferred() -> FileData:
        if live is not None and not live():
            raise PermissionError(f"{action}: the sign-in that offered this file has ended; sign in again")
        content = build() if callable(build) else build
        records.record_event(action, actor=actor, patient_id=patient_id, detail=detail)
        return content

    return deferred


def audited_download_button(
    label: str,
    build: Callable[[], FileData] | FileData,
    *,
    file_name: str,
    mime: str,
    action: str,
    patient_id: str | None = None,
    detail: str = "",
    icon: str | None = None,
    key: str | None = None,
    container: Any = None,
) -> None:
    """A download button whose file, when fetched, is recorded in the audit log.

    Args:
        label: the button's text.
        build: the file's content, or a function that builds it (preferred: nothing is built
            until the file is asked for).
        file_name: the name the browser saves it under.
        mime: the file's media type.
        action: the audit action, e.g. ``export_pdf``.
        patient_id: the pseudonymous case id, if any (``None`` for lists and handouts).
        detail: what was exported, in a few words; never findings or names.
        icon: a Material icon for the button.
        key: the widget key, when two buttons would otherwise look the same.
        container: where to draw it (a column); the page itself by default.
    """
    user = signed_in_user()
    actor = user.user_id if user is not None else "unknown"
    target = container if container is not None else st
    target.download_button(
        label,
        data=audited_file(
            build,
            records=store(),
            action=action,
            actor=actor,
            patient_id=patient_id,
            detail=detail,
            live=sign_in_is_live(),
        ),
        file_name=file_name,
        mime=mime,
        icon=icon,
        key=key,
        on_click="ignore",
    )
