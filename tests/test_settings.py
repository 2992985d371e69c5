"""The defaults are polite to the real site; a mirror run can lift them with settings."""

from __future__ import annotations

from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

import crawler.settings as project_settings
from crawler.config import SiteMap
from crawler.spiders.town_news import TownNewsSpider


def _settings(**overrides) -> Settings:
    settings = Settings()
    settings.setmodule(project_settings, priority="project")
    for name, value in overrides.items():
        settings.set(name, value, priority="cmdline")
    return settings


def test_polite_defaults():
    s = _settings()
    assert s.getbool("ROBOTSTXT_OBEY") is True
    assert s.getbool("AUTOTHROTTLE_ENABLED") is True
    assert s.getint("CONCURRENT_REQUESTS_PER_DOMAIN") <= 2
    assert s.getfloat("DOWNLOAD_DELAY") > 0
    assert s.get("CRAWL_SITE_ROOT") == "https://www.dg.gov.cn/"


def test_user_agent_names_the_project_and_the_operators_contact():
    s = _settings(CONTACT_URL="mailto:archive@example.org")
    TownNewsSpider.update_settings(s)
    ua = s.get("USER_AGENT")
    assert ua.startswith("dgarchive/") and "mailto:archive@example.org" in ua


def test_without_a_contact_the_user_agent_still_names_the_project():
    s = _settings()
    TownNewsSpider.update_settings(s)
    assert s.get("USER_AGENT").startswith("dgarchive/")


def test_an_explicit_user_agent_wins_over_the_contact():
    s = _settings(CONTACT_URL="mailto:a@example.org", USER_AGENT="MyArchive/1.0")
    TownNewsSpider.update_settings(s)
    assert s.get("USER_AGENT") == "MyArchive/1.0"


def test_mirror_settings_lift_the_limits():
    s = _settings(
        AUTOTHROTTLE_ENABLED="False", DOWNLOAD_DELAY="0", CONCURRENT_REQUESTS_PER_DOMAIN="8"
    )
    assert not s.getbool("AUTOTHROTTLE_ENABLED")
    assert s.getfloat("DOWNLOAD_DELAY") == 0
    assert s.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 8


def test_spider_scope_follows_the_site_root():
    crawler = get_crawler(
        TownNewsSpider,
        settings_dict={"CRAWL_SITE_ROOT": "http://127.0.0.1:8123/", "DB_ENABLED": False},
    )
    spider = TownNewsSpider.from_crawler(crawler, town="houjie")
    assert spider.allowed_domains == ["127.0.0.1", "www.dg.gov.cn"]
    assert [c.path for c in spider.selected] == ["houjie/cjjs/tshj/", "houjie/xwzx/zhxw/"]
    tshj = spider.selected[0]
    assert spider._in_column(
        "https://www.dg.gov.cn/houjie/cjjs/tshj/content/post_4000001.html", tshj
    )
    assert spider._in_column("http://www.dg.gov.cn/houjie/cjjs/tshj/index_2.html", tshj)
    assert not spider._in_column("https://www.dg.gov.cn/houjie/xwzx/zhxw/content/post_1.html", tshj)
    assert not spider._in_column("http://www.gd.gov.cn/houjie/cjjs/tshj/", tshj)


def test_site_map_round_trip():
    m = SiteMap("http://127.0.0.1:8123/mirror/")
    fetch = m.to_fetch("http://www.dg.gov.cn/houjie/cjjs/tshj/content/post_3987862.html")
    assert fetch == "http://127.0.0.1:8123/mirror/houjie/cjjs/tshj/content/post_3987862.html"
    assert (
        m.to_canonical(fetch) == "https://www.dg.gov.cn/houjie/cjjs/tshj/content/post_3987862.html"
    )
    live = SiteMap()
    assert live.to_fetch("http://www.dg.gov.cn/a/") == "http://www.dg.gov.cn/a/"
    assert live.to_canonical("http://www.dg.gov.cn/a/") == "https://www.dg.gov.cn/a/"


def test_scrapy_cfg_names_the_settings_and_a_scrapyd_target():
    import configparser
    from pathlib import Path

    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).resolve().parent.parent / "scrapy.cfg")
    assert cfg["settings"]["default"] == "crawler.settings"
    assert cfg["deploy"]["project"] == "dgarchive"
    assert cfg["deploy"]["url"].startswith("http")
