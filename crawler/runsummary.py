"""What a run report says: built from the crawl stats, summary line, atomic JSON. No Scrapy."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from crawler import __version__
from crawler.exitcodes import exit_code_for
from pipelines.dates import utc_z
from pipelines.failures import FAILURES_KEY

# Report counters and the stats keys they are read from (0 when a component never counted).
COUNTERS: dict[str, str] = {
    "requests": "downloader/request_count",
    "new_articles": "db/articles_new",
    "changed_articles": "db/articles_changed",
    "unchanged_articles": "db/articles_unchanged",
    "known_skipped": "crawl/known_skipped",
    "requisites": "crawl/requisites",  # page requisites fetched
    "requisites_held": "crawl/requisites_held",  # not fetched: held from an earlier run
    "revisits": "warc/revisits",
    "bytes_written": "warc/bytes_written",
    "items_scraped": "item_scraped_count",
    "items_dropped": "item_dropped_count",
}
STATUS_PREFIX = "downloader/response_status_count/"


def failure_reason(error: BaseException | Any) -> str:
    """`ExceptionType: message` for an exception or a Twisted Failure."""
    exc = getattr(error, "value", error)
    response = getattr(exc, "response", None)
    if response is not None and hasattr(response, "status"):  # HttpError
        return f"HTTP {response.status}"
    message = str(exc).strip()
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return utc_z(moment)


def build_report(
    stats: Mapping[str, Any],
    *,
    run_id: str,
    started_at: datetime | None,
    finished_at: datetime,
    finish_reason: str | None,
    towns: list[str] | None = None,
    columns: list[str] | None = None,
    site_root: str | None = None,
) -> dict[str, Any]:
    """The report of one run from its crawl stats. Pure."""
    failures = [dict(f) for f in stats.get(FAILURES_KEY) or []]
    by_status = {
        key[len(STATUS_PREFIX) :]: value
        for key, value in stats.items()
        if key.startswith(STATUS_PREFIX)
    }
    warc_files = stats.get("warc/files") or []
    if isinstance(warc_files, int):  # a component that only counts its files
        warc_names, warc_count = [], warc_files
    else:
        warc_names = sorted(str(f) for f in warc_files)
        warc_count = len(warc_names)
    report: dict[str, Any] = {
        "run_id": run_id,
        "dgarchive_version": __version__,
        "started_at": _iso(started_at),
        "finished_at": _iso(finished_at),
        "duration_seconds": (
            round((finished_at - started_at).total_seconds(), 3) if started_at else None
        ),
        "finish_reason": finish_reason,
        "site_root": site_root,
        "towns": list(towns or []),
        "columns": list(columns or []),
        "requests": int(stats.get(COUNTERS["requests"], 0)),
        "responses_by_status": dict(sorted(by_status.items())),
    }
    for name, key in COUNTERS.items():
        if name != "requests":
            report[name] = int(stats.get(key, 0))
    report["failures"] = failures
    report["warc_files"] = warc_names
    report["warc_file_count"] = warc_count
    report["exit_code"] = int(exit_code_for(finish_reason, len(failures)))
    return report


def summary_line(report: Mapping[str, Any]) -> str:
    """The one-line summary logged as a run's last line."""
    return (
        f"dgarchive run {report['run_id']} finished ({report['finish_reason']}): "
        f"{report['requests']} requests, {report['new_articles']} new, "
        f"{report['changed_articles']} changed, {report['unchanged_articles']} unchanged, "
        f"{report['known_skipped']} known skipped, {report['revisits']} revisits, "
        f"{len(report['failures'])} failures, {report['bytes_written']} bytes in "
        f"{report['warc_file_count']} WARC files; exit code {report['exit_code']}"
    )


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> Path:
    """Write `data` as JSON to `path` so a reader sees the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a report is for whoever reads the logs
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
