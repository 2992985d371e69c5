"""`dgarchive db ACTION`: database schema commands."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from crawler.cli.base import Parser, UsageError, db_url_of


def register(sub: Any) -> None:
    db = sub.add_parser("db", help="database schema commands")
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION", parser_class=Parser)
    upgrade = dbsub.add_parser("upgrade", help="bring the schema to the newest migration")
    upgrade.add_argument("--db", metavar="URL")
    upgrade.set_defaults(run=upgrade_command)
    reader = dbsub.add_parser(
        "grant-reader",
        help="PostgreSQL: create a read-only role for apps (SELECT on every table and view)",
        description="Create ROLE (LOGIN, no password: set one with psql's \\password) when "
        "it does not exist, and grant it SELECT on every table and view, now and after "
        "later migrations; its transactions are read-only. Run it as the schema's owner.",
    )
    reader.add_argument("role", metavar="ROLE")
    reader.add_argument("--db", metavar="URL")
    reader.set_defaults(run=grant_reader_command)
    db.set_defaults(run=_no_action)


def _no_action(args: argparse.Namespace, settings: Any = None) -> int:
    raise UsageError("db needs an action: upgrade, grant-reader")


def upgrade_command(args: argparse.Namespace, settings: Any = None) -> int:
    from pipelines.store import shown_url, upgrade

    url = db_url_of(args)
    upgrade(url)
    print(f"database at head: {shown_url(url)}", file=sys.stderr)
    return 0


def grant_reader_command(args: argparse.Namespace, settings: Any = None) -> int:
    from crawler.readapi import ROLE_NAME, grant_reader
    from pipelines.store import make_engine, shown_url, translated

    url = db_url_of(args)
    if not ROLE_NAME.fullmatch(args.role):
        raise UsageError(f"role name {args.role!r}: lower-case letters, digits and _ only")
    engine = make_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            raise UsageError(
                "grant-reader is for PostgreSQL; an SQLite reader needs read access to the "
                "file (see `dgarchive serve`)"
            )
        with translated(engine):
            statements = grant_reader(engine, args.role)
    finally:
        engine.dispose()
    for statement in statements:
        print(statement, file=sys.stderr)
    print(f"{args.role} can read {shown_url(url)}", file=sys.stderr)
    return 0
