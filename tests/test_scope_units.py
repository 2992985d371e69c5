"""The pure parts of the scope and politeness rules: URL normalization, Retry-After, Refresh."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.config import ConfigError, SiteMap, normalize_url, validate_site_root
from crawler.middlewares import parse_refresh_header, retry_after_seconds


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h:8000/houjie/cjjs/tshj/../../xwzx/a.html", "http://h:8000/houjie/xwzx/a.html"),
        ("http://h/a/%2e%2E/b/./c", "http://h/b/c"),
        ("HTTP://Example.ORG:80/x?q=%7e#frag", "http://example.org/x?q=~"),
        ("http://h/../../x", "http://h/x"),
        ("http://h/a b/中", "http://h/a%20b/%E4%B8%AD"),
        ("http://h", "http://h/"),
    ],
)
def test_normalize_url(url: str, expected: str):
    assert normalize_url(url) == expected
    assert normalize_url(expected) == expected  # idempotent


def test_scope_is_host_and_port_of_the_root():
    m = SiteMap("http://127.0.0.1:8000/")
    assert m.in_scope("http://127.0.0.1:8000/houjie/x.html")
    assert m.in_scope("https://127.0.0.1:8000/houjie/x.html")  # scheme family
    assert not m.in_scope("http://127.0.0.1:8001/houjie/x.html")
    assert not m.in_scope("http://localhost:8000/houjie/x.html")
    assert not m.in_scope("ftp://127.0.0.1:8000/x")
    live = SiteMap()
    assert live.in_scope("http://www.dg.gov.cn/x") and not live.in_scope("https://dg.gov.cn:8443/")
    assert m.to_fetch("https://www.dg.gov.cn/houjie/cjjs/tshj/../x.html") == (
        "http://127.0.0.1:8000/houjie/cjjs/x.html"
    )


def test_an_empty_site_root_is_refused():
    with pytest.raises(ConfigError):
        validate_site_root("")


def test_retry_after_forms():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds(b"120") == 120
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30
    assert retry_after_seconds("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0  # in the past
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("0; url=http://h:1/x", (0.0, "http://h:1/x")),
        ("5;URL='/a b'", (5.0, "/a b")),
        ("3", (3.0, None)),
        ("garbage;;", (0.0, None)),
    ],
)
def test_refresh_header(header: str, expected):
    assert parse_refresh_header(header) == expected
