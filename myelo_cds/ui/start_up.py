"""Refuse to serve with unsafe deployment settings (a placeholder secret, an open development mode).

:func:`myelo_cds.settings.deployment_problems` decides; this module only gathers what Streamlit
knows (its secrets, its cookie secret, the address it listens on) and is called in two places:
``asgi.py`` when the server starts (the server then stops and readiness never turns ready) and
``app.py`` on every run (``streamlit run app.py`` has no start-up hook: every page shows the
refusal and nothing else).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import streamlit as st
from streamlit import config
from streamlit.config_option import ConfigOption

from myelo_cds.errors import SettingsError
from myelo_cds.settings import auth_settings, cds_hooks_settings, deployment_problems, session_settings

__all__ = ["bind_address", "refuse_unsafe_start", "start_up_problems"]

_DEFAULT = ConfigOption.DEFAULT_DEFINITION


def _auth_cookie_secret() -> str | None:
    """``[auth] cookie_secret`` from the secrets files, or ``None`` when there is none."""
    try:
        if not st.secrets.load_if_toml_exists():
            return None
        section = st.secrets.get("auth")
    except (FileNotFoundError, OSError, ValueError):  # unreadable secrets: nothing usable
        return None
    if section is None or not hasattr(section, "get"):
        return None
    value = section.get("cookie_secret")
    return None if value is None else str(value)


def _server_cookie_secret() -> str | None:
    """``server.cookieSecret`` when someone set it (else Streamlit draws a random one per process)."""
    if config.get_where_defined("server.cookieSecret") == _DEFAULT:
        return None
    return str(config.get_option("server.cookieSecret") or "")


def _program(orig_argv: list[str]) -> tuple[str | None, list[str]]:
    """The program an interpreter command line runs (``-m NAME`` or a script's file name) and
    its arguments; ``None`` for ``-c`` or an interactive interpreter."""
    arguments = orig_argv[1:]
    number = 0
    while number < len(arguments):
        argument = arguments[number]
        if argument == "-m":
            return (
                (arguments[number + 1], arguments[number + 2 :])
                if number + 1 < len(arguments)
                else (None, [])
            )
        if argument.startswith("-m"):
            return argument[2:], arguments[number + 1 :]
        if argument.startswith("-c") or argument == "-":
            return None, []
        if argument in ("-X", "-W"):
            number += 2
            continue
        if argument.startswith("-"):
            number += 1
            continue
        return Path(argument).name, arguments[number + 1 :]
    return None, []


def _uvicorn_host(arguments: list[str]) -> str:
    """The ``--host`` of a ``uvicorn asgi:app`` command line (uvicorn's default is 127.0.0.1)."""
    host = "127.0.0.1"
    for number, argument in enumerate(arguments):
        if argument == "--host" and number + 1 < len(arguments):
            host = arguments[number + 1]
        elif argument.startswith("--host="):
            host = argument.partition("=")[2]
    return host


def bind_address(orig_argv: list[str] | None = None) -> tuple[str | None, bool]:
    """The address this process serves on, and whether it is known.

    Read from the interpreter's own command line (``sys.orig_argv``: ``streamlit run`` rewrites
    ``sys.argv`` for the script). ``streamlit run`` listens on ``server.address`` (unset: every
    interface); ``uvicorn asgi:app`` on its ``--host``. Anything else (AppTest under pytest, a
    script importing the app) serves on no address.
    """
    program, arguments = _program(sys.orig_argv if orig_argv is None else orig_argv)
    if program == "streamlit":
        address = config.get_option("server.address")
        return (str(address) if address else None), True
    if program == "uvicorn":
        return _uvicorn_host(arguments), True
    return None, False


def start_up_problems() -> list[str]:
    """Why this server must not serve (empty when it may): each message names the setting."""
    try:
        settings = auth_settings()
    except SettingsError as error:
        return [str(error)]
    address, known = bind_address()
    problems = deployment_problems(
        settings,
        auth_cookie_secret=_auth_cookie_secret(),
        server_cookie_secret=_server_cookie_secret(),
        bind_address=address,
        bind_address_known=known,
        database_url=os.environ.get("MYELO_CDS_DATABASE_URL", "").strip() or None,
    )
    # The session limits and the CDS Hooks trust settings too: a mistyped one must stop the
    # server, not the first sign-in or the first EHR call.
    for check in (session_settings, cds_hooks_settings):
        try:
            check()
        except SettingsError as error:
            problems.append(str(error))
    return problems


def refuse_unsafe_start() -> None:
    """In ``app.py``, before anyone is signed in: show why the server refuses to serve, and stop."""
    problems = start_up_problems()
    if not problems:
        return
    st.title("This server is not configured safely")
    for problem in problems:
        st.error(problem, icon=":material/gpp_bad:")
    st.caption("An administrator must fix the setting named above and restart the server.")
    st.stop()
