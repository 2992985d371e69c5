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
    db.set_defaults(run=_no_action)


def _no_action(args: argparse.Namespace, settings: Any = None) -> int:
    raise UsageError("db needs an action: upgrade")


def upgrade_command(args: argparse.Namespace, settings: Any = None) -> int:
    from pipelines.store import shown_url, upgrade

    url = db_url_of(args)
    upgrade(url)
    print(f"database at head: {shown_url(url)}", file=sys.stderr)
    return 0
