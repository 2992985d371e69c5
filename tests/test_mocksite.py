"""The test mirror serves what site-notes.md describes, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import gzip
import http.client
import json
import math
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import urllib.robotparser
import zlib
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from parsel import Selector

from tests.mocksite import MockSite
from tests.mocksite.content import ID_000, ID_004, ID_004_HANT
from tests.timing import budget

REPO = Path(__file__).resolve().parent.parent
TSHJ = "houjie/cjjs/tshj/"
ZHXW = "houjie/xwzx/zhxw/"
SEED_004_TITLE = "一把手访谈|寮厦：今年计划投4000万推进乡村振兴"


@pytest.fixture(scope="module")
def site(module_mirror):
    return module_mirror(articles=60, per_page=20, faults=False, seed=0)


@pytest.fixture(scope="module")
def faulty():
    s = MockSite(articles=30, per_page=10, faults=True, seed=0, slow_seconds=0.5)
    s.start()
    yield s
    s.stop()


@pytest.fixture
def fresh():
    """A site a test may change."""
    s = MockSite(articles=25, per_page=10, seed=3)
    s.start()
    yield s
    s.stop()


def request(site: MockSite, path: str, headers: dict | None = None, method: str = "GET"):
    """(status, headers list, raw body) over one http.client connection; no decoding."""
    port = urlsplit(site.url).port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        target = path if path.startswith("/") else urlsplit(path).path
        conn.request(method, target, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name.lower()), None)


def get_text(site: MockSite, url: str) -> str:
    status, headers, body = request(site, site.mirror_url(url))
    assert status == 200, url
    return body.decode("utf-8")


def list_links(html: str, base: str) -> list[str]:
    sel = Selector(text=html)
    hrefs = sel.css("div.list-right_title.fon_1 > a::attr(href)").getall()
    hrefs += sel.css("div.cen-div-1 > div.con-right > div.list_div > a::attr(href)").getall()
    return [urljoin(base, h) for h in hrefs]


def paragraphs(html: str) -> list[str]:
    """Body paragraphs: each <p>'s text, or the <br>-separated runs of the older template."""
    zoom = Selector(text=html).css("#zoom")
    if zoom.css("p"):
        runs = ["".join(p.css("::text").getall()) for p in zoom.css("p")]
    else:
        runs = zoom.css("::text").getall()
    return [r.strip(" \u3000\n\u00a0") for r in runs if r.strip(" \u3000\n\u00a0")]


def canonical(url: str) -> str:
    p = urlsplit(url)
    return "https://www.dg.gov.cn" + p.path


# -- list pages -----------------------------------------------------------------------------


def test_tshj_list_page_has_items_dates_and_a_linked_page_bar(site):
    status, headers, body = request(site, "/" + TSHJ)
    assert status == 200
    html = body.decode()
    assert request(site, f"/{TSHJ}index.html")[2] == body
    sel = Selector(text=html)
    items = sel.css("div.list-right_title.fon_1")
    # 20 items plus the robots-disallowed article that page 1 links
    assert len(items) == 21
    for item in items:
        assert item.css("a::attr(title)").get() == item.css("a::text").get()
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", item.css("span::text").get())
    bar = {a.css("::text").get(): a.attrib["href"] for a in sel.css("div.page a")}
    assert bar["下一页"] == "index_2.html"
    assert bar["2"] == "index_2.html"
    pages = math.ceil(len(site.article_urls(TSHJ)) / 20)
    assert bar["尾页"] == f"index_{pages}.html"
    hrefs = sel.css("div.list-right_title a::attr(href)").getall()
    assert any(h.startswith("https://www.dg.gov.cn/") for h in hrefs)
    assert any(h.startswith("http://www.dg.gov.cn/") for h in hrefs)
    assert any(h.startswith("content/post_") for h in hrefs)
    assert 'href="http://www.gd.gov.cn/"' in html  # an off-site link the crawler must skip
    assert '<link rel="stylesheet" href="/houjie/css/style.css">' in html


def test_following_the_page_bar_reaches_every_tshj_article_once(site):
    url, seen, pages = site.url + TSHJ, [], 0
    while url:
        html = get_text(site, url)
        pages += 1
        seen += [canonical(u) for u in list_links(html, url) if "/private/" not in u]
        nxt = Selector(text=html).xpath("//div[@class='page']/a[text()='下一页']/@href").get()
        url = urljoin(url, nxt) if nxt else None
    assert pages == math.ceil(len(site.article_urls(TSHJ)) / 20) == 3
    assert seen == site.article_urls(TSHJ)  # newest first, no repeats
    assert len(site.list_page_urls(TSHJ)) == pages


def test_older_column_has_nested_items_and_only_a_javascript_page_bar(site):
    arts = site.article_urls(ZHXW)
    pages = math.ceil(len(arts) / 20)
    assert pages >= 1 and len(arts) >= 10
    seen = []
    for n in range(1, pages + 1):
        url = site.url + ZHXW + ("" if n == 1 else f"index_{n}.html")
        html = get_text(site, url)
        call = f"createPageHTML('page_div', {pages}, {n}, 'index', 'html', {len(arts)});"
        assert call in html
        assert '<div id="page_div"></div>' in html
        assert not re.search(r'<a href="[^"]*index_\d+\.html"', html)
        assert "下一页" not in html
        seen += [canonical(u) for u in list_links(html, url)]
    assert seen == arts
    assert request(site, f"/{ZHXW}index_{pages + 1}.html")[0] == 404


def test_columns_split_about_three_to_one(site):
    tshj, zhxw = len(site.article_urls(TSHJ)), len(site.article_urls(ZHXW))
    assert tshj + zhxw == len(site.article_urls()) == 60
    assert 0.6 < tshj / 60 < 0.9


# -- articles -------------------------------------------------------------------------------


def test_seed_004_is_served_in_server_markup_with_the_contract_title(site):
    html = get_text(site, f"https://www.dg.gov.cn/{TSHJ}content/post_{ID_004}.html")
    sel = Selector(text=html)
    meta = {m.attrib["name"]: m.attrib["content"] for m in sel.css("meta[name]")}
    assert meta["ArticleTitle"] == SEED_004_TITLE
    assert meta["PubDate"] == "2023-02-27 10:14"
    assert meta["ContentSource"] == "本网"
    assert meta["SiteIDCode"] == "4419000098"
    assert meta["ColumnName"] == "图说厚街"
    assert sel.css("title::text").get() == "城镇建设_图说厚街_中国东莞厚街镇"
    assert sel.css("ucaptitle::text").get() == SEED_004_TITLE
    assert sel.css("publishtime::text").get() == "2023-02-27 10:14"
    body = sel.css("div.con_cen ucapcontent")
    text = "".join(body.css("::text").getall())
    assert "寮厦社区党委书记\u00a0詹静" in text
    assert "厚街发布：2023年是贯彻党的二十大精神的开局之年" in text
    assert body.css("strong::text").getall()[:3] == ["访谈嘉宾：", "内容简介：", "访谈记录"]
    assert body.css("img::attr(alt)").get() == "微信图片_20230227101143.jpg"
    for chrome in ("分享到", "字体大小", "打印页面", "网站标识码", "提示:", "??", "日韩欧美综合"):
        assert chrome not in text
    assert "??" not in html and "日韩欧美综合" not in html


def test_seed_004_traditional_saved_dom_keeps_the_toolbar_links_and_spam(site):
    html = get_text(site, site.seed_urls["004-hant"])
    assert f"post_{ID_004_HANT}.html" in site.seed_urls["004-hant"]
    sel = Selector(text=html)
    assert sel.css("ucaptitle::text").get() == "一把手訪談|寮廈:今年計劃投4000萬推進鄉村振興"
    assert sel.css("title::text").get() == "城鎮建設_圖說厚街_中國東莞厚街鎮"
    first = sel.css("a.esdNavLink.esdNavLinkFirst")[0]
    assert first.css("::text").get() == "提示:您已進入視窗區1,本區域含有45個鏈接,按下Tab鍵瀏覽信息"
    assert "left:-999px" in first.attrib["style"] and first.attrib["href"] == "javascript:void(0)"
    assert "提示:您已離開視窗區1" in sel.css("a.esdNavLink::text").getall()
    tip = sel.css("a#esdTipLink::text").get()
    assert tip.startswith(
        "已打開城鎮建設_圖說厚街_中國東莞厚街鎮欄目頁面,本頁面是由1個導航區、7個視窗區"
    )
    assert tip.endswith("操作幫助請按Alt加問號鍵。")
    assert sel.css('div[style="display:none"] a::attr(href)').get() == "http://spam.example/"
    text = "".join(sel.css("ucapcontent ::text").getall())
    assert "詹靜:今年寮廈社區圍繞高質量發展制定了經濟目標任務" in text


def test_seed_000_is_served_in_the_older_br_template(site):
    html = get_text(site, site.seed_urls["000"])
    assert f"post_{ID_000}.html" in site.seed_urls["000"]
    sel = Selector(text=html)
    assert not sel.css("meta[name]")
    assert (
        sel.css("h1::text").get()
        == "一把手访谈|谢卫东：对标对表 勇挑重担 坚决扛起经济大镇挑大梁重任"
    )
    assert "发布时间：2025-02-28 09:30" in "".join(sel.css(".detail_info ::text").getall())
    runs = [t.strip("\u3000\n") for t in sel.css("#zoom::text").getall() if t.strip()]
    assert runs[0] == "访谈嘉宾:东莞市厚街镇党委书记谢卫东"
    assert "关键词1:谈感想" in runs and "对标对表 勇挑重担" in runs
    assert any(r.startswith("东莞日报:听完政府工作报告后") for r in runs)
    assert any(r.startswith("谢卫东:政府工作报告政治站位高") for r in runs)
    assert not sel.css("#zoom p")


def test_every_markup_appears_and_keeps_its_signature(site):
    signatures = {
        "server": ['<ucapcontent><div wzades="正文">', "中国东莞政府门户网站", "【字体："],
        "byline": ["<publishtime>", "字体大小：", '[ <a href="javascript:window.print()">打印页面'],
        "older": ['<h1 class="detail_title">', "<br />", "cen-div-1"],
        "saved_dom": ["esdNavLink esdNavLinkFirst", "<!-- saved from url="],
    }
    by_template = {}
    for a in site.articles():
        by_template.setdefault(a.template, a)
    assert set(by_template) == set(signatures)
    for template, a in by_template.items():
        html = get_text(site, a.url)
        for sig in signatures[template]:
            assert sig in html, (template, sig)
        if template != "older":
            assert f'<meta name="ArticleTitle" content="{a.title}">' in html
        else:
            assert "ArticleTitle" not in html


def test_synthetic_interviews_follow_the_seed_structure(site):
    interviews = [a for a in site.articles() if a.kind == "interview" and a.seed is None]
    assert interviews
    for a in interviews:
        html = get_text(site, a.url)
        text = "\n".join(paragraphs(html))
        guest = re.search(r"访谈嘉宾[:：](.+)", text).group(1)
        name = re.search(r"(\S{2,3})$", guest.replace("\u00a0", " ")).group(1)
        assert re.search(rf"^{name}[:：]", text, re.M), a.url
        assert re.search(r"^(厚街发布|东莞日报)[:：]", text, re.M)
        assert "内容简介" in text and "访谈记录" in text


def test_about_half_the_articles_have_a_content_image(site):
    with_images = [a for a in site.articles() if a.image]
    assert 0.3 < len(with_images) / 60 < 0.7
    a = next(a for a in with_images if a.template == "server")
    html = get_text(site, a.url)
    img = Selector(text=html).css("div[wzades] img")
    assert img.attrib["src"].startswith("/attachment/")
    assert re.fullmatch(r"微信图片_\d{14}\.jpg", img.attrib["alt"])


def test_ids_grow_with_dates_and_dates_are_2023_to_2026(site):
    arts = [a for a in site.articles() if a.seed is None]
    assert all(3_900_000 < a.id < 4_600_000 for a in arts)
    assert all(2023 <= a.published.year <= 2026 for a in arts)
    ids = [a.id for a in sorted(arts, key=lambda a: a.published)]
    assert ids == sorted(ids)
    assert all(str(a.published.utcoffset()) == "8:00:00" for a in arts)


def test_mobile_copy_is_served(site):
    a = site.articles()[0]
    status, _, body = request(site, a.mobile_path)
    assert status == 200 and a.title in body.decode()


# -- HTTP behaviour -------------------------------------------------------------------------


def test_gzip_only_when_asked_and_body_sent_is_the_wire_bytes(site):
    path = urlsplit(site.article_urls()[0]).path
    status, headers, plain = request(site, path)
    assert header(headers, "Content-Encoding") is None
    assert header(headers, "Content-Type") == "text/html; charset=utf-8"
    assert int(header(headers, "Content-Length")) == len(plain)
    assert site.body_sent(path) == plain
    status, headers, raw = request(site, path, {"Accept-Encoding": "gzip, deflate"})
    assert header(headers, "Content-Encoding") == "gzip"
    assert header(headers, "Vary") == "Accept-Encoding"
    assert raw[:2] == b"\x1f\x8b" and gzip.decompress(raw) == plain
    assert site.body_sent(path) == raw
    assert site.body_sent(site.article_urls()[0]) == raw
    _, headers, body = request(site, path, {"Accept-Encoding": "gzip;q=0, identity"})
    assert header(headers, "Content-Encoding") is None and body == plain
    for other in ("/houjie/css/style.css", "/postmeta/i/9149.json"):
        _, headers, raw = request(site, other, {"Accept-Encoding": "gzip"})
        assert header(headers, "Content-Encoding") == "gzip", other


def test_html_responses_carry_two_set_cookie_lines(site):
    for path in ("/" + TSHJ, urlsplit(site.article_urls()[0]).path, "/no/such/page.html"):
        _, headers, _ = request(site, path)
        cookies = [v for k, v in headers if k.lower() == "set-cookie"]
        assert len(cookies) == 2, path
        assert cookies[0].startswith("JSESSIONID=") and cookies[1].startswith("SERVERID=")


def test_conditional_requests_get_304(site):
    path = urlsplit(site.article_urls()[2]).path
    _, headers, _ = request(site, path)
    etag, lm = header(headers, "ETag"), header(headers, "Last-Modified")
    assert etag and lm
    status, headers, body = request(site, path, {"If-None-Match": etag})
    assert (status, body) == (304, b"")
    assert header(headers, "ETag") == etag
    status, _, _ = request(site, path, {"If-Modified-Since": lm})
    assert status == 304
    status, _, _ = request(site, path, {"If-None-Match": '"other"'})
    assert status == 200
    # the gzip representation's weak tag validates too
    _, headers, _ = request(site, path, {"Accept-Encoding": "gzip"})
    weak = header(headers, "ETag")
    assert weak == "W/" + etag
    status, _, _ = request(site, path, {"If-None-Match": weak, "Accept-Encoding": "gzip"})
    assert status == 304
    _, headers, _ = request(site, "/" + TSHJ)
    status, _, _ = request(site, "/" + TSHJ, {"If-None-Match": header(headers, "ETag")})
    assert status == 304


def test_change_article_gives_new_body_etag_and_last_modified(fresh):
    url = fresh.article_urls(TSHJ)[3]
    path = urlsplit(url).path
    _, h1, b1 = request(fresh, path)
    updated = json.loads(request(fresh, "/postmeta/i/9149.json")[2])["updated"]
    assert fresh.change_article(url) == url
    assert json.loads(request(fresh, "/postmeta/i/9149.json")[2])["updated"] > updated
    _, h2, b2 = request(fresh, path)
    assert b1 != b2 and "本文第1次修订" in b2.decode()
    assert header(h1, "ETag") != header(h2, "ETag")
    assert header(h1, "Last-Modified") != header(h2, "Last-Modified")
    status, _, _ = request(fresh, path, {"If-None-Match": header(h1, "ETag")})
    assert status == 200
    aid = int(re.search(r"post_(\d+)", url).group(1))
    fresh.change_article(aid)
    assert "本文第2次修订" in request(fresh, path)[2].decode()
    with pytest.raises(KeyError):
        fresh.change_article(1234567)


def test_head_sends_headers_only(site):
    path = urlsplit(site.article_urls()[0]).path
    _, get_headers, body = request(site, path)
    status, headers, head_body = request(site, path, method="HEAD")
    assert status == 200 and head_body == b""
    assert header(headers, "Content-Length") == str(len(body))


def test_keep_alive_serves_many_requests_on_one_connection(site):
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(site.url).port, timeout=10)
    conn.connect()
    sock = conn.sock
    for url in site.article_urls()[:10]:
        conn.request("GET", urlsplit(url).path)
        resp = conn.getresponse()
        assert resp.version == 11 and resp.getheader("Content-Length")
        resp.read()
        assert conn.sock is sock  # not reopened
    conn.close()


def test_robots_txt_disallows_private_and_admin_only(site):
    status, headers, body = request(site, "/robots.txt")
    text = body.decode()
    assert status == 200
    assert text.splitlines()[0] == "User-agent: *"
    assert "Disallow: /houjie/private/" in text and "Disallow: /__admin/" in text
    rp = urllib.robotparser.RobotFileParser()
    rp.parse(text.splitlines())
    assert not rp.can_fetch("dgarchive", site.private_url)
    assert not rp.can_fetch("dgarchive", "https://www.dg.gov.cn/__admin/add?n=1")
    for url in site.list_page_urls() + site.article_urls() + site.image_urls():
        assert rp.can_fetch("dgarchive", url), url
    page1 = get_text(site, site.url + TSHJ)
    assert site.private_url in page1
    assert request(site, urlsplit(site.private_url).path)[0] == 200  # only robots keeps it out


def test_unknown_paths_get_a_404_html_page(site):
    for path in ("/nothing-here", f"/{TSHJ}content/post_1234567.html", f"/{TSHJ}index_99.html"):
        status, headers, body = request(site, path)
        assert status == 404
        assert header(headers, "Content-Type") == "text/html; charset=utf-8"
        assert "页面不存在" in body.decode()


def test_requests_log_and_reset(fresh):
    fresh.reset_log()
    request(fresh, "/robots.txt", {"User-Agent": "probe/1", "X-Probe": "yes"})
    assert len(fresh.requests_log) == 1
    method, path, headers = fresh.requests_log[0]
    assert (method, path) == ("GET", "/robots.txt")
    assert headers["user-agent"] == "probe/1" and headers.get("X-PROBE") == "yes"
    fresh.reset_log()
    assert fresh.requests_log == []


# -- JSON feeds -----------------------------------------------------------------------------


def test_column_feed_lists_the_tshj_articles_newest_first(site):
    status, headers, body = request(site, "/postmeta/i/9149.json")
    assert status == 200 and header(headers, "Content-Type").startswith("application/json")
    feed = json.loads(body)
    assert feed["name"] == "图说厚街" and feed["children"] == []
    assert [a["url"] for a in feed["articles"]] == site.article_urls(TSHJ)
    first = feed["articles"][0]
    assert set(first) == {"id", "title", "url", "created_at"}
    assert first["url"].endswith(f"post_{first['id']}.html")
    assert feed["updated"] >= first["created_at"]


def test_post_json_has_the_full_content(site):
    status, _, body = request(site, f"/postmeta/p/3/3987/{ID_004}.json")
    assert status == 200
    doc = json.loads(body)
    assert doc["id"] == ID_004 and doc["title"] == SEED_004_TITLE
    assert "<strong>访谈嘉宾：</strong>" in doc["content"]
    assert "打印页面" not in doc["content"]
    assert request(site, f"/postmeta/p/3/3987/{ID_004 + 99}.json")[0] == 404


# -- encodings and images -------------------------------------------------------------------


def test_gbk_page_declares_gbk_and_decodes(site):
    a = next(a for a in site.articles() if a.encoding == "gbk")
    _, headers, body = request(site, a.path)
    assert header(headers, "Content-Type") == "text/html; charset=gbk"
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    html = body.decode("gbk")
    assert '<meta charset="gbk">' in html and a.title in html


def test_gb2312_page_declares_only_in_meta(site):
    a = next(a for a in site.articles() if a.encoding == "gb2312-meta")
    _, headers, body = request(site, a.path)
    assert header(headers, "Content-Type") == "text/html"
    html = body.decode("gb2312")
    assert '<meta http-equiv="Content-Type" content="text/html; charset=gb2312" />' in html
    assert a.title in html


def _png_ok(data: bytes) -> bool:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        n = int.from_bytes(data[pos : pos + 4], "big")
        kind, chunk = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        crc = int.from_bytes(data[pos + 8 + n : pos + 12 + n], "big")
        assert zlib.crc32(kind + chunk) == crc
        if kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return len(zlib.decompress(idat)) == height * (1 + 3 * width)


def test_images_are_served_as_valid_bytes(site):
    urls = site.image_urls()
    assert urls and all("/attachment/" in u for u in urls)
    kinds = set()
    for url in urls:
        status, headers, body = request(site, urlsplit(url).path)
        assert status == 200
        ctype = header(headers, "Content-Type")
        kinds.add(ctype)
        if ctype == "image/png":
            assert _png_ok(body)
        else:
            assert (
                ctype == "image/jpeg" and body[:3] == b"\xff\xd8\xff" and body[-2:] == b"\xff\xd9"
            )
            assert b"\xff\xc0" in body  # baseline
    assert kinds == {"image/png", "image/jpeg"}
    assert len({request(site, urlsplit(u).path)[2] for u in urls[:5]}) == len(urls[:5])
    status, headers, body = request(site, "/houjie/images/logo.png")
    assert status == 200 and _png_ok(body)
    assert request(site, "/attachment/0/1/2/999.jpg")[0] == 404


# -- faults ---------------------------------------------------------------------------------


def test_faults_are_linked_only_when_asked(site, faulty):
    plain = get_text(site, site.url + TSHJ)
    assert not any(f"post_{i}" in plain for i in range(3900201, 3900207))
    assert site.fault_urls() == {}
    page1 = get_text(faulty, faulty.url + TSHJ)
    for kind, url in faulty.fault_urls().items():
        assert f"post_{urlsplit(url).path.rsplit('_', 1)[1]}" in page1, kind
    assert request(site, urlsplit(faulty.fault_urls()["error"]).path)[0] == 404


def test_each_fault_behaves(faulty):
    f = {k: urlsplit(v).path for k, v in faulty.fault_urls().items()}
    assert request(faulty, f["missing"])[0] == 404
    status, headers, _ = request(faulty, f["redirect"])
    assert status == 301
    target = header(headers, "Location")
    assert target.startswith(faulty.url) and canonical(target) in faulty.article_urls()
    status, _, body = request(faulty, f["error"])
    assert status == 500 and b"500" in body
    t0 = time.monotonic()
    status, _, body = request(faulty, f["slow"])
    assert status == 200 and time.monotonic() - t0 >= 0.5 and b"</html>" in body
    with pytest.raises(http.client.IncompleteRead):
        request(faulty, f["drop"])
    status, _, body = request(faulty, f["truncated"])
    text = body.decode()
    assert status == 200 and "</html>" not in text and "wzades" in text
    assert text.rstrip()[-1] != ">" and text.rfind("<") > text.rfind(">")  # cut inside a tag


# -- changing and killing the site -----------------------------------------------------------


def test_add_articles_puts_new_urls_first_on_page_1(fresh):
    before = fresh.article_urls()
    top_id = max(int(re.search(r"post_(\d+)", u).group(1)) for u in before)
    new = fresh.add_articles(2)
    assert len(new) == 2 and not set(new) & set(before)
    ids = [int(re.search(r"post_(\d+)", u).group(1)) for u in new]
    assert ids[0] > ids[1] > top_id
    html = get_text(fresh, fresh.url + TSHJ)
    assert [canonical(u) for u in list_links(html, fresh.url + TSHJ)[:2]] == new
    assert fresh.article_urls(TSHJ)[:2] == new
    feed = json.loads(request(fresh, "/postmeta/i/9149.json")[2])
    assert [a["url"] for a in feed["articles"][:2]] == new
    for url in new:
        assert request(fresh, urlsplit(url).path)[0] == 200


def test_admin_endpoints_drive_the_site_over_http(fresh):
    status, _, body = request(fresh, "/__admin/add?n=2", method="POST")
    urls = json.loads(body)
    assert status == 200 and len(urls) == 2 and fresh.article_urls(TSHJ)[:2] == urls
    aid = re.search(r"post_(\d+)", urls[1]).group(1)
    before = request(fresh, urlsplit(urls[1]).path)[2]
    status, _, body = request(fresh, f"/__admin/change?id={aid}", method="POST")
    assert status == 200 and json.loads(body)["url"] == urls[1]
    assert request(fresh, urlsplit(urls[1]).path)[2] != before
    assert request(fresh, "/__admin/change?id=1", method="POST")[0] == 400
    assert all(not p.startswith("/__admin/") for _, p, _ in fresh.requests_log)


def test_down_closes_connections_without_a_response(fresh):
    fresh.down()
    try:
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            request(fresh, "/robots.txt")
        with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
            urllib.request.urlopen(fresh.url + "robots.txt", timeout=5)
    finally:
        fresh.up()
    assert request(fresh, "/robots.txt")[0] == 200


def test_down_also_hangs_up_on_open_keep_alive_connections(fresh):
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(fresh.url).port, timeout=5)
    conn.request("GET", "/robots.txt")
    conn.getresponse().read()
    fresh.down()
    try:
        conn.request("GET", "/robots.txt")
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            conn.getresponse()
    finally:
        fresh.up()
        conn.close()


# -- determinism, speed, the command line ----------------------------------------------------


def test_content_is_deterministic_given_the_seed():
    a, b, c = (
        MockSite(articles=40, seed=7),
        MockSite(articles=40, seed=7),
        MockSite(articles=40, seed=8),
    )
    assert a.article_urls() == b.article_urls() != c.article_urls()
    with a, b:
        for url in a.article_urls()[:5] + a.list_page_urls():
            assert request(a, urlsplit(url).path)[2] == request(b, urlsplit(url).path)[2]


def test_a_large_site_starts_fast():
    t0 = time.perf_counter()
    s = MockSite(articles=2000)
    s.start()
    try:
        assert time.perf_counter() - t0 < budget(2.0)
        assert len(s.article_urls()) == 2000
    finally:
        s.stop()


def test_concurrent_keep_alive_clients_get_hundreds_of_pages_a_second():
    s = MockSite(articles=400, per_page=20).start()
    paths = [urlsplit(u).path for u in s.article_urls() + s.list_page_urls()]
    port, errors = urlsplit(s.url).port, []

    def worker(chunk: list[str]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            for p in chunk:
                conn.request("GET", p, headers={"Accept-Encoding": "gzip"})
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    errors.append(p)
        finally:
            conn.close()

    try:
        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(paths[i::8],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
    finally:
        s.stop()
    assert not errors
    # Cold cache (every page rendered once) and the client in the same process: a loose floor.
    assert len(paths) / elapsed > 150, f"{len(paths) / elapsed:.0f} pages/s"


def test_command_line_serves_until_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.mocksite", "--port", "0", "--articles", "12", "--faults"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        m = re.fullmatch(r"mocksite serving at (http://127\.0\.0\.1:\d+/)\n", line)
        assert m, line
        with urllib.request.urlopen(m.group(1) + "robots.txt", timeout=5) as resp:
            assert b"Disallow: /houjie/private/" in resp.read()
        req = urllib.request.Request(m.group(1) + "__admin/add?n=1", method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            (url,) = json.loads(resp.read())
        with urllib.request.urlopen(m.group(1) + urlsplit(url).path.lstrip("/"), timeout=5) as r:
            assert r.status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
