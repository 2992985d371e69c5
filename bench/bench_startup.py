"""Start-up: time from launching `dgarchive crawl` to the mirror receiving its first request.

`python -m bench.bench_startup [--rounds 5]` serves the mirror in this process (a thread)
and launches `dgarchive crawl --site-root <mirror>` (a fresh archive and SQLite database
each time) as a whole process, `rounds` times; each time it measures from just before the
launch to the moment the mirror's handler receives the first request (robots.txt), then
stops the crawl. It prints every round and the median (goal: < 1 s), with the CPU seconds
the crawl's processes had used by then (what the start-up costs, which a loaded machine
does not inflate as it does wall time). What it is made of: docs/architecture.md.

`--baseline DIR` (another checkout, e.g. `git worktree add /tmp/base main`) runs that tree's
`dgarchive crawl` too, alternating with this one within each round (which goes first
alternates as well), and prints both medians and their ratios.

The crawl runs with Python's bytecode cache, as an installed dgarchive does, even where
PYTHONDONTWRITEBYTECODE is set (the first round writes `__pycache__`, which git ignores);
`--no-pyc` compiles the project's modules on every launch instead (about 0.1 CPU-s more).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.mocksite import MockSite  # noqa: E402


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time (user + system) of a live process, and of its live descendants (the database
    writer, multiprocessing's resource tracker), from /proc: on a loaded machine it says what
    the start-up costs where wall time says how long it waited for a core."""
    own = others = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{p}/task/{p}/children") as fh:
                todo += [int(c) for c in fh.read().split()]
        except OSError:
            continue
        seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        if p == pid:
            own = seconds
        else:
            others += seconds
    return own, others


def first_request_seconds(
    site: MockSite, work: Path, extra: list[str], repo: Path = REPO, pyc: bool = True
) -> tuple[float, tuple[float, float], str]:
    site.reset_log()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DGARCHIVE_")}
    env["PYTHONPATH"] = str(repo)
    if pyc:  # as installed: the project's modules are read from __pycache__, not compiled
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    cmd = [
        sys.executable, "-m", "crawler.cli", "-q", "crawl", "--town", "houjie",
        "--site-root", site.url, "--archive", str(work / "archive"),
        "--db", f"sqlite:///{work / 'db.sqlite'}",
        "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", *extra,
    ]  # fmt: skip
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = t0 + 120
        while not site.requests_log:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the crawl made no request (exit {proc.returncode})")
            time.sleep(0.001)
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(proc.pid)
        first = site.requests_log[0][1]
    finally:
        proc.send_signal(signal.SIGINT)  # the crawl's own graceful stop
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return elapsed, cpu, first


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--baseline", metavar="DIR", help="another checkout to time alternately with this one"
    )
    ap.add_argument(
        "--no-pyc", action="store_true", help="no bytecode cache: compile on every launch"
    )
    ap.add_argument(
        "extra", nargs="*", help="more `dgarchive crawl` arguments (after --), e.g. --no-db"
    )
    args = ap.parse_args()
    trees = {"this": REPO}
    if args.baseline:
        trees["baseline"] = Path(args.baseline).resolve()
    times: dict[str, list[float]] = {name: [] for name in trees}
    cpus: dict[str, list[float]] = {name: [] for name in trees}
    mains: dict[str, list[float]] = {name: [] for name in trees}
    with MockSite(articles=60) as site, tempfile.TemporaryDirectory(prefix="dgstart-") as tmp:
        for rnd in range(args.rounds):
            order = list(trees) if rnd % 2 == 0 else list(reversed(trees))
            for name in order:
                work = Path(tmp) / f"{rnd}-{name}"
                work.mkdir()
                seconds, cpu, first = first_request_seconds(
                    site, work, args.extra, trees[name], pyc=not args.no_pyc
                )
                times[name].append(seconds)
                cpus[name].append(sum(cpu))
                mains[name].append(cpu[0])
                label = f" {name}" if len(trees) > 1 else ""
                print(
                    f"round {rnd}{label}: first request {first} after {seconds:.3f}s "
                    f"({sum(cpu):.2f} CPU-s in the crawl's processes: {cpu[0]:.2f} in the "
                    f"crawl process, {cpu[1]:.2f} in its children)",
                    flush=True,
                )
    for name in trees:
        label = f" ({name}: {trees[name]})" if len(trees) > 1 else ""
        print(
            f"start-up{label}: launch to first request, median of {len(times[name])}: "
            f"{statistics.median(times[name]):.3f}s (goal < 1 s); CPU seconds used by then "
            f"{statistics.median(cpus[name]):.2f}, of which the crawl process "
            f"{statistics.median(mains[name]):.2f} (load average {os.getloadavg()[0]:.1f})"
        )
    if len(trees) > 1:
        wall = statistics.median(times["this"]) / statistics.median(times["baseline"])
        cpu = statistics.median(cpus["this"]) / statistics.median(cpus["baseline"])
        main = statistics.median(mains["this"]) / statistics.median(mains["baseline"])
        print(
            f"this / baseline, medians: wall {wall:.2f}, CPU seconds {cpu:.2f} "
            f"(crawl process {main:.2f})"
        )


if __name__ == "__main__":
    main()
