"""The rolling WARC writer: records into a series of `.warc.gz` files. No Scrapy imports.

`RollingWarcWriter` serializes records (made by `pipelines.warc.builders`) into files: one
gzip member per record (`pipelines.warc.members`), written as `<name>.open` under a lock
(`pipelines.warc.openfiles`) and renamed on close, a `warcinfo` record first in every file,
rollover at a size limit, and the capture location of every response it writes. Finishing
the `.open` files a killed process left is `pipelines.warc.repair`; reading back,
`pipelines.warc.reader`.
"""

from __future__ import annotations

import io
import os
import re
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

from warcio.recordloader import ArcWarcRecord
from warcio.warcwriter import WARCWriter

from pipelines.dates import utc_now
from pipelines.warc.builders import WarcRecordBuilder, new_record_id, record_id
from pipelines.warc.heads import HttpHead
from pipelines.warc.location import capture_location
from pipelines.warc.members import already_compressed, gzip_member
from pipelines.warc.openfiles import fsync_dir, lock, same_file


def package_version(distribution: str) -> str:
    try:
        return _dist_version(distribution)
    except PackageNotFoundError:  # pragma: no cover - run from a checkout never installed
        return "unknown"


SOFTWARE = f"dgarchive/{package_version('dgarchive')} (warcio/{package_version('warcio')})"


class WarcWriteError(OSError):
    """Archive data could not be written; the file was cut back to its last complete record."""


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
    ) -> None:
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
        fsync_dir(self.directory)
        return path

    def __enter__(self) -> RollingWarcWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------

    def _serialize(self, record: ArcWarcRecord) -> bytes:
        data = _exchange_bytes(record)
        if data is None:
            buf = io.BytesIO()
            stream = record.raw_stream
            pos = stream.tell()
            self._serializer.out = buf
            self._serializer.write_record(record)
            stream.seek(pos)  # writable again after a rollover (a new WARC-Warcinfo-ID)
            data = buf.getvalue()
        if self.gzip:
            stored_from = None
            # gzip_member deflates all of a record whose payload is under 1 KiB anyway.
            if record.payload_length + 4 >= 1024 and already_compressed(record.http_headers):
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
            lock(fd)
            if os.path.exists(path) or not same_file(fd, path + ".open"):
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


def _exchange_bytes(record: ArcWarcRecord) -> bytes | None:
    """A request or response record as warcio's `write_record` writes it, or None for others.

    The builders give these records both digests, their exact HTTP head (`HttpHead`) and the
    payload in memory, so what warcio does for them comes down to setting Content-Type and
    Content-Length and joining the parts; done here without its stream copying and digest
    checks (a third of its cost). Any other record goes through warcio.
    """
    head = record.http_headers
    stream = record.raw_stream
    if (
        record.rec_type not in ("request", "response")
        or type(head) is not HttpHead
        or type(stream) is not io.BytesIO
        or record.length is None
        or record.payload_length < 0
    ):
        return None
    headers = record.rec_headers
    if not (headers.get_header("WARC-Block-Digest") and headers.get_header("WARC-Payload-Digest")):
        return None
    if record.content_type is not None:
        headers.replace_header("Content-Type", record.content_type)
    payload = stream.getvalue()[stream.tell() :]
    record.length = len(head.raw) + record.payload_length
    headers.replace_header("Content-Length", str(record.length))
    return b"".join((headers.to_bytes(encoding="utf-8"), head.raw, payload, b"\r\n\r\n"))


def _link(record: ArcWarcRecord, to: ArcWarcRecord) -> None:
    """Make `record` part of `to`'s exchange: WARC-Concurrent-To it, and the same WARC-Date."""
    target = record_id(to)
    if record.rec_headers.get_header("WARC-Concurrent-To") != target:
        record.rec_headers.add_header("WARC-Concurrent-To", target)
    record.rec_headers.replace_header("WARC-Date", to.rec_headers.get_header("WARC-Date"))
