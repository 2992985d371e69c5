"""Search latency at archive size: `pipelines.store.search` on N articles, SQLite and
PostgreSQL, p50 and p95 for phrases of three characters or more and of two characters.

`python -m bench.bench_search [--articles 20000] [--engines sqlite,postgres] [--rounds 3]`
writes N synthetic articles (tests/corpus.py: Zipf-distributed words over 3,000 characters,
about 800 characters each) through the store's own writer (`RecordStore.save` in batches,
then `finish_run`, which refreshes the planner statistics as after a crawl), into a fresh
SQLite file and a throwaway PostgreSQL 15 cluster (tests/pg.py; skipped when PostgreSQL is
not installed). Then it times `search(engine, phrase, limit=50)`, a page of results as an
app asks for it, each call opening its own session:
  - 3+ characters: a phrase in 0.1% of the articles (RARE), frequent 3-character words,
    4-character phrases cut from article texts (from very common to rare);
  - 2 characters: frequent 2-character words and 2-character cuts from texts.
Goals: p95 <= 20 ms (3+ characters), <= 100 ms (2 characters).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

GOALS_MS = {"3+": 20.0, "2": 100.0}
LIMIT = 50
BATCH = 500


def records(n: int, seed: int = 0):
    """The contract records of `n` synthetic articles, with their captures."""
    from tests.corpus import Corpus

    corpus = Corpus(seed=seed)
    for i in range(n):
        a = corpus.article(i, rare=i % 1000 == 0)
        china = a["published_at"].astimezone(_china())
        yield {
            "url": f"https://www.dg.gov.cn/houjie/cjjs/tshj/content/post_{4_000_000 + i}.html",
            "site": "中国东莞厚街镇",
            "column": "图说厚街",
            "title": a["title"],
            "published_at": china.isoformat(timespec="seconds"),
            "source": "本网",
            "script": "hans",
            "text": a["text"],
            "images": [],
            "interview": None,
            "anomalies": [],
            "capture": {
                "warc_filename": "DGARCHIVE-bench.warc.gz",
                "warc_offset": 1000 * i,
                "warc_length": 900,
                "warc_record_id": f"<urn:uuid:00000000-0000-4000-8000-{i:012d}>",
                "payload_digest": f"sha1:BENCH{i}",
                "fetched_at": "2026-11-22T00:15:00Z",
                "status": 200,
            },
            "town": "houjie",
        }


def _china():
    from pipelines.store import CHINA

    return CHINA


def fill(url: str, n: int) -> float:
    """Write `n` articles through the store as a crawl does; seconds taken."""
    from crawler.config import load_towns
    from pipelines.store import RecordStore, upgrade

    upgrade(url)
    start = time.perf_counter()
    with RecordStore(url, towns=load_towns()) as store:
        store.start_run("bench")
        batch = []
        for record in records(n):
            batch.append(record)
            if len(batch) == BATCH:
                store.save(batch, "bench")
                batch = []
        if batch:
            store.save(batch, "bench")
        store.finish_run("bench", "finished")  # refreshes the planner statistics
    return time.perf_counter() - start


def phrases(seed: int = 1) -> dict[str, list[str]]:
    """The timed phrases by class, the same on every engine."""
    from tests.corpus import RARE_PHRASE, Corpus

    corpus = Corpus(seed=0)  # the writer's vocabulary
    rng = random.Random(seed)
    cuts = Corpus(seed=0)
    texts = [cuts.article(i)["text"].replace("\n", "") for i in range(40)]

    def cut(size: int) -> str:
        t = rng.choice(texts)
        while True:
            start = rng.randrange(len(t) - size)
            piece = t[start : start + size]
            if not any(c in "，。、；" for c in piece):
                return piece

    return {
        "3+": [RARE_PHRASE, *corpus.common_words(3, 8), *(cut(4) for _ in range(11))],
        "2": [*corpus.common_words(2, 10), *(cut(2) for _ in range(10))],
    }


def time_searches(url: str, queries: dict[str, list[str]], rounds: int) -> dict[str, dict]:
    from pipelines.store import make_engine, search

    engine = make_engine(url)
    try:
        for phrase in queries["3+"][:3] + queries["2"][:3]:  # warm the caches and the pool
            search(engine, phrase, limit=LIMIT)
        out = {}
        for kind, items in queries.items():
            times, hits = [], []
            for _ in range(rounds):
                for phrase in items:
                    start = time.perf_counter()
                    found = search(engine, phrase, limit=LIMIT)
                    times.append((time.perf_counter() - start) * 1000)
                    hits.append(len(found))
            times.sort()
            out[kind] = {
                "queries": len(times),
                "p50_ms": statistics.median(times),
                "p95_ms": times[max(0, round(0.95 * len(times)) - 1)],
                "max_ms": times[-1],
                "mean_hits": statistics.mean(hits),
            }
        return out
    finally:
        engine.dispose()


def report(engine: str, n: int, fill_s: float, results: dict[str, dict]) -> bool:
    print(f"{engine}: {n} articles written in {fill_s:.0f} s ({n / fill_s:.0f}/s)")
    ok = True
    for kind, r in results.items():
        goal = GOALS_MS[kind]
        met = r["p95_ms"] <= goal
        ok &= met
        print(
            f"  {kind:>2} characters: p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms  "
            f"max {r['max_ms']:7.1f} ms  ({r['queries']} queries, {r['mean_hits']:.0f} hits "
            f"on average, limit {LIMIT})  goal p95 <= {goal:.0f} ms: {'met' if met else 'MISSED'}"
        )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20000)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--rounds", type=int, default=3, help="times each phrase is searched")
    args = parser.parse_args(argv)
    queries = phrases()
    ok = True
    for engine in args.engines.split(","):
        if engine == "sqlite":
            with tempfile.TemporaryDirectory(prefix="dgarchive-bench-") as tmp:
                url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
                fill_s = fill(url, args.articles)
                ok &= report(
                    engine, args.articles, fill_s, time_searches(url, queries, args.rounds)
                )
        elif engine == "postgres":
            from tests.pg import PgCluster, PostgresUnavailable

            try:
                cluster = PgCluster()
                cluster.start()
            except PostgresUnavailable as exc:
                print(f"postgres: skipped ({exc})")
                continue
            try:
                url = cluster.create_database("bench")
                fill_s = fill(url, args.articles)
                ok &= report(
                    engine, args.articles, fill_s, time_searches(url, queries, args.rounds)
                )
            finally:
                cluster.stop()
        else:
            parser.error(f"unknown engine {engine!r}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
