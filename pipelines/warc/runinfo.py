"""The warcinfo fields that describe a crawl run: which run (`isPartOf`), what software, and
the settings in force that change what gets captured and who ran it. Pure: the settings object
is read through its getters (Scrapy's `Settings`), no Scrapy is imported."""

from __future__ import annotations

import platform
from collections.abc import Mapping
from typing import Any

from pipelines.warc.writer import SOFTWARE, package_version

__all__ = ["crawl_fields", "run_fields", "software_versions"]


def run_fields(
    crawl_id: str,
    *,
    robots_obey: bool,
    user_agent: str,
    site_root: str,
    extra: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The warcinfo fields of every file of a run: the run's id, the robots policy, the
    User-Agent and the site root, then `extra` (`crawl_fields`, the spider's own)."""
    return {
        "isPartOf": crawl_id,
        "robots": "obey" if robots_obey else "ignore",
        "http-header-user-agent": user_agent,
        "dgarchive-site-root": site_root,
        **(extra or {}),
    }


def software_versions() -> str:
    """`software` of warcinfo: dgarchive and warcio, then Scrapy, Twisted and Python."""
    extra = f"Scrapy/{package_version('scrapy')} Twisted/{package_version('twisted')}"
    return f"{SOFTWARE} {extra} {platform.python_implementation()}/{platform.python_version()}"


def crawl_fields(settings: Any) -> dict[str, object]:
    """warcinfo fields from the crawl settings that change what gets captured, and who ran it.

    `operator` and `http-header-from` (WARC 1.1 names) come from WARC_OPERATOR and
    CONTACT_URL; `dgarchive-*` fields record politeness and scope settings as in force."""
    s = settings
    contact = s.get("CONTACT_URL") or ""
    throttle = "off"
    if s.getbool("AUTOTHROTTLE_ENABLED"):
        throttle = (
            f"on (start delay {s.getfloat('AUTOTHROTTLE_START_DELAY')} s, max delay "
            f"{s.getfloat('AUTOTHROTTLE_MAX_DELAY')} s, target concurrency "
            f"{s.getfloat('AUTOTHROTTLE_TARGET_CONCURRENCY')})"
        )
    return {
        "operator": s.get("WARC_OPERATOR") or contact,
        "http-header-from": contact,
        "dgarchive-download-delay": f"{s.getfloat('DOWNLOAD_DELAY')} s",
        "dgarchive-autothrottle": throttle,
        "dgarchive-concurrency": (
            f"{s.getint('CONCURRENT_REQUESTS')} requests, "
            f"{s.getint('CONCURRENT_REQUESTS_PER_DOMAIN')} per domain"
        ),
        "dgarchive-download-maxsize": s.getint("DOWNLOAD_MAXSIZE"),
        "dgarchive-page-requisites": "on" if s.getbool("CRAWL_PAGE_REQUISITES", True) else "off",
        "dgarchive-discovery": s.get("CRAWL_DISCOVERY") or "pages",
    }
