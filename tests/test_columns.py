"""Column page classification (pipelines/pages/columns.py) from saved HTML files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipelines.pages.columns import classify_page, column_path_of, is_news_column, parse_feed

FIXTURES = Path(__file__).parent / "fixtures" / "columns"
ROOT = "http://127.0.0.1:8000/"


def page(name: str, path: str):
    return classify_page((FIXTURES / name).read_bytes(), ROOT + path)


def test_list_page_with_page_bar_names_its_column_counts_pages_and_newest_date():
    p = page("list_bar.html", "daojiao/xwzx/zhxw/")
    assert p.is_list and p.is_news
    assert p.name == "综合新闻" and p.trail == ("首页", "新闻中心", "综合新闻")
    assert p.pages == 3 and len(p.article_urls) == 5
    assert p.newest == date(2026, 10, 28)
    assert p.feed is None


def test_last_page_still_counts_every_page():
    p = page("list_bar_last.html", "daojiao/xwzx/zhxw/index_3.html")
    assert p.is_news and p.pages == 3 and len(p.article_urls) == 2


def test_list_without_page_bar_is_one_page():
    p = page("list_one_page.html", "daojiao/xwzx/zjdt/")
    assert p.is_news and p.name == "镇街动态" and p.pages == 1 and not p.page_bar


def test_older_template_with_javascript_bar_and_feed_reference():
    p = page("list_older_feed.html", "dalang/dlxw/dlyw/")
    assert p.is_news and p.name == "大朗要闻"
    assert p.pages == 2 and p.feed == 7001 and p.newest == date(2026, 10, 25)
    # its left menu is navigation to follow
    assert ROOT + "dalang/bsfw/bszn/" in p.links


def test_document_list_under_government_affairs_is_a_list_but_not_news():
    p = page("list_not_news.html", "daojiao/zwgk/tzgg/")
    assert p.is_list and not p.is_news
    assert p.trail[-2:] == ("政务公开", "通知公告")


@pytest.mark.parametrize(
    ("name", "path"),
    [("home_more_link.html", "st/"), ("section.html", "daojiao/xwzx/"),
     ("home_left_menu.html", "dalang/")],
)  # fmt: skip
def test_home_and_section_pages_are_not_list_pages(name, path):
    p = page(name, path)
    assert not p.is_list and not p.is_news


def test_home_page_more_link_is_followed():
    p = page("home_more_link.html", "st/")
    assert ROOT + "st/xwzx/zhxw/" in p.links
    assert all("/content/" not in link for link in p.links)  # headlines are not navigation


@pytest.mark.parametrize(
    ("name", "trail", "news"),
    [
        ("综合新闻", ("首页", "新闻中心"), True),
        ("图说厚街", ("首页", "城镇建设"), True),
        ("一把手访谈", (), True),
        ("鎮街動態", ("首頁", "新聞中心"), True),  # traditional script
        ("政务动态", ("首页", "政务公开"), False),
        ("办事指南", ("首页", "办事服务"), False),
        ("通知公告", (), False),
        ("走进道滘", (), False),
    ],
)
def test_news_column_names(name, trail, news):
    assert is_news_column(name, trail) is news


def test_feed_with_children():
    feed = parse_feed((FIXTURES / "feed_children.json").read_bytes(), ROOT)
    assert feed.name == "大朗要闻"
    assert len(feed.article_urls) == 7 and feed.newest == date(2026, 10, 25)
    assert [(c.id, c.name) for c in feed.children] == [(7002, "视频新闻")]
    assert feed.column_path == "/dalang/dlxw/dlyw/"


@pytest.mark.parametrize("body", [b"[]", b"not json", b'"x"'])
def test_unreadable_feed_is_a_value_error(body):
    with pytest.raises(ValueError):
        parse_feed(body, ROOT)


def test_column_path_of_article():
    assert column_path_of("https://www.dg.gov.cn/a/b/content/post_1.html") == "/a/b/"
    assert column_path_of("https://www.dg.gov.cn/a/b/") is None
