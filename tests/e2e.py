"""Helpers for end-to-end tests: run the real `dgarchive` command in a subprocess.

Twisted's reactor cannot restart inside one process, so every crawl is its own process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MIRROR_SETTINGS = [
    "-s",
    "AUTOTHROTTLE_ENABLED=False",
    "-s",
    "DOWNLOAD_DELAY=0",
    "-s",
    "CONCURRENT_REQUESTS_PER_DOMAIN=8",
    "-s",
    "RETRY_TIMES=0",
    "-s",
    "DOWNLOAD_TIMEOUT=10",
]


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


def _env(env: dict | None = None) -> dict:
    # The caller's DGARCHIVE_* variables must not leak into a test's crawl.
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DGARCHIVE_") or k == "DGARCHIVE_PYWB_PYTHON"  # a tool, not a setting
    }
    return {**base, "PYTHONPATH": str(REPO), **(env or {})}


def start_crawl(
    site_url: str, archive: Path, db_url: str, *extra: str, delay: float = 0
) -> subprocess.Popen:
    """A mirror crawl in the background (for tests that act while it runs)."""
    settings = [
        a if a != "DOWNLOAD_DELAY=0" else f"DOWNLOAD_DELAY={delay}" for a in MIRROR_SETTINGS
    ]
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "crawl",
            "--town",
            "houjie",
            "--site-root",
            site_url,
            "--archive",
            str(archive),
            "--db",
            db_url,
            *settings,
            *extra,
        ],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def dgarchive(
    *args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300
) -> Run:
    """Run `dgarchive ARGS` as a real process (the same entry point as the console script)."""
    full_env = _env(env)
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def crawl_mirror(
    site_url: str, archive: Path, db_url: str, *extra: str, town: str = "houjie"
) -> Run:
    return dgarchive(
        "crawl",
        "--town",
        town,
        "--site-root",
        site_url,
        "--archive",
        str(archive),
        "--db",
        db_url,
        *MIRROR_SETTINGS,
        *extra,
    )


def warc_files(archive: Path) -> list[Path]:
    return sorted(p for p in archive.iterdir() if p.name.endswith((".warc.gz", ".warc")))
