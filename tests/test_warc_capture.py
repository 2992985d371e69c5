"""WarcCapture and the reason-keeping download handler: components, then real crawls.

Component tests build the extension with get_crawler + build_from_crawler and call its
signal handlers directly. The crawl tests run Scrapy in a subprocess (Twisted's reactor
cannot restart in one process) against a stdlib HTTP server on 127.0.0.1 that sends what
Scrapy's Response would lose: a non-standard reason phrase, interleaved repeated headers,
odd header case, chunked gzip.
"""

from __future__ import annotations

import gzip
import http.server
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from ipaddress import ip_address
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler
from warcio.archiveiterator import ArchiveIterator

from pipelines.capture import WarcCapture
from pipelines.warc import writer
from pipelines.warc.builders import PROFILE_IDENTICAL_PAYLOAD_DIGEST, PROFILE_SERVER_NOT_MODIFIED

REPO = Path(__file__).resolve().parent.parent
WARCIO = str(Path(sys.executable).parent / "warcio")
NOW = datetime(2026, 11, 22, 0, 15, 0, tzinfo=UTC)
URL = "http://127.0.0.1:8123/houjie/cjjs/tshj/content/post_1.html?x=1"


def records_of(directory) -> list[dict]:
    out = []
    for name in sorted(os.listdir(directory)):
        assert not name.endswith(".open"), f"left open: {name}"
        with open(os.path.join(directory, name), "rb") as fh:
            it = ArchiveIterator(fh, check_digests=True)
            for rec in it:
                raw = rec.raw_stream.read()
                assert rec.digest_checker.passed is not False, rec.digest_checker.problems
                out.append(
                    {
                        "file": name,
                        "offset": it.get_record_offset(),
                        "type": rec.rec_type,
                        "h": rec.rec_headers,
                        "http": rec.http_headers,
                        "raw": raw,
                    }
                )
    return out


# -- components ------------------------------------------------------------------------


@pytest.fixture
def capture(tmp_path):
    crawler = get_crawler(
        settings_dict={
            "WARC_DIR": str(tmp_path / "archive"),
            "WARC_PREFIX": "TEST",
            "WARC_CRAWL_ID": "crawl-42",
            "ROBOTSTXT_OBEY": True,
            "USER_AGENT": "dgarchive-test (+contact)",
            "CRAWL_SITE_ROOT": "http://127.0.0.1:8123/",
        }
    )
    ext = build_from_crawler(WarcCapture, crawler)
    ext.clock = lambda: NOW
    closed = []
    ext._close_spider = closed.append
    ext.closed_reasons = closed
    ext.spider_opened()
    return ext


def download(
    ext: WarcCapture,
    url: str = URL,
    status: int = 200,
    body: bytes = b"<html>x</html>",
    headers: dict | None = None,
    meta: dict | None = None,
    flags: list[str] | None = None,
) -> Request:
    request = Request(url, meta=dict(meta or {}), headers={"User-Agent": "dgarchive-test"})
    response = HtmlResponse(
        url,
        status=status,
        body=body,
        headers=headers or {"Content-Type": "text/html; charset=utf-8"},
        request=request,
        ip_address=ip_address("127.0.0.1"),
        flags=flags,
    )
    ext.response_downloaded(response=response, request=request, spider=None)
    return request


def test_disabled_capture_is_not_configured():
    crawler = get_crawler(settings_dict={"WARC_ENABLED": False})
    with pytest.raises(NotConfigured, match="WARC_ENABLED"):
        build_from_crawler(WarcCapture, crawler)


def test_settings_reach_the_writer_and_warcinfo(capture, tmp_path):
    download(capture)
    capture.spider_closed()
    records = records_of(tmp_path / "archive")
    assert records[0]["type"] == "warcinfo"
    assert records[0]["file"].startswith("TEST-")
    info = records[0]["raw"].decode()
    assert "isPartOf: crawl-42\r\n" in info
    assert "robots: obey\r\n" in info
    assert "http-header-user-agent: dgarchive-test (+contact)\r\n" in info
    assert "dgarchive-site-root: http://127.0.0.1:8123/\r\n" in info


def test_defaults_without_settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ext = build_from_crawler(WarcCapture, get_crawler())
    assert ext.directory == "archive"
    assert ext.writer.prefix == "DGARCHIVE"
    assert ext.writer.max_size == 1_000_000_000
    assert len(ext.crawl_id) == 36  # a fresh uuid


@pytest.mark.parametrize("status", [200, 301, 404, 500])
def test_every_response_is_archived_and_located_in_meta(capture, tmp_path, status):
    request = download(capture, status=status, body=b"body %d" % status)
    capture.spider_closed()
    loc = request.meta["warc"]
    records = records_of(tmp_path / "archive")
    resp = next(r for r in records if r["type"] == "response")
    req = next(r for r in records if r["type"] == "request")
    assert loc["warc_filename"] == resp["file"]
    assert loc["warc_offset"] == resp["offset"]
    assert loc["warc_record_id"] == resp["h"].get_header("WARC-Record-ID")
    assert loc["status"] == status
    assert loc["target_uri"] == URL
    assert loc["fetched_at"] == "2026-11-22T00:15:00Z"
    assert resp["raw"] == b"body %d" % status
    assert resp["h"].get_header("WARC-IP-Address") == "127.0.0.1"
    assert req["h"].get_header("WARC-Concurrent-To") == loc["warc_record_id"]
    assert req["http"].get_header("User-Agent") == "dgarchive-test"
    assert req["http"].get_header("Host") == "127.0.0.1:8123"
    assert "warc_revisit" not in request.meta


def test_stats_count_records_bytes_files(capture, tmp_path):
    for i in range(3):
        download(capture, url=f"{URL}&n={i}")
    capture.spider_closed()
    stats = capture.stats.get_stats()
    files = os.listdir(tmp_path / "archive")
    assert stats["warc/records_written"] == 7  # warcinfo + 3 exchanges
    assert stats["warc/bytes_written"] == sum(
        os.path.getsize(tmp_path / "archive" / f) for f in files
    )
    assert stats["warc/files"] == files
    assert stats["warc/revisits"] == 0


def test_wire_details_from_the_download_handler_win_over_scrapy_headers(capture, tmp_path):
    wire = {
        "url": URL,
        "status": 200,
        "protocol": "HTTP/1.1",
        "reason": b"Fine Thanks",
        "headers": [
            (b"set-cookie", b"a=1"),
            (b"X-Odd", b"1"),
            (b"set-cookie", b"b=2"),
            (b"Connection", b"keep-alive"),
        ],
        "request_head": b"GET /houjie/cjjs/tshj/content/post_1.html?x=1 HTTP/1.1\r\n"
        b"User-Agent: dgarchive-test\r\nHost: 127.0.0.1:8123\r\n\r\n",
    }
    request = download(capture, headers={"Set-Cookie": ["a=1", "b=2"]}, meta={"http_wire": wire})
    assert "http_wire" not in request.meta  # used up, not carried to a redirect
    capture.spider_closed()
    records = records_of(tmp_path / "archive")
    resp = next(r for r in records if r["type"] == "response")
    req = next(r for r in records if r["type"] == "request")
    assert resp["http"].statusline == "200 Fine Thanks"
    assert resp["http"].headers == [
        ("set-cookie", "a=1"),
        ("X-Odd", "1"),
        ("set-cookie", "b=2"),
        ("Connection", "keep-alive"),
    ]
    assert req["raw"] == b""
    assert req["http"].headers == [("User-Agent", "dgarchive-test"), ("Host", "127.0.0.1:8123")]


def test_wire_details_of_another_download_are_ignored(capture, tmp_path):
    # A redirect copies meta to the next request: the 301's wire details must not be reused.
    stale = {
        "url": "http://127.0.0.1:8123/old",
        "status": 301,
        "reason": b"Gone Away",
        "headers": [(b"Location", b"/new")],
        "request_head": b"GET /old HTTP/1.1\r\n\r\n",
    }
    download(capture, meta={"http_wire": stale, "http_reason": "Fine Thanks"})
    download(capture, url=URL + "&2", status=404, meta={})
    capture.spider_closed()
    responses = [r for r in records_of(tmp_path / "archive") if r["type"] == "response"]
    assert responses[0]["http"].statusline == "200 Fine Thanks"  # from meta["http_reason"]
    assert responses[0]["http"].get_header("Location") is None
    assert responses[1]["http"].statusline == "404 Not Found"  # the standard phrase


def test_a_cut_download_is_marked_truncated(capture, tmp_path):
    download(capture, flags=["dataloss"])
    capture.spider_closed()
    resp = next(r for r in records_of(tmp_path / "archive") if r["type"] == "response")
    assert resp["h"].get_header("WARC-Truncated") == "disconnect"


def test_warc_date_is_when_the_download_began(capture, tmp_path):
    request = download(capture, meta={"download_latency": 2.5})
    assert request.meta["warc"]["fetched_at"] == "2026-11-22T00:14:57Z"


# -- revisits --------------------------------------------------------------------------

STORED_BODY = b"<html>stored article</html>"


def stored_capture(ext: WarcCapture) -> dict:
    loc = download(ext, body=STORED_BODY).meta["warc"]
    return {
        "refers_to_uri": loc["target_uri"],
        "refers_to_date": loc["fetched_at"],
        "refers_to_record_id": loc["warc_record_id"],
        "payload_digest": loc["payload_digest"],
    }


def test_a_304_becomes_a_server_not_modified_revisit(capture, tmp_path):
    stored = stored_capture(capture)
    request = download(
        capture, status=304, body=b"", headers={"ETag": '"v1"'}, meta={"dgarchive_revisit": stored}
    )
    capture.spider_closed()
    assert request.meta["warc_revisit"] == "server-not-modified"
    loc = request.meta["warc"]
    assert loc["status"] == 304
    assert loc["payload_digest"] == stored["payload_digest"]
    records = records_of(tmp_path / "archive")
    rv = next(r for r in records if r["type"] == "revisit")
    assert rv["h"].get_header("WARC-Record-ID") == loc["warc_record_id"]
    assert rv["h"].get_header("WARC-Profile") == PROFILE_SERVER_NOT_MODIFIED
    assert rv["h"].get_header("WARC-Refers-To") == stored["refers_to_record_id"]
    assert rv["h"].get_header("WARC-Refers-To-Target-URI") == stored["refers_to_uri"]
    assert rv["h"].get_header("WARC-Refers-To-Date") == stored["refers_to_date"]
    meta = next(r for r in records if r["type"] == "metadata")
    assert b"http-status-line: HTTP/1.1 304 Not Modified\r\n" in meta["raw"]
    # Scrapy's own headers (no wire details here) spell it Etag.
    assert b'http-header: Etag: "v1"\r\n' in meta["raw"]
    assert capture.stats.get_value("warc/revisits") == 1


def test_an_unchanged_200_becomes_an_identical_payload_digest_revisit(capture, tmp_path):
    stored = stored_capture(capture)
    request = download(capture, body=STORED_BODY, meta={"dgarchive_revisit": stored})
    capture.spider_closed()
    assert request.meta["warc_revisit"] == "identical-payload-digest"
    rv = next(r for r in records_of(tmp_path / "archive") if r["type"] == "revisit")
    assert rv["h"].get_header("WARC-Profile") == PROFILE_IDENTICAL_PAYLOAD_DIGEST
    assert rv["h"].get_header("WARC-Payload-Digest") == stored["payload_digest"]
    assert rv["http"].statusline == "200 OK"
    assert rv["raw"] == b""  # the payload stays in the original record


def test_a_changed_200_is_a_new_response(capture, tmp_path):
    stored = stored_capture(capture)
    meta = {"dgarchive_revisit": stored, "warc_revisit": "left over from a copied request"}
    request = download(capture, body=b"<html>changed</html>", meta=meta)
    capture.spider_closed()
    assert "warc_revisit" not in request.meta
    assert request.meta["warc"]["payload_digest"] != stored["payload_digest"]
    types = [r["type"] for r in records_of(tmp_path / "archive")]
    assert types.count("response") == 2 and "revisit" not in types


@pytest.mark.parametrize(
    "revisit",
    [None, {"refers_to_uri": URL}, {"refers_to_date": "2026-01-01T00:00:00Z"}],
    ids=["no-stored-capture", "no-date", "no-uri"],
)
def test_a_304_that_names_no_capture_is_archived_as_received(capture, tmp_path, revisit):
    request = download(capture, status=304, body=b"", meta={"dgarchive_revisit": revisit})
    capture.spider_closed()
    assert "warc_revisit" not in request.meta
    resp = next(r for r in records_of(tmp_path / "archive") if r["type"] == "response")
    assert resp["http"].statusline == "304 Not Modified"


# -- opening, closing, failing ---------------------------------------------------------


def test_spider_closed_leaves_no_open_file(capture, tmp_path):
    download(capture)
    assert [f for f in os.listdir(tmp_path / "archive") if f.endswith(".open")]
    capture.spider_closed(reason="shutdown")
    capture.engine_stopped()  # after spider_closed, harmless
    names = os.listdir(tmp_path / "archive")
    assert names and not [f for f in names if f.endswith(".open")]


def test_spider_opened_repairs_what_a_killed_crawl_left(tmp_path):
    archive = tmp_path / "archive"
    first = WarcCapture(str(archive), clock=lambda: NOW)
    download(first)
    download(first, url=URL + "&2")
    path = first.writer.current_path
    os.close(first.writer._fd)  # killed: no close, no rename
    data = Path(path + ".open").read_bytes()
    Path(path + ".open").write_bytes(data[:-40])  # and the last record cut short

    crawler = get_crawler(settings_dict={"WARC_DIR": str(archive)})
    second = build_from_crawler(WarcCapture, crawler)
    second.spider_opened()
    assert os.listdir(archive) == [os.path.basename(path)]
    types = [r["type"] for r in records_of(archive)]
    assert types == ["warcinfo", "response", "request", "response"]
    assert crawler.stats.get_value("warc/repaired_files") == [os.path.basename(path)]


def test_a_write_error_closes_the_spider_loudly(capture, tmp_path, monkeypatch, caplog):
    download(capture)

    def disk_full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "_write_all", disk_full)
    with caplog.at_level(logging.CRITICAL, logger="pipelines.capture"):
        request = download(capture, url=URL + "&2")
    assert "warc" not in request.meta
    assert capture.closed_reasons == ["warc_write_error"]
    assert capture.stats.get_value("warc/write_errors") == 1
    assert any(
        "No space left on device" in r.getMessage() and r.levelno == logging.CRITICAL
        for r in caplog.records
    )
    monkeypatch.undo()
    later = download(capture, url=URL + "&3")  # the spider is closing: nothing more
    assert "warc" not in later.meta
    capture.spider_closed()
    types = [r["type"] for r in records_of(tmp_path / "archive")]
    assert types == ["warcinfo", "response", "request"]


# -- real crawls: the download handler and the capture together -------------------------

GZ_PAGE = gzip.compress("<html>压缩的页面</html>".encode(), mtime=0)
FINE_BODY = b"<html>fine</html>"


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, reason, headers, body=b"", chunked=False):
        self.send_response_only(status, reason)
        for name, value in headers:
            self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if chunked:
            half = len(body) // 2
            for part in (body[:half], body[half:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)

    def do_GET(self):
        path = self.path
        if path == "/robots.txt":
            self._send(200, "OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n")
        elif path.startswith("/fine"):
            self._send(
                200,
                "Fine Thanks",
                [
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Set-Cookie", "a=1; Path=/"),
                    ("x-lower-case", "kept"),
                    ("Set-Cookie", "b=2; Path=/"),
                    ("ETag", '"f1"'),
                ],
                FINE_BODY,
            )
        elif path == "/gz":
            self._send(
                200,
                "OK",
                [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")],
                GZ_PAGE,
                chunked=True,
            )
        elif path == "/moved":
            self._send(301, "Moved Permanently", [("Location", "/fine?via=moved")])
        elif path == "/broken":
            self._send(500, "Internal Server Error", [("Content-Type", "text/plain")], b"oops")
        elif path.startswith("/slow"):
            time.sleep(0.3)
            self._send(200, "OK", [("Content-Type", "text/html")], b"<html>slow</html>" * 50)
        else:
            self._send(404, "Not Found Here", [("Content-Type", "text/plain")], b"no")


@pytest.fixture(scope="module")
def mirror():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MirrorHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


CRAWL_SCRIPT = textwrap.dedent(
    """
    import json, signal, sys
    import scrapy
    from scrapy.crawler import CrawlerProcess

    base, paths, archive, out = sys.argv[1], sys.argv[2].split(","), sys.argv[3], sys.argv[4]
    extra = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
    if extra.pop("FSIZE_LIMIT", None):
        import resource
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (6000, 6000))

    class Probe(scrapy.Spider):
        name = "probe"
        seen = []

        async def start(self):
            for p in paths:
                yield scrapy.Request(base + p, callback=self.parse, dont_filter=True)

        def parse(self, response):
            self.seen.append({
                "url": response.url,
                "status": response.status,
                "reason": response.meta.get("http_reason"),
                "warc": response.meta.get("warc"),
                "body": response.text,
            })

    settings = {
        "DOWNLOAD_HANDLERS": {
            "http": "crawler.downloader.HeadRecordingDownloadHandler",
            "https": "crawler.downloader.HeadRecordingDownloadHandler",
        },
        "EXTENSIONS": {"pipelines.capture.WarcCapture": 100},
        "WARC_DIR": archive,
        "WARC_CRAWL_ID": "crawl-e2e",
        "ROBOTSTXT_OBEY": True,
        "HTTPERROR_ALLOW_ALL": True,
        "COOKIES_ENABLED": False,  # the cookie jar would look up the public suffix list
        "RETRY_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
        **extra,
    }
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(Probe)
    process.crawl(crawler)
    process.start()
    stats = {k: v for k, v in crawler.stats.get_stats().items() if isinstance(v, (int, str, list))}
    print("RESULT " + json.dumps({"seen": Probe.seen, "stats": stats}), flush=True)
    """
)


def crawl(tmp_path, base, paths, extra=None, popen=False):
    script = tmp_path / "crawl.py"
    script.write_text(CRAWL_SCRIPT)
    archive = tmp_path / "archive"
    args = [sys.executable, str(script), base, ",".join(paths), str(archive), "-"]
    if extra:
        args.append(json.dumps(extra))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if popen:
        return subprocess.Popen(
            args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ), archive
    proc = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return parse_result(proc.stdout, proc.stderr), archive


def parse_result(stdout: str, stderr: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.fixture(scope="module")
def mirror_crawl(mirror, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crawl")
    result, archive = crawl(tmp, mirror, ["/fine?q=1&r=2", "/gz", "/moved", "/broken", "/nope"])
    return {"result": result, "archive": archive, "records": records_of(archive), "base": mirror}


def response_for(crawl_result, url):
    return next(
        r
        for r in crawl_result["records"]
        if r["type"] == "response" and r["h"].get_header("WARC-Target-URI") == url
    )


def test_crawl_archives_every_exchange_robots_redirects_and_errors(mirror_crawl):
    base = mirror_crawl["base"]
    got = {
        (r["h"].get_header("WARC-Target-URI"), int(r["http"].get_statuscode()))
        for r in mirror_crawl["records"]
        if r["type"] == "response"
    }
    assert got == {
        (base + "/robots.txt", 200),
        (base + "/fine?q=1&r=2", 200),
        (base + "/gz", 200),
        (base + "/moved", 301),
        (base + "/fine?via=moved", 200),
        (base + "/broken", 500),
        (base + "/nope", 404),
    }
    requests = [r for r in mirror_crawl["records"] if r["type"] == "request"]
    assert len(requests) == len(got)
    assert mirror_crawl["result"]["stats"]["warc/records_written"] == 1 + 2 * len(got)


def test_crawl_output_passes_warcio_check(mirror_crawl):
    for name in os.listdir(mirror_crawl["archive"]):
        proc = subprocess.run(
            [WARCIO, "check", os.path.join(mirror_crawl["archive"], name)],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout


def test_the_real_reason_phrase_is_archived_and_in_meta(mirror_crawl):
    base = mirror_crawl["base"]
    assert response_for(mirror_crawl, base + "/fine?q=1&r=2")["http"].statusline == (
        "200 Fine Thanks"
    )
    assert response_for(mirror_crawl, base + "/nope")["http"].statusline == "404 Not Found Here"
    seen = {s["url"]: s for s in mirror_crawl["result"]["seen"]}
    assert seen[base + "/fine?q=1&r=2"]["reason"] == "Fine Thanks"
    assert seen[base + "/nope"]["reason"] == "Not Found Here"


def test_headers_keep_wire_order_case_and_repeats(mirror_crawl):
    http = response_for(mirror_crawl, mirror_crawl["base"] + "/fine?q=1&r=2")["http"]
    names = [n for n, _ in http.headers]
    # What the server sent, in its order, with its case (Twisted would give X-Lower-Case,
    # and Scrapy would group the two Set-Cookie together).
    assert names == [
        "Content-Type",
        "Set-Cookie",
        "x-lower-case",
        "Set-Cookie",
        "ETag",
        "Content-Length",
    ]
    assert [v for n, v in http.headers if n == "Set-Cookie"] == ["a=1; Path=/", "b=2; Path=/"]


def test_chunked_gzip_is_stored_gzip_and_unchunked(mirror_crawl):
    rec = response_for(mirror_crawl, mirror_crawl["base"] + "/gz")
    assert rec["raw"] == GZ_PAGE
    assert rec["http"].get_header("Content-Encoding") == "gzip"
    assert rec["http"].get_header("Transfer-Encoding") is None
    seen = {s["url"]: s for s in mirror_crawl["result"]["seen"]}
    assert seen[mirror_crawl["base"] + "/gz"]["body"] == "<html>压缩的页面</html>"


def test_request_records_hold_the_request_as_sent(mirror_crawl):
    base = mirror_crawl["base"]
    resp = response_for(mirror_crawl, base + "/fine?q=1&r=2")
    req = next(
        r
        for r in mirror_crawl["records"]
        if r["type"] == "request"
        and r["h"].get_header("WARC-Concurrent-To") == resp["h"].get_header("WARC-Record-ID")
    )
    assert req["http"].protocol == "GET"
    assert req["http"].statusline == "/fine?q=1&r=2 HTTP/1.1"
    assert req["http"].get_header("Host") == base.removeprefix("http://")
    assert "gzip" in req["http"].get_header("Accept-Encoding")
    assert req["http"].get_header("User-Agent")
    assert req["h"].get_header("WARC-IP-Address") == "127.0.0.1"


def test_meta_location_points_at_the_archived_response(mirror_crawl):
    for seen in mirror_crawl["result"]["seen"]:
        loc = seen["warc"]
        path = os.path.join(mirror_crawl["archive"], loc["warc_filename"])
        with open(path, "rb") as fh:
            fh.seek(loc["warc_offset"])
            rec = next(iter(ArchiveIterator(fh)))
            assert rec.rec_headers.get_header("WARC-Record-ID") == loc["warc_record_id"]
            assert rec.rec_headers.get_header("WARC-Target-URI") == seen["url"] == loc["target_uri"]
            assert loc["status"] == seen["status"]


def test_interrupted_crawl_leaves_no_open_file_and_no_cut_record(mirror, tmp_path):
    paths = [f"/slow?n={i}" for i in range(60)]
    proc, archive = crawl(tmp_path, mirror, paths, {"CONCURRENT_REQUESTS": 2}, popen=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            names = os.listdir(archive) if archive.exists() else []
            if any(n.endswith(".open") for n in names) and _archived(archive) >= 3:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the crawl archived nothing")
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    result = parse_result(stdout, stderr)
    assert result["stats"]["finish_reason"] == "shutdown"
    records = records_of(archive)  # no .open, every record whole and verified
    responses = [r for r in records if r["type"] == "response"]
    assert 3 <= len(responses) < 61


def _archived(archive: Path) -> int:
    total = 0
    for name in os.listdir(archive):
        total += os.path.getsize(archive / name)
    return total // 1000


def test_a_write_failure_in_a_real_crawl_stops_it_with_a_readable_archive(mirror, tmp_path):
    # The crawl's files may not grow past 6000 bytes (RLIMIT_FSIZE), like a disk filling up.
    # Also shows that the extension closes the spider through the real engine.
    paths = [f"/fine?n={i}" for i in range(40)]
    result, archive = crawl(
        tmp_path, mirror, paths, {"FSIZE_LIMIT": True, "CONCURRENT_REQUESTS": 1}
    )
    stats = result["stats"]
    assert stats["finish_reason"] == "warc_write_error"
    assert stats["warc/write_errors"] >= 1
    records = records_of(archive)
    (name,) = os.listdir(archive)
    assert os.path.getsize(archive / name) <= 6000
    assert records[0]["type"] == "warcinfo"
    archived = [r for r in records if r["type"] == "response"]
    assert archived and len(archived) < 40
    # Every response the spider saw with a location is in the file.
    ids = {r["h"].get_header("WARC-Record-ID") for r in records}
    assert all(s["warc"]["warc_record_id"] in ids for s in result["seen"] if s["warc"])
