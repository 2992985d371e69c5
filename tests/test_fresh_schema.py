"""A new SQLite database's schema from the snapshot (`pipelines.store.freshschema`) is the one
the migrations give: the snapshot is what they make today, and the two databases are equal,
`sqlite_master` and every table (FTS5's shadow tables included)."""

from __future__ import annotations

import sqlite3

import pytest

from pipelines.store import ensure_schema, freshschema, make_engine, schema_state, sqlitehead
from pipelines.store.schema import check_models, downgrade, head_revision, upgrade


def _unordered_constraints(sql: str | None) -> tuple | None:
    """A CREATE TABLE's SQL with its constraints as a set: migration 0002's table rebuilds
    (`batch_alter_table`) list a table's constraints, and create its indexes, in an order
    that changes with Python's string hashing from one run of the migrations to the next
    (so `sqlite_master` is compared in name order). Columns keep their order."""
    if sql is None or not sql.startswith("CREATE TABLE") or "(\n" not in sql:
        return (sql,)
    head, _, rest = sql.partition("(\n")
    body, _, tail = rest.rpartition("\n)")
    lines = [line.strip().removesuffix(",").strip() for line in body.split("\n")]
    constraints = frozenset(x for x in lines if x.startswith("CONSTRAINT"))
    return head, [x for x in lines if not x.startswith("CONSTRAINT")], constraints, tail


def _first(entry: tuple) -> str:
    return entry[0] or ""


def _migrated(path) -> None:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()


def _everything(path) -> dict:
    with sqlite3.connect(path) as conn:
        master = [
            (kind, name, tbl, _unordered_constraints(sql))
            for kind, name, tbl, sql in conn.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
            )
        ]
        tables = [
            name
            for kind, name, _tbl, sql in master
            if kind == "table" and not (sql[0] or "").startswith("CREATE VIRTUAL")
        ]
        rows = {t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables}
        pragmas = {
            p: conn.execute(f"PRAGMA {p}").fetchone()[0]
            for p in ("user_version", "application_id", "journal_mode", "foreign_keys")
        }
    return {"master": master, "rows": rows, "pragmas": pragmas}


@pytest.mark.skipif(
    sqlite3.sqlite_version_info < freshschema.MIN_SQLITE, reason="the snapshot's SQLite branch"
)
def test_the_snapshot_is_what_the_migrations_make_today(tmp_path):
    _migrated(tmp_path / "migrated.sqlite")
    with sqlite3.connect(tmp_path / "migrated.sqlite") as conn:
        statements = freshschema.snapshot_statements(conn)
    assert sqlitehead.REVISION == head_revision()
    assert sorted(map(_unordered_constraints, sqlitehead.STATEMENTS), key=_first) == sorted(
        map(_unordered_constraints, statements), key=_first
    ), "the migrations changed: run `python -m pipelines.store.freshschema`"


@pytest.mark.skipif(
    sqlite3.sqlite_version_info < freshschema.MIN_SQLITE, reason="the snapshot's SQLite branch"
)
def test_a_new_database_from_the_snapshot_equals_the_migrated_one(tmp_path):
    _migrated(tmp_path / "migrated.sqlite")
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    assert freshschema.create_fresh_sqlite(engine, head_revision())
    engine.dispose()
    fresh, migrated = (
        _everything(tmp_path / "fresh.sqlite"),
        _everything(tmp_path / "migrated.sqlite"),
    )
    assert len(fresh["master"]) > 40 and "alembic_version" in fresh["rows"]
    assert fresh == migrated
    # Alembic takes it as its own: at head, the models agree, and it migrates down and up.
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    try:
        assert schema_state(engine) == "current"
        check_models(engine)
        downgrade(engine, "0002")
        assert schema_state(engine) == "behind"
        upgrade(engine)
    finally:
        engine.dispose()
    assert _everything(tmp_path / "fresh.sqlite")["master"] == migrated["master"]


@pytest.mark.skipif(
    sqlite3.sqlite_version_info < freshschema.MIN_SQLITE, reason="the snapshot's SQLite branch"
)
def test_ensure_schema_takes_the_snapshot_only_where_it_applies(tmp_path, monkeypatch):
    calls: list[bool] = []
    real = freshschema.create_fresh_sqlite

    def spy(engine, head):
        calls.append(made := real(engine, head))
        return made

    monkeypatch.setattr(freshschema, "create_fresh_sqlite", spy)
    # a database with a table of its own: not empty, left to the migrations
    with sqlite3.connect(tmp_path / "other.sqlite") as conn:
        conn.execute("CREATE TABLE mine (x INTEGER)")
    engine = make_engine(f"sqlite:///{tmp_path / 'other.sqlite'}")
    assert ensure_schema(engine) == "empty"
    assert schema_state(engine) == "current"
    engine.dispose()
    assert calls == [False]
    # a snapshot of another revision than the head: the migrations
    monkeypatch.setattr(sqlitehead, "REVISION", "0002")
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    assert ensure_schema(engine) == "empty"
    engine.dispose()
    assert calls == [False, False]
    _migrated(tmp_path / "migrated.sqlite")
    assert _everything(tmp_path / "old.sqlite") == _everything(tmp_path / "migrated.sqlite")
    # an SQLite older than the migrations' full branch: the migrations
    monkeypatch.setattr(sqlitehead, "REVISION", head_revision())
    least = freshschema.MIN_SQLITE
    monkeypatch.setattr(freshschema, "MIN_SQLITE", (99, 0, 0))
    engine = make_engine(f"sqlite:///{tmp_path / 'older.sqlite'}")
    ensure_schema(engine)
    engine.dispose()
    assert calls == [False, False, False]
    # and where it applies, the snapshot; a second call finds the schema current
    monkeypatch.setattr(freshschema, "MIN_SQLITE", least)
    engine = make_engine(f"sqlite:///{tmp_path / 'new.sqlite'}")
    try:
        assert ensure_schema(engine) == "empty"
        assert ensure_schema(engine) == "current"
    finally:
        engine.dispose()
    assert calls == [False, False, False, True]
