"""Initial schema: towns and columns, crawl runs, captures, articles and their versions,
interviews (guests, sections, turns), images, anomalies; views; full-text search.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Views and full-text search are dialect-specific and are not in the models (env.py leaves
them out of `alembic check`):
- SQLite: an FTS5 table `articles_fts` (trigram tokenizer, SQLite >= 3.34) kept in step with
  `articles` by triggers; on an older SQLite it is skipped and search falls back to LIKE.
- PostgreSQL: `pg_trgm` GIN indexes on the searchable `articles` columns.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_COLUMNS = ("title", "text", "title_simplified", "text_simplified")


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _create_tables(dialect)
    _create_views(dialect)
    if dialect == "sqlite":
        _create_sqlite_fts()
    elif dialect == "postgresql":
        _create_pg_trigram_indexes()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("articles_fts_ai", "articles_fts_ad", "articles_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS articles_fts")
    elif dialect == "postgresql":
        for column in SEARCH_COLUMNS:
            op.execute(f"DROP INDEX IF EXISTS trgm_articles_{column}")
        # pg_trgm stays installed: other schemas in the database may use it.
    op.execute("DROP VIEW IF EXISTS interview_overview")
    op.execute("DROP VIEW IF EXISTS guest_turns")
    # Break the articles <-> article_versions cycle before dropping either table.
    op.execute("UPDATE articles SET current_version_id = NULL")
    if dialect != "sqlite":
        op.drop_constraint(
            op.f("fk_articles_current_version_id_article_versions"),
            "articles",
            type_="foreignkey",
        )
    for table in (
        "interview_turns",
        "interview_sections",
        "interview_guests",
        "interviews",
        "images",
        "anomalies",
        "article_versions",
        "captures",
        "articles",
        "site_columns",
        "towns",
        "people",
        "crawl_runs",
    ):
        op.drop_table(table)


def _create_tables(dialect: str) -> None:
    op.create_table(
        "crawl_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("started_at", _tz(), nullable=False),
        sa.Column("finished_at", _tz(), nullable=True),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("counters", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_runs")),
    )
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("name_simplified", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sa.UniqueConstraint("name", name=op.f("uq_people_name")),
    )
    op.create_index(op.f("ix_people_name_simplified"), "people", ["name_simplified"])
    op.create_table(
        "towns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("site_name", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_towns")),
        sa.UniqueConstraint("slug", name=op.f("uq_towns_slug")),
    )
    op.create_table(
        "site_columns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("town_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["town_id"], ["towns.id"], name=op.f("fk_site_columns_town_id_towns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_columns")),
        sa.UniqueConstraint("path", name=op.f("uq_site_columns_path")),
    )
    op.create_index(op.f("ix_site_columns_town_id"), "site_columns", ["town_id"])
    # articles.current_version_id -> article_versions closes a cycle: SQLite takes the
    # constraint inline (it checks references lazily); elsewhere it is added once
    # article_versions exists (use_alter).
    op.create_table(
        "articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("column_id", sa.Integer(), nullable=True),
        sa.Column("current_version_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("published_at", _tz(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("script", sa.String(length=8), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("title_simplified", sa.Text(), nullable=True),
        sa.Column("text_simplified", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=80), nullable=False),
        sa.Column("first_seen_at", _tz(), nullable=False),
        sa.Column("last_seen_at", _tz(), nullable=False),
        sa.ForeignKeyConstraint(
            ["column_id"], ["site_columns.id"], name=op.f("fk_articles_column_id_site_columns")
        ),
        sa.ForeignKeyConstraint(
            ["current_version_id"],
            ["article_versions.id"],
            name=op.f("fk_articles_current_version_id_article_versions"),
            use_alter=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_articles")),
        sa.UniqueConstraint("url", name=op.f("uq_articles_url")),
    )
    op.create_index(op.f("ix_articles_column_id"), "articles", ["column_id"])
    op.create_index(op.f("ix_articles_published_at"), "articles", ["published_at"])
    op.create_table(
        "captures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("fetch_url", sa.Text(), nullable=True),
        sa.Column("fetched_at", _tz(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("warc_type", sa.String(length=16), nullable=False),
        sa.Column("warc_filename", sa.String(length=255), nullable=True),
        sa.Column("warc_offset", sa.BigInteger(), nullable=True),
        sa.Column("warc_length", sa.BigInteger(), nullable=True),
        sa.Column("warc_record_id", sa.String(length=64), nullable=True),
        sa.Column("payload_digest", sa.String(length=128), nullable=True),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.String(length=64), nullable=True),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("crawl_run_id", sa.String(length=36), nullable=True),
        sa.CheckConstraint("warc_offset >= 0", name=op.f("ck_captures_warc_offset_not_negative")),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name=op.f("fk_captures_article_id_articles")
        ),
        sa.ForeignKeyConstraint(
            ["crawl_run_id"],
            ["crawl_runs.id"],
            name=op.f("fk_captures_crawl_run_id_crawl_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_captures")),
        sa.UniqueConstraint("warc_record_id", name=op.f("uq_captures_warc_record_id")),
    )
    op.create_index(
        op.f("ix_captures_article_id_captures_fetched_at"),
        "captures",
        ["article_id", "fetched_at"],
    )
    op.create_index(op.f("ix_captures_crawl_run_id"), "captures", ["crawl_run_id"])
    op.create_index(op.f("ix_captures_url"), "captures", ["url"])
    op.create_table(
        "article_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("capture_id", sa.Integer(), nullable=True),
        sa.Column("content_hash", sa.String(length=80), nullable=False),
        sa.Column("site", sa.Text(), nullable=True),
        sa.Column("column_label", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("published_at", _tz(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("script", sa.String(length=8), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.CheckConstraint("number >= 1", name=op.f("ck_article_versions_number_positive")),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name=op.f("fk_article_versions_article_id_articles")
        ),
        sa.ForeignKeyConstraint(
            ["capture_id"], ["captures.id"], name=op.f("fk_article_versions_capture_id_captures")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_versions")),
        sa.UniqueConstraint(
            "article_id", "number", name=op.f("uq_article_versions_article_id_number")
        ),
        sa.UniqueConstraint("capture_id", name=op.f("uq_article_versions_capture_id")),
    )
    op.create_index(op.f("ix_article_versions_content_hash"), "article_versions", ["content_hash"])
    if dialect != "sqlite":
        op.create_foreign_key(
            op.f("fk_articles_current_version_id_article_versions"),
            "articles",
            "article_versions",
            ["current_version_id"],
            ["id"],
        )
    op.create_table(
        "anomalies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["article_versions.id"],
            name=op.f("fk_anomalies_version_id_article_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomalies")),
        sa.UniqueConstraint(
            "version_id", "position", name=op.f("uq_anomalies_version_id_position")
        ),
    )
    op.create_index(op.f("ix_anomalies_kind"), "anomalies", ["kind"])
    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("src", sa.Text(), nullable=False),
        sa.Column("alt", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["article_versions.id"],
            name=op.f("fk_images_version_id_article_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint("version_id", "position", name=op.f("uq_images_version_id_position")),
    )
    op.create_table(
        "interviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["article_versions.id"],
            name=op.f("fk_interviews_version_id_article_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interviews")),
        sa.UniqueConstraint("version_id", name=op.f("uq_interviews_version_id")),
    )
    op.create_table(
        "interview_guests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("interview_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_interview_guests_interview_id_interviews"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_interview_guests_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interview_guests")),
        sa.UniqueConstraint(
            "interview_id", "position", name=op.f("uq_interview_guests_interview_id_position")
        ),
    )
    op.create_index(op.f("ix_interview_guests_person_id"), "interview_guests", ["person_id"])
    op.create_table(
        "interview_sections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("interview_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("topic", sa.Text(), nullable=True),
        sa.Column("headline", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_interview_sections_interview_id_interviews"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interview_sections")),
        sa.UniqueConstraint(
            "interview_id", "position", name=op.f("uq_interview_sections_interview_id_position")
        ),
    )
    op.create_table(
        "interview_turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("interview_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("speaker", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("section_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_interview_turns_interview_id_interviews"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_interview_turns_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["interview_sections.id"],
            name=op.f("fk_interview_turns_section_id_interview_sections"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interview_turns")),
        sa.UniqueConstraint(
            "interview_id", "position", name=op.f("uq_interview_turns_interview_id_position")
        ),
    )
    op.create_index(op.f("ix_interview_turns_person_id"), "interview_turns", ["person_id"])


def _china_date(column: str, dialect: str) -> str:
    """The China-time (UTC+8) calendar date of a UTC timestamp column."""
    if dialect == "sqlite":
        return f"date({column}, '+8 hours')"
    return f"CAST(({column} AT TIME ZONE 'UTC') + INTERVAL '8 hours' AS DATE)"


def _china_time(column: str, dialect: str) -> str:
    """SQLite: the contract's ISO form in China time (SQLite stores UTC text); PostgreSQL:
    the timestamptz itself."""
    if dialect == "sqlite":
        return f"strftime('%Y-%m-%dT%H:%M:%S+08:00', {column}, '+8 hours')"
    return column


def _guest_names(dialect: str) -> str:
    if dialect == "sqlite":  # group_concat keeps the subquery's order
        return (
            "(SELECT group_concat(name, '、') FROM (SELECT p.name AS name"
            " FROM interview_guests g JOIN people p ON p.id = g.person_id"
            " WHERE g.interview_id = i.id ORDER BY g.position))"
        )
    return (
        "(SELECT string_agg(p.name, '、' ORDER BY g.position)"
        " FROM interview_guests g JOIN people p ON p.id = g.person_id"
        " WHERE g.interview_id = i.id)"
    )


def _create_views(dialect: str) -> None:
    # Both views describe the *current* version of each article.
    op.execute(
        f"""
        CREATE VIEW guest_turns AS
        SELECT p.name AS guest_name,
               g.title AS guest_title,
               {_china_date("a.published_at", dialect)} AS interview_date,
               {_china_time("a.published_at", dialect)} AS published_at,
               a.title AS article_title,
               a.url AS url,
               s.label AS section_label,
               s.topic AS section_topic,
               s.headline AS section_headline,
               t.position AS turn_position,
               t.speaker AS speaker,
               t.text AS turn_text,
               p.id AS person_id,
               a.id AS article_id,
               i.id AS interview_id
        FROM interview_turns t
        JOIN interviews i ON i.id = t.interview_id
        JOIN articles a ON a.current_version_id = i.version_id
        JOIN people p ON p.id = t.person_id
        LEFT JOIN interview_guests g ON g.interview_id = i.id AND g.person_id = t.person_id
        LEFT JOIN interview_sections s ON s.id = t.section_id
        WHERE t.role = 'guest'
        """
    )
    op.execute(
        f"""
        CREATE VIEW interview_overview AS
        SELECT a.id AS article_id,
               a.url AS url,
               a.title AS title,
               {_china_date("a.published_at", dialect)} AS interview_date,
               {_china_time("a.published_at", dialect)} AS published_at,
               tw.slug AS town,
               c.name AS column_name,
               {_guest_names(dialect)} AS guests,
               (SELECT count(*) FROM interview_sections s WHERE s.interview_id = i.id)
                   AS section_count,
               (SELECT count(*) FROM interview_turns t WHERE t.interview_id = i.id)
                   AS turn_count,
               i.summary AS summary,
               i.id AS interview_id
        FROM articles a
        JOIN interviews i ON i.version_id = a.current_version_id
        LEFT JOIN site_columns c ON c.id = a.column_id
        LEFT JOIN towns tw ON tw.id = c.town_id
        """
    )


def _create_sqlite_fts() -> None:
    if sqlite3.sqlite_version_info < (3, 34, 0):
        # The trigram tokenizer arrived in SQLite 3.34; search falls back to LIKE.
        return
    cols = ", ".join(SEARCH_COLUMNS)
    new = ", ".join(f"new.{c}" for c in SEARCH_COLUMNS)
    old = ", ".join(f"old.{c}" for c in SEARCH_COLUMNS)
    # External-content FTS5: the index stores no second copy of the text.
    op.execute(
        f"CREATE VIRTUAL TABLE articles_fts USING fts5({cols}, content='articles', "
        "content_rowid='id', tokenize='trigram')"
    )
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
    op.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")


def _create_pg_trigram_indexes() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in SEARCH_COLUMNS:
        op.execute(
            f"CREATE INDEX trgm_articles_{column} ON articles USING gin ({column} gin_trgm_ops)"
        )
