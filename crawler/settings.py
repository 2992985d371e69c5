"""Scrapy settings for dgarchive. The only module that reads environment variables.

Defaults are polite to the real site: robots.txt obeyed, AutoThrottle on, at most two
requests at once per host, and a User-Agent that names the project and a contact URL.
A mirror or benchmark run lifts them with `-s` settings.
"""

from __future__ import annotations

import os

from scrapy.settings import default_settings

from crawler import __version__
from crawler.config import load_towns

# Scrapy's cookie middleware asks tldextract for the public suffix list, which by default
# downloads it from the internet on first use. The bundled snapshot is enough to scope
# cookies, and an archival crawler must not make requests it does not archive.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

BOT_NAME = "dgarchive"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# Politeness
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_DELAY = 0.5
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
# Scrapy starts CONCURRENT_ITEMS worker tasks for every callback's output; our callbacks
# yield a page's links or one record, so 100 (the default) only costs event-loop work.
CONCURRENT_ITEMS = 16
# Scrapy re-parses a callback's source (inspect + ast) for every response to warn about a
# generator returning a value; its cache is keyed by the bound method, a new object per
# request, so it misses: 7.5% of the reactor thread on the 2,000-article mirror (py-spy).
WARN_ON_GENERATOR_RETURN_VALUE = False
DOWNLOAD_TIMEOUT = 30
RETRY_TIMES = 2
# A response cut off mid-body is archived as received (WARC-Truncated: disconnect) and
# reported as a failure, rather than dropped unseen.
DOWNLOAD_FAIL_ON_DATALOSS = False
# Size limits. Scrapy's 1 GiB default let an endless body take the crawl past 1.1 GB and a
# gzip bomb (977 KB inflating to 1 GB) to 2.9 GB. The largest article page seen on the site
# is well under 1 MB; 32 MiB leaves room for big images. Over the limit a download is
# stopped, archived as received (WARC-Truncated: length) and reported (crawler/limits.py);
# HttpCompressionMiddleware applies the same limit to the inflated size of gzip/deflate/br.
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024
CONTACT_URL = None  # the operator's page or mailto: URL, named in the User-Agent
# USER_AGENT is derived from CONTACT_URL (see TownNewsSpider.update_settings) unless set.
USER_AGENT = f"dgarchive/{__version__} (+archival crawler)"

TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # no control port on an unattended crawler
LOGSTATS_INTERVAL = 0  # the Progress extension reports instead
LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"
# Keep the real reason phrase of every response for the WARC status line.
DOWNLOAD_HANDLERS = {
    "http": "crawler.downloader.HeadRecordingDownloadHandler",
    "https": "crawler.downloader.HeadRecordingDownloadHandler",
}

# Crawl
CRAWL_SITE_ROOT = "https://www.dg.gov.cn/"
CRAWL_PAGE_REQUISITES = True  # stylesheets, scripts and images of archived pages
CRAWL_INCREMENTAL = True  # skip stored articles; stop at the first all-known list page
CRAWL_DISCOVERY = "pages"  # "pages" (list pages) or "feed" (column JSON feed where known)
CRAWL_REVISIT_OLDER_THAN = -1  # days; >= 0 re-checks stored articles with conditional GETs
# Links followed from one list page (articles, page bar and requisites each); the real
# site lists 15-20. More is reported as a failure of the list page and cut.
CRAWL_MAX_LINKS_PER_PAGE = 1000
# Longest Retry-After (seconds) a 429 or 503 may ask for; longer is reported, not retried.
RETRY_AFTER_MAX = 300

# Capture
WARC_ENABLED = True
WARC_DIR = os.environ.get("DGARCHIVE_ARCHIVE") or "archive"
WARC_PREFIX = "DGARCHIVE"
WARC_MAX_SIZE = 1_000_000_000
WARC_OPERATOR = None  # warcinfo `operator` (a name or organisation); CONTACT_URL when unset

# Storage
DB_ENABLED = True
DB_URL = os.environ.get("DGARCHIVE_DB") or "sqlite:///dgarchive.sqlite"
# The configured towns name the town and column rows the database writer creates; the store
# never reads the configuration itself (pipelines/ does not import crawler/).
DB_TOWNS = load_towns()
DB_BATCH_SIZE = 200  # records per transaction; measured faster than 50 or 500 on the mirror

DOWNLOADER_MIDDLEWARES = {
    # Below RetryMiddleware (550): sees only the errors that survived the retries.
    "crawler.report.FailureRecorder": 540,
    # Scrapy's retry and redirect middlewares, in their places, with scope and Retry-After.
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.RetryAfterMiddleware": 550,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.middlewares.ScopedMetaRefreshMiddleware": 580,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.middlewares.ScopedRedirectMiddleware": 600,
    # Scrapy's, in its place, taking the gzip bodies the WARC capture already inflated.
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "crawler.middlewares.InflatedOnceCompressionMiddleware": 590,
}
SPIDER_MIDDLEWARES = {
    # A link over URLLENGTH_LIMIT (2083) is a WARNING and a reported failure, not INFO.
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
    "crawler.middlewares.ReportedUrlLengthMiddleware": 800,
}
EXTENSIONS = {
    "pipelines.capture.WarcCapture": 100,
    "crawler.limits.SizeLimit": 150,
    "crawler.report.RunReport": 200,
    "crawler.logs.Progress": 300,
    "crawler.heap.FrozenHeap": 400,
}
# Once the spider is open, the start-up heap is frozen out of the cyclic garbage collector's
# walks and its young threshold raised (pipelines/heap.py): in the crawl process
# (crawler.heap.FrozenHeap) and in the database writer's (pipelines.database).
FROZEN_HEAP = True
FROZEN_HEAP_THRESHOLD = 10_000  # generation 0; CPython's default is 700
# Scrapy's own extensions less RemoteControl (disabled above), so that its module and aiohttp
# (0.09 CPU-s) are not imported before the first request. Listed as None in EXTENSIONS they
# still were: Scrapy imports every key of EXTENSIONS to normalize it.
EXTENSIONS_BASE = {
    path: order
    for path, order in default_settings.EXTENSIONS_BASE.items()
    if path != "scrapy.extensions.remote_control.RemoteControl"
}
ITEM_PIPELINES = {
    "pipelines.cleaning.CleaningPipeline": 100,
    "pipelines.database.DatabasePipeline": 800,
}
REPORT_FILE = None

# Distributed crawl (`dgarchive crawl --frontier`, crawler/distributed/): the Redis frontier,
# the run-wide idle exit, heartbeats, and the per-host budget shared by every worker
# (concurrency and delay default to CONCURRENT_REQUESTS_PER_DOMAIN and DOWNLOAD_DELAY).
DISTRIBUTED_FRONTIER = os.environ.get("DGARCHIVE_FRONTIER") or None
DISTRIBUTED_IDLE_EXIT = 10.0  # seconds the run must be idle before a worker exits
DISTRIBUTED_HEARTBEAT = 2.0  # seconds between heartbeats
DISTRIBUTED_HEARTBEAT_TTL = 15.0  # a worker silent this long is dead: its leases go back
DISTRIBUTED_HOST_BUDGET = True
DISTRIBUTED_HOST_CONCURRENCY = None
DISTRIBUTED_HOST_DELAY = None

# `scrapy crawl` is `dgarchive crawl` (crawler/commands/crawl.py): same lock, same exit codes.
COMMANDS_MODULE = "crawler.commands"
