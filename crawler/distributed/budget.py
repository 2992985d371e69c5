"""The politeness budget of a distributed run: one per host for all workers, held in Redis.

`HostBudget` (a downloader middleware) takes a slot of the host's budget before each download
and gives it back with the answer (crawler/distributed/frontier.py keeps the slots):

- at most DISTRIBUTED_HOST_CONCURRENCY requests at once to a host across all workers
  (default CONCURRENT_REQUESTS_PER_DOMAIN);
- at least DISTRIBUTED_HOST_DELAY seconds between two starts (default DOWNLOAD_DELAY);
- with AutoThrottle on, its delay is the run's, not each worker's: every worker's answers
  adjust one delay per host in Redis with AutoThrottle's own rule (latency / target
  concurrency), so the whole crawl, not each worker, aims at AUTOTHROTTLE_TARGET_CONCURRENCY
  requests in flight on average; the fixed delay stays its minimum. `configure()` turns the
  workers' own AutoThrottle off then (DISTRIBUTED_AUTOTHROTTLE says it was on).

A slot of a killed worker expires after DOWNLOAD_TIMEOUT + 30 s. DISTRIBUTED_HOST_BUDGET =
False lifts the budget (each worker keeps its own Scrapy limits and AutoThrottle).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

SLOT = "dgarchive_host_slot"


class HostBudget:
    """Takes a slot of the run's per-host budget before each download (see the module)."""

    def __init__(self, crawler: Any) -> None:
        from crawler.distributed.components import frontier_of

        s = crawler.settings
        self.frontier = frontier_of(crawler)
        self.enabled = s.getbool("DISTRIBUTED_HOST_BUDGET", True)
        self.concurrency = s.getint("DISTRIBUTED_HOST_CONCURRENCY") or s.getint(
            "CONCURRENT_REQUESTS_PER_DOMAIN"
        )
        delay = s.get("DISTRIBUTED_HOST_DELAY")
        self.delay = float(delay) if delay not in (None, "") else s.getfloat("DOWNLOAD_DELAY")
        self.lease = s.getfloat("DOWNLOAD_TIMEOUT", 180) + 30
        self.adaptive = self.enabled and s.getbool("DISTRIBUTED_AUTOTHROTTLE")
        budget: dict[str, Any] = {
            "enabled": self.enabled,
            "concurrency": self.concurrency,
            "delay": self.delay,
            "autothrottle": None,
        }
        if self.adaptive:
            self.target = s.getfloat("AUTOTHROTTLE_TARGET_CONCURRENCY", 1.0)
            start = max(self.delay, s.getfloat("AUTOTHROTTLE_START_DELAY", 5.0))
            self.bounds = (self.delay, s.getfloat("AUTOTHROTTLE_MAX_DELAY", 60.0), start)
            budget["autothrottle"] = {
                "target_concurrency": self.target,
                "start_delay": start,
                "max_delay": self.bounds[1],
            }
        self.stats = crawler.stats
        crawler.stats.set_value("distributed/host_budget", budget)

    @classmethod
    def from_crawler(cls, crawler: Any) -> HostBudget:
        return cls(crawler)

    async def process_request(self, request: Any, spider: Any = None) -> None:
        if not self.enabled:
            return
        from scrapy.utils.defer import deferred_to_future
        from twisted.internet import reactor
        from twisted.internet.task import deferLater

        host = urlsplit(request.url).netloc
        delay = self.bounds[2] if self.adaptive else self.delay
        while True:
            token, wait = self.frontier.take_slot(
                host, self.concurrency, delay, self.lease, adaptive=self.adaptive
            )
            if token:
                request.meta[SLOT] = (host, token)
                return
            await deferred_to_future(deferLater(reactor, wait, lambda: None))

    def _free(self, request: Any, response: Any = None) -> None:
        slot = request.meta.pop(SLOT, None)
        if not slot:
            return
        self.frontier.free_slot(*slot)
        latency = request.meta.get("download_latency")
        if self.adaptive and response is not None and latency is not None:
            # As AutoThrottle: only answers count (an error's latency says nothing).
            delay = self.frontier.adjust_delay(
                slot[0], latency, self.target, self.bounds, response.status == 200
            )
            self.stats.set_value(f"distributed/host_delay/{slot[0]}", delay)

    def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        self._free(request, response)
        return response

    def process_exception(self, request: Any, exception: BaseException, spider: Any = None) -> None:
        self._free(request)
