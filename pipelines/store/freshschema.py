"""A NEW SQLite database's schema in one transaction, without Alembic.

Migrating an empty SQLite database to head runs every migration one by one: Alembic's import
(about 0.2 CPU-s) and migration 0002's table rebuilds (`batch_alter_table`: reflection and a
copy of each table, about 0.25 CPU-s), about half a second before `dgarchive reindex` or a
crawl into a new file writes anything. The migrations' end result is known: the statements
that recreate its `sqlite_master` (`pipelines.store.sqlitehead`, written by
`python -m pipelines.store.freshschema`, then `ruff format`), replayed in one transaction, give the very same
schema, Alembic's version row included (tests/test_fresh_schema.py holds them equal to the
migrations' on every run, and both databases equal, `sqlite_master` and every table).

Used only where the snapshot is the migrations' result: a database with nothing in it, the
snapshot's revision the head of this code's migrations, and an SQLite that takes the
migrations' full branch (FTS5 with the trigram tokenizer and JSON functions: 3.38 or later,
compiled with FTS5). Anything else, or any failure, is left to the migrations.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterable

from sqlalchemy import Engine

from pipelines.store.schema import VERSION_TABLE as VERSION

__all__ = ["create_fresh_sqlite", "snapshot_statements"]

MIN_SQLITE = (3, 38, 0)  # the newest SQLite feature a migration branches on (0003)


def _takes_full_branch(conn: sqlite3.Connection) -> bool:
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        return False
    found = conn.execute(
        "SELECT 1 FROM pragma_compile_options WHERE compile_options = 'ENABLE_FTS5'"
    ).fetchone()
    return found is not None


def create_fresh_sqlite(engine: Engine, head: str) -> bool:
    """Create the schema at `head` in the empty SQLite database of `engine` from the
    snapshot; False (nothing changed) when the snapshot does not apply or the database is not
    empty once its write lock is held (another process created it meanwhile)."""
    if engine.dialect.name != "sqlite":
        return False
    from pipelines.store import sqlitehead

    if sqlitehead.REVISION != head:
        return False  # a migration newer than the snapshot: run them
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        if not _takes_full_branch(conn):
            return False
        conn.execute("BEGIN IMMEDIATE")  # the writer's lock before looking
        try:
            if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                conn.execute("ROLLBACK")
                return False
            for statement in sqlitehead.STATEMENTS:
                conn.execute(statement)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return True
    finally:
        raw.close()


FTS5_SHADOWS = ("data", "idx", "content", "docsize", "config")


def _rows(conn: sqlite3.Connection, tables: Iterable[str]) -> dict[str, list]:
    return {t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables}


def snapshot_statements(conn: sqlite3.Connection) -> list[str]:
    """The statements that recreate the migrated database `conn`: its `sqlite_master`
    entries in their order (what a virtual table creates with itself, its shadow tables, left
    to it), an FTS5 `rebuild` where the migrations' left the index's own rows different from
    a new one's (migration 0001 rebuilds `articles_fts`), the rows of `alembic_version`.
    Raises RuntimeError if the tables' rows still differ (data a migration inserted)."""
    scratch = sqlite3.connect(":memory:")
    statements: list[str] = []
    try:
        entries = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"
        ).fetchall()
        for _kind, name, sql in entries:
            made = scratch.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,))
            if made.fetchone() is not None:
                continue  # a shadow table of a virtual table made before it
            scratch.execute(sql)
            statements.append(sql)
        tables = [
            name
            for kind, name, sql in entries
            if kind == "table" and not sql.startswith("CREATE VIRTUAL") and name != VERSION
        ]
        for _kind, name, sql in entries:
            if not sql.startswith("CREATE VIRTUAL TABLE") or "fts5" not in sql.lower():
                continue
            shadows = [f"{name}_{s}" for s in FTS5_SHADOWS if f"{name}_{s}" in tables]
            if _rows(conn, shadows) != _rows(scratch, shadows):
                rebuild = f"INSERT INTO {name}({name}) VALUES ('rebuild')"
                scratch.execute(rebuild)
                statements.append(rebuild)
        if _rows(conn, tables) != _rows(scratch, tables):
            raise RuntimeError("the migrated database holds rows its schema does not make")
    finally:
        scratch.close()
    for (revision,) in conn.execute(f"SELECT version_num FROM {VERSION} ORDER BY 1"):
        statements.append(f"INSERT INTO {VERSION} (version_num) VALUES ('{revision}')")
    return statements


def render(revision: str, statements: Iterable[str]) -> str:
    """The source of `pipelines.store.sqlitehead`."""
    lines = [
        '"""The schema of a new SQLite database at migration head, as statements (generated by',
        "`python -m pipelines.store.freshschema` from a database the migrations made; do not",
        'edit: see `pipelines.store.freshschema`)."""',
        "",
        f"REVISION = {revision!r}",
        "",
        "STATEMENTS = (",
        *(f"    {s!r}," for s in statements),
        ")",
        "",
    ]
    return "\n".join(lines)


def main() -> int:  # pragma: no cover - run by hand after a new migration
    import tempfile
    from pathlib import Path

    from pipelines.store.engine import make_engine
    from pipelines.store.schema import head_revision, upgrade

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "head.sqlite"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()
        with sqlite3.connect(path) as conn:
            statements = snapshot_statements(conn)
    target = Path(__file__).with_name("sqlitehead.py")
    target.write_text(render(head_revision(), statements), encoding="utf-8")
    print(f"wrote {target} ({len(statements)} statements)", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
