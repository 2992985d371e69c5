"""A gzip body is inflated once: by the WARC capture's completeness check, then taken by the
compression middleware, which must give exactly what Scrapy's own would."""

from __future__ import annotations

import gzip
import zlib

import pytest
from scrapy import Request
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler

from crawler.middlewares import InflatedOnceCompressionMiddleware
from pipelines.capture import WarcCapture
from pipelines.capturemeta import INFLATED_META_KEY
from pipelines.warc.completeness import check_body

PAGE = ("<html><body>" + "中文 page text " * 3000 + "</body></html>").encode()
WHOLE = gzip.compress(PAGE, mtime=0)


def _check(body: bytes, coding: str = "gzip", **kw):
    headers = [(b"Content-Encoding", coding.encode()), (b"Content-Type", b"text/html")]
    return check_body(headers, body, keep_inflated=True, **kw)


def test_a_whole_gzip_member_is_kept_inflated():
    check = _check(WHOLE)
    assert check.problem is None
    assert check.inflated == PAGE
    # Kept only on request: the verdict alone is what it always was.
    assert check_body([(b"Content-Encoding", b"gzip")], WHOLE).inflated is None
    assert check == check_body([(b"Content-Encoding", b"gzip")], WHOLE)


@pytest.mark.parametrize(
    "body, coding",
    [
        (WHOLE + b"\x00\x00", "gzip"),  # trailing bytes: gunzip's own business
        (WHOLE + WHOLE, "gzip"),  # two members
        (zlib.compress(PAGE), "gzip"),  # a zlib stream under a gzip label
        (zlib.compress(PAGE), "deflate"),  # Scrapy's deflate decoder has its own terms
    ],
)
def test_anything_but_one_whole_gzip_member_is_left_to_scrapy(body, coding):
    check = _check(body, coding)
    assert check.inflated is None


def test_a_cut_or_oversized_gzip_body_keeps_nothing():
    assert _check(WHOLE[: len(WHOLE) // 2]).inflated is None
    over = _check(WHOLE, max_size=len(PAGE) - 1)
    assert over.problem and "size limit" in over.problem and over.inflated is None


def _middlewares():
    crawler = get_crawler(settings_dict={"DOWNLOAD_MAXSIZE": 32 * 1024 * 1024})
    return (
        InflatedOnceCompressionMiddleware.from_crawler(crawler),
        HttpCompressionMiddleware.from_crawler(crawler),
    )


def _response(body: bytes, encoding: bytes = b"gzip") -> tuple[Request, Response]:
    request = Request("http://h.test/a")
    response = Response(
        "http://h.test/a",
        body=body,
        headers={"Content-Encoding": encoding, "Content-Type": "text/html; charset=utf-8"},
        request=request,
    )
    return request, response


def _same(a: Response, b: Response) -> None:
    assert type(a) is type(b) is HtmlResponse
    assert a.body == b.body
    assert a.headers == b.headers
    assert a.text == b.text


def test_the_middleware_takes_the_kept_body_and_gives_what_scrapy_gives():
    ours, scrapys = _middlewares()
    request, response = _response(WHOLE)
    sentinel = b"<html>taken from the capture</html>"
    request.meta[INFLATED_META_KEY] = (response.body, sentinel)
    got = ours.process_response(request, response)
    assert got.body == sentinel  # taken, not inflated again
    assert INFLATED_META_KEY not in request.meta  # and not carried on to a redirect or retry

    request, response = _response(WHOLE)
    request.meta[INFLATED_META_KEY] = (response.body, _check(response.body).inflated)
    _same(ours.process_response(request, response), scrapys.process_response(*_response(WHOLE)))


def test_the_middleware_inflates_itself_when_the_kept_body_is_another():
    ours, scrapys = _middlewares()
    request, response = _response(WHOLE)
    request.meta[INFLATED_META_KEY] = (WHOLE[:1] + WHOLE[1:], b"stale")  # equal bytes, other object
    _same(ours.process_response(request, response), scrapys.process_response(*_response(WHOLE)))


def test_the_middleware_inflates_itself_for_other_encodings():
    ours, scrapys = _middlewares()
    request, response = _response(WHOLE, b"identity, gzip")
    request.meta[INFLATED_META_KEY] = (response.body, b"not this")
    got = ours.process_response(request, response)
    want = scrapys.process_response(*_response(WHOLE, b"identity, gzip"))
    assert got.body == want.body == PAGE


def test_the_capture_keeps_inflated_bodies_only_for_a_middleware_that_takes_them(tmp_path):
    crawler = get_crawler(
        settings_dict={"WARC_DIR": str(tmp_path), "DOWNLOAD_MAXSIZE": 32 * 1024 * 1024}
    )
    capture = WarcCapture.from_crawler(crawler)

    def downloaded() -> Request:
        request, response = _response(WHOLE)
        capture.response_downloaded(response, request)
        return request

    assert INFLATED_META_KEY not in downloaded().meta
    crawler.extensions = type("Extensions", (), {"middlewares": [capture]})()
    InflatedOnceCompressionMiddleware.from_crawler(crawler)
    assert capture.keep_inflated
    request = downloaded()
    assert request.meta[INFLATED_META_KEY][1] == PAGE
    capture.close()
