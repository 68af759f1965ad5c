"""``python -m myelo_cds users ...``: the administrator's commands for accounts.

Passwords are typed at a hidden prompt (twice) or read from standard input with
``--password-stdin``; never on the command line, where the process list and shell history
would keep them.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from myelo_cds.auth import MAX_LENGTH, MIN_LENGTH, ROLES, PasswordError, check_new_password
from myelo_cds.errors import InputError

__all__ = ["add_users_commands"]


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return "cli"


def _password(args: argparse.Namespace) -> str:
    """The new password, checked against the policy (with the account's user id) before the
    store is touched, so a refused one is not typed twice."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        print(
            f"A password needs {MIN_LENGTH} to {MAX_LENGTH} characters, not a common one, not the user"
            " name; a phrase of a few unrelated words works well.",
            file=sys.stderr,
        )
        password = getpass.getpass("New password: ")
        check_new_password(password, user_id=args.user_id)
        if getpass.getpass("Repeat it: ") != password:
            raise InputError("the two passwords differ")
    try:
        return check_new_password(password, user_id=args.user_id)
    except PasswordError as error:
        raise InputError(f"password refused: {error}") from None


def _users(args: argparse.Namespace) -> int:
    from myelo_cds.records import RecordError, Store

    store = Store()
    try:
        if args.action == "add":
            password = None if args.sso else _password(args)
            account = store.add_account(
                args.user_id,
                args.role,
                actor=_actor(),
                password=password,
                supervisor=args.supervisor,
                display_name=args.name,
            )
            kind = "single sign-on" if account.sso else "local"
            print(f"added {account.user_id} ({kind}) as {account.role}", file=sys.stderr)
        elif args.action == "set-role":
            account = store.set_role(args.user_id, args.role, actor=_actor(), supervisor=args.supervisor)
            print(f"{account.user_id} is now {account.role}", file=sys.stderr)
        elif args.action == "passwd":
            store.set_password(args.user_id, _password(args), actor=_actor())
            print(f"new password set for {args.user_id}", file=sys.stderr)
        elif args.action == "unlock":
            store.forget_sign_in_failures(args.user_id)
            print(f"failed sign-ins of {args.user_id} forgotten: no wait before the next", file=sys.stderr)
        elif args.action in ("disable", "enable"):
            store.set_disabled(args.user_id, args.action == "disable", actor=_actor())
            print(f"{args.user_id} {args.action}d", file=sys.stderr)
        else:
            for account in store.accounts():
                flags = [f for f, on in (("supervisor", account.supervisor), ("sso", account.sso),
                                         ("disabled", account.disabled)) if on]  # fmt: skip
                print(f"{account.user_id}\t{account.role}\t{','.join(flags)}")
    except (RecordError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        store.close()
    return 0


def add_users_commands(commands: Any) -> None:
    """Add ``users add|set-role|passwd|unlock|disable|enable|list`` to the command line."""
    users = commands.add_parser("users", help="manage sign-in accounts and roles (administrators)")
    actions = users.add_subparsers(dest="action", required=True, parser_class=type(users))
    add = actions.add_parser("add", help="create a local account, or the role of an SSO subject (--sso)")
    add.add_argument("user_id", help="sign-in name, or the SSO 'sub' claim with --sso")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--supervisor", action="store_true", help="may see residents' training results")
    add.add_argument("--name", help="display name (sidebar only)")
    add.add_argument("--sso", action="store_true", help="no local password: signs in through SSO")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    role = actions.add_parser("set-role", help="change an account's role")
    role.add_argument("user_id")
    role.add_argument("--role", required=True, choices=ROLES)
    role.add_argument("--supervisor", action=argparse.BooleanOptionalAction, default=None)
    passwd = actions.add_parser("passwd", help="set a new local password")
    passwd.add_argument("user_id")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    unlock = actions.add_parser("unlock", help="end the wait after failed sign-ins of a user name")
    unlock.add_argument("user_id")
    for name in ("disable", "enable"):
        actions.add_parser(name, help=f"{name} an account").add_argument("user_id")
    actions.add_parser("list", help="every account with its role")
    users.set_defaults(run=_users)
