"""The list pages' share of a crawl, in one process: the spider's callbacks on replayed bodies.

`python -m bench.bench_listing [--articles 5000] [--save OUT.json] [--check OUT.json]
[--profile]`: fetches every list page of the mirror (`tests.mocksite --full-page-bar`, 10
items a page, as bench_large) once, breadth first as the engine would, then times
`TownNewsSpider.parse_listing` over those bodies (CPU seconds, `process_time`) and prints
the number of requests it yielded. `--save` writes what the callbacks yielded (each
request's URL, callback, column and meta, in order) and the crawl stats; `--check` compares
them with a file saved by another tree: the page bar's speed-ups must yield the same
requests in the same order and the same stats.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
import urllib.request

from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from bench import bench_crawl
from crawler.spiders.town_news import TownNewsSpider


def _spider(url: str) -> TownNewsSpider:
    crawler = get_crawler(
        TownNewsSpider,
        {
            "DB_ENABLED": False,
            "WARC_ENABLED": False,
            "CRAWL_SITE_ROOT": url,
            "CRAWL_MAX_LINKS_PER_PAGE": 0,
            "CRAWL_INCREMENTAL": False,
        },
    )
    crawler.spider = crawler._create_spider(town="houjie")
    return crawler.spider


def _fetch(url: str) -> HtmlResponse:
    with urllib.request.urlopen(url, timeout=60) as res:
        body = res.read()
    return HtmlResponse(url, body=body, encoding="utf-8", request=Request(url))


def _row(spider: TownNewsSpider, request: Request) -> list:
    column = request.cb_kwargs.get("column")
    return [
        request.url,
        getattr(request.callback, "__name__", None),
        column.path if column is not None else None,
        sorted((k, repr(v)) for k, v in request.meta.items()),
    ]


def run(spider: TownNewsSpider, url: str) -> tuple[list[HtmlResponse], list]:
    """Fetch the list pages breadth first, calling the spider as the engine would."""
    queue = [(spider.sitemap.column_url(c), c) for c in spider.selected]
    responses = []
    while queue:
        page, column = queue.pop(0)
        response = _fetch(page)
        responses.append((response, column))
        for request in spider.parse_listing(response, column):
            if request.callback == spider.parse_listing:
                queue.append((request.url, column))
    return responses


def replay(spider: TownNewsSpider, responses: list) -> tuple[float, list]:
    out = []
    t0 = time.process_time()
    for response, column in responses:
        out.extend(spider.parse_listing(response, column))
    return time.process_time() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--articles", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--save")
    ap.add_argument("--check")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    mirror, url = bench_crawl.start_mirror(
        args.articles, "--per-page", "10", "--no-log", "--full-page-bar", "--cache-limit", "10"
    )
    try:
        responses = run(_spider(url), url)
    finally:
        mirror.terminate()
        mirror.wait(timeout=30)
    size = sum(len(r.body) for r, _ in responses)
    print(f"{len(responses)} list pages, {size / 1e6:.1f} MB")
    times = []
    for _ in range(args.rounds):
        spider = _spider(url)
        cpu, out = replay(spider, responses)
        times.append(cpu)
    print(
        f"parse_listing over them: {min(times):.2f} CPU-s (best of {args.rounds}: "
        f"{', '.join(f'{t:.2f}' for t in times)}), {len(out)} requests yielded"
    )
    rows = [_row(spider, r) for r in out]
    stats = {k: v for k, v in spider.crawler.stats.get_stats().items() if k.startswith("crawl/")}
    # The mirror's port differs between runs: compare paths.
    result = json.loads(json.dumps({"requests": rows, "stats": stats}).replace(url, "ROOT/"))
    if args.save:
        with open(args.save, "w") as fh:
            json.dump(result, fh)
    if args.check:
        with open(args.check) as fh:
            other = json.load(fh)
        same = other == result
        print(f"same requests, order and stats as {args.check}: {same}")
        if not same:
            for i, (a, b) in enumerate(zip(other["requests"], result["requests"], strict=False)):
                if a != b:
                    print(f"first difference at request {i}: {a} != {b}")
                    break
            print(len(other["requests"]), len(result["requests"]), other["stats"], stats)
            sys.exit(1)
    if args.profile:
        spider = _spider(url)
        prof = cProfile.Profile()
        prof.enable()
        replay(spider, responses)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
