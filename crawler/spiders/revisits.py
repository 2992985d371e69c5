"""Revisits of stored articles and the known articles an incremental crawl skips."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import scrapy

from crawler.config import Column
from crawler.spiders.frontier import ARTICLE_PRIORITY
from pipelines.dates import parse_iso, utc_now

_NEVER = datetime.min.replace(tzinfo=UTC)  # the fetch time of a capture with none readable
# Requests the scheduler may hold before `start()` hands it the next revisit. Scrapy reads
# `start()` to its end at once, so without a bound every stale article of the database
# became a pending request at the start of the crawl (about 2 KB each).
REVISIT_BACKLOG = 256
REVISIT_WAIT = 0.05  # seconds between two looks at the scheduler while it is full


class RevisitMixin:
    """TownNewsSpider's use of the stored articles (`known`, {canonical URL: last capture}).

    The spider provides `crawler`, `known`, `selected`, `revisit_days`, `sitemap`, `_request`
    and `parse_article`.
    """

    def _known_in(self, column: Column) -> bool:
        """Whether the database holds any article of this column (computed once)."""
        cache = self.__dict__.setdefault("_known_columns", {})
        if column.path not in cache:
            prefix = "https://www.dg.gov.cn/" + column.path
            cache[column.path] = any(u.startswith(prefix) for u in self.known)
        return cache[column.path]

    async def _paced_revisits(self) -> AsyncIterator[scrapy.Request]:
        """`_revisits`, each handed over only while the scheduler holds fewer than
        `REVISIT_BACKLOG` requests (its `scheduler/enqueued` less `scheduler/dequeued`), so
        the stale articles wait as database rows, not as requests in memory."""
        from scrapy.utils.defer import maybe_deferred_to_future
        from twisted.internet import reactor
        from twisted.internet.task import deferLater

        stats = self.crawler.stats
        for request in self._revisits():
            while (
                stats.get_value("scheduler/enqueued", 0) - stats.get_value("scheduler/dequeued", 0)
                >= REVISIT_BACKLOG
            ):
                await maybe_deferred_to_future(deferLater(reactor, REVISIT_WAIT, lambda: None))
            yield request

    def _revisits(self) -> Iterator[scrapy.Request]:
        """Conditional re-fetches of stored articles older than CRAWL_REVISIT_OLDER_THAN."""
        if self.revisit_days < 0 or not self.known:
            return
        cutoff = utc_now() - timedelta(days=self.revisit_days)
        by_path = {c.path: c for c in self.selected}
        for url, last in self.known.items():
            column = next(
                (c for p, c in by_path.items() if url.startswith("https://www.dg.gov.cn/" + p)),
                None,
            )
            fetched = parse_iso(last.get("fetched_at")) or _NEVER  # unreadable: revisit it
            if column is None or fetched > cutoff:
                continue
            headers = {}
            if last.get("etag"):
                headers["If-None-Match"] = last["etag"]
            if last.get("last_modified"):
                headers["If-Modified-Since"] = last["last_modified"]
            request = self._request(
                self.sitemap.to_fetch(url),
                self.parse_article,
                column,
                ARTICLE_PRIORITY,
                dgarchive_revisit={
                    "refers_to_uri": last.get("target_uri") or last.get("fetch_url") or url,
                    "refers_to_date": last.get("fetched_at"),
                    "refers_to_record_id": last.get("warc_record_id"),
                    "payload_digest": last.get("payload_digest"),
                },
                handle_httpstatus_list=[304],
            )
            request.headers.update(headers)
            yield request.replace(dont_filter=True)


def load_known(db_url: str | None, *, captures: bool = True) -> dict[str, dict] | set[str]:
    """Stored articles and their last capture, for the incremental crawl (or, with
    `captures=False`, when no revisits are asked for, only the set of their URLs):
    `pipelines.store.writerprocess.writer_known`. The set of URLs is read by the crawl's
    writer process when it has one, so that this process needs no SQLAlchemy
    (docs/architecture.md, "Start-up"); the captures are read here, where they are held for
    the whole run (about 1.5 KB an article), rather than pickled across from the writer."""
    if not db_url:
        return {} if captures else set()
    from pipelines import writerboot

    if captures:
        return writerboot.call("writer_known", db_url, True)
    return writerboot.ask(db_url, "writer_known", db_url, False)
