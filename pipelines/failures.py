"""The run's failure list, kept in the crawl's stats (`crawl/failures`): one entry per URL.

Every component that loses an article (spider, middlewares, size limit, database writer)
records it here; the run report (`crawler.report`) reads it. Plain stats calls, no Scrapy
imports, so the adapters in `pipelines/` and the crawler share it without a cycle.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FAILURES_KEY", "REASON_MAX", "record_failure"]

FAILURES_KEY = "crawl/failures"
REASON_MAX = 300  # a reason is one line for an operator, not a traceback


def record_failure(stats: Any, url: str, reason: str, *, replace: bool = False) -> bool:
    """Add `{"url", "reason"}` to the stats list `crawl/failures`; False if `url` is in it.

    One entry per URL: the first reason seen wins (e.g. `HTTP 404` from the response, not
    the spider's errback repeating it), unless `replace` (a reason that explains the cause,
    such as a configured column that is gone, over the bare status recorded first).
    """
    reason = " ".join(str(reason).split())
    if len(reason) > REASON_MAX:
        reason = reason[: REASON_MAX - 1] + "…"
    failures = stats.get_value(FAILURES_KEY)
    if failures is None:
        failures = []
    else:
        for entry in failures:
            if entry["url"] == url:
                if replace:
                    entry["reason"] = reason
                    stats.set_value(FAILURES_KEY, failures)
                return False
    failures.append({"url": url, "reason": reason})
    stats.set_value(FAILURES_KEY, failures)
    return True
