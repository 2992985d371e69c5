"""Distributed crawl scaling: 1, 2 and 4 `dgarchive crawl --frontier` workers on one Redis.

`python -m bench.bench_distributed [--articles 400] [--latency 0.1] [--rounds 3]` serves the
mirror with every answer delayed by LATENCY seconds (a remote site), starts a throwaway
redis-server, and crawls the mirror (`--no-db`, capture on) with each worker limited to 2
requests at once (CONCURRENT_REQUESTS=2: at DOWNLOAD_DELAY=0, Scrapy 2.19's downloader hands a
host's whole queue over at once, so CONCURRENT_REQUESTS_PER_DOMAIN alone let 15 through):
  - budget off (DISTRIBUTED_HOST_BUDGET=False): pages/s for 1, 2 and 4 workers and the ratio
    to 1 (goal: >= 1.8x with 2, >= 3x with 4: the work waits on the network);
  - budget on (2 at once for the host, across all workers): 2 and 4 workers stay at about
    one worker's rate.
The rate is the mirror's over the middle 80% of the requests it served (the 10th to the 90th
percentile), so process start-up, workers joining at different times, the last list pages
and the idle exit do not count. Worker counts alternate within each round; the median of the
rounds is printed, with the CPU seconds per page (workers, Redis and the mirror) to show
whether the machine, not the network, was the limit.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.mocksite import MockSite  # noqa: E402
from tests.redisserver import RedisServer  # noqa: E402


class RemoteSite(MockSite):
    def __init__(self, latency: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.latency = latency
        self.times: list[float] = []
        self._t_lock = threading.Lock()

    def _resource(self, path: str):
        time.sleep(self.latency)
        with self._t_lock:
            self.times.append(time.monotonic())
        return super()._resource(path)


def crawl(workers: int, budget: bool, articles: int, latency: float) -> tuple[float, float]:
    """(pages/s in the middle 80% of the crawl, CPU seconds per page)."""
    site = RemoteSite(latency, articles=articles, per_page=20).start()
    cpu = time.process_time()
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis").start()
        try:
            procs = [
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "crawler.cli",
                        "crawl",
                        "--town",
                        "houjie",
                        "--site-root",
                        site.url,
                        "--archive",
                        f"{tmp}/archive",
                        "--no-db",
                        "--frontier",
                        server.url,
                        "--idle-exit",
                        "3",
                        "-s",
                        "AUTOTHROTTLE_ENABLED=False",
                        "-s",
                        "DOWNLOAD_DELAY=0",
                        "-s",
                        "CONCURRENT_REQUESTS=2",
                        "-s",
                        "CONCURRENT_REQUESTS_PER_DOMAIN=2",
                        "-s",
                        "LOG_LEVEL=WARNING",
                        "-s",
                        f"DISTRIBUTED_HOST_BUDGET={budget}",
                        "-s",
                        "DISTRIBUTED_HOST_CONCURRENCY=2",
                    ],
                    cwd=REPO,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
                for _ in range(workers)
            ]
            codes = [p.wait(900) for p in procs]
        finally:
            server.stop()
            site.stop()
    if any(codes):
        raise SystemExit(f"a worker failed: exit codes {codes}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (
        time.process_time()
        - cpu
        + sum(getattr(after, f) - getattr(kids, f) for f in ("ru_utime", "ru_stime"))
    )
    times = sorted(site.times)
    lo, hi = len(times) // 10, len(times) * 9 // 10
    return (hi - lo) / (times[hi] - times[lo]), used / len(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cases = [(False, 1), (False, 2), (False, 4), (True, 1), (True, 2), (True, 4)]
    got: dict[tuple[bool, int], list[tuple[float, float]]] = {c: [] for c in cases}
    for r in range(args.rounds):
        # Alternate the order: a neighbour's load spike should not always hit one case.
        for budget, n in cases if r % 2 == 0 else cases[::-1]:
            rate, cpu = crawl(n, budget, args.articles, args.latency)
            got[budget, n].append((rate, cpu))
            print(f"  round {r + 1} budget {'on ' if budget else 'off'} workers {n}: "
                  f"{rate:.1f} pages/s", file=sys.stderr, flush=True)  # fmt: skip
    for budget in (False, True):
        base = statistics.median(rate for rate, _ in got[budget, 1])
        for n in (1, 2, 4):
            rate = statistics.median(r for r, _ in got[budget, n])
            cpu = statistics.median(c for _, c in got[budget, n])
            rounds = " ".join(f"{r:.1f}" for r, _ in got[budget, n])
            print(
                f"budget {'on ' if budget else 'off'} workers {n}: {rate:6.1f} pages/s "
                f"{rate / base:.2f}x of 1 worker, {cpu * 1000:.0f} ms CPU/page (rounds {rounds})",
                flush=True,
            )


if __name__ == "__main__":
    main()
