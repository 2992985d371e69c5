"""A long-lived process's heap kept out of the cyclic garbage collector's way. No Scrapy.

CPython's cyclic collector runs a young collection every `threshold0` (700) new container
objects, and now and then an old one that walks every tracked object the process holds:
modules, classes, functions, Scrapy's and SQLAlchemy's machinery, all alive until the
process ends and never garbage. A crawl makes container objects by the hundred per page
(requests, responses, trees' proxies, dicts, records), so the collector ran hundreds of
times a second, most of them for nothing: reference counting frees nearly all of it.

`freeze_heap`, once start-up is over (the imports done), moves every object alive into the
permanent generation (`gc.freeze()`), which no collection walks, and raises the young
threshold to `threshold` (10,000), so a young collection runs about fourteen times less
often; garbage cycles are still found, in batches. Memory stays bounded: the frozen objects
are those start-up made (they stay alive anyway), and what is new is collected as before,
only later. `thaw_heap` undoes it, for a process that goes on after the crawl (tests).

Used by the crawl process (`crawler.heap.FrozenHeap`, a Scrapy extension) and the database
writer process (`pipelines.database.DatabasePipeline` asks for it there), setting
FROZEN_HEAP (default on) and FROZEN_HEAP_THRESHOLD.
"""

from __future__ import annotations

import gc

__all__ = ["DEFAULT_THRESHOLD", "freeze_heap", "thaw_heap"]

DEFAULT_THRESHOLD = 10_000


def freeze_heap(threshold: int = DEFAULT_THRESHOLD) -> tuple[int, int, int]:
    """Freeze every object alive now and raise the generation-0 threshold to `threshold`
    (the older generations' are kept). Returns the thresholds before, for `thaw_heap`."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold, 1), *before[1:])
    return before


def thaw_heap(thresholds: tuple[int, ...]) -> None:
    """Undo `freeze_heap`: the frozen objects back into the oldest generation (collected
    again as any other), the thresholds as they were."""
    gc.unfreeze()
    gc.set_threshold(*thresholds)
