"""Article status as visits find it: a revisit that confirms a stored article unchanged
(`record_revisit`), one that finds it gone or moved (`record_status`), and `mark_seen`, what any
visit that found the page does to the article's timestamps and status. `ArticleStatus` is a
mixin of `RecordStore`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipelines.records import CrawlCapture
from pipelines.store.models import ARTICLE_STATUSES, Article, Capture
from pipelines.store.runs import ensure_run
from pipelines.store.transforms import capture_row, validate_record

__all__ = ["ArticleStatus", "mark_seen"]


class ArticleStatus:
    """`record_revisit` / `record_status` of `RecordStore`, which provides `_session` (one
    transaction, database errors translated)."""

    _session: Callable[[], AbstractContextManager[Session]]

    def record_revisit(self, url: str, capture: CrawlCapture, run_id: str | None = None) -> bool:
        """Note that a stored article was confirmed unchanged by a revisit record: a captures
        row pointing at it, and the article's `last_seen_at`. False if the article is not
        stored or the capture is already recorded."""
        if not capture:
            return False
        validate_record({"url": url, "capture": capture})
        with self._session() as s:
            article = s.scalar(select(Article).where(Article.url == url.strip()))
            rid = capture.get("warc_record_id")
            if article is None or (
                rid and s.scalar(select(Capture.id).where(Capture.warc_record_id == rid))
            ):
                return False
            ensure_run(s, run_id)
            cap = capture_row({"warc_type": "revisit", **capture}, article.url, run_id)
            cap.article = article
            s.add(cap)
            mark_seen(article, cap.fetched_at)
        return True

    def record_status(
        self, url: str, status: str, capture: CrawlCapture | None = None, run_id: str | None = None
    ) -> bool:
        """Note that a revisit found a stored article `gone` (404/410) or `moved` (a redirect
        off the site or out of its column): the capture of that response (when archived) and
        the article's `status`, `gone_at`, `status_changed_at` and `last_checked_at`. A visit
        older than the latest that found the page changes no status (WARC files replayed out of
        order). False if the article is not stored or the capture is already recorded."""
        if status not in ARTICLE_STATUSES or status == "live":
            raise ValueError(f"not a status a revisit can find: {status!r}")
        validate_record({"url": url, "capture": capture})
        with self._session() as s:
            article = s.scalar(select(Article).where(Article.url == url.strip()))
            rid = capture.get("warc_record_id") if capture else None
            if article is None or (
                rid and s.scalar(select(Capture.id).where(Capture.warc_record_id == rid))
            ):
                return False
            ensure_run(s, run_id)
            checked = datetime.now(UTC)
            if capture:
                cap = capture_row(capture, article.url, run_id)
                cap.article = article
                s.add(cap)
                checked = cap.fetched_at
            article.last_checked_at = max(article.last_checked_at, checked)
            if checked >= article.last_seen_at and article.status != status:
                article.gone_at = article.gone_at if article.status != "live" else checked
                article.status = status
                article.status_changed_at = checked
        return True


def mark_seen(article: Article, seen: datetime) -> None:
    """A visit that found the page (200, 304, revisit): it is live again if this visit is
    newer than the one that found it gone."""
    article.first_seen_at = min(article.first_seen_at, seen)
    article.last_seen_at = max(article.last_seen_at, seen)
    article.last_checked_at = max(article.last_checked_at, seen)
    if article.status != "live" and (
        article.status_changed_at is None or seen > article.status_changed_at
    ):
        article.status = "live"
        article.gone_at = None
        article.status_changed_at = seen
