"""The crawl's own records in a WARC file: the run report and log that a crawl writes as
`resource` records (`urn:dgarchive:run:<id>:report`, `…:log`), read back by index entry.
No Scrapy imports."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

RUN_RECORD_URI = re.compile(r"^urn:dgarchive:run:(?P<run>[^:]+):(?P<kind>report|log)$")


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    kind: str  # "report" or "log"
    content_type: str
    body: bytes


def run_record_uri(url: str) -> tuple[str, str] | None:
    """(run id, kind) of a run record's target URI, or None for any other URI."""
    m = RUN_RECORD_URI.match(url or "")
    return (m["run"], m["kind"]) if m else None


def read_run_record(path: Path, offset: int) -> RunRecord | None:
    """The run record at `offset` of `path` (from the archive's index), or None if the record
    there is not one."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        for record in ArchiveIterator(fh):
            which = run_record_uri(record.rec_headers.get_header("WARC-Target-URI") or "")
            if record.rec_type != "resource" or which is None:
                return None
            content_type = record.rec_headers.get_header("Content-Type") or ""
            return RunRecord(which[0], which[1], content_type, record.content_stream().read())
    return None
