"""Log output (text, JSON lines, quiet) and the progress display (terminal line vs cron)."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from crawler import logs
from crawler.logs import Progress, configure_logging


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class Pipe(io.StringIO):  # what cron or a container gives stderr
    def isatty(self) -> bool:
        return False


class FakeSpider:
    name = "town_news"


@pytest.fixture(autouse=True)
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    chatty = {name: logging.getLogger(name).level for name in logs.CHATTY_LOGGERS}
    yield
    for name, old in chatty.items():
        logging.getLogger(name).setLevel(old)
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    logs._installed = None


def _stats(**values) -> MemoryStatsCollector:
    stats = MemoryStatsCollector(get_crawler())
    for key, value in values.items():
        stats.set_value(key.replace("__", "/"), value)
    return stats


def test_json_lines_parse_and_carry_the_fields():
    out = io.StringIO()
    configure_logging("json", "INFO", stream=out)
    log = logging.getLogger("dgarchive")
    log.info("saved %d articles", 3, extra={"run_id": "r-1", "spider": FakeSpider()})
    log.debug("not shown at INFO")
    try:
        raise ValueError("bad page")
    except ValueError:
        logging.getLogger("crawler.report").exception("could not parse 东莞")

    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert first["level"] == "INFO"
    assert first["logger"] == "dgarchive"
    assert first["msg"] == "saved 3 articles"
    assert first["run_id"] == "r-1"
    assert first["spider"] == "town_news"
    assert "args" not in first and "levelno" not in first
    assert second["level"] == "ERROR"
    assert second["msg"] == "could not parse 东莞"  # UTF-8, not \u escapes
    assert "东莞" in lines[1]
    assert "ValueError: bad page" in second["exc"]


def test_json_extras_that_json_cannot_hold_become_strings():
    out = io.StringIO()
    configure_logging("json", "INFO", stream=out)
    logging.getLogger("x").warning("w", extra={"path": __import__("pathlib").Path("/a/b")})
    assert json.loads(out.getvalue())["path"] == "/a/b"


def test_text_lines_are_human_readable():
    out = io.StringIO()
    configure_logging("text", "INFO", stream=out)
    logging.getLogger("dgarchive").info("crawl started")
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO dgarchive: crawl started\n", out.getvalue()
    )


def test_level_and_quiet():
    out = io.StringIO()
    configure_logging("text", "DEBUG", stream=out)
    logging.getLogger("scrapy.core.engine").debug("Crawled (200)")
    assert "Crawled (200)" in out.getvalue()

    out = io.StringIO()
    configure_logging("text", "INFO", stream=out)
    logging.getLogger("alembic.runtime.plugins").info("setup plugin alembic.autogenerate")
    logging.getLogger("alembic.runtime.migration").info("Running upgrade  -> 0001")
    assert "setup plugin" not in out.getvalue()  # library chatter: DEBUG only
    assert "Running upgrade" in out.getvalue()

    out = io.StringIO()
    configure_logging("text", "INFO", quiet=True, stream=out)
    log = logging.getLogger("crawler.report")
    log.info("chatter")
    log.warning("a page failed")
    log.info("dgarchive run r finished (finished): …", extra={"dgarchive_summary": True})
    text = out.getvalue()
    assert "chatter" not in text
    assert "a page failed" in text
    assert "dgarchive run r finished" in text  # the summary survives --quiet


def test_configuring_twice_leaves_one_handler():
    first, second = io.StringIO(), io.StringIO()
    configure_logging("text", "INFO", stream=first)
    configure_logging("json", "INFO", stream=second)
    logging.getLogger("dgarchive").info("once")
    assert first.getvalue() == ""
    assert len(second.getvalue().splitlines()) == 1


def test_bad_format_or_level_is_refused():
    with pytest.raises(ValueError, match="log format"):
        configure_logging("xml", "INFO", stream=io.StringIO())
    with pytest.raises(ValueError, match="log level"):
        configure_logging("text", "LOUD", stream=io.StringIO())


def test_progress_is_silent_on_a_pipe_and_logs_a_plain_line_instead(caplog):
    pipe = Pipe()
    progress = Progress(_stats(response_received_count=5), stream=pipe, interval=2, log_interval=60)
    assert not progress.tty
    assert progress.interval == 60
    caplog.set_level(logging.INFO, logger="crawler.logs")
    progress.open()
    progress.tick()
    progress.close()
    assert pipe.getvalue() == ""
    [record] = [r for r in caplog.records if r.name == "crawler.logs"]
    assert record.levelno == logging.INFO
    assert record.getMessage().startswith("progress: 5 pages, 0 queued, 0 new articles")


def test_progress_draws_one_self_overwriting_line_on_a_terminal(caplog):
    tty = FakeTTY()
    clock = iter([0.0, 0.0, 60.0, 120.0]).__next__
    stats = _stats(
        response_received_count=0,
        scheduler__enqueued=150,
        scheduler__dequeued=130,
        db__articles_new=7,
    )
    stats.set_value("crawl/failures", [{"url": "u", "reason": "HTTP 404"}])
    progress = Progress(stats, stream=tty, interval=2, log_interval=60, clock=clock)
    assert progress.tty and progress.interval == 2
    caplog.set_level(logging.INFO, logger="crawler.logs")
    progress.open()
    stats.set_value("response_received_count", 120)
    progress.tick()
    stats.set_value("response_received_count", 1240)
    progress.tick()
    out = tty.getvalue()
    assert "\n" not in out
    frames = out.split("\r\x1b[K")[1:]
    assert frames == [
        "120 pages, 20 queued, 7 new articles, 1 failures, 120 pages/min, 0:01:00",
        # The rate is over the last minute: (1240 - 120) pages in 60 s.
        "1,240 pages, 20 queued, 7 new articles, 1 failures, 1,120 pages/min, 0:02:00",
    ]
    assert not [r for r in caplog.records if r.name == "crawler.logs"]
    progress.close()
    assert tty.getvalue().endswith("\r\x1b[K")  # erased: closing lines start clean


def test_log_lines_scroll_above_the_progress_line():
    tty = FakeTTY()
    stats = _stats(response_received_count=3)
    configure_logging("text", "INFO", stream=tty)
    progress = Progress(stats, stream=tty, enabled=None)
    progress.open()
    progress.tick()
    logging.getLogger("dgarchive").warning("failed http://x/: HTTP 500")
    logging.getLogger("dgarchive").debug("below the threshold: no redraw needed")
    progress.close()
    out = tty.getvalue()
    status = "\r\x1b[K3 pages, 0 queued, 0 new articles, 0 failures, 0 pages/min, 0:00:00"
    before, log_line, after = re.split(
        r"(\d{4}-.* WARNING dgarchive: failed http://x/: HTTP 500\n)", out
    )
    assert before == status + "\r\x1b[K"  # drawn, then erased before the log line
    assert after == status + "\r\x1b[K"  # drawn again below it; erased at the close
    assert "below the threshold" not in out
    # Closed: no hooks left on the logging system.
    assert not any(isinstance(h, logs._RedrawAfter) for h in logging.getLogger().handlers)
    assert not any(
        isinstance(f, logs._EraseFirst) for h in logging.getLogger().handlers for f in h.filters
    )


def test_long_lines_are_cut_to_the_terminal_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    tty = FakeTTY()
    line = logs.StatusLine(tty)
    line.show("x" * 100)
    drawn = tty.getvalue().removeprefix("\r\x1b[K")
    assert len(drawn) < 40 and drawn.endswith("…")


@pytest.mark.parametrize(
    ("settings", "tty"),
    [({"PROGRESS_ENABLED": True}, True), ({"PROGRESS_ENABLED": False}, False), ({}, False)],
)
def test_progress_settings(settings, tty):
    # Under pytest stderr is captured, not a terminal: the default is the log line.
    crawler = get_crawler(settings_dict={"PROGRESS_INTERVAL": 1.5, **settings})
    progress = Progress.from_crawler(crawler)
    assert progress.tty is tty
    assert progress.interval == (1.5 if tty else 60.0)


def test_progress_off_everywhere_is_not_configured():
    crawler = get_crawler(settings_dict={"PROGRESS_ENABLED": False, "PROGRESS_LOG_INTERVAL": 0})
    with pytest.raises(NotConfigured):
        Progress.from_crawler(crawler)


def test_network_errors_lose_their_traceback_below_debug():
    import io
    import logging

    from scrapy.exceptions import DownloadConnectionRefusedError

    from crawler.logs import configure_logging

    out = io.StringIO()
    configure_logging("text", "INFO", stream=out)
    try:
        raise DownloadConnectionRefusedError("Connection was refused by other side")
    except DownloadConnectionRefusedError:
        logging.getLogger("scrapy.downloadermiddlewares.robotstxt").error(
            "Error downloading <GET http://127.0.0.1:1/robots.txt>", exc_info=True
        )
    try:
        raise KeyError("a bug")
    except KeyError:
        logging.getLogger("x").error("boom", exc_info=True)
    text = out.getvalue()
    first, rest = text.split("\n", 1)
    assert "robots.txt" in first and "Connection was refused" in first
    assert "Traceback" in rest  # a real bug keeps its traceback
    assert text.count("Traceback") == 1
