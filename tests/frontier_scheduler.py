"""A Scrapy scheduler for tests: Scrapy's own, recording the most requests it ever held
(`scheduler/max_pending` in the crawl stats). Set with `-s SCHEDULER=tests.frontier_scheduler.
CountingScheduler`."""

from __future__ import annotations

from scrapy import Request
from scrapy.core.scheduler import Scheduler


class CountingScheduler(Scheduler):
    peak = 0

    def enqueue_request(self, request: Request) -> bool:
        queued = super().enqueue_request(request)
        if queued and len(self) > self.peak:
            self.peak = len(self)
            self.stats.max_value("scheduler/max_pending", self.peak)
        return queued
