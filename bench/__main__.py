"""`python -m bench`: run every benchmark in turn; the exit status is the first failure's."""

from __future__ import annotations

import runpy
import sys

status = 0
for name in (
    "bench.bench_crawl",
    "bench.bench_extract",
    "bench.bench_reindex",
    "bench.bench_distributed",
    "bench.bench_search",
    "bench.bench_startup",
):
    print(f"== {name}", flush=True)
    sys.argv = [name]
    try:
        runpy.run_module(name, run_name="__main__")
    except SystemExit as exc:  # a benchmark's own exit must not skip the ones after it
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        status = status or code
sys.exit(status)
