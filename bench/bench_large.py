"""Linear growth and memory: whole-process crawls of large mirrors whose page bars link every page.

`python -m bench.bench_large [--sizes 2000,20000] [--rounds 1] [--memory 2000,50000]`
(`make bench-large`; slow: minutes). For each size in `--sizes` it starts the mirror
(`tests.mocksite --full-page-bar`, 10 items a page: 2,001 list pages at 20,000 articles) and
runs, alternating, `dgarchive crawl --full` and bench/bare_spider.py (plain Scrapy, the same
links, each list page asked for once, writing nothing) with the same Scrapy settings. It prints
wall times of the whole processes, pages/s, the ratio project/bare at each size (goal >= 0.85)
and the growth factor, project time at the largest size / at the smallest (goal <= 11x for
10x the articles). Then, for each size in `--memory`, one project crawl whose peak RSS
(VmHWM, polled from /proc for the crawl process and its children) is printed (goal: the
largest at most 50 MB above the smallest).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PER_PAGE = 10
SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "False",
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "LOG_LEVEL": "WARNING",
}
# A full page bar of 1,500 numbers is more than the project's cap on links per page (1,000):
# the cap would cut it and leave pages unreached, so both crawls run without one.
PROJECT_ONLY = ["-s", "CRAWL_MAX_LINKS_PER_PAGE=0"]
COLUMNS = "houjie/cjjs/tshj/,houjie/xwzx/zhxw/"


def start_mirror(articles: int) -> tuple[subprocess.Popen, str]:
    cmd = [
        sys.executable, "-m", "tests.mocksite", "--articles", str(articles), "--port", "0",
        "--per-page", str(PER_PAGE), "--full-page-bar", "--cache-limit", "4000", "--no-log",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    url = line.strip().rsplit(" ", 1)[-1]
    if not url.startswith("http"):
        proc.kill()
        raise SystemExit(f"mirror did not start: {line!r}")
    return proc, url


def _sflags() -> list[str]:
    return [a for k, v in SETTINGS.items() for a in ("-s", f"{k}={v}")]


def _hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


class PeakRss:
    """Polls the peak RSS (VmHWM) of a process and its descendants until it exits."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            todo = [self.pid]
            while todo:
                pid = todo.pop()
                kb = _hwm_kb(pid)
                if kb:
                    self.peaks[pid] = max(self.peaks.get(pid, 0), kb)
                todo += _children(pid)

    def stop(self) -> tuple[float, float]:
        """(peak MB of the crawl process itself, sum of every process's peak MB)."""
        self._stop.set()
        self._thread.join()
        return self.peaks.get(self.pid, 0) / 1024, sum(self.peaks.values()) / 1024


def project_crawl(url: str, work: Path, memory: bool = False) -> dict:
    report = work / "report.json"
    cmd = [
        sys.executable, "-m", "crawler.cli", "-q", "crawl", "--town", "houjie", "--full",
        "--site-root", url, "--archive", str(work / "archive"),
        "--db", f"sqlite:///{work / 'db.sqlite'}", "--report", str(report),
        *_sflags(), *PROJECT_ONLY,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    rss = PeakRss(proc.pid) if memory else None
    _, err = proc.communicate()
    wall = time.monotonic() - t0
    peaks = rss.stop() if rss else (0.0, 0.0)
    if not report.exists():
        raise SystemExit(f"project crawl wrote no report (exit {proc.returncode}): {err[-2000:]}")
    data = json.loads(report.read_text())
    responses = sum(int(v) for v in data.get("responses_by_status", {}).values())
    return {
        "responses": responses, "wall": wall, "exit": proc.returncode, "peak": peaks,
        "articles": data.get("new_articles"), "failures": len(data.get("failures", [])),
    }  # fmt: skip


def bare_crawl(url: str, work: Path) -> dict:
    stats = work / "bare.json"
    cmd = [
        sys.executable, "-m", "scrapy", "runspider", str(REPO / "bench" / "bare_spider.py"),
        "-a", f"root={url}", "-a", f"columns={COLUMNS}", "-a", f"stats_file={stats}",
        "-a", "once=1", "-s", "ROBOTSTXT_OBEY=True", "-s", "TELNETCONSOLE_ENABLED=False",
        *_sflags(),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "SCRAPY_SETTINGS_MODULE"}
    t0 = time.monotonic()
    subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, check=True)
    wall = time.monotonic() - t0
    return {**json.loads(stats.read_text()), "wall": wall}


def timing(sizes: list[int], rounds: int, tmp: Path) -> None:
    walls: dict[int, dict[str, list[float]]] = {}
    rates: dict[int, dict[str, list[float]]] = {}
    for size in sizes:
        mirror, url = start_mirror(size)
        walls[size] = {"project": [], "bare": []}
        rates[size] = {"project": [], "bare": []}
        try:
            for rnd in range(rounds):
                order = ("project", "bare") if rnd % 2 == 0 else ("bare", "project")
                for kind in order:
                    work = tmp / f"{kind}-{size}-{rnd}"
                    work.mkdir()
                    r = project_crawl(url, work) if kind == "project" else bare_crawl(url, work)
                    note = (
                        f" (exit {r['exit']}, {r['articles']} new articles, "
                        f"{r['failures']} failures)"
                        if kind == "project"
                        else ""
                    )
                    walls[size][kind].append(r["wall"])
                    rates[size][kind].append(r["responses"] / r["wall"])
                    print(
                        f"{size:>6} articles {kind:<7} round {rnd}: {r['responses']} pages in "
                        f"{r['wall']:.1f}s = {rates[size][kind][-1]:.1f} pages/s{note}",
                        flush=True,
                    )
        finally:
            mirror.terminate()
            mirror.wait(timeout=30)
    for size in sizes:
        p, b = (statistics.median(rates[size][k]) for k in ("project", "bare"))
        pw, bw = (statistics.median(walls[size][k]) for k in ("project", "bare"))
        print(
            f"{size} articles: project {pw:.1f}s ({p:.1f} pages/s), bare {bw:.1f}s "
            f"({b:.1f} pages/s): ratio project/bare {p / b:.3f} (goal >= 0.85)"
        )
    if len(sizes) > 1:
        lo, hi = sizes[0], sizes[-1]
        for kind in ("project", "bare"):
            growth = statistics.median(walls[hi][kind]) / statistics.median(walls[lo][kind])
            print(
                f"growth {kind}: {hi} / {lo} articles = {growth:.2f}x the time for "
                f"{hi / lo:g}x the articles" + (" (goal <= 11x)" if kind == "project" else "")
            )


def memory(sizes: list[int], tmp: Path) -> None:
    peaks = {}
    for size in sizes:
        mirror, url = start_mirror(size)
        try:
            work = tmp / f"memory-{size}"
            work.mkdir()
            r = project_crawl(url, work, memory=True)
        finally:
            mirror.terminate()
            mirror.wait(timeout=30)
        peaks[size] = r["peak"]
        print(
            f"{size:>6} articles: peak RSS {r['peak'][0]:.1f} MB (crawl process), "
            f"{r['peak'][1]:.1f} MB (with its children); {r['responses']} pages in "
            f"{r['wall']:.1f}s, exit {r['exit']}, {r['articles']} new articles",
            flush=True,
        )
    if len(sizes) > 1:
        lo, hi = sizes[0], sizes[-1]
        print(
            f"peak RSS growth {lo} -> {hi} articles: "
            f"{peaks[hi][0] - peaks[lo][0]:+.1f} MB crawl process, "
            f"{peaks[hi][1] - peaks[lo][1]:+.1f} MB with children (goal <= +50 MB)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="2000,20000", help="article counts to time ('' = none)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--memory", default="2000,50000", help="article counts for peak RSS")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    with tempfile.TemporaryDirectory(prefix="dgbench-large-") as tmp:
        if sizes:
            timing(sizes, args.rounds, Path(tmp))
        mem = [int(s) for s in args.memory.split(",") if s]
        if mem:
            memory(mem, Path(tmp))


if __name__ == "__main__":
    main()
