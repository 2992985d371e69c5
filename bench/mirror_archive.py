"""The archive the record benchmarks read: a real `dgarchive crawl` of the project's mirror.

`crawl_archive(articles, work)` serves `tests.mocksite` (no faults, seed 0) in this process,
crawls it with `dgarchive crawl --full` into `work/archive` (one WARC file: 2,000 articles
are about 10 MB, far below the rollover size) and returns the archive, its WARC files and
the mirror's catalogue (canonical URL -> kind), so a benchmark can check what came out.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "False",
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "LOG_LEVEL": "WARNING",
}


@dataclass
class MirrorArchive:
    archive: Path
    warcs: list[Path]
    kinds: dict[str, str]  # canonical article URL -> "news" / "interview" / ...


def dgarchive(*args: str, stdout: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess:
    """Run `dgarchive ARGS` from this checkout as its own process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=REPO,
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        check=False,
    )


def crawl_archive(articles: int, work: Path) -> MirrorArchive:
    sys.path.insert(0, str(REPO))
    from tests.mocksite import MockSite

    site = MockSite(articles=articles, faults=False, seed=0).start()
    try:
        kinds = {a.url: a.kind for a in site.articles()}
        flags = [x for k, v in SETTINGS.items() for x in ("-s", f"{k}={v}")]
        proc = dgarchive(
            "-q",
            "crawl",
            "--full",
            "--town",
            "houjie",
            "--site-root",
            site.url,
            "--archive",
            str(work / "archive"),
            "--db",
            f"sqlite:///{work / 'crawl.sqlite'}",
            *flags,
        )
    finally:
        site.stop()
    if proc.returncode != 0:
        raise SystemExit(
            f"crawl of the mirror failed (exit {proc.returncode}): {proc.stderr[-2000:]!r}"
        )
    warcs = sorted((work / "archive").rglob("*.warc.gz"))
    if not warcs:
        raise SystemExit("the crawl wrote no WARC file")
    return MirrorArchive(work / "archive", warcs, kinds)
