"""Crawl the hostile site in a real `dgarchive crawl` subprocess and gather what it left.

`HostileRun` holds the exit code, the logs, the run report, the exported records and the WARC
files; `check_warcs()` runs `warcio check` on each file and reads every record back with
digests checked, so a case test asserts on all of them in a few lines.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from tests.e2e import MIRROR_SETTINGS, Run, dgarchive, warc_files
from tests.hostile.server import COLUMN, HostileSite


@dataclass
class HostileRun:
    run: Run
    tmp: Path
    archive: Path
    db_url: str
    report: dict | None
    records: list[dict] = field(default_factory=list)

    @property
    def returncode(self) -> int:
        return self.run.returncode

    @property
    def log(self) -> str:
        return self.run.stdout + self.run.stderr

    def stored_urls(self) -> set[str]:
        return {r["url"] for r in self.records}

    def failures(self) -> dict[str, str]:
        """{url: reason} from the run report."""
        out: dict[str, str] = {}
        for f in (self.report or {}).get("failures", []):
            out[f["url"]] = f.get("reason", "")
        return out

    def warc_paths(self) -> list[Path]:
        return warc_files(self.archive) if self.archive.exists() else []

    def check_warcs(self) -> list[dict]:
        """`warcio check` on every WARC, then every record read back with digests checked.

        Returns the records as dicts (type, uri, status, headers, body)."""
        out = []
        for path in self.warc_paths():
            proc = subprocess.run(
                [sys.executable, "-m", "warcio.cli", "check", str(path)],
                capture_output=True,
                text=True,
            )
            assert proc.returncode == 0, f"warcio check {path.name}: {proc.stdout}{proc.stderr}"
            with open(path, "rb") as fh:
                for rec in ArchiveIterator(fh, check_digests="raise"):
                    body = rec.content_stream().read()
                    out.append(
                        {
                            "type": rec.rec_type,
                            "uri": rec.rec_headers.get_header("WARC-Target-URI"),
                            "status": rec.http_headers.get_statuscode() if rec.http_headers else None,
                            "headers": rec.rec_headers,
                            "http": rec.http_headers,
                            "body": body,
                        }
                    )
        assert not list(self.archive.glob("*.open")), "a WARC was left .open"
        return out


def crawl_hostile(site: HostileSite, tmp: Path, *extra: str, timeout: float = 120) -> HostileRun:
    """One crawl of the hostile site's tshj column into `tmp`, then export its database."""
    archive = tmp / "archive"
    db_url = f"sqlite:///{tmp / 'db.sqlite'}"
    report_path = tmp / "report.json"
    run = dgarchive(
        "crawl",
        "--column",
        COLUMN,
        "--site-root",
        site.url,
        "--archive",
        str(archive),
        "--db",
        db_url,
        "--report",
        str(report_path),
        *MIRROR_SETTINGS,
        *extra,
        timeout=timeout,
    )
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    records = []
    if (tmp / "db.sqlite").exists():
        exported = dgarchive("export", "--db", db_url)
        records = [json.loads(line) for line in exported.stdout.splitlines() if line.strip()]
    return HostileRun(run, tmp, archive, db_url, report, records)
