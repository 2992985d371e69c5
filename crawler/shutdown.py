"""SIGINT/SIGTERM handling of a crawl: each signal stops it harder, never uncleanly.

Scrapy's own handlers stop gracefully on the first signal and stop the reactor on the
second, which skips the spider's close: WARC files stay `.open`, the pending database batch
is lost and the run exits 70. Here:

1. first signal: Scrapy's graceful stop (the engine closes the spider with reason
   `shutdown`); requests still queued in the downloader, waiting for DOWNLOAD_DELAY or
   AutoThrottle, are dropped (Scrapy would send them first: seconds to minutes); downloads
   in flight may finish, up to DOWNLOAD_TIMEOUT;
2. second signal: the downloads in flight are aborted now (their download timeouts fire at
   once, so each is reported as a failure), and the close goes on: WARC files are closed,
   the pending batch is written, the report is written, exit 130;
3. a third signal stops the reactor without closing (Scrapy's unclean stop), for a close
   that hangs.
"""

from __future__ import annotations

import logging
import signal
from typing import Any

from scrapy.utils.ossignal import signal_names
from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ShutdownSignals:
    """Install with `install()` once the reactor runs (`addSystemEventTrigger("after",
    "startup", ...)`); `process` is the `CrawlerProcess` running the crawl."""

    def __init__(self, process: Any) -> None:
        self.process = process
        self.received = 0

    def install(self) -> None:
        for signum in SIGNALS:
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, _frame: Any) -> None:
        # Nothing but counting here: a signal handler may interrupt a write to the log
        # stream, so the work (and its logging) runs in the reactor thread.
        from twisted.internet import reactor

        self.received += 1
        reactor.callFromThread(self.on_signal, signum, self.received)

    def on_signal(self, signum: int, count: int) -> None:
        from twisted.internet import reactor

        name = signal_names.get(signum, str(signum))
        if count == 1:
            logger.info(
                "received %s, shutting down gracefully; send it again to abort the "
                "downloads in flight",
                name,
            )
            self.process.stop()
            dropped = drop_queued_requests(self.process)
            if dropped:
                logger.info("dropped %d request(s) not yet sent", dropped)
        elif count == 2:
            aborted = abort_downloads_in_flight()
            logger.warning(
                "received %s again: aborted %d download(s) in flight; closing the WARC files "
                "and writing the pending records (send it a third time to stop uncleanly)",
                name,
                aborted,
            )
        else:
            logger.error("received %s a third time: stopping without closing the run", name)
            try:
                reactor.stop()
            except RuntimeError:  # already stopping
                pass


def drop_queued_requests(process: Any) -> int:
    """Fail every request waiting in a downloader slot (not yet sent) with IgnoreRequest."""
    from scrapy.exceptions import IgnoreRequest
    from twisted.python.failure import Failure

    dropped = 0
    for crawler in list(getattr(process, "crawlers", ())):
        downloader = getattr(getattr(crawler, "engine", None), "downloader", None)
        for slot in list(getattr(downloader, "slots", {}).values()):
            while slot.queue:
                request, waiting = slot.queue.popleft()
                waiting.errback(Failure(IgnoreRequest(f"not sent: interrupted ({request.url})")))
                dropped += 1
    return dropped


def abort_downloads_in_flight() -> int:
    """Fire the download timeout of every request in flight now; return how many.

    Scrapy's HTTP handler arms `reactor.callLater(DOWNLOAD_TIMEOUT, deferred.cancel)` for
    each download and has no other handle on the ones in progress: firing those calls is
    the handler's own timeout path (the connection is aborted, the request fails with a
    TimeoutError that the report lists), only sooner.
    """
    from twisted.internet import reactor

    aborted = 0
    for call in reactor.getDelayedCalls():
        func = getattr(call, "func", None)
        if (
            call.active()
            and getattr(func, "__name__", "") == "cancel"
            and isinstance(getattr(func, "__self__", None), Deferred)
        ):
            call.reset(0)
            aborted += 1
    return aborted
