"""`python -m bench`: run every benchmark in turn."""

from __future__ import annotations

import runpy
import sys

for name in ("bench.bench_crawl", "bench.bench_extract", "bench.bench_distributed"):
    print(f"== {name}", flush=True)
    sys.argv = [name]
    runpy.run_module(name, run_name="__main__")
