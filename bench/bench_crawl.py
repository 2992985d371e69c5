"""Crawl throughput: the full project against a bare Scrapy spider on the same mirror.

`python -m bench.bench_crawl [--articles 2000] [--rounds 3] [--other-tree DIR]` starts the
project's mirror with N articles in its own process, then crawls it, whole processes, in
alternating order round after round:
  - project: `dgarchive crawl --full` with capture, cleaning, extraction and storage on;
  - bare:    bench/bare_spider.py, plain Scrapy following the same links, writing nothing.
All run with the same mirror settings; the bare crawl runs three times: with Scrapy's
defaults, with the Scrapy settings the project gives itself (`TUNING`: the same settings, so
the ratio against it is the cost of the project's own work), and `bare-tuned-gc`, with those
and the garbage collector tuned as the project's crawl process tunes its own (FROZEN_HEAP:
the start-up heap frozen, generation 0's threshold raised; `TUNING_GC`). The GC tuning is
no Scrapy setting but the Python runtime's, so both ratios are printed: against
`bare-tuned` (what the goal was first measured with) and against `bare-tuned-gc` (a bare
spider given every tuning the project gives itself). `--other-tree DIR` adds a crawl by
another checkout's code (e.g. a `git worktree` of main) to every round: a before/after
comparison under the same load. It prints the median time and pages per second of each and
the ratios (target: project >= 0.85 of the bare crawl given the same settings), then measures
an incremental re-crawl with nothing new: requests besides robots.txt and bytes written,
relative to the first crawl. Each crawl's CPU seconds (user + system of the crawl process and
the children it waited for, the database writer included; from getrusage) are printed too:
on a shared machine they move far less with the load than the wall time does.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "False",
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "LOG_LEVEL": "WARNING",
}
COLUMNS = "houjie/cjjs/tshj/,houjie/xwzx/zhxw/"
KINDS = ("bare", "bare-tuned", "bare-tuned-gc", "project")
# Scrapy settings the project tunes for its own workload (crawler/settings.py); the tuned
# bare crawl gets them too, so the ratio against it measures only the project's own work.
TUNING = ["-s", "CONCURRENT_ITEMS=16", "-s", "WARN_ON_GENERATOR_RETURN_VALUE=False"]
# And the project's FROZEN_HEAP (crawler/heap.py, FROZEN_HEAP_THRESHOLD's default), which
# bare_spider.py applies itself when given `frozen_heap`.
TUNING_GC = [*TUNING, "-a", "frozen_heap=10000"]
BARE_EXTRA = {"bare": [], "bare-tuned": TUNING, "bare-tuned-gc": TUNING_GC}


def start_mirror(articles: int, *extra: str) -> tuple[subprocess.Popen, str]:
    """The mirror (tests.mocksite) in its own process on a free port; `extra` are its options."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.mocksite", "--articles", str(articles), "--port", "0",
         *extra],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    line = proc.stdout.readline()
    url = line.strip().rsplit(" ", 1)[-1]
    if not url.startswith("http"):
        proc.kill()
        raise SystemExit(f"mirror did not start: {line!r}")
    return proc, url


def _children_cpu() -> float:
    """User + system CPU seconds of every child waited for so far (and of their own children
    they waited for: the project's database writer process)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def settings_flags(settings: dict) -> list[str]:
    """`-s KEY=VALUE` for each Scrapy setting."""
    return [a for k, v in settings.items() for a in ("-s", f"{k}={v}")]


def project_crawl(url: str, work: Path, *extra: str, tree: Path = REPO) -> dict:
    report = work / f"report-{time.monotonic_ns()}.json"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cpu0 = _children_cpu()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "-q",
            "crawl",
            "--town",
            "houjie",
            "--site-root",
            url,
            "--archive",
            str(work / "archive"),
            "--db",
            f"sqlite:///{work / 'db.sqlite'}",
            "--report",
            str(report),
            *settings_flags(SETTINGS),
            *extra,
        ],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    if not report.exists():
        raise SystemExit(
            f"project crawl wrote no report (exit {proc.returncode}): {proc.stderr[-2000:]}"
        )
    data = json.loads(report.read_text())
    elapsed = float(data["duration_seconds"])
    responses = sum(int(v) for v in data.get("responses_by_status", {}).values())
    return {
        "responses": responses,
        "elapsed": elapsed,
        "cpu": _children_cpu() - cpu0,
        "report": data,
        "exit": proc.returncode,
    }


def bare_crawl(url: str, work: Path, *extra: str) -> dict:
    stats = work / f"bare-{time.monotonic_ns()}.json"
    env = {k: v for k, v in os.environ.items() if k != "SCRAPY_SETTINGS_MODULE"}
    cpu0 = _children_cpu()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "runspider",
            str(REPO / "bench" / "bare_spider.py"),
            "-a",
            f"root={url}",
            "-a",
            f"columns={COLUMNS}",
            "-a",
            f"stats_file={stats}",
            "-s",
            "ROBOTSTXT_OBEY=True",
            "-s",
            "TELNETCONSOLE_ENABLED=False",
            *settings_flags(SETTINGS),
            *extra,
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return {**json.loads(stats.read_text()), "cpu": _children_cpu() - cpu0}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--other-tree", type=Path, help="also crawl with this checkout's code")
    args = ap.parse_args()
    kinds = KINDS + (("other-tree",) if args.other_tree else ())
    mirror, url = start_mirror(args.articles)
    try:
        runs: dict[str, list[dict]] = {k: [] for k in kinds}
        first = None
        with tempfile.TemporaryDirectory(prefix="dgbench-") as tmp:
            for rnd in range(args.rounds):
                order = kinds if rnd % 2 == 0 else tuple(reversed(kinds))
                for kind in order:
                    work = Path(tmp) / f"{kind}-{rnd}"
                    work.mkdir()
                    note = ""
                    if kind in ("project", "other-tree"):
                        tree = args.other_tree.resolve() if kind == "other-tree" else REPO
                        r = project_crawl(url, work, "--full", tree=tree)
                        if kind == "project":
                            first = first or (work, r)
                        note = (
                            f" (exit {r['exit']}, {r['report'].get('new_articles')} new articles)"
                        )
                    else:
                        r = bare_crawl(url, work, *BARE_EXTRA[kind])
                    runs[kind].append(r)
                    print(
                        f"{kind:<13} round {rnd}: {r['responses']} pages in {r['elapsed']:.2f}s "
                        f"= {r['responses'] / r['elapsed']:.1f} pages/s, "
                        f"{r['cpu']:.2f} CPU-s{note}",
                        flush=True,
                    )
            secs = {k: statistics.median(r["elapsed"] for r in v) for k, v in runs.items()}
            rate = {
                k: statistics.median(r["responses"] / r["elapsed"] for r in v)
                for k, v in runs.items()
            }
            cpu = {k: statistics.median(r["cpu"] for r in v) for k, v in runs.items()}
            for k in kinds:
                print(
                    f"median {k:<13} {secs[k]:7.2f}s  {rate[k]:6.1f} pages/s  {cpu[k]:6.2f} CPU-s"
                )
            print(
                f"ratio project/bare (pages/s, medians of {args.rounds} alternating rounds): "
                f"{rate['project'] / rate['bare-tuned']:.3f} against the bare crawl given the "
                f"same settings ({' '.join(TUNING[1::2])}; target >= 0.85), "
                f"{rate['project'] / rate['bare-tuned-gc']:.3f} against the bare crawl given "
                f"those and the project's GC tuning (frozen heap, gen-0 threshold 10000), "
                f"{rate['project'] / rate['bare']:.3f} against Scrapy's defaults"
            )
            print(
                "CPU seconds (user + system of the crawl process and its children; less "
                f"sensitive to the machine's load): project/bare-tuned "
                f"{cpu['project'] / cpu['bare-tuned']:.3f}, project/bare-tuned-gc "
                f"{cpu['project'] / cpu['bare-tuned-gc']:.3f}"
            )
            if args.other_tree:
                print(
                    f"this tree against {args.other_tree}: "
                    f"{rate['project'] / rate['other-tree']:.3f}x the pages/s, "
                    f"{cpu['project'] / cpu['other-tree']:.3f}x the CPU seconds"
                )

            work, r1 = first
            r2 = project_crawl(url, work)
            rep1, rep2 = r1["report"], r2["report"]
            req2 = int(rep2.get("requests", 0)) - 1  # minus robots.txt
            bytes1, bytes2 = int(rep1.get("bytes_written", 0)), int(rep2.get("bytes_written", 0))
            print(
                f"re-crawl with nothing new: {req2} requests besides robots.txt (target <= 2), "
                f"{bytes2} bytes written = {100 * bytes2 / max(bytes1, 1):.2f}% of the first "
                f"crawl's {bytes1} (target <= 1%), {rep2.get('new_articles')} new articles, "
                f"{rep2.get('known_skipped')} known skipped"
            )
    finally:
        mirror.terminate()
        mirror.wait(timeout=10)


if __name__ == "__main__":
    main()
