"""``python -m myelo_cds migrate`` and ``python -m myelo_cds verify-audit``: the record
database's schema (as its owner) and the audit log's integrity."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_records_commands"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _migrate(_args: argparse.Namespace) -> int:
    from myelo_cds.records import RecordError, database_url
    from myelo_cds.records._database import migration_database_url
    from myelo_cds.records._privileges import migrate_schema

    app_url = database_url()
    owner_url = migration_database_url() or app_url
    try:
        migrated = migrate_schema(owner_url, app_url if owner_url != app_url else None)
    except RecordError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    granted = (
        f"; the app's role {migrated.granted_to} may read and append only" if migrated.granted_to else ""
    )
    print(f"{migrated.backend} schema at revision {migrated.revision}{granted}", file=sys.stderr)
    return EXIT_OK


def _verify_audit(args: argparse.Namespace) -> int:
    from myelo_cds.records import RecordError, Store

    store = Store()
    try:
        check = store.verify_audit()
    except RecordError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        store.close()
    if args.format == "json":
        report = {
            "intact": check.intact,
            "events": check.events,
            "assessments": check.assessments,
            "head": check.head,
            "problem": check.problem,
        }
        print(json.dumps(report, indent=2))
    elif check.intact:
        print(
            f"audit log intact: {check.events:,} events, {check.assessments:,} assessments; head {check.head}"
        )
    else:
        print(f"audit log BROKEN: {check.problem}")
        print(f"(checked {check.events:,} events; last good chain hash {check.head})")
    return EXIT_OK if check.intact else EXIT_FAILED


def add_records_commands(commands: Any) -> None:
    """Add ``migrate`` and ``verify-audit`` to the command line."""
    migrate = commands.add_parser(
        "migrate",
        help="bring the record database to the newest schema (as MYELO_CDS_MIGRATION_DATABASE_URL if set,"
        " then grant the app's role only what it needs)",
    )
    migrate.set_defaults(run=_migrate)
    verify = commands.add_parser(
        "verify-audit",
        help="check the audit log's hash chain and each stored assessment against its create event",
    )
    verify.add_argument("--format", choices=("text", "json"), default="text")
    verify.set_defaults(run=_verify_audit)
