"""What a written response or revisit record says about its capture. No Scrapy imports.

Its HTTP status, and the capture location (file, offset, length, id, digest, date, URI,
status) of docs/architecture.md that the writer returns and the reader yields.
"""

from __future__ import annotations

import os

from warcio.recordloader import ArcWarcRecord

from pipelines.records import CaptureLocation
from pipelines.warc.builders import PROFILE_SERVER_NOT_MODIFIED


def record_status(record: ArcWarcRecord) -> int | None:
    """HTTP status of a response or revisit record (304 for an empty server-not-modified one)."""
    head = record.http_headers
    if head is not None and head.statusline:
        try:
            return int(head.get_statuscode())
        except ValueError:
            return None
    if record.rec_headers.get_header("WARC-Profile") == PROFILE_SERVER_NOT_MODIFIED:
        return 304
    return None


def capture_location(
    record: ArcWarcRecord, filename: str, offset: int, length: int
) -> CaptureLocation:
    """The record's `capture` (`pipelines.records.CaptureLocation`) for a response or revisit."""
    h = record.rec_headers
    return CaptureLocation(
        warc_filename=os.path.basename(filename),
        warc_offset=offset,
        warc_length=length,
        warc_record_id=h.get_header("WARC-Record-ID"),
        payload_digest=h.get_header("WARC-Payload-Digest"),
        fetched_at=h.get_header("WARC-Date"),
        target_uri=h.get_header("WARC-Target-URI"),
        status=record_status(record),
    )
