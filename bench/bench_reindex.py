"""Rebuilding the database: `dgarchive reindex` against `dgarchive extract` on the same files.

`python -m bench.bench_reindex [--articles 2000] [--rounds 3] [--profile] [--other-tree DIR]`
crawls the project's mirror (tests.mocksite, no faults) once with `dgarchive crawl`, then
times, whole processes, in alternating order round after round:
  - reindex: `dgarchive reindex` of that archive into a new SQLite database;
  - extract: `dgarchive extract` of each of its WARC files (the same reading and extraction,
             no database);
  - other-tree (with `--other-tree`): `dgarchive reindex` run from another checkout (a
             baseline revision) on the same archive.
It prints articles per second of each, their CPU seconds (the process and its children:
reindex's reader process included; less sensitive to the machine's load than wall time) and
the ratio reindex/extract (target >= 0.7: the database part must not dominate), and checks
the rebuilt database holds every article.
Every tree runs as installed, from its bytecode (bench/bytecode.py compiles each first).
`--profile` also runs one reindex under cProfile, reading and writing in this process (no
reader process, so that every share is seen), and prints where its time went:
reading WARC records, extraction, cleaning, and the store (`RecordStore.save`).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bytecode import compile_tree
from bench.mirror_archive import REPO, MirrorArchive, crawl_archive, dgarchive

PHASES = {  # cProfile function name -> what it is; cumulative times, so they may nest
    "read_warc": "reading WARC records",
    "record": "extraction (ArticleEnricher.record)",
    "process_item": "cleaning (CleaningPipeline)",
    "save": "the store (RecordStore.save)",
    "run_reindex": "the whole reindex",
}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_reindex(made: MirrorArchive, db: Path, tree: Path | None = None) -> float:
    start = time.perf_counter()
    args = ("reindex", "--archive", str(made.archive), "--db", f"sqlite:///{db}")
    if tree is None:
        proc = dgarchive(*args)
    else:
        proc = subprocess.run(
            [sys.executable, "-m", "crawler.cli", *args],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"dgarchive reindex exited {proc.returncode}: {proc.stderr[-2000:]!r}")
    return elapsed


def run_extract(made: MirrorArchive, out: Path) -> float:
    start = time.perf_counter()
    for warc in made.warcs:
        with out.open("wb") as fh:
            proc = dgarchive("extract", str(warc), stdout=fh)
        if proc.returncode != 0:
            raise SystemExit(f"dgarchive extract exited {proc.returncode}: {proc.stderr[-2000:]!r}")
    return time.perf_counter() - start


def stored_articles(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM articles").fetchone()[0]


def profile_reindex(made: MirrorArchive, db: Path) -> None:
    from crawler.reindexing import run_reindex as reindex

    profiler = cProfile.Profile()
    sink = io.StringIO()
    profiler.runcall(
        reindex, made.archive, f"sqlite:///{db}", sink, sys.stderr, reader_process=False
    )
    stats = pstats.Stats(profiler)
    found: dict[str, float] = {}
    for (filename, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        interesting = (
            (name == "read_warc" and "warc/reader" in filename)
            or (name == "record" and "reindexpages" in filename)
            or (name == "process_item" and "cleaning" in filename)
            or (name == "save" and "store/writer" in filename)
            or (name == "run_reindex" and "reindexing" in filename)
        )
        if interesting:
            found[name] = found.get(name, 0.0) + ct
    total = found.get("run_reindex", 0.0) or 1.0
    print("profile of one reindex (cProfile, cumulative; reading is a generator, so its share")
    print("is the time spent producing records):")
    for name, what in PHASES.items():
        if name in found:
            print(f"  {what:<38} {found[name]:6.2f}s  {100 * found[name] / total:5.1f}%")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
    print("\n".join(out.getvalue().splitlines()[-16:]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_reindex",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--articles", type=int, default=2000, help="mirror articles (2000)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (3)")
    parser.add_argument("--profile", action="store_true", help="also profile one reindex")
    parser.add_argument(
        "--other-tree", type=Path, help="also time reindex from this checkout (a baseline)"
    )
    args = parser.parse_args(argv)
    # As installed: every tree timed reads its modules' bytecode (bench/bytecode.py).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for tree in (REPO, args.other_tree):
        if tree is not None:
            compile_tree(tree)

    with tempfile.TemporaryDirectory(prefix="dgbench-reindex-") as tmp:
        work = Path(tmp)
        made = crawl_archive(args.articles, work)
        size = sum(w.stat().st_size for w in made.warcs)
        print(f"archive: {len(made.warcs)} WARC file(s), {size / 1e6:.1f} MB", flush=True)
        t_re: list[float] = []
        t_ex: list[float] = []
        t_other: list[float] = []
        cpu: dict[str, list[float]] = {"reindex": [], "extract": [], "other-tree": []}
        for rnd in range(args.rounds):
            db = work / f"reindex-{rnd}.sqlite"
            other_db = work / f"other-{rnd}.sqlite"
            runs = [
                ("reindex", lambda db=db: run_reindex(made, db), t_re),
                ("extract", lambda: run_extract(made, work / "extract.jsonl"), t_ex),
            ]
            if args.other_tree is not None:
                runs.append(
                    (
                        "other-tree",
                        lambda db=other_db: run_reindex(made, db, args.other_tree),
                        t_other,
                    )
                )
            for name, run, times in runs if rnd % 2 == 0 else reversed(runs):
                before = children_cpu()
                times.append(run())
                cpu[name].append(children_cpu() - before)
                print(
                    f"{name:<10} round {rnd}: {times[-1]:.2f}s  cpu {cpu[name][-1]:.2f}s",
                    flush=True,
                )
            for rebuilt in [db] + ([other_db] if args.other_tree is not None else []):
                stored = stored_articles(rebuilt)
                if stored != len(made.kinds):
                    print(f"reindex stored {stored} articles of the mirror's {len(made.kinds)}")
                    return 1
        n = len(made.kinds)
        a, b = statistics.median(t_re), statistics.median(t_ex)
        ca, cb = statistics.median(cpu["reindex"]), statistics.median(cpu["extract"])
        print(
            f"dgarchive reindex   {a:6.2f}s  {n / a:7.1f} articles/s  cpu {ca:5.2f}s "
            "(whole process and its reader process, SQLite)"
        )
        print(
            f"dgarchive extract   {b:6.2f}s  {n / b:7.1f} articles/s  cpu {cb:5.2f}s (whole process)"
        )
        if t_other:
            c = statistics.median(t_other)
            cc = statistics.median(cpu["other-tree"])
            print(
                f"other-tree reindex  {c:6.2f}s  {n / c:7.1f} articles/s  cpu {cc:5.2f}s "
                f"({args.other_tree}); this tree {c / a:.2f}x its articles/s"
            )
        print(
            f"ratio reindex/extract {b / a:.3f} (articles/s, medians of {args.rounds} "
            "alternating rounds; target >= 0.7)"
        )
        if args.profile:
            profile_reindex(made, work / "profiled.sqlite")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
