"""The SQLite trigram index holds an original title or text only where it differs from its
simplified copy.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

The FTS5 table `articles_fts` indexed four columns: `title`, `text` and their OpenCC t2s
copies `title_simplified`, `text_simplified`. This site serves simplified script, so an
original equals its copy (1,999 of the 2,000 articles of bench/bench_reindex.py) and the
index held every trigram twice: half its size, and about a sixth of what storing an article
costs (`dgarchive reindex` of 2,000 articles: 1.2 CPU-s in the store, 0.2 of them the
second copy's trigrams).

The index's external content is now the view `articles_fts_source`: the simplified copies
as they are, an original where it differs from its copy, NULL where it does not. So:
- `pipelines.store.search` (the simplified columns) finds what it found;
- a MATCH over every column (Datasette's `_search`, the SQL in docs/schema.md) finds the
  same rows: a phrase in an original that equals its copy is in the copy;
- a MATCH restricted to `title` or `text` (`{title} : …`), `highlight()` or `snippet()` of
  those columns, and `SELECT title FROM articles_fts` see the original only where it
  differs, that is on pages served in traditional script. Name the simplified columns.

PostgreSQL is unchanged (its pg_trgm indexes are per column). An SQLite without the trigram
index (older than 3.34, or without FTS5) has nothing to change.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS_TABLE = "articles_fts"
SOURCE_VIEW = "articles_fts_source"
TRIGGERS = ("articles_fts_ai", "articles_fts_ad", "articles_fts_au")
COLUMNS = ("title", "text", "title_simplified", "text_simplified")
COLS = ", ".join(COLUMNS)


def indexed_values(row: str) -> str:
    """The values `articles_fts` indexes for `row` (`new`, `old`, `articles` for the view):
    the originals where they
    differ from their simplified copies, then the copies. `IS NOT`: NULL-safe."""
    return (
        f"CASE WHEN {row}.title IS NOT {row}.title_simplified THEN {row}.title END, "
        f"CASE WHEN {row}.text IS NOT {row}.text_simplified THEN {row}.text END, "
        f"{row}.title_simplified, {row}.text_simplified"
    )


def upgrade() -> None:
    if not _has_trigram_index():
        return
    _drop_index()
    op.execute(
        f"CREATE VIEW {SOURCE_VIEW}(id, {COLS}) AS "
        f"SELECT articles.id, {indexed_values('articles')} FROM articles"
    )
    _create_index(SOURCE_VIEW, indexed_values("new"), indexed_values("old"))


def downgrade() -> None:
    if not _has_trigram_index():
        return
    _drop_index()
    op.execute(f"DROP VIEW IF EXISTS {SOURCE_VIEW}")
    new = ", ".join(f"new.{c}" for c in COLUMNS)
    old = ", ".join(f"old.{c}" for c in COLUMNS)
    _create_index("articles", new, old)


def _has_trigram_index() -> bool:
    if op.get_bind().dialect.name != "sqlite":
        return False
    found = op.get_bind().exec_driver_sql(
        f"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '{FTS_TABLE}'"
    )
    return found.scalar() is not None


def _drop_index() -> None:
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute(f"DROP TABLE {FTS_TABLE}")


def _create_index(content: str, new: str, old: str) -> None:
    """`articles_fts` over `content` (with a column `id` for the rowid), kept in step with
    `articles` by triggers that index `new` and forget `old` (an external-content table
    forgets a row when given the very values it indexed), then filled from `content`."""
    op.execute(
        f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5({COLS}, content='{content}', "
        "content_rowid='id', tokenize='trigram')"
    )
    ai, ad, au = TRIGGERS
    insert = f"INSERT INTO {FTS_TABLE}(rowid, {COLS}) VALUES (new.id, {new});"
    delete = (
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {COLS}) VALUES ('delete', old.id, {old});"
    )
    op.execute(f"CREATE TRIGGER {ai} AFTER INSERT ON articles BEGIN {insert} END")
    op.execute(f"CREATE TRIGGER {ad} AFTER DELETE ON articles BEGIN {delete} END")
    op.execute(
        f"CREATE TRIGGER {au} AFTER UPDATE OF {COLS} ON articles BEGIN {delete} {insert} END"
    )
    op.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
