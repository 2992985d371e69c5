"""WARC records and files: builders, the rolling writer, repair of leftovers. No Scrapy imports.

Builder, writer and reader are separate (as in warcio and warcprox):

- `WarcRecordBuilder` turns one HTTP exchange into warcio records (request, response,
  revisit, metadata, warcinfo), with an injectable clock and record-id factory.
- `RollingWarcWriter` serializes records into `*.warc.gz` files: one gzip member per record,
  written as `<name>.open` and renamed on close, a `warcinfo` record first in every file,
  rollover at a size limit, and the capture location of every response it writes.
- `repair_open_files` finishes the `.open` files a killed process left behind.

Reading back lives in `pipelines.warc.reader`.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import io
import os
import re
import socket
import struct
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from urllib.parse import urlsplit

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no advisory locks, repair trusts the caller
    fcntl = None
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipelines.warc.scan import Damage, scan

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


def _version(distribution: str) -> str:
    try:
        return _dist_version(distribution)
    except PackageNotFoundError:  # pragma: no cover - run from a checkout never installed
        return "unknown"


SOFTWARE = f"dgarchive/{_version('dgarchive')} (warcio/{_version('warcio')})"

Header = tuple[str | bytes, str | bytes]


class WarcWriteError(OSError):
    """Archive data could not be written; the file was cut back to its last complete record."""


# -- small pure helpers ----------------------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def warc_date(when: datetime) -> str:
    """WARC-Date in whole seconds, e.g. `2026-11-22T00:15:00Z` (the form the database keeps)."""
    if when.tzinfo is None:
        raise ValueError("WARC dates need an aware datetime (UTC)")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha1_digest(data: bytes) -> str:
    """`sha1:BASE32`, the digest form of WARC-Payload-Digest and WARC-Block-Digest."""
    return _sha1_b32(hashlib.sha1(data))


def _sha1_b32(h) -> str:
    return "sha1:" + base64.b32encode(h.digest()).decode("ascii")


def _b(value: str | bytes) -> bytes:
    # Header bytes are kept as received; str values come from Scrapy/Twisted as latin-1.
    return value if isinstance(value, bytes) else value.encode("latin-1", "replace")


def _s(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


class HttpHead(StatusAndHeaders):
    """An HTTP status/request line and header block, serialized exactly as given.

    warcio's StatusAndHeaders re-renders headers when it writes them and %-encodes any
    non-ASCII value; the archive must hold the bytes that crossed the wire, so this
    subclass keeps its own rendering (latin-1, one `Name: value` line per header, repeated
    headers as repeated lines, in the order given).
    """

    def __init__(
        self,
        first_line: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        raw: bytes | None = None,
    ):
        if raw is None:
            raw = first_line + b"\r\n"
            raw += b"".join(n + b": " + v + b"\r\n" for n, v in headers) + b"\r\n"
        self.raw = raw
        protocol, _, rest = first_line.decode("latin-1").partition(" ")
        super().__init__(rest, [(_s(n), _s(v)) for n, v in headers], protocol=protocol)
        self.headers_buff = self.raw

    @classmethod
    def parse(cls, raw: bytes) -> HttpHead:
        """A head from its exact bytes (first line, header lines, blank line), kept as they are."""
        if not raw.endswith(b"\r\n\r\n"):
            raw = raw.rstrip(b"\r\n") + b"\r\n\r\n"
        first, _, rest = raw.partition(b"\r\n")
        pairs = []
        for line in rest.split(b"\r\n"):
            name, colon, value = line.partition(b":")
            if colon:
                pairs.append((name, value.strip()))
        return cls(first, pairs, raw)

    def compute_headers_buffer(self, header_filter=None) -> None:  # noqa: ARG002 - warcio API
        self.headers_buff = self.raw

    def to_bytes(self, filter_func=None, encoding="utf-8") -> bytes:  # noqa: ARG002
        return self.raw


def http_response_head(
    status: int,
    reason: str | bytes | None,
    headers: Iterable[Header],
    protocol: str = "HTTP/1.1",
) -> HttpHead:
    """The response head as received.

    Transfer-Encoding is dropped: the body arrives de-chunked from the HTTP client, so the
    record stores the entity body, and a `Transfer-Encoding: chunked` line would make every
    reader (warcio's content_stream, pywb) try to de-chunk it again. Everything else stays,
    repeated headers included, in the order given.
    """
    if reason is None:
        reason = default_reason(status)
    line = f"{protocol} {int(status)}".encode("ascii")
    reason_b = _b(reason)
    if reason_b:
        line += b" " + reason_b
    kept = [(_b(n), _b(v)) for n, v in headers if _s(n).lower() != "transfer-encoding"]
    return HttpHead(line, kept)


def http_request_head(
    target_uri: str, method: str = "GET", headers: Iterable[Header] = ()
) -> HttpHead:
    """The request line (path and query string as sent) and the headers actually sent.

    `Host` is added when absent: the HTTP client always sends one.
    """
    parts = urlsplit(target_uri)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    pairs = [(_b(n), _b(v)) for n, v in headers]
    if not any(n.lower() == b"host" for n, _ in pairs):
        pairs.insert(0, (b"Host", _host_value(parts).encode("idna")))
    line = method.upper().encode("ascii") + b" " + path.encode("utf-8") + b" HTTP/1.1"
    return HttpHead(line, pairs)


def _host_value(parts) -> str:
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port and parts.port != default:
        host += f":{parts.port}"
    return host


def default_reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(int(status)).phrase
    except ValueError:
        return ""


@dataclass(frozen=True)
class RevisitOf:
    """The stored capture a revisit record stands for (pywb resolves it by these fields)."""

    target_uri: str
    date: str  # its WARC-Date
    record_id: str | None = None
    payload_digest: str | None = None


# -- builders --------------------------------------------------------------------------


class WarcRecordBuilder:
    """Builds warcio records for HTTP exchanges. Dates come from `clock`, ids from `id_factory`.

    Records carry sha1 base32 payload digests from here and block digests when written.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = utc_now,
        id_factory: Callable[[], str] = new_record_id,
        warc_version: str = WARC_VERSION,
    ):
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
        when = date if isinstance(date, str) else warc_date(date or self.clock())
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
        when = date if isinstance(date, str) else warc_date(date or self.clock())
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


def capture_location(record: ArcWarcRecord, filename: str, offset: int, length: int) -> dict:
    """The capture location dict of docs/architecture.md for a response or revisit record."""
    h = record.rec_headers
    return {
        "warc_filename": os.path.basename(filename),
        "warc_offset": offset,
        "warc_length": length,
        "warc_record_id": h.get_header("WARC-Record-ID"),
        "payload_digest": h.get_header("WARC-Payload-Digest"),
        "fetched_at": h.get_header("WARC-Date"),
        "target_uri": h.get_header("WARC-Target-URI"),
        "status": record_status(record),
    }


# -- the rolling writer ----------------------------------------------------------------


def _sanitize_host(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", name).strip("_") or "localhost"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class RollingWarcWriter:
    """Writes records into a rolling series of WARC files in `directory`.

    Files are named `{prefix}-{UTC time to the ms}-{serial:05d}-{host}.warc.gz`, created
    exclusively (a name already taken, even by another process, moves to the next serial),
    written as `<name>.open` and renamed when closed. Each starts with a `warcinfo` record.
    A file rolls over before an exchange would take it past `max_size`; records, and the
    records of one exchange, are never split across files.

    Each write is one `os.write` of finished gzip members, so a killed process leaves at
    most one partial record (`repair_open_files` cuts it off). Files are fsynced at most
    every `fsync_interval` seconds and on close. A failed write (a full disk) truncates the
    file back to its last complete record and raises `WarcWriteError`.
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        prefix: str = "DGARCHIVE",
        max_size: int = 1_000_000_000,
        warcinfo_fields: Mapping[str, object] | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        id_factory: Callable[[], str] = new_record_id,
        hostname: str | None = None,
        gzip: bool = True,
        compresslevel: int = 6,
        software: str = SOFTWARE,
        fsync_interval: float = 1.0,
    ):
        self.directory = os.fspath(directory)
        self.prefix = prefix
        self.max_size = max_size
        self.warcinfo_fields = dict(warcinfo_fields or {})
        self.clock = clock
        self.hostname = hostname or socket.gethostname()
        self.gzip = gzip
        # Level 6: within 1% of level 9's size on HTML at a third of the CPU time.
        self.compresslevel = compresslevel
        self.software = software
        self.fsync_interval = fsync_interval
        self.builder = WarcRecordBuilder(clock=clock, id_factory=id_factory)
        self._serializer = WARCWriter(io.BytesIO(), gzip=False)
        self._serial = 0
        self._fd: int | None = None
        self._path: str | None = None  # final name of the file being written
        self._size = 0
        self._warcinfo_id: str | None = None
        self._records_in_file = 0
        self._last_fsync = time.monotonic()
        self._placed_file: str | None = None
        self.records_written = 0
        self.bytes_written = 0
        self.files: list[str] = []  # final paths, in order of creation

    # -- public --------------------------------------------------------------------------

    @property
    def current_path(self) -> str | None:
        """Final path of the file being written (on disk as `<path>.open`), if any."""
        return self._path

    def write_exchange(self, request_record: ArcWarcRecord, response_record: ArcWarcRecord) -> dict:
        """Write a response and its request (linked by WARC-Concurrent-To); return its location."""
        _link(request_record, response_record)
        placed = self.write_records([response_record, request_record])
        return capture_location(response_record, self._placed_file, *placed[0])

    def write_revisit(
        self,
        request_record: ArcWarcRecord,
        revisit_record: ArcWarcRecord,
        metadata_record: ArcWarcRecord | None = None,
    ) -> dict:
        """Write a revisit, its request and optional metadata; return the revisit's location."""
        _link(request_record, revisit_record)
        records = [revisit_record, request_record]
        if metadata_record is not None:
            _link(metadata_record, revisit_record)
            records.append(metadata_record)
        placed = self.write_records(records)
        return capture_location(revisit_record, self._placed_file, *placed[0])

    def write_records(self, records: Sequence[ArcWarcRecord]) -> list[tuple[int, int]]:
        """Write records together into one file; return (offset, length) of each."""
        if self._fd is None:
            self._open_next()
        chunks = self._serialize_for_file(records)
        total = sum(len(c) for c in chunks)
        if self._records_in_file and self._size + total > self.max_size:
            self.close()
            self._open_next()
            # Only WARC-Warcinfo-ID changes: digests and lengths stay valid.
            chunks = self._serialize_for_file(records)
        placed = []
        offset = self._size
        for chunk in chunks:
            # Plain files: the record ends before its CRLF CRLF, as ArchiveIterator counts it.
            placed.append((offset, len(chunk) - (0 if self.gzip else 4)))
            offset += len(chunk)
        self._append(b"".join(chunks))
        self._records_in_file += len(records)
        self.records_written += len(records)
        self._placed_file = self._path
        return placed

    def _serialize_for_file(self, records: Sequence[ArcWarcRecord]) -> list[bytes]:
        for r in records:
            r.rec_headers.replace_header("WARC-Warcinfo-ID", self._warcinfo_id)
        return [self._serialize(r) for r in records]

    def flush(self, fsync: bool = True) -> None:
        if self._fd is not None and fsync:
            os.fsync(self._fd)
            self._last_fsync = time.monotonic()

    def close(self) -> str | None:
        """Fsync, close and rename the current file to its final name; return that path."""
        if self._fd is None:
            return None
        fd, path = self._fd, self._path
        self._fd = None
        self._path = None
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        assert path is not None
        if self._size == 0:  # nothing survived (a write failed on a new file)
            os.unlink(path + ".open")
            if path in self.files:
                self.files.remove(path)
            return None
        os.rename(path + ".open", path)
        _fsync_dir(self.directory)
        return path

    def __enter__(self) -> RollingWarcWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------

    def _serialize(self, record: ArcWarcRecord) -> bytes:
        buf = io.BytesIO()
        stream = record.raw_stream
        pos = stream.tell()
        self._serializer.out = buf
        self._serializer.write_record(record)
        stream.seek(pos)  # writable again after a rollover (a new WARC-Warcinfo-ID)
        data = buf.getvalue()
        if self.gzip:
            stored_from = None
            if _already_compressed(record.http_headers):
                # The payload, then the record's closing CRLF CRLF.
                stored_from = len(data) - 4 - max(record.payload_length, 0)
            data = gzip_member(data, self.compresslevel, stored_from)
        return data

    def _file_name(self, when: datetime, serial: int) -> str:
        stamp = when.astimezone(UTC).strftime("%Y%m%d%H%M%S") + f"{when.microsecond // 1000:03d}"
        ext = ".warc.gz" if self.gzip else ".warc"
        return f"{self.prefix}-{stamp}-{serial:05d}-{_sanitize_host(self.hostname)}{ext}"

    def _open_next(self) -> None:
        os.makedirs(self.directory, exist_ok=True)
        when = self.clock()
        while True:
            name = self._file_name(when, self._serial)
            self._serial += 1
            path = os.path.join(self.directory, name)
            if os.path.exists(path):
                continue
            try:
                fd = os.open(path + ".open", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue
            # Held while the file is written, so repair_open_files leaves it alone; the
            # kernel drops it when the process dies, leaving the file to repair.
            _lock(fd)
            if os.path.exists(path) or not _same_file(fd, path + ".open"):
                # Finished by someone else in between, or taken for a leftover and removed.
                os.close(fd)
                continue
            break
        self._fd, self._path, self._size, self._records_in_file = fd, path, 0, 0
        self.files.append(path)
        fields: dict[str, object] = {
            "software": self.software,
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "hostname": self.hostname,
        }
        fields.update(self.warcinfo_fields)
        info = self.builder.warcinfo(name, fields)
        self._warcinfo_id = record_id(info)
        try:
            self._append(self._serialize(info))
        except WarcWriteError:
            # No warcinfo, no file: the next write starts a new one, warcinfo first.
            os.close(fd)
            os.unlink(path + ".open")
            self.files.remove(path)
            self._fd = self._path = None
            raise
        self.records_written += 1

    def _append(self, data: bytes) -> None:
        assert self._fd is not None
        good = self._size
        try:
            _write_all(self._fd, data)
        except OSError as exc:
            try:
                os.ftruncate(self._fd, good)
                os.lseek(self._fd, good, os.SEEK_SET)
            except OSError:  # pragma: no cover - nothing more we can do; repair will cut it
                pass
            raise WarcWriteError(
                exc.errno,
                f"could not write {len(data)} bytes to {self._path}.open ({exc.strerror}); "
                f"the file was cut back to its last complete record at byte {good}",
            ) from exc
        self._size += len(data)
        self.bytes_written += len(data)
        if time.monotonic() - self._last_fsync >= self.fsync_interval:
            self.flush()


_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"  # deflate, mtime 0, unix
_COMPRESSED_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd", "compress"})
_COMPRESSED_TYPES = ("image/", "video/", "audio/", "font/woff", "application/zip")


def _already_compressed(head: StatusAndHeaders | None) -> bool:
    if head is None:
        return False
    encoding = (head.get_header("Content-Encoding") or "").strip().lower()
    if encoding in _COMPRESSED_ENCODINGS:
        return True
    ctype = (head.get_header("Content-Type") or "").strip().lower()
    return ctype.startswith(_COMPRESSED_TYPES) and not ctype.startswith("image/svg")


def _window_bits(size: int) -> int:
    # A window no larger than the data compresses just as well, and zlib sets up a 32 KiB
    # window (and its hash tables) for every member otherwise: most of the cost of a record.
    return min(max(size.bit_length(), 9), zlib.MAX_WBITS)


def gzip_member(data: bytes, level: int = 6, stored_from: int | None = None) -> bytes:
    """One gzip member holding `data`; bytes from `stored_from` on go in stored blocks.

    Deflating a payload that is already compressed (a gzip page, a JPEG) costs the most CPU
    of the whole capture and saves nothing, so such payloads are stored as they are, after
    the deflated WARC and HTTP heads. Any gzip reader reads the result.
    """
    if stored_from is None or len(data) - stored_from < 1024:
        c = zlib.compressobj(level, zlib.DEFLATED, _window_bits(len(data)) | 16)
        return c.compress(data) + c.flush()
    c = zlib.compressobj(level, zlib.DEFLATED, -_window_bits(stored_from))
    # A sync flush ends on a byte boundary, where stored blocks can follow in the same stream.
    parts = [_GZIP_HEADER, c.compress(data[:stored_from]), c.flush(zlib.Z_SYNC_FLUSH)]
    rest = memoryview(data)[stored_from:]
    for start in range(0, len(rest), 0xFFFF):
        chunk = rest[start : start + 0xFFFF]
        final = start + 0xFFFF >= len(rest)
        parts.append(struct.pack("<BHH", final, len(chunk), len(chunk) ^ 0xFFFF))
        parts.append(chunk)
    parts.append(struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF))
    return b"".join(parts)


def _link(record: ArcWarcRecord, to: ArcWarcRecord) -> None:
    """Make `record` part of `to`'s exchange: WARC-Concurrent-To it, and the same WARC-Date."""
    target = record_id(to)
    if record.rec_headers.get_header("WARC-Concurrent-To") != target:
        record.rec_headers.add_header("WARC-Concurrent-To", target)
    record.rec_headers.replace_header("WARC-Date", to.rec_headers.get_header("WARC-Date"))


def _lock(fd: int) -> None:
    """An exclusive advisory lock, without waiting (BlockingIOError when held elsewhere)."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _same_file(fd: int, path: str) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (own.st_dev, own.st_ino) == (st.st_dev, st.st_ino)


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


# -- repair ----------------------------------------------------------------------------


def complete_prefix_length(path: str | os.PathLike) -> int:
    """Length of the longest prefix of a WARC file made of complete, verified records.

    A record counts when its block has all its bytes, its block digest (if any) matches, its gzip member ends properly (gzip files) or its trailing CRLF
    CRLF is there (plain files): the checks of `pipelines.warc.scan`, which reads the file a
    record at a time rather than whole.
    """
    good = 0
    # A WARC-Truncated record is whole as a record (its payload was cut at capture): kept.
    for item in scan(path, refuse_truncated=False):
        if isinstance(item, Damage):
            break
        good = item.end
    return good


def repair_open_files(directory: str | os.PathLike) -> list[str]:
    """Finish the `*.open` files a killed process left in `directory`; return final paths.

    Each is cut back to its complete records and renamed to its final name. A file with no
    complete record at all is removed.
    """
    repaired = []
    for open_path in sorted(glob.glob(os.path.join(glob.escape(os.fspath(directory)), "*.open"))):
        try:
            fd = os.open(open_path, os.O_RDWR)
        except FileNotFoundError:
            continue  # finished meanwhile
        try:
            try:
                _lock(fd)
            except BlockingIOError:
                continue  # a live writer holds it
            if not _same_file(fd, open_path):
                continue
            good = complete_prefix_length(open_path)
            if good == 0:
                os.unlink(open_path)
                continue
            os.ftruncate(fd, good)
            os.fsync(fd)
            final = open_path[: -len(".open")]
            if os.path.exists(final):  # never overwrite a finished file
                stem, dot, ext = final.partition(".warc")
                final = f"{stem}-repaired-{uuid.uuid4().hex[:8]}{dot}{ext}"
            os.rename(open_path, final)
            repaired.append(final)
        finally:
            os.close(fd)
    if repaired:
        _fsync_dir(os.fspath(directory))
    return repaired
