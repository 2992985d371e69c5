"""Page requisites (pipelines/pages/requisites.py) and the archive inventory
(pipelines/warc/inventory.py) that lets the incremental crawl skip what it holds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines.pages.requisites import (
    css_requisites,
    css_urls,
    favicon_url,
    page_requisites,
    srcset_urls,
)
from pipelines.warc.builders import WarcRecordBuilder
from pipelines.warc.inventory import CACHE_NAME, held, held_uris
from pipelines.warc.writer import RollingWarcWriter

BASE = "https://www.dg.gov.cn/houjie/cjjs/tshj/content/post_1.html"


def test_html_requisites_every_kind() -> None:
    html = """<!DOCTYPE html><html><head>
    <link rel="Shortcut Icon" href="/favicon.ico">
    <link rel="stylesheet" href="../../css/a.css">
    <link href="b.css" rel="alternate stylesheet">
    <link rel="apple-touch-icon" href="/touch.png">
    <link rel="canonical" href="/not-a-requisite.html">
    <link rel="alternate" href="/m.html">
    <script src="/js/x.js"></script><script>var inline = 1;</script>
    <style>@import "c.css"; .x{background:url(/img/bg.png)}</style>
    </head><body>
    <img src="/i/a.png" srcset="/i/a.png 1x, /i/a@2x.png 2x">
    <picture><source srcset="/i/w.webp 100w,/i/w2.webp 200w"><img src="/i/p.jpg"></picture>
    <img src="data:image/png;base64,AAAA"><img src="javascript:void(0)"><img src="">
    <div style="background-image: url('/i/div.png')"></div>
    <input type="image" src="/i/go.gif">
    <a href="/page.html"><img src="http://other.example/x.png#frag"></a>
    </body></html>"""
    got = page_requisites(html.encode(), BASE)
    expected = {
        "https://www.dg.gov.cn/favicon.ico",
        "https://www.dg.gov.cn/houjie/cjjs/css/a.css",
        "https://www.dg.gov.cn/houjie/cjjs/tshj/content/b.css",
        "https://www.dg.gov.cn/touch.png",
        "https://www.dg.gov.cn/js/x.js",
        "https://www.dg.gov.cn/houjie/cjjs/tshj/content/c.css",
        "https://www.dg.gov.cn/img/bg.png",
        "https://www.dg.gov.cn/i/a.png",
        "https://www.dg.gov.cn/i/a@2x.png",
        "https://www.dg.gov.cn/i/w.webp",
        "https://www.dg.gov.cn/i/w2.webp",
        "https://www.dg.gov.cn/i/p.jpg",
        "https://www.dg.gov.cn/i/div.png",
        "https://www.dg.gov.cn/i/go.gif",
        "http://other.example/x.png",  # the spider, not this module, keeps to the site
    }
    assert set(got) == expected
    assert len(got) == len(set(got))


def test_base_href_is_respected() -> None:
    html = '<html><head><base href="https://www.dg.gov.cn/x/"></head><img src="a.png"></html>'
    assert page_requisites(html, BASE) == ["https://www.dg.gov.cn/x/a.png"]


def test_srcset_descriptors_dropped() -> None:
    assert srcset_urls(" a.png 1x ,b.png  2x,c.png") == ["a.png", "b.png", "c.png"]


def test_css_urls_as_a_browser_tokenizes_them() -> None:
    css = r"""@charset "utf-8";
    @import url("base.css");
    @import 'print.css' print;
    /* url(commented.png) and @import "commented.css"; */
    .a{background:url(img/a.png) no-repeat}
    .b{background-image:url( "img/b.png" )}
    .c{content:"url(not-a-url.png)"}
    .d{background:image-set("img/d1.png" 1x, "img/d2.png" 2x)}
    @media print{.e{background:url(img/e.png)}}
    @font-face{font-family:x;src:url(fonts/x.woff2) format("woff2")}
    .f{fill:url(#gradient)}
    .g{background:url(data:image/gif;base64,R0lGOD)}
    .h{background:url(img/h\).png)}
    """
    assert css_urls(css) == [
        "base.css",
        "print.css",
        "img/a.png",
        "img/b.png",
        "img/d1.png",
        "img/d2.png",
        "img/e.png",
        "fonts/x.woff2",
        "#gradient",
        "data:image/gif;base64,R0lGOD",
        "img/h).png",
    ]
    got = css_requisites(css.encode(), "https://www.dg.gov.cn/houjie/css/style.css")
    assert got[:2] == [
        "https://www.dg.gov.cn/houjie/css/base.css",
        "https://www.dg.gov.cn/houjie/css/print.css",
    ]
    assert "https://www.dg.gov.cn/houjie/css/img/h).png" in got
    assert not [u for u in got if "gradient" in u or u.startswith("data:")]


def test_css_bytes_decoded_by_its_charset() -> None:
    css = '@charset "gbk";\n.a{background:url("图/a.png")}'.encode("gbk")
    assert css_requisites(css, "https://www.dg.gov.cn/c/s.css") == [
        "https://www.dg.gov.cn/c/图/a.png"
    ]


def test_favicon_at_the_site_root() -> None:
    assert favicon_url("https://www.dg.gov.cn/") == "https://www.dg.gov.cn/favicon.ico"
    assert (
        favicon_url("http://127.0.0.1:8000/mirror/") == "http://127.0.0.1:8000/mirror/favicon.ico"
    )


# -- the inventory -----------------------------------------------------------------------


def _warc(directory: Path, exchanges: list[tuple[str, int]]) -> Path:
    """A closed WARC file holding one response per (url, status)."""
    with RollingWarcWriter(directory, hostname="test") as writer:
        b = writer.builder
        for url, status in exchanges:
            writer.write_exchange(b.request(url), b.response(url, status=status, body=b"x" * 10))
        path = writer.current_path
    assert path is not None
    return Path(path)


@pytest.mark.parametrize(
    ("status", "kept"), [(200, True), (301, True), (404, True), (429, False), (503, False)]
)
def test_held_statuses(status: int, kept: bool) -> None:
    assert held(status) is kept


def test_held_uris_reads_new_files_only(tmp_path: Path) -> None:
    first = _warc(tmp_path, [("http://h/a.css", 200), ("http://h/b.png", 503)])
    assert held_uris(tmp_path) == {"http://h/a.css"}
    assert (tmp_path / CACHE_NAME).exists()

    # The cached file is not read again: garble it in place (same size and mtime).
    st = first.stat()
    first.write_bytes(b"\0" * st.st_size)
    os.utime(first, ns=(st.st_atime_ns, st.st_mtime_ns))
    second = _warc(tmp_path, [("http://h/c.png", 200)])
    assert held_uris(tmp_path) == {"http://h/a.css", "http://h/c.png"}

    # A file that changed is read again (and a damaged one holds nothing); a removed one
    # no longer counts.
    os.utime(first, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert held_uris(tmp_path) == {"http://h/c.png"}
    second.unlink()
    assert held_uris(tmp_path) == set()


def test_held_uris_ignores_open_files_and_non_responses(tmp_path: Path) -> None:
    writer = RollingWarcWriter(tmp_path, hostname="test")
    b = writer.builder
    writer.write_exchange(
        b.request("http://h/open.css"), b.response("http://h/open.css", status=200)
    )
    assert held_uris(tmp_path) == set()  # still .open
    writer.write_records([WarcRecordBuilder().resource("urn:x", b"{}", "application/json")])
    writer.close()
    assert held_uris(tmp_path) == {"http://h/open.css"}
