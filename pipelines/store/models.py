"""SQLAlchemy 2 models of the relational store. Declarations only: Alembic owns the schema.

Nothing here creates tables: `migrations/versions/` does, and `alembic check` (run by the
tests) proves that these models and the migrations agree. Views and the full-text index are
created by the migrations alone (see `VIEWS` / `FTS_TABLE`) and are not modelled here; the
declarative base, column types and enumerations are `pipelines.store.declarative`, the
interview tables `pipelines.store.interview_tables` (re-exported here).

Every table and column carries its description (`comment=`): PostgreSQL stores them
(`COMMENT ON`), and docs/schema.md's column reference is generated from them
(`pipelines.store.reference`), so the documentation and the database never disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

# migrations/env.py imports Base, FTS_TABLE, VIEWS and UTCDateTime from here, and the interview
# tables register with Base when this module is imported: every table is importable from here.
from pipelines.store.declarative import (
    ARTICLE_STATUSES,
    SCRIPTS,
    WARC_TYPES,
    JSONValue,
    one_of,
)
from pipelines.store.declarative import BIGRAM_TABLE as BIGRAM_TABLE
from pipelines.store.declarative import FTS_TABLE as FTS_TABLE
from pipelines.store.declarative import NAMING_CONVENTION as NAMING_CONVENTION
from pipelines.store.declarative import ROLES as ROLES
from pipelines.store.declarative import SEARCH_INDEXES as SEARCH_INDEXES
from pipelines.store.declarative import VIEWS as VIEWS
from pipelines.store.declarative import Base as Base
from pipelines.store.declarative import UTCDateTime as UTCDateTime
from pipelines.store.interview_tables import Interview as Interview
from pipelines.store.interview_tables import InterviewGuest as InterviewGuest
from pipelines.store.interview_tables import InterviewSection as InterviewSection
from pipelines.store.interview_tables import InterviewTurn as InterviewTurn
from pipelines.store.interview_tables import Person as Person


class Town(Base):
    __tablename__ = "towns"
    __table_args__ = {"comment": "A town or street site of the portal (/houjie/ ...)."}

    id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    slug: Mapped[str] = mapped_column(
        String(64), unique=True, comment="The site's folder under the portal root: houjie."
    )
    name: Mapped[str] = mapped_column(String(64), comment="The town's name: 厚街.")
    site_name: Mapped[str | None] = mapped_column(
        String(128), comment="The site's own name: 中国东莞厚街镇."
    )

    columns: Mapped[list[SiteColumn]] = relationship(back_populates="town")


class SiteColumn(Base):
    __tablename__ = "site_columns"
    __table_args__ = {"comment": "A news column (栏目) of a town site."}

    id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    town_id: Mapped[int] = mapped_column(
        ForeignKey("towns.id"), index=True, comment="The town the column belongs to."
    )
    path: Mapped[str] = mapped_column(
        String(255), unique=True, comment="The column's path under the root: houjie/cjjs/tshj/."
    )
    name: Mapped[str] = mapped_column(String(128), comment="The column's name: 图说厚街.")
    feed_id: Mapped[int | None] = mapped_column(
        Integer, comment="The column's JSON feed: /postmeta/i/<feed_id>.json."
    )

    town: Mapped[Town] = relationship(back_populates="columns")


class CrawlRun(Base):
    __tablename__ = "crawl_runs"
    __table_args__ = {"comment": "One dgarchive crawl or reindex run."}

    id: Mapped[str] = mapped_column(String(36), primary_key=True, comment="The run's uuid4.")
    kind: Mapped[str] = mapped_column(String(16), default="crawl", comment="crawl or reindex.")
    started_at: Mapped[datetime] = mapped_column(comment="When the run started (UTC).")
    finished_at: Mapped[datetime | None] = mapped_column(
        comment="When the run ended (UTC); NULL while it runs or if it died."
    )
    status: Mapped[str] = mapped_column(
        String(64),
        default="running",
        comment="running, or the finish reason: finished, database_error, shutdown, ...",
    )
    args: Mapped[dict[str, Any]] = mapped_column(
        JSONValue, default=dict, comment="The run's options, as JSON."
    )
    counters: Mapped[dict[str, Any]] = mapped_column(
        JSONValue, default=dict, comment="Counts of new, changed and unchanged articles."
    )


class Capture(Base):
    """A `response` capture holds the page (any status: a 404 or a refused redirect too); a
    `revisit` capture records that a known page was confirmed unchanged (304, or the same
    payload digest) and points at a revisit record."""

    __tablename__ = "captures"
    __table_args__ = (
        CheckConstraint("warc_offset >= 0", name="warc_offset_not_negative"),
        CheckConstraint(one_of("warc_type", WARC_TYPES), name="warc_type_known"),
        Index(None, "article_id", "fetched_at"),
        {"comment": "One archived fetch of an article: where its bytes are in which WARC file."},
    )

    id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    url: Mapped[str] = mapped_column(
        Text, index=True, comment="The canonical URL: https://www.dg.gov.cn/..."
    )
    fetch_url: Mapped[str | None] = mapped_column(
        Text, comment="The URL as fetched (a mirror or the live site)."
    )
    fetched_at: Mapped[datetime] = mapped_column(comment="The record's WARC-Date (UTC).")
    status: Mapped[int | None] = mapped_column(
        Integer, comment="HTTP status: 200, 304, or 404/410/3xx when the article went."
    )
    warc_type: Mapped[str] = mapped_column(
        String(16), default="response", comment="The WARC record type: response or revisit."
    )
    warc_filename: Mapped[str | None] = mapped_column(
        String(255), comment="The WARC file, under the archive directory."
    )
    # 64-bit: a WARC file may grow past 2 GiB when WARC_MAX_SIZE is raised.
    warc_offset: Mapped[int | None] = mapped_column(
        BigInteger, comment="Byte offset of the record in the file."
    )
    warc_length: Mapped[int | None] = mapped_column(
        BigInteger, comment="Length of the record in the file, in bytes."
    )
    warc_record_id: Mapped[str | None] = mapped_column(
        String(64), unique=True, comment="The record's WARC-Record-ID."
    )
    payload_digest: Mapped[str | None] = mapped_column(
        String(128), comment="The record's WARC-Payload-Digest."
    )
    etag: Mapped[str | None] = mapped_column(Text, comment="The response's ETag header.")
    last_modified: Mapped[str | None] = mapped_column(
        String(64), comment="The response's Last-Modified header, as sent."
    )
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id"), comment="The article fetched."
    )
    crawl_run_id: Mapped[str | None] = mapped_column(
        ForeignKey("crawl_runs.id"), index=True, comment="The run that fetched it."
    )

    article: Mapped[Article | None] = relationship()


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        Index(None, "published_at"),
        CheckConstraint(one_of("script", SCRIPTS), name="script_known"),
        CheckConstraint(one_of("status", ARTICLE_STATUSES), name="status_known"),
        {"comment": "An article page by canonical URL, with a copy of its current version."},
    )

    id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    url: Mapped[str] = mapped_column(Text, unique=True, comment="The canonical URL.")
    column_id: Mapped[int | None] = mapped_column(
        ForeignKey("site_columns.id"), index=True, comment="The news column listing it."
    )
    # The fields below copy the current version (the one with the latest capture).
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("article_versions.id", use_alter=True),
        index=True,
        comment="The current version: the one with the latest capture.",
    )
    title: Mapped[str | None] = mapped_column(Text, comment="The current version's title.")
    published_at: Mapped[datetime | None] = mapped_column(
        comment="The current version's publication time (UTC; the page gives China time)."
    )
    source: Mapped[str | None] = mapped_column(Text, comment="The current version's source.")
    script: Mapped[str | None] = mapped_column(
        String(8), comment="The current version's script: hans or hant."
    )
    text: Mapped[str | None] = mapped_column(Text, comment="The current version's text.")
    # OpenCC t2s copies, so a search in simplified script finds traditional pages too.
    title_simplified: Mapped[str | None] = mapped_column(
        Text, comment="The title in simplified script (OpenCC t2s), for search."
    )
    text_simplified: Mapped[str | None] = mapped_column(
        Text, comment="The text in simplified script (OpenCC t2s), for search."
    )
    content_hash: Mapped[str] = mapped_column(
        String(80), comment="The current version's normalized content hash (sha256:...)."
    )
    status: Mapped[str] = mapped_column(
        String(8),
        default="live",
        server_default="live",
        comment="live; gone (404/410 on revisit); moved (redirected off the site or column).",
    )
    gone_at: Mapped[datetime | None] = mapped_column(
        comment="When the article was first found gone or moved; NULL while live."
    )
    status_changed_at: Mapped[datetime | None] = mapped_column(
        index=True, comment="When status last changed; NULL if it never changed."
    )
    content_changed_at: Mapped[datetime] = mapped_column(
        index=True, comment="Fetch time of the newest capture that made a new version."
    )
    first_seen_at: Mapped[datetime] = mapped_column(comment="Fetch time of the first capture.")
    last_seen_at: Mapped[datetime] = mapped_column(
        comment="Fetch time of the latest capture that found the page (200, 304 or revisit)."
    )
    last_checked_at: Mapped[datetime] = mapped_column(
        comment="Fetch time of the latest visit, whatever it found."
    )

    column: Mapped[SiteColumn | None] = relationship()
    versions: Mapped[list[ArticleVersion]] = relationship(
        back_populates="article",
        foreign_keys="ArticleVersion.article_id",
        order_by="ArticleVersion.number",
    )
    current_version: Mapped[ArticleVersion | None] = relationship(
        foreign_keys=[current_version_id], post_update=True
    )


class ArticleVersion(Base):
    """Append-only: a new version is written only when the normalized content hash differs
    from the current version's; images, anomalies and the interview hang off the version."""

    __tablename__ = "article_versions"
    __table_args__ = (
        UniqueConstraint("article_id", "number"),
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint(one_of("script", SCRIPTS), name="script_known"),
        {"comment": "The full record of an article as extracted from one capture."},
    )

    id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id"), comment="The article this is a version of."
    )
    number: Mapped[int] = mapped_column(
        Integer, comment="1, 2, ... in the order the versions were stored."
    )
    capture_id: Mapped[int | None] = mapped_column(
        ForeignKey("captures.id"), unique=True, comment="The capture it was extracted from."
    )
    content_hash: Mapped[str] = mapped_column(
        String(80), index=True, comment="Normalized content hash (sha256:...)."
    )
    site: Mapped[str | None] = mapped_column(Text, comment="The record's site.")
    column_label: Mapped[str | None] = mapped_column(Text, comment="The record's column.")
    title: Mapped[str | None] = mapped_column(Text, comment="The record's title.")
    published_at: Mapped[datetime | None] = mapped_column(
        comment="The record's published_at (UTC)."
    )
    source: Mapped[str | None] = mapped_column(Text, comment="The record's source.")
    script: Mapped[str | None] = mapped_column(String(8), comment="hans or hant.")
    text: Mapped[str | None] = mapped_column(Text, comment="The record's text.")
    extra: Mapped[dict[str, Any] | None] = mapped_column(
        JSONValue,
        comment="Record values the tables would change, verbatim; NULL for ordinary records.",
    )

    article: Mapped[Article] = relationship(back_populates="versions", foreign_keys=[article_id])
    capture: Mapped[Capture | None] = relationship()
    images: Mapped[list[Image]] = relationship(order_by="Image.position")
    anomalies: Mapped[list[Anomaly]] = relationship(order_by="Anomaly.position")
    interview: Mapped[Interview | None] = relationship(back_populates="version")


class Image(Base):
    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("version_id", "position"),
        {"comment": "A content image of an article version, in page order."},
    )

    id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    version_id: Mapped[int] = mapped_column(
        ForeignKey("article_versions.id"), comment="The version showing it."
    )
    position: Mapped[int] = mapped_column(Integer, comment="0-based, in page order.")
    src: Mapped[str] = mapped_column(Text, comment="The image URL.")
    alt: Mapped[str | None] = mapped_column(Text, comment="The alt text.")


class Anomaly(Base):
    __tablename__ = "anomalies"
    __table_args__ = (
        UniqueConstraint("version_id", "position"),
        Index(None, "kind"),
        {"comment": "Something an archivist should know about a version."},
    )

    id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    version_id: Mapped[int] = mapped_column(
        ForeignKey("article_versions.id"), comment="The version it was found in."
    )
    position: Mapped[int] = mapped_column(Integer, comment="0-based, in record order.")
    kind: Mapped[str] = mapped_column(String(64), comment="What: hidden_offsite_link, ...")
    detail: Mapped[str | None] = mapped_column(Text, comment="The evidence.")
