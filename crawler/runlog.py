"""The crawl's own log, kept for the archive: a logging handler that records one run's lines.

`RunReport` attaches it while a crawl runs with WARC capture and hands its text to the
capture at the end, which writes it into the WARC next to the run report
(`urn:dgarchive:run:<id>:log`). Lines are JSON objects (`crawler.logs.JsonFormatter`), INFO
and above whatever the terminal shows, spooled to a temporary file past 1 MiB and cut at
`MAX_BYTES` with a last line saying so.
"""

from __future__ import annotations

import logging
import tempfile
import threading

from crawler.logs import JsonFormatter

MAX_BYTES = 64 * 1024 * 1024
CONTENT_TYPE = "application/x-ndjson; charset=utf-8"


class RunLog(logging.Handler):
    """Collects the log records of one run as JSON lines."""

    def __init__(self, level: int = logging.INFO, max_bytes: int = MAX_BYTES) -> None:
        super().__init__(level)
        self.setFormatter(JsonFormatter())
        self.max_bytes = max_bytes
        self._file = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
        self._size = 0
        self._cut = 0  # records left out past max_bytes
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = (self.format(record) + "\n").encode("utf-8", "replace")
        except Exception:  # noqa: BLE001 - logging must never break the crawl
            self.handleError(record)
            return
        with self._guard:
            if self._file.closed:
                return
            if self._size + len(line) > self.max_bytes:
                self._cut += 1
                return
            self._file.write(line)
            self._size += len(line)

    def attach(self, logger: logging.Logger | None = None) -> RunLog:
        (logger or logging.getLogger()).addHandler(self)
        return self

    def detach(self, logger: logging.Logger | None = None) -> None:
        (logger or logging.getLogger()).removeHandler(self)

    def getvalue(self) -> bytes:
        """The lines so far (and a last one naming the lines cut, if any)."""
        with self._guard:
            if self._file.closed:
                return b""
            self._file.seek(0)
            data = self._file.read()
            self._file.seek(0, 2)
        if self._cut:
            note = logging.makeLogRecord(
                {
                    "name": __name__,
                    "levelno": logging.WARNING,
                    "levelname": "WARNING",
                    "msg": f"{self._cut} later log lines left out of the archived log "
                    f"(over {self.max_bytes} bytes)",
                }
            )
            data += (self.format(note) + "\n").encode("utf-8")
        return data

    def close(self) -> None:
        with self._guard:
            self._file.close()
        super().close()
