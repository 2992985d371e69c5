"""Error/maintenance templates, depth limit, impossible dates, image schemes, charset label."""

from __future__ import annotations

from pathlib import Path

from pipelines.pages.article import ArticlePage
from pipelines.pages.byline import impossible_dates, parse_page_date
from pipelines.pages.encoding import http_charset
from pipelines.pages.errorpages import match_error_html
from tests.hostile.server import article_html

PAGES = Path(__file__).parent / "fixtures" / "pages"
URL = "https://www.dg.gov.cn/houjie/cjjs/tshj/content/post_1.html"


def test_the_saved_soft_404_fixture_is_the_not_found_template():
    html = (PAGES / "no_body_error_page" / "input.html").read_text(encoding="utf-8")
    assert match_error_html(html).name == "not_found"


def test_maintenance_and_server_error_templates():
    bare = "<html><body><p>系统维护中，请稍后访问</p></body></html>"
    assert match_error_html(bare).name == "maintenance"
    box = '<html><body><div class="error"><h1>500</h1><p>服务器繁忙，请稍后再试。</p></div>'
    assert match_error_html(box + "</body></html>").name == "server_error"


def test_an_article_about_a_maintenance_is_not_an_error_page():
    html = article_html(7, title="关于政务服务系统维护中暂停服务的通知", paragraphs=3)
    html = html.replace("第1段", "系统维护中，页面不存在的情况请致电，第1段")
    assert match_error_html(html) is None
    assert ArticlePage(html, URL).refusal() is None


def test_refusals_name_the_reason():
    assert (
        "soft 404"
        in ArticlePage((PAGES / "no_body_error_page" / "input.html").read_bytes(), URL).refusal()
    )
    assert "plain text" in ArticlePage("厚街镇召开工作会议。", URL).refusal()
    head_only = "<html><head><title>t</title></head></html>"
    assert "<body>" in ArticlePage(head_only, URL).refusal()


def test_markup_past_even_huge_trees_depth_is_an_anomaly_and_a_refusal():
    body = "".join(f"<div>段落{i}" for i in range(3000))
    page = ArticlePage(article_html(8, body=body), URL)
    assert page.too_deep and "deeper" in page.refusal()
    assert "markup_too_deep" in [a["kind"] for a in page.to_record()["anomalies"]]


def test_400_unclosed_fonts_keep_every_paragraph():
    body = "".join(f"<p><font>第{i + 1}段：厚街镇。" for i in range(400))
    record = ArticlePage(article_html(9, body=body), URL).to_record()
    assert sum(1 for x in record["text"].split("\n") if "段：" in x) == 400


def test_impossible_dates():
    assert parse_page_date("2023-02-30 10:14") is None
    assert parse_page_date("2024-02-29 10:14") == "2024-02-29T10:14:00+08:00"
    assert impossible_dates("发布时间：2023-04-31", "2023-02-27") == ["2023-04-31"]


def test_only_web_image_urls_are_kept():
    body = (
        '<p>厚街镇举行活动，群众积极参与。</p><img src="file:///C:/a.jpg">'
        '<img src="javascript:void(0)"><img src="/b.jpg"><img src="//www.dg.gov.cn/c.png">'
    )
    record = ArticlePage(article_html(10, body=body), URL).to_record()
    assert [i["src"] for i in record["images"]] == [
        "https://www.dg.gov.cn/b.jpg",
        "https://www.dg.gov.cn/c.png",
    ]


def test_http_charset_keeps_the_label_as_sent():
    assert http_charset("text/html; charset=x-bogus") == "x-bogus"
    assert http_charset(b'text/html;Charset="GBK"') == "GBK"
    assert http_charset("text/html") is None and http_charset(None) is None


def test_the_phrase_gate_finds_what_a_search_of_the_lower_cased_text_finds():
    from pipelines.pages.errorpages import _ALL_PHRASES, _mentions_any

    page = article_html(3, title="厚街镇召开会议", paragraphs=4)
    texts = [page, page.upper(), "İSTANBUL Kelvin \u212a", ""]
    for phrase in _ALL_PHRASES:
        texts += [f"<p>{phrase}</p>", f"<P>{phrase.upper()}</P>", page.replace("第2段", phrase)]
        texts.append(f"x{phrase[:-1]} {phrase[-1]}")  # broken up: not a mention
    for text in texts:
        assert _mentions_any(text) == any(p in text.lower() for p in _ALL_PHRASES), text[:80]
    assert _mentions_any("<h1>PAGE NOT FOUND</h1>") and _mentions_any("<p>頁面不存在</p>")
    assert not _mentions_any(page)
