"""`FrozenHeap`: the crawl process's start-up heap frozen out of the garbage collector's walks.

Once the spider is open (every import done, the settings, the spider, its known articles,
the middlewares and pipelines built), `pipelines.heap.freeze_heap` freezes what is alive
and raises the generation-0 threshold (FROZEN_HEAP_THRESHOLD, 10,000); when the engine
stops, `thaw_heap` undoes it, so a process that goes on (tests, `CrawlerProcess` callers)
is left as it was. Settings: FROZEN_HEAP (default on), FROZEN_HEAP_THRESHOLD. The database
writer process does the same (`pipelines.database`). Why: `pipelines.heap`.
"""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy import signals
from scrapy.exceptions import NotConfigured

from pipelines.heap import DEFAULT_THRESHOLD, freeze_heap, thaw_heap

__all__ = ["FrozenHeap"]

log = logging.getLogger(__name__)


class FrozenHeap:
    """Scrapy extension: `freeze_heap` at spider_opened, `thaw_heap` at engine_stopped."""

    def __init__(self, threshold: int = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self._before: tuple[int, int, int] | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> Self:
        settings = crawler.settings
        if not settings.getbool("FROZEN_HEAP", True):
            raise NotConfigured("FROZEN_HEAP is off")
        ext = cls(settings.getint("FROZEN_HEAP_THRESHOLD", DEFAULT_THRESHOLD))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def spider_opened(self, spider: Any = None) -> None:
        if self._before is None:
            self._before = freeze_heap(self.threshold)
            log.debug("heap frozen; gc thresholds %s, were %s", self.threshold, self._before)

    def engine_stopped(self) -> None:
        before, self._before = self._before, None
        if before is not None:
            thaw_heap(before)
