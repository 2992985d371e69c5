"""The run report: counters from stats, failures, exit codes, atomic file, last log line."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from scrapy import Spider
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler
from twisted.internet.error import ConnectionRefusedError
from twisted.python.failure import Failure

from crawler.exitcodes import ExitCode, cause_of, exit_code_for
from crawler.report import (
    FailureRecorder,
    RunReport,
    record_failure,
    report_exit_code,
)
from crawler.runsummary import build_report, summary_line, write_json_atomic

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 11, 22, 0, 15, 0, tzinfo=UTC)

FULL_STATS = {
    "downloader/request_count": 40,
    "downloader/response_status_count/200": 35,
    "downloader/response_status_count/304": 3,
    "downloader/response_status_count/404": 2,
    "db/articles_new": 2,
    "db/articles_changed": 1,
    "db/articles_unchanged": 3,
    "crawl/known_skipped": 17,
    "warc/revisits": 3,
    "warc/bytes_written": 123456,
    "warc/files": ["DGARCHIVE-2-00001-h.warc.gz", "DGARCHIVE-1-00000-h.warc.gz"],
    "item_scraped_count": 6,
    "crawl/failures": [{"url": "http://m/a", "reason": "HTTP 404"}],
}


class TownSpider(Spider):
    name = "town_news"
    towns = ["houjie"]
    columns = ["houjie/xwzx/zhxw/", "houjie/cjjs/tshj/"]
    site_root = "http://127.0.0.1:8123/"


def _crawler(**settings):
    crawler = get_crawler(
        TownSpider,
        settings_dict={"EXTENSIONS": {"crawler.report.RunReport": 0}, **settings},
    )
    return crawler


def _extension(crawler, clock=None) -> RunReport:
    [ext] = [e for e in crawler.extensions.middlewares if isinstance(e, RunReport)]
    if clock is not None:
        ext.clock = clock
    return ext


def _response(url: str, status: int = 200) -> HtmlResponse:
    return HtmlResponse(url, status=status, body=b"<html></html>", request=Request(url))


def _clock(*moments: datetime):
    return iter(moments).__next__


# --- pure parts -----------------------------------------------------------------------


def test_build_report_reads_every_counter_from_the_stats():
    report = build_report(
        FULL_STATS,
        run_id="run-1",
        started_at=T0,
        finished_at=T0 + timedelta(minutes=5, seconds=3),
        finish_reason="finished",
        towns=["houjie"],
        columns=["houjie/xwzx/zhxw/"],
        site_root="https://www.dg.gov.cn/",
    )
    assert report["run_id"] == "run-1"
    assert report["started_at"] == "2026-11-22T00:15:00Z"
    assert report["finished_at"] == "2026-11-22T00:20:03Z"
    assert report["duration_seconds"] == 303.0
    assert report["finish_reason"] == "finished"
    assert report["towns"] == ["houjie"]
    assert report["columns"] == ["houjie/xwzx/zhxw/"]
    assert report["requests"] == 40
    assert report["responses_by_status"] == {"200": 35, "304": 3, "404": 2}
    assert report["new_articles"] == 2
    assert report["changed_articles"] == 1
    assert report["unchanged_articles"] == 3
    assert report["known_skipped"] == 17
    assert report["revisits"] == 3
    assert report["failures"] == [{"url": "http://m/a", "reason": "HTTP 404"}]
    assert report["bytes_written"] == 123456
    assert report["warc_files"] == ["DGARCHIVE-1-00000-h.warc.gz", "DGARCHIVE-2-00001-h.warc.gz"]
    assert report["warc_file_count"] == 2
    assert report["items_scraped"] == 6
    assert report["exit_code"] == ExitCode.PARTIAL
    json.dumps(report)  # plain JSON all through


def test_an_empty_run_counts_zero_and_is_ok():
    report = build_report({}, run_id="r", started_at=None, finished_at=T0, finish_reason="finished")
    for name in ("requests", "new_articles", "changed_articles", "unchanged_articles"):
        assert report[name] == 0
    assert report["failures"] == [] and report["warc_files"] == []
    assert report["started_at"] is None and report["duration_seconds"] is None
    assert report["exit_code"] == ExitCode.OK


def test_a_counted_warc_file_stat_is_accepted():
    report = build_report(
        {"warc/files": 3}, run_id="r", started_at=T0, finished_at=T0, finish_reason="finished"
    )
    assert report["warc_file_count"] == 3 and report["warc_files"] == []


def test_summary_line():
    report = build_report(
        FULL_STATS, run_id="run-1", started_at=T0, finished_at=T0, finish_reason="finished"
    )
    assert summary_line(report) == (
        "dgarchive run run-1 finished (finished): 40 requests, 2 new, 1 changed, "
        "3 unchanged, 17 known skipped, 3 revisits, 1 failures, 123456 bytes in "
        "2 WARC files; exit code 1"
    )


@pytest.mark.parametrize(
    ("reason", "failures", "code"),
    [
        ("finished", 0, ExitCode.OK),
        ("finished", 3, ExitCode.PARTIAL),
        ("closespider_timeout", 0, ExitCode.OK),
        ("closespider_errorcount", 0, ExitCode.PARTIAL),
        ("memusage_exceeded", 0, ExitCode.PARTIAL),
        ("cancelled", 0, ExitCode.PARTIAL),
        ("database_error", 0, ExitCode.DATABASE_UNREACHABLE),
        ("db_schema_behind", 2, ExitCode.DATABASE_UNREACHABLE),
        ("site_unreachable", 5, ExitCode.SITE_UNREACHABLE),
        ("archive_error", 0, ExitCode.ARCHIVE_ERROR),
        ("warc_write_error", 0, ExitCode.ARCHIVE_ERROR),
        ("shutdown", 0, ExitCode.INTERRUPTED),
        (None, 0, ExitCode.SOFTWARE_ERROR),
    ],
)
def test_exit_code_for(reason, failures, code):
    assert exit_code_for(reason, failures) is code


def test_exit_code_numbers_are_stable():
    assert {c.name: int(c) for c in ExitCode} == {
        "OK": 0,
        "PARTIAL": 1,
        "USAGE": 2,
        "LOCK_HELD": 3,
        "SITE_UNREACHABLE": 4,
        "DATABASE_UNREACHABLE": 5,
        "ARCHIVE_ERROR": 6,
        "SOFTWARE_ERROR": 70,
        "INTERRUPTED": 130,
    }
    assert cause_of("finished") is None


def test_record_failure_keeps_one_entry_per_url_and_one_line_reasons():
    crawler = _crawler()
    stats = crawler.stats
    assert record_failure(stats, "http://m/a", "HTTP 404")
    assert not record_failure(stats, "http://m/a", "HttpError: Ignoring non-200 response")
    assert record_failure(stats, "http://m/b", "Traceback\n  line 1\n" + "x" * 400)
    failures = stats.get_value("crawl/failures")
    assert failures[0] == {"url": "http://m/a", "reason": "HTTP 404"}
    assert "\n" not in failures[1]["reason"]
    assert len(failures[1]["reason"]) == 300 and failures[1]["reason"].endswith("…")


def test_write_json_atomic_replaces_whole_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "reports" / "report.json"
    write_json_atomic(path, {"a": "东莞"})
    write_json_atomic(path, {"b": 2})
    assert json.loads(path.read_text(encoding="utf-8")) == {"b": 2}
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)


# --- the extension, driven through its signal handlers ------------------------------------


def test_extension_writes_the_report_and_logs_the_summary_last(tmp_path, caplog):
    report_file = tmp_path / "out" / "report.json"
    crawler = _crawler(REPORT_FILE=str(report_file), CRAWL_RUN_ID="run-42")
    ext = _extension(crawler, clock=_clock(T0, T0 + timedelta(seconds=90)))
    spider = TownSpider()
    caplog.set_level(logging.INFO, logger="crawler.report")

    ext.spider_opened(spider)
    for url, status in [
        ("http://m/robots.txt", 404),  # no rules: not a failure
        ("http://m/houjie/xwzx/zhxw/", 200),
        ("http://m/houjie/xwzx/zhxw/content/post_1.html", 404),
        ("http://m/img/a.png", 500),
    ]:
        ext.request_left_downloader(Request(url), spider)
        ext.response_downloaded(_response(url, status), Request(url), spider)
        ext.response_received(_response(url, status), Request(url), spider)
    for key, value in FULL_STATS.items():
        if key != "crawl/failures":
            crawler.stats.set_value(key, value)
    ext.spider_closed(spider, "finished")

    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report == ext.report
    assert report["run_id"] == "run-42"
    assert report["duration_seconds"] == 90.0
    assert report["towns"] == ["houjie"]
    assert report["columns"] == ["houjie/xwzx/zhxw/", "houjie/cjjs/tshj/"]
    assert report["site_root"] == "http://127.0.0.1:8123/"
    assert report["failures"] == [
        {"url": "http://m/houjie/xwzx/zhxw/content/post_1.html", "reason": "HTTP 404"},
        {"url": "http://m/img/a.png", "reason": "HTTP 500"},
    ]
    assert report["exit_code"] == ExitCode.PARTIAL == report_exit_code(crawler)

    ext.engine_stopped()
    ext.engine_stopped()  # logged once
    summaries = [r for r in caplog.records if getattr(r, "dgarchive_summary", False)]
    assert len(summaries) == 1
    assert summaries[0].levelno == logging.WARNING  # partial success
    assert (
        summaries[0]
        .getMessage()
        .startswith("dgarchive run run-42 finished (finished): 40 requests, 2 new")
    )
    assert caplog.records[-1] is summaries[0]


def test_callback_and_pipeline_errors_are_failures():
    crawler = _crawler()
    ext = _extension(crawler)
    spider = TownSpider()
    ext.spider_opened(spider)
    try:
        raise KeyError("title")
    except KeyError:
        failure = Failure()
    ext.spider_error(failure, _response("http://m/p1.html"), spider)
    ext.item_error({"url": "x"}, _response("http://m/p2.html"), spider, failure)
    reasons = {f["url"]: f["reason"] for f in crawler.stats.get_value("crawl/failures")}
    assert reasons == {
        "http://m/p1.html": "spider error: KeyError: 'title'",
        "http://m/p2.html": "item error: KeyError: 'title'",
    }


def test_no_response_at_all_is_site_unreachable(caplog):
    crawler = _crawler()
    ext = _extension(crawler)
    spider = TownSpider()
    ext.spider_opened(spider)
    for url in ("http://m/robots.txt", "http://m/houjie/xwzx/zhxw/"):
        ext.request_left_downloader(Request(url), spider)
        record_failure(crawler.stats, url, "ConnectionRefusedError: Connection was refused")
    ext.spider_closed(spider, "finished")
    assert ext.report["finish_reason"] == "site_unreachable"
    assert report_exit_code(crawler) is ExitCode.SITE_UNREACHABLE
    caplog.set_level(logging.INFO, logger="crawler.report")
    ext.engine_stopped()
    [summary] = [r for r in caplog.records if getattr(r, "dgarchive_summary", False)]
    assert summary.levelno == logging.ERROR
    assert "(site_unreachable)" in summary.getMessage()


def test_one_response_means_the_site_was_reached():
    crawler = _crawler()
    ext = _extension(crawler)
    spider = TownSpider()
    ext.spider_opened(spider)
    ext.request_left_downloader(Request("http://m/a"), spider)
    ext.request_left_downloader(Request("http://m/b"), spider)
    ext.response_downloaded(_response("http://m/b", 503), Request("http://m/b"), spider)
    record_failure(crawler.stats, "http://m/a", "TimeoutError: took too long")
    ext.spider_closed(spider, "finished")
    assert ext.report["finish_reason"] == "finished"
    assert report_exit_code(crawler) is ExitCode.PARTIAL


def test_a_named_cause_wins_over_site_detection():
    crawler = _crawler()
    ext = _extension(crawler)
    spider = TownSpider()
    ext.spider_opened(spider)
    ext.request_left_downloader(Request("http://m/a"), spider)
    ext.spider_closed(spider, "shutdown")  # Ctrl-C before the first response
    assert report_exit_code(crawler) is ExitCode.INTERRUPTED


def test_no_requests_at_all_is_not_unreachable():
    crawler = _crawler()
    ext = _extension(crawler)
    ext.spider_opened(TownSpider())
    ext.spider_closed(TownSpider(), "finished")
    assert report_exit_code(crawler) is ExitCode.OK


def test_an_unwritable_report_file_is_logged_and_the_exit_code_kept(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    crawler = _crawler(REPORT_FILE=str(blocker / "report.json"))  # parent is a file
    ext = _extension(crawler)
    ext.spider_opened(TownSpider())
    ext.spider_closed(TownSpider(), "finished")
    assert "could not write the run report" in caplog.text
    assert report_exit_code(crawler) is ExitCode.OK


def test_exit_code_without_the_extension():
    crawler = get_crawler(TownSpider)
    assert report_exit_code(crawler) is ExitCode.SOFTWARE_ERROR  # never closed
    crawler.stats.set_value("finish_reason", "finished")
    assert report_exit_code(crawler) is ExitCode.OK
    record_failure(crawler.stats, "http://m/a", "HTTP 500")
    assert report_exit_code(crawler) is ExitCode.PARTIAL


def test_failure_recorder_records_final_download_errors_only():
    crawler = get_crawler(TownSpider)
    mw = build_from_crawler(FailureRecorder, crawler)
    req = Request("http://m/houjie/")
    assert mw.process_exception(req, ConnectionRefusedError()) is None
    assert mw.process_exception(Request("http://m/x"), IgnoreRequest("robots.txt")) is None
    [failure] = crawler.stats.get_value("crawl/failures")
    assert failure["url"] == "http://m/houjie/"
    assert failure["reason"].startswith("ConnectionRefusedError: Connection was refused")


# --- a real crawl in a subprocess (the reactor cannot restart in-process) ----------------

CRAWL = """
import sys
from scrapy import Request, Spider
from scrapy.crawler import CrawlerProcess
from crawler.logs import SCRAPY_LOG_SETTINGS, configure_logging
from crawler.report import report_exit_code

class ProbeSpider(Spider):
    name = "probe"
    towns = ["houjie"]
    columns = ["houjie/xwzx/zhxw/"]

    async def start(self):
        for path in ("index.html", "missing.html"):
            yield Request(self.root + path)

    def parse(self, response):
        yield {"url": response.url}

root, report = sys.argv[1], sys.argv[2]
configure_logging("text", "INFO")
process = CrawlerProcess({
    **SCRAPY_LOG_SETTINGS,
    "ROBOTSTXT_OBEY": True,
    "RETRY_ENABLED": False,
    "TELNETCONSOLE_ENABLED": False,
    "REMOTE_CONTROL_ENABLED": False,
    "DOWNLOAD_TIMEOUT": 5,
    "EXTENSIONS": {"crawler.report.RunReport": 200, "crawler.logs.Progress": 300},
    "DOWNLOADER_MIDDLEWARES": {"crawler.report.FailureRecorder": 540},
    "REPORT_FILE": report,
    "CRAWL_RUN_ID": "probe-run",
})
crawler = process.create_crawler(ProbeSpider)
process.crawl(crawler, root=root)
process.start()
sys.exit(report_exit_code(crawler))
"""


def _run_crawl(root: str, report: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", CRAWL, root, str(report)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def http_root(tmp_path):
    docroot = tmp_path / "site"
    docroot.mkdir()
    (docroot / "index.html").write_text("<html><body>东莞</body></html>", encoding="utf-8")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(docroot)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_real_crawl_reports_partial_success_and_ends_with_the_summary(http_root, tmp_path):
    run = _run_crawl(http_root, tmp_path / "report.json")
    assert run.returncode == ExitCode.PARTIAL, run.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["run_id"] == "probe-run"
    assert report["towns"] == ["houjie"]
    assert report["requests"] == 3  # robots.txt, index.html, missing.html
    assert report["responses_by_status"] == {"200": 1, "404": 2}
    assert report["failures"] == [{"url": http_root + "missing.html", "reason": "HTTP 404"}]
    assert report["items_scraped"] == 1
    last = run.stderr.strip().splitlines()[-1]
    assert " WARNING crawler.report: dgarchive run probe-run finished (finished): " in last
    assert last.endswith("exit code 1")


def test_real_crawl_of_a_dead_site_is_site_unreachable(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = _run_crawl(f"http://127.0.0.1:{port}/", tmp_path / "report.json")
    assert run.returncode == ExitCode.SITE_UNREACHABLE, run.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["finish_reason"] == "site_unreachable"
    assert report["responses_by_status"] == {}
    failed = {f["url"]: f["reason"] for f in report["failures"]}
    assert f"http://127.0.0.1:{port}/index.html" in failed
    assert all("ConnectionRefusedError" in reason for reason in failed.values())
    last = run.stderr.strip().splitlines()[-1]
    assert "ERROR crawler.report: dgarchive run probe-run finished (site_unreachable)" in last
