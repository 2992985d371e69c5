"""Reading the store: the incremental crawl's view of stored articles and their last
capture, and every article's current version as its contract record (export)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session, selectinload

from pipelines.store.batch import chunks
from pipelines.store.failures import translated
from pipelines.store.models import (
    Article,
    ArticleVersion,
    Capture,
    Interview,
    InterviewGuest,
    InterviewTurn,
)
from pipelines.store.transforms import CHINA, capture_record, iso_utc, version_record

__all__ = ["FOUND_STATUSES", "iter_records", "known_articles"]

FOUND_STATUSES = (200, 304)  # a capture with another status archived a gone or moved page


def known_articles(s: Session, urls: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Stored articles (all, or those among `urls`) with their last capture, for the
    incremental crawl: `fetch_url`/`target_uri`, `fetched_at`, `warc_record_id`,
    `warc_filename`, `warc_offset`, `payload_digest`, `status` of the latest *response*
    capture (what a revisit refers to); `etag` and `last_modified` from the latest capture
    that carried either (a 304 may refresh them); `last_seen_at` (latest capture of any
    kind) and `content_hash`. Times are ISO 8601 UTC strings (`…Z`)."""
    wanted = None if urls is None else sorted({u.strip() for u in urls if u})
    out: dict[str, dict[str, Any]] = {}
    for chunk in [None] if wanted is None else chunks(wanted, 500):
        _known_chunk(s, chunk, out)
    return out


def _known_chunk(s: Session, urls: list[str] | None, out: dict) -> None:
    article_ids = select(Article.id)
    if urls is not None:
        article_ids = article_ids.where(Article.url.in_(urls))
    order = (Capture.fetched_at.desc(), Capture.id.desc())
    # Only captures that found the page: a 404's or a redirect's validators are not the page's.
    found = or_(Capture.status.is_(None), Capture.status.in_(FOUND_STATUSES))
    latest = (
        select(
            Capture,
            func.row_number().over(partition_by=Capture.article_id, order_by=order).label("rn"),
        )
        .where(Capture.warc_type == "response", found, Capture.article_id.in_(article_ids))
        .subquery()
    )
    validators = (
        select(
            Capture.article_id,
            Capture.etag,
            Capture.last_modified,
            func.row_number().over(partition_by=Capture.article_id, order_by=order).label("rn"),
        )
        .where(
            or_(Capture.etag.is_not(None), Capture.last_modified.is_not(None)),
            found,
            Capture.article_id.in_(article_ids),
        )
        .subquery()
    )
    query = (
        select(
            Article.url,
            Article.last_seen_at,
            Article.content_hash,
            latest.c.fetch_url,
            latest.c.fetched_at,
            latest.c.warc_record_id,
            latest.c.warc_filename,
            latest.c.warc_offset,
            latest.c.payload_digest,
            latest.c.status,
            validators.c.etag,
            validators.c.last_modified,
        )
        .outerjoin(latest, (latest.c.article_id == Article.id) & (latest.c.rn == 1))
        .outerjoin(validators, (validators.c.article_id == Article.id) & (validators.c.rn == 1))
    )
    if urls is not None:
        query = query.where(Article.url.in_(urls))
    for row in s.execute(query):
        fetched = row.fetched_at
        out[row.url] = {
            "url": row.url,
            "fetch_url": row.fetch_url,
            "target_uri": row.fetch_url,
            "fetched_at": iso_utc(fetched) if fetched else None,
            "warc_record_id": row.warc_record_id,
            "warc_filename": row.warc_filename,
            "warc_offset": row.warc_offset,
            "payload_digest": row.payload_digest,
            "status": row.status,
            "etag": row.etag,
            "last_modified": row.last_modified,
            "last_seen_at": iso_utc(row.last_seen_at),
            "content_hash": row.content_hash,
        }


def iter_records(
    engine: Engine,
    since: date | None = None,
    chunk: int = 200,
    changed_since: datetime | None = None,
) -> Iterator[dict]:
    """Every article's current version as its contract record plus `capture` and the sync
    keys `article_id`, `version` (its number), `content_hash` and `status`, ordered by URL
    (code-point order, the same on every engine). `since`: articles published on or after
    that day, China time. `changed_since`: articles whose content (a new version) or status
    changed at or after that instant."""
    with Session(engine) as s, translated(engine):
        query = select(Article.id, Article.url).where(Article.current_version_id.is_not(None))
        if since is not None:
            start = datetime.combine(since, time(0), CHINA)
            query = query.where(Article.published_at >= start)
        if changed_since is not None:
            query = query.where(
                or_(
                    Article.content_changed_at >= changed_since,
                    Article.status_changed_at >= changed_since,
                )
            )
        pairs = sorted(s.execute(query).all(), key=lambda p: p.url)
        for ids in chunks([p.id for p in pairs], chunk):
            versions = s.scalars(
                select(ArticleVersion)
                .join(Article, Article.current_version_id == ArticleVersion.id)
                .where(Article.id.in_(ids))
                .options(
                    selectinload(ArticleVersion.article),
                    selectinload(ArticleVersion.capture),
                    selectinload(ArticleVersion.images),
                    selectinload(ArticleVersion.anomalies),
                    selectinload(ArticleVersion.interview)
                    .selectinload(Interview.guests)
                    .selectinload(InterviewGuest.person),
                    selectinload(ArticleVersion.interview).selectinload(Interview.sections),
                    selectinload(ArticleVersion.interview)
                    .selectinload(Interview.turns)
                    .selectinload(InterviewTurn.section),
                )
            ).all()
            by_article = {v.article_id: v for v in versions}
            for article_id in ids:
                version = by_article[article_id]
                article = version.article
                record = version_record(version, article.url)
                record["capture"] = capture_record(version.capture) if version.capture else None
                # Added keys (the record only grows): what an app needs to sync.
                record["article_id"] = article.id
                record["version"] = version.number
                record["content_hash"] = version.content_hash
                record["status"] = article.status
                yield record
            s.expunge_all()  # memory stays flat on a large database
