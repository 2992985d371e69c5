"""WARC record builders: one HTTP exchange in, warcio records out. No Scrapy imports.

`WarcRecordBuilder` makes request, response, revisit, metadata, resource and warcinfo records
with their digests, dates from an injectable clock and ids from an injectable factory; writing
them to files is `pipelines.warc.writer`'s job.
"""

from __future__ import annotations

import base64
import hashlib
import io
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipelines.dates import utc_now, utc_z
from pipelines.warc.heads import Header, HttpHead, http_request_head, http_response_head

WARC_VERSION = "WARC/1.1"
PROFILE_SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
PROFILE_IDENTICAL_PAYLOAD_DIGEST = (
    "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
)
# Short names, as used in request.meta["warc_revisit"] and the stats.
REVISIT_PROFILES = {
    "server-not-modified": PROFILE_SERVER_NOT_MODIFIED,
    "identical-payload-digest": PROFILE_IDENTICAL_PAYLOAD_DIGEST,
}


def new_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def sha1_digest(data: bytes) -> str:
    """`sha1:BASE32`, the digest form of WARC-Payload-Digest and WARC-Block-Digest."""
    if not data:
        return _EMPTY_DIGEST  # every request record's payload
    return _sha1_b32(hashlib.sha1(data))


def _sha1_b32(h: Any) -> str:  # a hashlib object
    return "sha1:" + base64.b32encode(h.digest()).decode("ascii")


_EMPTY_DIGEST = _sha1_b32(hashlib.sha1(b""))


@dataclass(frozen=True)
class RevisitOf:
    """The stored capture a revisit record stands for (pywb resolves it by these fields)."""

    target_uri: str
    date: str  # its WARC-Date
    record_id: str | None = None
    payload_digest: str | None = None


class WarcRecordBuilder:
    """Builds warcio records for HTTP exchanges and the crawl's own resources. Dates come from
    `clock`, ids from `id_factory`.

    Records carry sha1 base32 payload digests from here and block digests when written.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = utc_now,
        id_factory: Callable[[], str] = new_record_id,
        warc_version: str = WARC_VERSION,
    ) -> None:
        self.clock = clock
        self.id_factory = id_factory
        self.warc_version = warc_version
        self._warcio = WARCWriter(io.BytesIO(), gzip=False, warc_version=warc_version)

    def _headers(
        self,
        rec_type: str,
        target_uri: str | None,
        date: datetime | str | None,
        extra: Iterable[tuple[str, str | None]] = (),
    ) -> StatusAndHeaders:
        when = date if isinstance(date, str) else utc_z(date or self.clock())
        pairs = [
            ("WARC-Type", rec_type),
            ("WARC-Record-ID", self.id_factory()),
            ("WARC-Date", when),
        ]
        if target_uri:
            pairs.append(("WARC-Target-URI", target_uri))
        pairs.extend((k, v) for k, v in extra if v)
        return StatusAndHeaders("", pairs, protocol=self.warc_version)

    def _record(
        self,
        rec_type: str,
        target_uri: str,
        warc_headers: StatusAndHeaders,
        http_head: HttpHead | None,
        payload: bytes = b"",
        content_type: str = "",
    ) -> ArcWarcRecord:
        # Digests computed here, once, over the bytes as they will be written; warcio
        # keeps digests it finds instead of re-reading the streams (twice) to make them.
        head = http_head.raw if http_head is not None else b""
        if rec_type not in ("warcinfo", "revisit"):
            warc_headers.add_header("WARC-Payload-Digest", sha1_digest(payload))
        block = hashlib.sha1(head)
        block.update(payload)
        warc_headers.add_header("WARC-Block-Digest", _sha1_b32(block))
        record = self._warcio.create_warc_record(
            target_uri,
            rec_type,
            payload=io.BytesIO(payload),
            length=len(payload),
            warc_content_type=content_type,
            warc_headers=warc_headers,
            http_headers=http_head,
        )
        return record

    def warcinfo(self, filename: str, fields: Mapping[str, object]) -> ArcWarcRecord:
        """`application/warc-fields`, one `name: value` line per field, empty values left out."""
        body = "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v not in (None, ""))
        headers = self._headers("warcinfo", None, None, [("WARC-Filename", filename)])
        return self._record("warcinfo", "", headers, None, body.encode("utf-8"))

    def request(
        self,
        target_uri: str,
        *,
        method: str = "GET",
        headers: Iterable[Header] = (),
        body: bytes = b"",
        head: HttpHead | None = None,
        date: datetime | str | None = None,
        ip_address: str | None = None,
        concurrent_to: str | None = None,
    ) -> ArcWarcRecord:
        """A `request` record: `head` as sent if known, else built from method and headers."""
        if head is None:
            head = http_request_head(target_uri, method, headers)
        warc_headers = self._headers(
            "request",
            target_uri,
            date,
            [("WARC-IP-Address", ip_address), ("WARC-Concurrent-To", concurrent_to)],
        )
        return self._record("request", target_uri, warc_headers, head, body)

    def response(
        self,
        target_uri: str,
        *,
        status: int,
        reason: str | bytes | None = None,
        headers: Iterable[Header] = (),
        body: bytes = b"",
        protocol: str = "HTTP/1.1",
        date: datetime | str | None = None,
        ip_address: str | None = None,
        truncated: str | None = None,
    ) -> ArcWarcRecord:
        """A `response` record: the status line, every header and the payload as received.

        `truncated` (WARC-Truncated) names why a payload is incomplete, e.g. `disconnect`.
        """
        head = http_response_head(status, reason, headers, protocol)
        warc_headers = self._headers(
            "response",
            target_uri,
            date,
            [("WARC-IP-Address", ip_address), ("WARC-Truncated", truncated)],
        )
        return self._record("response", target_uri, warc_headers, head, body)

    def revisit(
        self,
        target_uri: str,
        *,
        profile: str,
        refers_to: RevisitOf,
        status: int | None = None,
        reason: str | bytes | None = None,
        headers: Iterable[Header] = (),
        protocol: str = "HTTP/1.1",
        date: datetime | str | None = None,
        ip_address: str | None = None,
    ) -> ArcWarcRecord:
        """A `revisit` record standing for `refers_to`'s payload.

        With `status`, the block is that response head (identical-payload-digest: the new
        200's head, so a replay serves fresh headers with the stored payload). Without it the
        block is empty; see `not_modified_records` for why a 304 is written that way.
        """
        profile = REVISIT_PROFILES.get(profile, profile)
        head = http_response_head(status, reason, headers, protocol) if status else None
        warc_headers = self._headers(
            "revisit",
            target_uri,
            date,
            [
                ("WARC-IP-Address", ip_address),
                ("WARC-Profile", profile),
                ("WARC-Refers-To", refers_to.record_id),
                ("WARC-Refers-To-Target-URI", refers_to.target_uri),
                ("WARC-Refers-To-Date", refers_to.date),
                # The original's payload digest: pywb finds the original by URI, date and it.
                ("WARC-Payload-Digest", refers_to.payload_digest),
            ],
        )
        record = self._record("revisit", target_uri, warc_headers, head)
        if head is None:
            record.content_type = None  # an empty block has no content type
        return record

    def metadata(
        self,
        target_uri: str,
        fields: Iterable[tuple[str, str]],
        *,
        date: datetime | str | None = None,
        refers_to: str | None = None,
        concurrent_to: str | None = None,
    ) -> ArcWarcRecord:
        """A `metadata` record of `application/warc-fields` about `refers_to`.

        warc-fields (not `application/http`) keep it out of replay indexes: pywb skips them.
        """
        body = "".join(f"{k}: {v}\r\n" for k, v in fields).encode("utf-8")
        warc_headers = self._headers(
            "metadata",
            target_uri,
            date,
            [("WARC-Refers-To", refers_to), ("WARC-Concurrent-To", concurrent_to)],
        )
        return self._record(
            "metadata", target_uri, warc_headers, None, body, "application/warc-fields"
        )

    def resource(
        self,
        target_uri: str,
        payload: bytes,
        content_type: str,
        *,
        date: datetime | str | None = None,
        concurrent_to: str | None = None,
    ) -> ArcWarcRecord:
        """A `resource` record: `payload` itself, not an HTTP exchange (a run's report or
        log, under a `urn:` URI of its own). Readers of captures skip them."""
        warc_headers = self._headers(
            "resource", target_uri, date, [("WARC-Concurrent-To", concurrent_to)]
        )
        return self._record("resource", target_uri, warc_headers, None, payload, content_type)

    def not_modified_records(
        self,
        target_uri: str,
        *,
        refers_to: RevisitOf,
        reason: str | bytes | None = None,
        headers: Iterable[Header] = (),
        protocol: str = "HTTP/1.1",
        date: datetime | str | None = None,
        ip_address: str | None = None,
    ) -> tuple[ArcWarcRecord, ArcWarcRecord]:
        """A 304 as a server-not-modified revisit plus a metadata record holding the 304 head.

        The revisit's block is empty on purpose: replay tools serve a revisit's own HTTP head
        when it has one, and pywb replays a 304 head as an empty 304, not as the stored page.
        With an empty block they serve the original's head and payload. The 304's status line
        and headers are kept, as received, in the metadata record that refers to the revisit.
        """
        when = date if isinstance(date, str) else utc_z(date or self.clock())
        revisit = self.revisit(
            target_uri,
            profile=PROFILE_SERVER_NOT_MODIFIED,
            refers_to=refers_to,
            date=when,
            ip_address=ip_address,
        )
        head = http_response_head(304, reason, headers, protocol)
        lines = head.raw.decode("latin-1").split("\r\n")
        fields = [("http-status-line", lines[0])]
        fields += [("http-header", line) for line in lines[1:] if line]
        meta = self.metadata(target_uri, fields, date=when, refers_to=record_id(revisit))
        return revisit, meta


def record_id(record: ArcWarcRecord) -> str:
    return record.rec_headers.get_header("WARC-Record-ID")
