"""Extraction over a WARC file: `dgarchive extract` against `trafilatura.extract()`.

`python -m bench.bench_extract [--articles 2000] [--rounds 3] [--warc FILE]` crawls the
project's mirror (tests.mocksite, no faults) once with `dgarchive crawl` into one WARC file
(or takes `--warc`), then times, whole processes, in alternating order round after round:
  - ours:   `dgarchive extract FILE`, every article's full record (JSON lines);
  - theirs: bench/trafilatura_warc.py FILE, trafilatura's plain text of every article
            (its defaults; no metadata or structure asked for).
Both run as installed programs do, with Python's bytecode caches: PYTHONDONTWRITEBYTECODE
is dropped from their environment and one untimed run of each comes first (trafilatura's
modules in site-packages have their caches from pip; without this, every timed run of
`dgarchive` compiled its hundred-odd modules again, about 0.06 s).
It prints both median times and the ratio (target: ours >= 5x), then checks what each
printed: that every article of the WARC came out with its full structure (title, date,
text, and for every interview guests, summary and host and guest turns) and how many
boilerplate strings each left in its text (target: none).
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

from bench.mirror_archive import REPO, crawl_archive, dgarchive

# Strings that are never article content on this site, in both scripts. A hit is a failure.
BOILERPLATE = [
    "提示:您已", "提示：您已", "您已进入", "您已進入", "您已离开", "您已離開", "视窗区", "視窗區",
    "导航区", "導航區", "交互区", "交互區", "本区域含有", "本區域含有", "按下Tab", "按下tab",
    "操作帮助", "操作幫助", "分享到", "字体大小", "字體大小", "字体：", "字體：", "打印页面",
    "打印頁面", "关闭页面", "關閉頁面", "打印本页", "关闭窗口", "当前位置", "當前位置", "版权所有",
    "版權所有", "网站标识码", "網站標識碼", "备案号", "備案號", "公网安备", "公網安備", "技术支持",
    "技術支持", "联系我们", "聯系我們", "网站地图", "網站地圖", "站长统计", "站長統計",
    "日韩欧美综合",
]  # fmt: skip


def full_structure(record: dict) -> bool:
    """An interview's structure: guests, summary, host and guest turns, sections if any."""
    iv = record.get("interview")
    if not iv or not iv["guests"] or not iv["summary"] or not iv["turns"]:
        return False
    roles = {t["role"] for t in iv["turns"]}
    wants_sections = any(x.startswith(("关键词", "關鍵詞")) for x in record["text"].split("\n"))
    return roles == {"host", "guest"} and (bool(iv["sections"]) or not wants_sections)


def count_boilerplate(texts: list[str]) -> dict[str, int]:
    counts = {}
    for needle in BOILERPLATE:
        n = sum(t.count(needle) for t in texts)
        if n:
            counts[needle] = n
    return counts


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's waited-for children so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_ours(warc: Path, out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of `dgarchive extract` (CPU with its reading process)."""
    start, cpu = time.perf_counter(), _children_cpu()
    with out.open("wb") as fh:
        proc = dgarchive("extract", str(warc), stdout=fh)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"dgarchive extract exited {proc.returncode}: {proc.stderr[-2000:]!r}")
    return elapsed, _children_cpu() - cpu


def run_theirs(warc: Path, out: Path) -> tuple[float, float]:
    start, cpu = time.perf_counter(), _children_cpu()
    with out.open("wb") as fh:
        subprocess.run(
            [sys.executable, str(REPO / "bench" / "trafilatura_warc.py"), str(warc)],
            stdout=fh,
            check=True,
        )
    return time.perf_counter() - start, _children_cpu() - cpu


def check_records(records: list[dict], kinds: dict[str, str]) -> list[str]:
    """What is missing from the records: each problem as a line (none: all complete)."""
    problems = []
    urls = {r["url"] for r in records}
    if kinds and urls != set(kinds):
        problems.append(
            f"{len(set(kinds) - urls)} articles of the mirror missing, "
            f"{len(urls - set(kinds))} records not of the mirror's articles"
        )
    for field in ("title", "published_at", "text", "site", "column"):
        empty = sum(1 for r in records if not r.get(field))
        if empty:
            problems.append(f"{empty} records without {field}")
    expected = {u for u, k in kinds.items() if k == "interview"}
    structured = {r["url"] for r in records if full_structure(r)}
    if expected - structured:
        problems.append(f"{len(expected - structured)} interviews without their full structure")
    wrong = {r["url"] for r in records if r["interview"]} - expected
    if kinds and wrong:
        problems.append(f"{len(wrong)} pages taken for interviews that are not")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_extract",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--articles", type=int, default=2000, help="mirror articles (2000)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (3)")
    parser.add_argument("--warc", type=Path, help="use this WARC file instead of a crawl")
    args = parser.parse_args(argv)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # see the module's docstring

    with tempfile.TemporaryDirectory(prefix="dgbench-extract-") as tmp:
        work = Path(tmp)
        if args.warc:
            warc, kinds = args.warc, {}
        else:
            made = crawl_archive(args.articles, work)
            warc, kinds = made.warcs[0], made.kinds
        print(f"WARC {warc.name}: {warc.stat().st_size / 1e6:.1f} MB", flush=True)
        ours_out, theirs_out = work / "ours.jsonl", work / "theirs.jsonl"
        run_ours(warc, ours_out)  # untimed: writes the bytecode caches, warms the file cache
        run_theirs(warc, theirs_out)
        t_ours: list[float] = []
        t_theirs: list[float] = []
        c_ours: list[float] = []
        c_theirs: list[float] = []
        for rnd in range(args.rounds):
            pair = [
                ("ours", run_ours, ours_out, t_ours, c_ours),
                ("theirs", run_theirs, theirs_out, t_theirs, c_theirs),
            ]
            for name, run, out, times, cpus in pair if rnd % 2 == 0 else reversed(pair):
                wall, cpu = run(warc, out)
                times.append(wall)
                cpus.append(cpu)
                print(f"{name:<6} round {rnd}: {wall:.2f}s  (CPU {cpu:.2f}s)", flush=True)
        records = [json.loads(x) for x in ours_out.read_text(encoding="utf-8").splitlines()]
        texts = [json.loads(x)["text"] for x in theirs_out.read_text(encoding="utf-8").splitlines()]
        a, b = statistics.median(t_ours), statistics.median(t_theirs)
        ratios = sorted(y / x for x, y in zip(t_ours, t_theirs, strict=True))
        print(f"dgarchive extract   {a:6.2f}s  {len(records) / a:7.1f} articles/s (whole process)")
        print(f"trafilatura         {b:6.2f}s  {len(texts) / b:7.1f} articles/s (whole process)")
        print(
            f"speed ratio         {b / a:6.2f}x  (medians of {args.rounds} alternating rounds; "
            f"per round {ratios[0]:.2f}-{ratios[-1]:.2f}; target >= 5x)"
        )
        ca, cb = statistics.median(c_ours), statistics.median(c_theirs)
        print(
            f"CPU seconds         dgarchive {ca:.2f}s (all its processes), trafilatura "
            f"{cb:.2f}s: {cb / ca:.2f}x (medians of the same rounds)"
        )
        problems = check_records(records, kinds)
        interviews = sum(1 for r in records if full_structure(r))
        print(
            f"structure           {len(records)} records, {interviews} interviews with full "
            f"structure; " + ("; ".join(problems) if problems else "every record complete")
        )
        ours_bp = count_boilerplate([r["text"] for r in records])
        theirs_bp = count_boilerplate(texts)
        print(
            f"boilerplate left    dgarchive {sum(ours_bp.values())}, "
            f"trafilatura {sum(theirs_bp.values())}"
        )
        if ours_bp:
            print(f"  dgarchive: {json.dumps(ours_bp, ensure_ascii=False)}")
        return 1 if problems or ours_bp else 0


if __name__ == "__main__":
    raise SystemExit(main())
