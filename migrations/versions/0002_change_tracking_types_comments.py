"""Change tracking, honest types and constraints, comments, identical view timestamps.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

- articles: `status` (live, gone, moved), `gone_at`, `status_changed_at`,
  `content_changed_at` (backfilled from the newest version's capture) and `last_checked_at`
  (backfilled from `last_seen_at`).
- Absent JSON is SQL NULL: `article_versions.extra` JSON `null` becomes NULL; PostgreSQL's
  JSON columns become `jsonb`.
- CHECK constraints for the enumerations (role, script, warc_type, status); indexes on
  `articles.current_version_id`, `interview_turns.section_id` and the change times.
- PostgreSQL: `COMMENT ON` every table and column (`COMMENTS`, generated from the models'
  `comment=` at this revision; `alembic check` proves they still agree).
- The views give `published_at` and `interview_date` as the same text on both engines.

SQLite: the constraints need the tables recreated (batch mode), which must run with foreign
keys off (`pipelines.store.schema` and env.py do that); the views and the FTS triggers, which
name the recreated tables, are dropped first and created again last.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_COLUMNS = ("title", "text", "title_simplified", "text_simplified")
FTS_TRIGGERS = ("articles_fts_ai", "articles_fts_ad", "articles_fts_au")
NEW_ARTICLE_COLUMNS = (
    "status",
    "gone_at",
    "status_changed_at",
    "content_changed_at",
    "last_checked_at",
)
CHECKS = (  # table, name, condition
    ("articles", "script_known", "script IN ('hans', 'hant')"),
    ("articles", "status_known", "status IN ('live', 'gone', 'moved')"),
    ("article_versions", "script_known", "script IN ('hans', 'hant')"),
    ("captures", "warc_type_known", "warc_type IN ('response', 'revisit')"),
    ("interview_turns", "role_known", "role IN ('host', 'guest')"),
)
INDEXES = (  # table, column
    ("articles", "current_version_id"),
    ("articles", "status_changed_at"),
    ("articles", "content_changed_at"),
    ("interview_turns", "section_id"),
)
JSON_COLUMNS = (("article_versions", "extra"), ("crawl_runs", "args"), ("crawl_runs", "counters"))


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    fts = _drop_dependents(dialect)
    op.add_column(
        "articles",
        sa.Column("status", sa.String(8), server_default="live", nullable=False),
    )
    for name in NEW_ARTICLE_COLUMNS[1:]:
        op.add_column("articles", sa.Column(name, _tz(), nullable=True))
    op.execute("UPDATE articles SET last_checked_at = last_seen_at")
    op.execute(
        "UPDATE articles SET content_changed_at = COALESCE((SELECT max(c.fetched_at)"
        " FROM article_versions v JOIN captures c ON c.id = v.capture_id"
        " WHERE v.article_id = articles.id), first_seen_at)"
    )
    # Absent JSON: SQL NULL, not the JSON value null (which `IS NOT NULL` matched).
    if dialect == "postgresql":
        op.execute("UPDATE article_versions SET extra = NULL WHERE extra::text = 'null'")
        for table, column in JSON_COLUMNS:
            op.execute(
                f"ALTER TABLE {table} ALTER COLUMN {column} TYPE jsonb USING {column}::jsonb"
            )
    else:
        op.execute("UPDATE article_versions SET extra = NULL WHERE extra = 'null'")
    with op.batch_alter_table("articles") as batch:
        for name in ("content_changed_at", "last_checked_at"):
            batch.alter_column(name, existing_type=_tz(), nullable=False)
    for table, name, condition in CHECKS:
        with op.batch_alter_table(table) as batch:
            batch.create_check_constraint(op.f(f"ck_{table}_{name}"), sa.text(condition))
    for table, column in INDEXES:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column])
    if dialect == "postgresql":
        _comment(drop=False)
    _create_views(dialect, text_times=True)
    if fts:
        _create_fts_triggers()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    fts = _drop_dependents(dialect)
    if dialect == "postgresql":
        _comment(drop=True)
    for table, column in INDEXES:
        op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
    for table, name, _ in CHECKS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
    with op.batch_alter_table("articles") as batch:
        for name in NEW_ARTICLE_COLUMNS:
            batch.drop_column(name)
    if dialect == "postgresql":
        for table, column in JSON_COLUMNS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE json USING {column}::json")
    # SQL NULL stays NULL in `extra`: revision 0001 reads both the same way.
    _create_views(dialect, text_times=False)
    if fts:
        _create_fts_triggers()


def _drop_dependents(dialect: str) -> bool:
    """Drop the views (and on SQLite the FTS triggers) that name the tables to recreate;
    True if the SQLite FTS table exists, so its triggers must be made again."""
    op.execute("DROP VIEW IF EXISTS interview_overview")
    op.execute("DROP VIEW IF EXISTS guest_turns")
    if dialect != "sqlite":
        return False
    for trigger in FTS_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    found = op.get_bind().exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'articles_fts'"
    )
    return found.scalar() is not None


def _create_fts_triggers() -> None:
    cols = ", ".join(SEARCH_COLUMNS)
    new = ", ".join(f"new.{c}" for c in SEARCH_COLUMNS)
    old = ", ".join(f"old.{c}" for c in SEARCH_COLUMNS)
    op.execute(
        f"CREATE TRIGGER articles_fts_ai AFTER INSERT ON articles BEGIN "
        f"INSERT INTO articles_fts(rowid, {cols}) VALUES (new.id, {new}); END"
    )
    op.execute(
        f"CREATE TRIGGER articles_fts_ad AFTER DELETE ON articles BEGIN "
        f"INSERT INTO articles_fts(articles_fts, rowid, {cols}) "
        f"VALUES ('delete', old.id, {old}); END"
    )
    op.execute(
        f"CREATE TRIGGER articles_fts_au AFTER UPDATE OF {cols} ON articles BEGIN "
        f"INSERT INTO articles_fts(articles_fts, rowid, {cols}) VALUES ('delete', old.id, {old}); "
        f"INSERT INTO articles_fts(rowid, {cols}) VALUES (new.id, {new}); END"
    )


def _initial() -> ModuleType:
    """Revision 0001's module, whose views the downgrade restores."""
    path = Path(__file__).with_name("0001_initial_schema.py")
    spec = importlib.util.spec_from_file_location("dgarchive_migration_0001", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _create_views(dialect: str, *, text_times: bool) -> None:
    """Revision 0001's views; with `text_times`, PostgreSQL gives the same text as SQLite:
    `interview_date` `YYYY-MM-DD` and `published_at` `YYYY-MM-DDTHH:MM:SS+08:00`."""
    initial = _initial()
    if text_times and dialect == "postgresql":

        def china(column: str) -> str:
            return f"(({column} AT TIME ZONE 'UTC') + INTERVAL '8 hours')"

        initial._china_date = lambda column, _d: f"to_char({china(column)}, 'YYYY-MM-DD')"
        initial._china_time = lambda column, _d: (
            f'to_char({china(column)}, \'YYYY-MM-DD"T"HH24:MI:SS"+08:00"\')'
        )
    initial._create_views(dialect)


def _quote(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def _comment(*, drop: bool) -> None:
    """COMMENT ON every table and column (`drop`: those revision 0001 has, back to none)."""
    for table, (table_comment, columns) in COMMENTS.items():
        op.execute(f"COMMENT ON TABLE {table} IS {_quote(None if drop else table_comment)}")
        for column, comment in columns.items():
            if drop and table == "articles" and column in NEW_ARTICLE_COLUMNS:
                continue  # dropped with its column
            op.execute(f"COMMENT ON COLUMN {table}.{column} IS {_quote(None if drop else comment)}")


# table -> (table comment, {column: comment}), from the models' comment= at this revision.
COMMENTS: dict[str, tuple[str, dict[str, str]]] = {
    "crawl_runs": (
        "One dgarchive crawl or reindex run.",
        {
            "id": "The run's uuid4.",
            "kind": "crawl or reindex.",
            "started_at": "When the run started (UTC).",
            "finished_at": "When the run ended (UTC); NULL while it runs or if it died.",
            "status": "running, or the finish reason: finished, database_error, shutdown, ...",
            "args": "The run's options, as JSON.",
            "counters": "Counts of new, changed and unchanged articles.",
        },
    ),
    "people": (
        "An interview guest, unique by name as printed.",
        {
            "id": "Surrogate key.",
            "name": "The name as printed (homonyms share a row).",
            "name_simplified": "The name in simplified script (OpenCC t2s).",
        },
    ),
    "towns": (
        "A town or street site of the portal (/houjie/ ...).",
        {
            "id": "Surrogate key.",
            "slug": "The site's folder under the portal root: houjie.",
            "name": "The town's name: 厚街.",
            "site_name": "The site's own name: 中国东莞厚街镇.",
        },
    ),
    "site_columns": (
        "A news column (栏目) of a town site.",
        {
            "id": "Surrogate key.",
            "town_id": "The town the column belongs to.",
            "path": "The column's path under the root: houjie/cjjs/tshj/.",
            "name": "The column's name: 图说厚街.",
            "feed_id": "The column's JSON feed: /postmeta/i/<feed_id>.json.",
        },
    ),
    "articles": (
        "An article page by canonical URL, with a copy of its current version.",
        {
            "id": "Surrogate key.",
            "url": "The canonical URL.",
            "column_id": "The news column listing it.",
            "current_version_id": "The current version: the one with the latest capture.",
            "title": "The current version's title.",
            "published_at": "The current version's publication time (UTC; the page gives China time).",
            "source": "The current version's source.",
            "script": "The current version's script: hans or hant.",
            "text": "The current version's text.",
            "title_simplified": "The title in simplified script (OpenCC t2s), for search.",
            "text_simplified": "The text in simplified script (OpenCC t2s), for search.",
            "content_hash": "The current version's normalized content hash (sha256:...).",
            "status": "live; gone (404/410 on revisit); moved (redirected off the site or column).",
            "gone_at": "When the article was first found gone or moved; NULL while live.",
            "status_changed_at": "When status last changed; NULL if it never changed.",
            "content_changed_at": "Fetch time of the newest capture that made a new version.",
            "first_seen_at": "Fetch time of the first capture.",
            "last_seen_at": "Fetch time of the latest capture that found the page (200, 304 or revisit).",
            "last_checked_at": "Fetch time of the latest visit, whatever it found.",
        },
    ),
    "captures": (
        "One archived fetch of an article: where its bytes are in which WARC file.",
        {
            "id": "Surrogate key.",
            "url": "The canonical URL: https://www.dg.gov.cn/...",
            "fetch_url": "The URL as fetched (a mirror or the live site).",
            "fetched_at": "The record's WARC-Date (UTC).",
            "status": "HTTP status: 200, 304, or 404/410/3xx when the article went.",
            "warc_type": "The WARC record type: response or revisit.",
            "warc_filename": "The WARC file, under the archive directory.",
            "warc_offset": "Byte offset of the record in the file.",
            "warc_length": "Length of the record in the file, in bytes.",
            "warc_record_id": "The record's WARC-Record-ID.",
            "payload_digest": "The record's WARC-Payload-Digest.",
            "etag": "The response's ETag header.",
            "last_modified": "The response's Last-Modified header, as sent.",
            "article_id": "The article fetched.",
            "crawl_run_id": "The run that fetched it.",
        },
    ),
    "article_versions": (
        "The full record of an article as extracted from one capture.",
        {
            "id": "Surrogate key.",
            "article_id": "The article this is a version of.",
            "number": "1, 2, ... in the order the versions were stored.",
            "capture_id": "The capture it was extracted from.",
            "content_hash": "Normalized content hash (sha256:...).",
            "site": "The record's site.",
            "column_label": "The record's column.",
            "title": "The record's title.",
            "published_at": "The record's published_at (UTC).",
            "source": "The record's source.",
            "script": "hans or hant.",
            "text": "The record's text.",
            "extra": "Record values the tables would change, verbatim; NULL for ordinary records.",
        },
    ),
    "anomalies": (
        "Something an archivist should know about a version.",
        {
            "id": "Surrogate key.",
            "version_id": "The version it was found in.",
            "position": "0-based, in record order.",
            "kind": "What: hidden_offsite_link, ...",
            "detail": "The evidence.",
        },
    ),
    "images": (
        "A content image of an article version, in page order.",
        {
            "id": "Surrogate key.",
            "version_id": "The version showing it.",
            "position": "0-based, in page order.",
            "src": "The image URL.",
            "alt": "The alt text.",
        },
    ),
    "interviews": (
        "The interview structure of one article version.",
        {
            "id": "Surrogate key.",
            "version_id": "The version (1:1).",
            "summary": "The interview's summary.",
        },
    ),
    "interview_guests": (
        "A guest of an interview, in guest-line order.",
        {
            "id": "Surrogate key.",
            "interview_id": "The interview.",
            "position": "0-based, in guest-line order.",
            "person_id": "The guest.",
            "title": "The title the guest held then: 寮厦社区党委书记.",
        },
    ),
    "interview_sections": (
        "A 关键词N section of an interview.",
        {
            "id": "Surrogate key.",
            "interview_id": "The interview.",
            "position": "The record's section index.",
            "label": "The label: 关键词1.",
            "topic": "The topic: 谈感想.",
            "headline": "The headline under it.",
        },
    ),
    "interview_turns": (
        "One speaker's turn in an interview's transcript.",
        {
            "id": "Surrogate key.",
            "interview_id": "The interview.",
            "position": "0-based, in transcript order.",
            "speaker": "The speaker as printed.",
            "role": "host or guest.",
            "person_id": "The guest speaking, when the speaker is one of the interview's guests.",
            "section_id": "The section it falls under.",
            "text": "What was said.",
        },
    ),
}
