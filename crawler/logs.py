"""Log output of the `dgarchive` command (text or JSON lines) and the crawl's progress display.

Scrapy 2.19 configures its own loggers in `CrawlerProcess.__init__` (warnings and Twisted
routed to `logging`, per-library levels) and installs a root handler unless the setting
`LOG_INSTALL_ROOT_HANDLER` is False (its `install_root_handler=` argument is deprecated).
So the CLI calls `configure_logging()` here for the one root handler, and hands Scrapy the
settings in `SCRAPY_LOG_SETTINGS`; the `LOG_FORMAT`/`LOG_LEVEL`/`LOG_FILE` settings then no
longer apply (cron redirects stderr instead).
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any, TextIO

from pipelines.dates import utc_z

logger = logging.getLogger(__name__)

SCRAPY_LOG_SETTINGS = {"LOG_INSTALL_ROOT_HANDLER": False}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TEXT_DATEFMT = "%Y-%m-%d %H:%M:%S"
SUMMARY_ATTR = "dgarchive_summary"  # records with this extra pass even with --quiet
# Library loggers whose INFO lines are noise in an operator's log: shown at DEBUG only.
CHATTY_LOGGERS = ("alembic.runtime.plugins",)

# LogRecord attributes that are not "extras" (Python 3.11 + asyncio's taskName of 3.12).
_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName", SUMMARY_ATTR}
)

_installed: logging.Handler | None = None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: `ts` (UTC), `level`, `logger`, `msg`, then any extras.

    Scrapy's `extra={"spider": spider}` becomes the spider's name; other values that JSON
    cannot hold are written as their `str()`. A traceback goes in `exc`.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": utc_z(datetime.fromtimestamp(record.created, UTC), "milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key in _RECORD_ATTRS or key in entry:
                continue
            if key == "spider":
                value = getattr(value, "name", value)
            entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _Threshold(logging.Filter):
    """Pass records at `level` or above, and the run summary whatever its level."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level or bool(getattr(record, SUMMARY_ATTR, False))


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    value = logging.getLevelName(level.upper())
    if not isinstance(value, int):
        raise ValueError(f"unknown log level: {level!r}")
    return value


class _NetworkErrorsInOneLine(logging.Filter):
    """A site that is down is an expected event, not a bug: its errors get one line each.

    Scrapy logs some download errors (robots.txt among them) with a full traceback; below
    DEBUG the traceback of a network error is replaced by its one-line message.
    """

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        if self.threshold > logging.DEBUG and record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            if _is_network_error(exc):
                message = record.getMessage()
                if str(exc) not in message:
                    message = f"{message}: {type(exc).__name__}: {exc}"
                record.msg = message
                record.args = None
                record.exc_info = None
                record.exc_text = None
        return True


def _is_network_error(exc: BaseException) -> bool:
    from scrapy import exceptions as sx
    from twisted.internet import error as tx

    kinds = (
        sx.DownloadConnectionRefusedError,
        sx.DownloadTimeoutError,
        sx.DownloadFailedError,
        sx.CannotResolveHostError,
        tx.DNSLookupError,
        tx.ConnectError,
        tx.TimeoutError,
        tx.ConnectionLost,
        ConnectionError,
        TimeoutError,
    )
    return isinstance(exc, kinds)


def configure_logging(
    fmt: str = "text",
    level: str | int = "INFO",
    quiet: bool = False,
    *,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Install the one root handler: `text` (human-readable) or `json` (one object a line).

    `quiet` shows only warnings and errors, plus the run's one-line summary (so a cron mail
    or log still says how each run ended). Calling it again replaces the handler. Returns it.
    """
    global _installed
    if fmt not in ("text", "json"):
        raise ValueError(f"unknown log format: {fmt!r} (text or json)")
    threshold = _level(level)
    if quiet:
        threshold = max(threshold, logging.WARNING)

    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, TEXT_DATEFMT))
    handler.addFilter(_Threshold(threshold))
    handler.addFilter(_NetworkErrorsInOneLine(threshold))

    root = logging.getLogger()
    if _installed is not None:
        root.removeHandler(_installed)
        _installed.close()
    root.addHandler(handler)
    # The summary is INFO: let INFO records reach the handler, which applies the threshold.
    root.setLevel(min(threshold, logging.INFO))
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(
            logging.NOTSET if threshold <= logging.DEBUG else logging.WARNING
        )
    _installed = handler
    return handler


class StatusLine:
    """One self-overwriting line at the bottom of a terminal; log lines scroll above it.

    While shown, a filter on every root handler writing to the same stream erases the line
    before a log record is written, and a last root handler draws it again after.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.text = ""
        self._drawn = False
        self._hooked: list[logging.Handler] = []
        self._filter = _EraseFirst(self)
        self._redraw = _RedrawAfter(self)

    def show(self, text: str) -> None:
        width = shutil.get_terminal_size().columns
        # A line that wraps cannot be overwritten with "\r": keep it inside the terminal.
        self.text = text if len(text) < width else text[: max(width - 2, 1)] + "…"
        self.draw()

    def draw(self) -> None:
        if self.text:
            self.stream.write("\r\x1b[K" + self.text)
            self.stream.flush()
            self._drawn = True

    def erase(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def attach(self) -> None:
        root = logging.getLogger()
        for handler in root.handlers:
            if getattr(handler, "stream", None) is self.stream:
                handler.addFilter(self._filter)
                self._hooked.append(handler)
        root.addHandler(self._redraw)

    def detach(self) -> None:
        for handler in self._hooked:
            handler.removeFilter(self._filter)
        self._hooked.clear()
        logging.getLogger().removeHandler(self._redraw)
        self.erase()
        self.text = ""


class _EraseFirst(logging.Filter):
    def __init__(self, line: StatusLine) -> None:
        super().__init__()
        self.line = line

    def filter(self, record: logging.LogRecord) -> bool:
        self.line.erase()
        return True


class _RedrawAfter(logging.Handler):
    def __init__(self, line: StatusLine) -> None:
        super().__init__()
        self.line = line

    def emit(self, record: logging.LogRecord) -> None:
        if not self.line._drawn:
            self.line.draw()


class Progress:
    """Shows a long crawl is alive: a terminal status line, or a periodic INFO log line.

    On a terminal (stderr is a TTY), one line redrawn every `PROGRESS_INTERVAL` seconds:
    pages done, requests queued, new articles, failures, pages per minute, elapsed time.
    Elsewhere (cron, containers) it writes nothing to the terminal and logs the same figures
    as an INFO line every `PROGRESS_LOG_INTERVAL` seconds, so a long log still shows life.

    Settings: `PROGRESS_ENABLED` (default None: the status line when stderr is a TTY; True
    forces it, False never shows it), `PROGRESS_INTERVAL` (2.0), `PROGRESS_LOG_INTERVAL`
    (60.0; 0 turns the log line off). Reads the stats `response_received_count`,
    `scheduler/enqueued`, `scheduler/dequeued`, `db/articles_new` and `crawl/failures`.
    """

    RATE_WINDOW = 60.0  # seconds of samples the rate is averaged over

    def __init__(
        self,
        stats: Any,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        interval: float = 2.0,
        log_interval: float = 60.0,
        clock: Any = time.monotonic,
    ) -> None:
        self.stats = stats
        self.stream = sys.stderr if stream is None else stream
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty()) if enabled is None else enabled
        self.interval = interval if self.tty else log_interval
        self.clock = clock
        self.status: StatusLine | None = None
        self.task: Any = None
        self.started = clock()
        self._samples: deque[tuple[float, int]] = deque()

    @classmethod
    def from_crawler(cls, crawler: Any) -> Progress:
        # Scrapy is imported here, not with the module: `configure_logging` serves every
        # command, and `extract` would otherwise pay for importing Scrapy and Twisted.
        from scrapy import signals
        from scrapy.exceptions import NotConfigured

        settings = crawler.settings
        raw = settings.get("PROGRESS_ENABLED")
        enabled = None if raw is None or raw == "" else settings.getbool("PROGRESS_ENABLED")
        ext = cls(
            crawler.stats,
            enabled=enabled,
            interval=settings.getfloat("PROGRESS_INTERVAL", 2.0),
            log_interval=settings.getfloat("PROGRESS_LOG_INTERVAL", 60.0),
        )
        if ext.interval <= 0:
            raise NotConfigured("no progress line (not a terminal) and PROGRESS_LOG_INTERVAL=0")
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Any = None) -> None:
        from scrapy.utils.asyncio import create_looping_call

        self.open()
        self.task = create_looping_call(self.tick)
        self.task.start(self.interval, now=False)

    def spider_closed(self, spider: Any = None, reason: str | None = None) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        self.close()

    def open(self) -> None:
        self.started = self.clock()
        self._samples.clear()
        self._samples.append((self.started, 0))
        if self.tty:
            self.status = StatusLine(self.stream)
            self.status.attach()

    def close(self) -> None:
        if self.status is not None:
            self.status.detach()  # the closing log lines start on a clean line
            self.status = None

    def tick(self) -> None:
        line = self.line()
        if self.status is not None:
            self.status.show(line)
        else:
            logger.info("progress: %s", line)

    def line(self) -> str:
        now = self.clock()
        get = self.stats.get_value
        pages = int(get("response_received_count", 0))
        queued = max(int(get("scheduler/enqueued", 0)) - int(get("scheduler/dequeued", 0)), 0)
        new = int(get("db/articles_new", 0))
        failures = len(get("crawl/failures") or [])

        self._samples.append((now, pages))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.RATE_WINDOW:
            self._samples.popleft()
        then, pages_then = self._samples[0]
        # Under a second of samples says nothing about the rate.
        rate = (pages - pages_then) * 60.0 / (now - then) if now - then >= 1.0 else 0.0

        elapsed = int(now - self.started)
        hours, rest = divmod(elapsed, 3600)
        return (
            f"{pages:,} pages, {queued:,} queued, {new:,} new articles, "
            f"{failures:,} failures, {rate:,.0f} pages/min, "
            f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
        )
