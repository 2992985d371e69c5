"""Linear growth and memory: whole-process crawls of large mirrors whose page bars link every page.

`python -m bench.bench_large [--sizes 2000,20000] [--rounds 1] [--memory 2000,50000]`
(`make bench-large`; slow: minutes). For each size in `--sizes` it starts the mirror
(`tests.mocksite --full-page-bar`, 10 items a page: 2,001 list pages at 20,000 articles) and
runs, alternating, `dgarchive crawl --full` and bench/bare_spider.py (plain Scrapy, the same
links, each list page asked for once, writing nothing) with the same Scrapy settings. It prints
wall and CPU seconds of the whole processes (CPU: the robust measure on a shared machine),
peak RSS, the ratio project/bare in pages/s at each size (goal >= 0.85) and the growth
factor, project time at the largest size / at the smallest (goal <= 11x for 10x the
articles). Then, for each size in `--memory`, one project crawl whose peak RSS (wait4(2):
the crawl process or its database writer, whichever is larger) is printed (goal: the
largest at most 50 MB above the smallest).

`--other-tree DIR` (a checkout of another revision, e.g. `git worktree add --detach DIR REV`)
adds its `dgarchive crawl` to the alternating runs, as kind `other`, for before/after numbers
taken under the same load.
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

from bench import bench_crawl

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


def start_mirror(articles: int, full_bar: bool = True) -> tuple[subprocess.Popen, str]:
    return bench_crawl.start_mirror(
        articles, "--per-page", str(PER_PAGE), "--cache-limit", "4000", "--no-log",
        *(["--full-page-bar"] if full_bar else []),
    )  # fmt: skip


def run_measured(cmd: list[str], **kw: object) -> tuple[int, float, float, float, str]:
    """Run a whole process; (exit status, wall s, CPU s, peak RSS MB, stderr).

    CPU seconds (user + system) and the peak RSS come from wait4(2): the process and every
    descendant it reaped (the database writer), exactly, with no polling. On a machine
    shared with other work, CPU seconds are the robust measure of cost; wall time is what
    an operator waits."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    chunks: list[bytes] = []
    drain = threading.Thread(target=lambda: chunks.append(proc.stderr.read()), daemon=True)
    drain.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    drain.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = b"".join(chunks)
    cpu = usage.ru_utime + usage.ru_stime
    return proc.returncode, wall, cpu, usage.ru_maxrss / 1024, err.decode(errors="replace")


def project_crawl(url: str, work: Path, tree: Path = REPO) -> dict:
    report = work / "report.json"
    cmd = [
        sys.executable, "-m", "crawler.cli", "-q", "crawl", "--town", "houjie", "--full",
        "--site-root", url, "--archive", str(work / "archive"),
        "--db", f"sqlite:///{work / 'db.sqlite'}", "--report", str(report),
        *bench_crawl.settings_flags(SETTINGS), *PROJECT_ONLY,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(tree)}
    code, wall, cpu, rss, err = run_measured(cmd, cwd=tree, env=env)
    if not report.exists():
        raise SystemExit(f"project crawl wrote no report (exit {code}): {err[-2000:]}")
    data = json.loads(report.read_text())
    responses = sum(int(v) for v in data.get("responses_by_status", {}).values())
    return {
        "responses": responses, "wall": wall, "cpu": cpu, "rss": rss, "exit": code,
        "articles": data.get("new_articles"), "failures": len(data.get("failures", [])),
    }  # fmt: skip


def bare_crawl(url: str, work: Path) -> dict:
    stats = work / "bare.json"
    cmd = [
        sys.executable, "-m", "scrapy", "runspider", str(REPO / "bench" / "bare_spider.py"),
        "-a", f"root={url}", "-a", f"columns={COLUMNS}", "-a", f"stats_file={stats}",
        "-a", "once=1", "-s", "ROBOTSTXT_OBEY=True", "-s", "TELNETCONSOLE_ENABLED=False",
        *bench_crawl.settings_flags(SETTINGS),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "SCRAPY_SETTINGS_MODULE"}
    code, wall, cpu, rss, err = run_measured(cmd, cwd=work, env=env)
    if code != 0 or not stats.exists():
        raise SystemExit(f"bare crawl failed (exit {code}): {err[-2000:]}")
    return {**json.loads(stats.read_text()), "wall": wall, "cpu": cpu, "rss": rss}


def timing(
    sizes: list[int],
    rounds: int,
    tmp: Path,
    kinds: tuple[str, ...] = ("project", "bare"),
    other_tree: Path | None = None,
) -> None:
    runs: dict[int, dict[str, list[dict]]] = {}
    for size in sizes:
        mirror, url = start_mirror(size)
        runs[size] = {kind: [] for kind in kinds}
        try:
            for rnd in range(rounds):
                order = kinds if rnd % 2 == 0 else kinds[::-1]
                for kind in order:
                    work = tmp / f"{kind}-{size}-{rnd}"
                    work.mkdir()
                    if kind == "bare":
                        r = bare_crawl(url, work)
                    else:
                        tree = other_tree if kind == "other" else REPO
                        r = project_crawl(url, work, tree)
                    runs[size][kind].append(r)
                    note = (
                        f", exit {r['exit']}, {r['articles']} new articles, "
                        f"{r['failures']} failures"
                        if kind != "bare"
                        else ""
                    )
                    print(
                        f"{size:>6} articles {kind:<7} round {rnd}: {r['responses']} pages in "
                        f"{r['wall']:.1f}s wall, {r['cpu']:.1f} CPU-s, peak RSS "
                        f"{r['rss']:.0f} MB{note}",
                        flush=True,
                    )
        finally:
            mirror.terminate()
            mirror.wait(timeout=30)

    def med(size: int, kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[size][kind])

    if "other" in kinds and "project" in kinds:
        for size in sizes:
            cpu = med(size, "other", "cpu") / med(size, "project", "cpu")
            wall = med(size, "other", "wall") / med(size, "project", "wall")
            print(
                f"{size} articles: other tree {med(size, 'other', 'wall'):.1f}s wall / "
                f"{med(size, 'other', 'cpu'):.1f} CPU-s: it took {wall:.2f}x the wall time "
                f"and {cpu:.2f}x the CPU time of this tree"
            )
    if not {"project", "bare"} <= set(kinds):
        return
    for size in sizes:
        # Pages per second of each, in wall time and per CPU second: the ratio project/bare.
        ratio = {
            key: (med(size, "project", "responses") / med(size, "project", key))
            / (med(size, "bare", "responses") / med(size, "bare", key))
            for key in ("wall", "cpu")
        }
        print(
            f"{size} articles: project {med(size, 'project', 'wall'):.1f}s wall / "
            f"{med(size, 'project', 'cpu'):.1f} CPU-s, bare {med(size, 'bare', 'wall'):.1f}s / "
            f"{med(size, 'bare', 'cpu'):.1f} CPU-s: ratio project/bare (pages/s) "
            f"{ratio['wall']:.3f} wall, {ratio['cpu']:.3f} CPU (goal >= 0.85)"
        )
    if len(sizes) > 1:
        lo, hi = sizes[0], sizes[-1]
        for kind in (k for k in ("project", "bare", "other") if k in kinds):
            wall = med(hi, kind, "wall") / med(lo, kind, "wall")
            cpu = med(hi, kind, "cpu") / med(lo, kind, "cpu")
            goal = " (goal <= 11x)" if kind == "project" else ""
            print(
                f"growth {kind}, {hi} / {lo} articles ({hi / lo:g}x): {wall:.2f}x the wall "
                f"time, {cpu:.2f}x the CPU time{goal}"
            )


def memory(sizes: list[int], tmp: Path) -> None:
    """Peak RSS against the archive's size. The mirror's ordinary page bar (a window of page
    numbers, as the real site renders): what must not grow is the state kept per article
    (known articles, duplicate filter, writer batches). A bar linking all 5,001 pages of a
    50,000-article column is an input of 1.5 GB of list pages, timed by the runs above."""
    peaks = {}
    for size in sizes:
        mirror, url = start_mirror(size, full_bar=False)
        try:
            work = tmp / f"memory-{size}"
            work.mkdir()
            r = project_crawl(url, work)
        finally:
            mirror.terminate()
            mirror.wait(timeout=30)
        peaks[size] = r["rss"]
        print(
            f"{size:>6} articles: peak RSS {r['rss']:.1f} MB; {r['responses']} pages in "
            f"{r['wall']:.1f}s wall, {r['cpu']:.1f} CPU-s, exit {r['exit']}, "
            f"{r['articles']} new articles",
            flush=True,
        )
    if len(sizes) > 1:
        lo, hi = sizes[0], sizes[-1]
        print(
            f"peak RSS growth {lo} -> {hi} articles: {peaks[hi] - peaks[lo]:+.1f} MB "
            "(goal <= +50 MB)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="2000,20000", help="article counts to time ('' = none)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument(
        "--kinds", default="project,bare", help="which crawls to time (project, bare, other)"
    )
    ap.add_argument(
        "--other-tree", type=Path, help="a checkout of another revision: the 'other' kind"
    )
    ap.add_argument("--memory", default="2000,50000", help="article counts for peak RSS")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    with tempfile.TemporaryDirectory(prefix="dgbench-large-") as tmp:
        if sizes:
            kinds = tuple(args.kinds.split(","))
            if args.other_tree and "other" not in kinds:
                kinds += ("other",)
            timing(sizes, args.rounds, Path(tmp), kinds, args.other_tree)
        mem = [int(s) for s in args.memory.split(",") if s]
        if mem:
            memory(mem, Path(tmp))


if __name__ == "__main__":
    main()
