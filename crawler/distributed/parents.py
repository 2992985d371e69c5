"""When a leased response's lease may go: once every request its callback yielded is queued.
No Scrapy imports (crawler/distributed/components.py calls it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.distributed.frontier import Frontier

__all__ = ["ParentLeases"]


class ParentLeases:
    """A leased response's lease, dropped only once every request its callback yielded has
    been queued in Redis (or found there already). Scrapy queues a callback's output after
    the callback's generator has ended (its scraper takes the output into a queue of its
    own and works through it in parallel): dropped at the generator's end, the lease could
    go while some of those requests were still in this worker's memory, and a worker killed,
    or a Redis gone, at that moment lost them for good (a list page's articles were never
    fetched). A request that could not be queued keeps its parent's lease for good: the
    parent is fetched again once this worker is gone."""

    def __init__(self, frontier: Frontier) -> None:
        self.frontier = frontier
        self.pending: dict[str, int] = {}  # lease -> its requests not through the scheduler
        self.ended: set[str] = set()  # leases whose callback's generator has ended
        self.kept: set[str] = set()  # leases with a request that could not be queued

    def child(self, lease: str) -> None:
        self.pending[lease] = self.pending.get(lease, 0) + 1

    def yielded_all(self, lease: str, *, release: bool) -> None:
        """The callback's generator ended; `release`: the lease is this worker's to drop
        (not handed to the database pipeline with a record)."""
        if not release:
            self._forget(lease)
        elif self.pending.get(lease):
            self.ended.add(lease)
        else:
            self._done(lease)

    def queued(self, lease: str, *, ok: bool) -> None:
        """A request of `lease` went through the scheduler: queued (`ok`) or not."""
        if lease not in self.pending:
            return  # handed to the database pipeline meanwhile
        if not ok:
            self.kept.add(lease)
        self.pending[lease] -= 1
        if not self.pending[lease] and lease in self.ended:
            self._done(lease)

    def _done(self, lease: str) -> None:
        import redis

        kept = lease in self.kept
        self._forget(lease)
        if kept:
            return
        try:
            self.frontier.release(lease)
        except redis.RedisError:
            pass  # the lease stays: at worst the page is fetched again

    def _forget(self, lease: str) -> None:
        self.pending.pop(lease, None)
        self.ended.discard(lease)
        self.kept.discard(lease)
