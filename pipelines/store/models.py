"""SQLAlchemy 2 models of the relational store. Declarations only: Alembic owns the schema.

Nothing here creates tables: `migrations/versions/` does, and `alembic check` (run by the
tests) proves that these models and the migrations agree. Views and the full-text index are
created by the migrations alone (see `VIEWS` / `FTS_TABLE`) and are not modelled here.

Timestamps are stored in UTC and come back as timezone-aware datetimes on both engines
(`UTCDateTime`); docs/schema.md explains every table.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names, so migrations can address them on every engine (SQLite batch mode
# needs names to recreate a table) and autogenerate never sees spurious differences.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Objects the migrations create outside the models; `alembic check` must not report them.
VIEWS = ("guest_turns", "interview_overview")
FTS_TABLE = "articles_fts"  # SQLite FTS5 (trigram) index over articles; absent on PostgreSQL


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored as UTC.

    PostgreSQL keeps `timestamptz`; SQLite has no timezone type, so values are converted to
    UTC and stored naive, and marked UTC again when read. Naive input is refused: every time
    the crawl handles (WARC-Date, the page's China-time publish date) carries its offset.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps aware timestamps only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class Town(Base):
    """A town or street site on the portal (/houjie/ ...)."""

    __tablename__ = "towns"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)  # folder under the site root
    name: Mapped[str] = mapped_column(String(64))  # 厚街
    site_name: Mapped[str | None] = mapped_column(String(128))  # 中国东莞厚街镇

    columns: Mapped[list[SiteColumn]] = relationship(back_populates="town")


class SiteColumn(Base):
    """A news column (栏目) of a town site; `site_columns` avoids a table called `columns`."""

    __tablename__ = "site_columns"

    id: Mapped[int] = mapped_column(primary_key=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    path: Mapped[str] = mapped_column(String(255), unique=True)  # houjie/cjjs/tshj/
    name: Mapped[str] = mapped_column(String(128))  # 图说厚街
    feed_id: Mapped[int | None] = mapped_column(Integer)  # /postmeta/i/<feed_id>.json

    town: Mapped[Town] = relationship(back_populates="columns")


class CrawlRun(Base):
    """One `dgarchive crawl` (or `reindex`) run."""

    __tablename__ = "crawl_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid4 string
    kind: Mapped[str] = mapped_column(String(16), default="crawl")  # crawl | reindex
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(64), default="running")  # or a finish reason
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    counters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Capture(Base):
    """One archived fetch of an article: where its bytes are in which WARC file.

    A `response` capture holds the page; a `revisit` capture records that a known page was
    confirmed unchanged (304, or the same payload digest) and points at a revisit record.
    """

    __tablename__ = "captures"
    __table_args__ = (
        CheckConstraint("warc_offset >= 0", name="warc_offset_not_negative"),
        Index(None, "article_id", "fetched_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text, index=True)  # canonical https://www.dg.gov.cn/...
    fetch_url: Mapped[str | None] = mapped_column(Text)  # as fetched (mirror or live)
    fetched_at: Mapped[datetime]  # WARC-Date
    status: Mapped[int | None] = mapped_column(Integer)  # HTTP status
    warc_type: Mapped[str] = mapped_column(String(16), default="response")  # response|revisit
    warc_filename: Mapped[str | None] = mapped_column(String(255))
    # 64-bit: a WARC file may grow past 2 GiB when WARC_MAX_SIZE is raised.
    warc_offset: Mapped[int | None] = mapped_column(BigInteger)
    warc_length: Mapped[int | None] = mapped_column(BigInteger)
    warc_record_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    payload_digest: Mapped[str | None] = mapped_column(String(128))
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(String(64))  # header value as sent
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"))
    crawl_run_id: Mapped[str | None] = mapped_column(ForeignKey("crawl_runs.id"), index=True)

    article: Mapped[Article | None] = relationship()


class Article(Base):
    """An article page, by canonical URL, with a copy of its current version for querying."""

    __tablename__ = "articles"
    __table_args__ = (Index(None, "published_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    column_id: Mapped[int | None] = mapped_column(ForeignKey("site_columns.id"), index=True)
    # The fields below copy the current version (the one with the latest capture).
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("article_versions.id", use_alter=True)
    )
    title: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    source: Mapped[str | None] = mapped_column(Text)
    script: Mapped[str | None] = mapped_column(String(8))  # hans | hant
    text: Mapped[str | None] = mapped_column(Text)
    # OpenCC t2s copies, so a search in simplified script finds traditional pages too.
    title_simplified: Mapped[str | None] = mapped_column(Text)
    text_simplified: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(80))
    first_seen_at: Mapped[datetime]  # fetch time of the first capture
    last_seen_at: Mapped[datetime]  # fetch time of the latest capture (response or revisit)

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
    """The full record of an article as extracted from one capture. Append-only.

    A new version is written only when the normalized content hash differs from the current
    version's; images, anomalies and the interview hang off the version.
    """

    __tablename__ = "article_versions"
    __table_args__ = (
        UniqueConstraint("article_id", "number"),
        CheckConstraint("number >= 1", name="number_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, ... in the order they were stored
    capture_id: Mapped[int | None] = mapped_column(ForeignKey("captures.id"), unique=True)
    content_hash: Mapped[str] = mapped_column(String(80), index=True)
    site: Mapped[str | None] = mapped_column(Text)  # the record's `site`
    column_label: Mapped[str | None] = mapped_column(Text)  # the record's `column`
    title: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    source: Mapped[str | None] = mapped_column(Text)
    script: Mapped[str | None] = mapped_column(String(8))
    text: Mapped[str | None] = mapped_column(Text)
    # Record keys this schema does not know yet (the contract grows by adding keys).
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    article: Mapped[Article] = relationship(back_populates="versions", foreign_keys=[article_id])
    capture: Mapped[Capture | None] = relationship()
    images: Mapped[list[Image]] = relationship(order_by="Image.position")
    anomalies: Mapped[list[Anomaly]] = relationship(order_by="Anomaly.position")
    interview: Mapped[Interview | None] = relationship(back_populates="version")


class Image(Base):
    """A content image of an article version, in page order."""

    __tablename__ = "images"
    __table_args__ = (UniqueConstraint("version_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("article_versions.id"))
    position: Mapped[int] = mapped_column(Integer)  # 0-based
    src: Mapped[str] = mapped_column(Text)
    alt: Mapped[str | None] = mapped_column(Text)


class Anomaly(Base):
    """Something an archivist should know about a version (e.g. hidden off-site links)."""

    __tablename__ = "anomalies"
    __table_args__ = (UniqueConstraint("version_id", "position"), Index(None, "kind"))

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("article_versions.id"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)


class Person(Base):
    """An interview guest, unique by name as printed (homonyms share a row)."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    name_simplified: Mapped[str] = mapped_column(String(128), index=True)


class Interview(Base):
    """The interview structure of one article version (1:1 with the version)."""

    __tablename__ = "interviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("article_versions.id"), unique=True)
    summary: Mapped[str | None] = mapped_column(Text)

    version: Mapped[ArticleVersion] = relationship(back_populates="interview")
    guests: Mapped[list[InterviewGuest]] = relationship(order_by="InterviewGuest.position")
    sections: Mapped[list[InterviewSection]] = relationship(order_by="InterviewSection.position")
    turns: Mapped[list[InterviewTurn]] = relationship(order_by="InterviewTurn.position")


class InterviewGuest(Base):
    """A guest of an interview, with the title they held then, in guest-line order."""

    __tablename__ = "interview_guests"
    __table_args__ = (UniqueConstraint("interview_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"))
    position: Mapped[int] = mapped_column(Integer)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    title: Mapped[str | None] = mapped_column(Text)  # 寮厦社区党委书记

    person: Mapped[Person] = relationship()


class InterviewSection(Base):
    """A 关键词N section: label, topic and the headline under it."""

    __tablename__ = "interview_sections"
    __table_args__ = (UniqueConstraint("interview_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"))
    position: Mapped[int] = mapped_column(Integer)  # the record's section index
    label: Mapped[str | None] = mapped_column(Text)  # 关键词1
    topic: Mapped[str | None] = mapped_column(Text)  # 谈感想
    headline: Mapped[str | None] = mapped_column(Text)


class InterviewTurn(Base):
    """One speaker's turn in the transcript."""

    __tablename__ = "interview_turns"
    __table_args__ = (UniqueConstraint("interview_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"))
    position: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))  # host | guest
    # The guest speaking, when the speaker is one of the interview's guests.
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    section_id: Mapped[int | None] = mapped_column(ForeignKey("interview_sections.id"))
    text: Mapped[str] = mapped_column(Text)

    section: Mapped[InterviewSection | None] = relationship()
    person: Mapped[Person | None] = relationship()
