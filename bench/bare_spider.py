"""Baseline for bench_crawl: a bare Scrapy spider that follows the same links, writes nothing.

`-a once=1` (bench_large): ask for each list page once, as the project's spider does,
rather than leaving every page bar's repeats to the duplicate filter; the default keeps
bench_crawl's baseline as it was.

`-a frozen_heap=N` (bench_crawl's `bare-tuned-gc`): the garbage collector tuned as the
project tunes its own crawl process (FROZEN_HEAP, crawler/heap.py): once the spider starts,
the heap alive is frozen (`gc.freeze()`) and generation 0's threshold raised to N. Written
out here rather than imported, so that the baseline runs no project code."""

from __future__ import annotations

import gc
import json
import re
import time

import scrapy

POST = re.compile(r"/content/post_\d+\.html$")
PAGE = re.compile(r"/index(_\d+)?\.html$")


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(
        self, root: str, columns: str, stats_file: str, once: str = "", frozen_heap: str = "",
        **kw,
    ):  # fmt: skip
        super().__init__(**kw)
        self.once = once not in ("", "0")
        self.frozen_heap = int(frozen_heap or 0)
        self.listed: set[str] = set()
        self.root = root.rstrip("/") + "/"
        self.column_paths = columns.split(",")
        self.stats_file = stats_file

    async def start(self):
        self.t0 = time.monotonic()
        if self.frozen_heap:
            gc.freeze()
            gc.set_threshold(self.frozen_heap, *gc.get_threshold()[1:])
        for path in self.column_paths:
            yield scrapy.Request(
                self.root + path, callback=self.parse_list, cb_kwargs={"path": path}
            )

    def _local(self, href: str) -> str:
        return re.sub(r"^https?://www\.dg\.gov\.cn/", self.root, href)

    def parse_list(self, response, path):
        for href in response.css("a::attr(href)").getall():
            url = self._local(response.urljoin(href))
            if not url.startswith(self.root + path):
                continue
            if POST.search(url):
                yield scrapy.Request(url, callback=self.parse_article)
            elif PAGE.search(url) and self._first(url):
                yield scrapy.Request(url, callback=self.parse_list, cb_kwargs={"path": path})
        for m in re.finditer(r"createPageHTML\([^,]*,\s*(\d+)", response.text):
            for n in range(2, int(m.group(1)) + 1):
                url = f"{self.root}{path}index_{n}.html"
                if self._first(url):
                    yield scrapy.Request(url, callback=self.parse_list, cb_kwargs={"path": path})
        for src in response.css("link[rel=stylesheet]::attr(href), img::attr(src)").getall():
            yield scrapy.Request(self._local(response.urljoin(src)), callback=self.ignore)

    def _first(self, url):
        if not self.once:
            return True
        if url in self.listed:
            return False
        self.listed.add(url)
        return True

    def parse_article(self, response):
        for src in response.css("img::attr(src)").getall():
            yield scrapy.Request(self._local(response.urljoin(src)), callback=self.ignore)

    def ignore(self, response):
        return None

    def closed(self, reason):
        stats = self.crawler.stats.get_stats()
        elapsed = time.monotonic() - self.t0
        with open(self.stats_file, "w") as fh:
            json.dump(
                {
                    "responses": stats.get("response_received_count", 0),
                    "elapsed": elapsed,
                    "reason": reason,
                },
                fh,
            )
