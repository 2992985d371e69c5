"""Distributed crawl scaling: 1, 2 and 4 `dgarchive crawl --frontier` workers on one Redis.

`python -m bench.bench_distributed [--articles 400] [--latency 0.1]` serves the mirror with
every answer delayed by LATENCY seconds (a remote site), starts a throwaway redis-server, and
crawls the mirror (`--no-db`, capture on) with each worker limited to 2 requests at once:
  - budget off (DISTRIBUTED_HOST_BUDGET=False): pages/s for 1, 2 and 4 workers and the ratio
    to 1 (goal: >= 1.8x with 2, >= 3x with 4: the work waits on the network);
  - budget on (2 at once for the host, across all workers): 2 and 4 workers stay at about
    one worker's rate.
The rate is the mirror's: requests served / (last request - first request), so process
start-up and the idle exit do not count.
"""

from __future__ import annotations

import argparse
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


def crawl(workers: int, budget: bool, articles: int, latency: float) -> float:
    site = RemoteSite(latency, articles=articles, per_page=20).start()
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
    times = sorted(site.times)
    return (len(times) - 1) / (times[-1] - times[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()
    for budget in (False, True):
        base = None
        for n in (1, 2, 4) if not budget else (2, 4):
            rate = crawl(n, budget, args.articles, args.latency)
            base = base or rate
            label = "on " if budget else "off"
            ratio = f"{rate / base:.2f}x of 1 worker" if not budget else ""
            print(f"budget {label} workers {n}: {rate:6.1f} pages/s {ratio}", flush=True)


if __name__ == "__main__":
    main()
