"""Frame the records of a WARC file, verify each is complete, and resynchronise after damage.

One job: split a `.warc.gz` or `.warc` file into its records as raw bytes, streaming (one
record in memory at a time, never the file), and say where it is damaged. `scan(path)`
yields a `RawRecord` for each complete record and a `Damage` for each damaged spot:

- a record is complete when its header starts `WARC/1.0` or `WARC/1.1` and ends with a blank
  line, its block has every byte its Content-Length promises followed by CRLF CRLF, it carries
  no `WARC-Truncated`, its `WARC-Block-Digest` (when present) matches, and (`.warc.gz`) the
  gzip member holding it ends properly, CRC and length included;
- after damage that loses the framing (garbage, a member cut short, a wrong Content-Length)
  the scan looks forward for the next record: in a `.warc.gz` the gzip magic `1f 8b 08` whose
  member decompresses to a `WARC/1.` line, in a `.warc` a `WARC/1.0` or `WARC/1.1` line at the
  start of a line. Everything in between is one damaged spot.

warcio's ArchiveIterator reads past such damage silently (a cut block is just short) or stops
at it, and prints the bytes it could not parse to stderr; the reader and the repair of `.open`
files (`pipelines.warc.repair.complete_prefix_length`) both frame records here instead, and hand
only verified records to warcio to parse.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

CHUNK = 1 << 16
MAX_HEADER = 1 << 18  # a WARC header block larger than this is not one
MAX_RECORD = 1 << 30  # a record that decompresses past 1 GiB is refused, not read into memory
GZIP_MAGIC = b"\x1f\x8b\x08"
_VERSION_LINE = re.compile(rb"WARC/1\.[01]\r\n")
CRLF2 = b"\r\n\r\n"


@dataclass(frozen=True)
class RawRecord:
    """A complete, verified record: `data` is its header and block, without the CRLF CRLF.

    `offset`/`length` locate it as readers index it (the gzip member in a `.warc.gz`; the
    header and block in a `.warc`); `end` is where the next record starts.
    """

    offset: int
    length: int
    end: int
    data: bytes


@dataclass(frozen=True)
class Damage:
    """A damaged spot: bytes [offset, end) hold no complete record, for `reason`."""

    offset: int
    end: int
    reason: str

    @property
    def size(self) -> int:
        return self.end - self.offset


class _Broken(Exception):
    """The framing is lost at this offset: the next record must be searched for."""


class _Refused(Exception):
    """A well-framed record that is not complete (truncated, digest mismatch); skip to `end`."""

    def __init__(self, reason: str, end: int) -> None:
        super().__init__(reason)
        self.end = end


def is_gzip_file(path: str | os.PathLike) -> bool:
    name = os.fspath(path)
    if name.endswith(".open"):
        name = name[: -len(".open")]
    if name.endswith(".gz"):
        return True
    if name.endswith(".warc"):
        return False
    with open(path, "rb") as fh:  # no telling suffix: by content
        return fh.read(2) == GZIP_MAGIC[:2]


def scan(
    path: str | os.PathLike, *, gzip: bool | None = None, refuse_truncated: bool = True
) -> Iterator[RawRecord | Damage]:
    """Yield the complete records and the damaged spots of one WARC file, in file order.

    `gzip` defaults to the file's suffix (`.gz`), else its first two bytes. With
    `refuse_truncated=False` a `WARC-Truncated` record is yielded as a record: it is whole as
    a record (the repair of `.open` files keeps it), only its payload is incomplete. OSError
    from opening or reading the file propagates.
    """
    if gzip is None:
        gzip = is_gzip_file(path)
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        frame = _gzip_records if gzip else _plain_record
        find = _next_member if gzip else _next_version_line
        pos = 0
        pending: Damage | None = None  # one spot grows while the scan finds no record
        while pos < size:
            try:
                records, end = frame(fh, pos, size, refuse_truncated)
            except _Refused as exc:
                if pending is not None:
                    yield pending
                    pending = None
                yield Damage(pos, exc.end, str(exc))
                pos = exc.end
                continue
            except _Broken as exc:
                found = find(fh, pos + 1, size)
                end = size if found is None else found
                if pending is None:
                    pending = Damage(pos, end, str(exc))
                else:
                    pending = Damage(pending.offset, end, pending.reason)
                pos = end
                continue
            if pending is not None:
                yield pending
                pending = None
            yield from records
            pos = end
        if pending is not None:
            yield pending


# -- plain .warc -------------------------------------------------------------------------


def _plain_record(
    fh: BinaryIO, pos: int, size: int, refuse_truncated: bool
) -> tuple[list[RawRecord], int]:
    fh.seek(pos)
    head = fh.read(CHUNK)
    while CRLF2 not in head and len(head) < MAX_HEADER:
        more = fh.read(CHUNK)
        if not more:
            break
        head += more
    if not _VERSION_LINE.match(head):
        raise _Broken("no WARC/1.0 or WARC/1.1 record starts here")
    header_end = head.find(CRLF2)
    if header_end < 0:
        raise _Broken("WARC header without its blank line (file cut or garbage)")
    header = head[: header_end + 4]
    fields = _header_fields(header)
    length = _content_length(fields)
    fh.seek(pos + len(header))
    block = fh.read(length)
    if len(block) < length:
        raise _Broken(
            f"record cut short: block has {len(block)} of the {length} bytes its "
            "Content-Length promises"
        )
    if fh.read(4) != CRLF2:
        raise _Broken("record not followed by CRLF CRLF (wrong Content-Length, or cut)")
    data = header + block
    end = pos + len(data) + 4
    _check_complete(fields, block, end, refuse_truncated)
    return [RawRecord(pos, len(data), end, data)], end


def _next_version_line(fh: BinaryIO, start: int, size: int) -> int | None:
    """Offset of the next `WARC/1.0` or `WARC/1.1` line at a line start, from `start` on."""
    needle = b"\nWARC/1."
    pos = start - 1  # the newline before `start` counts
    tail = b""
    while pos < size:
        fh.seek(max(pos, 0))
        chunk = fh.read(CHUNK)
        if not chunk:
            return None
        data = tail + chunk
        base = max(pos, 0) - len(tail)
        i = data.find(needle)
        while i >= 0:
            at = base + i + 1
            if at >= start:
                fh.seek(at)
                if _VERSION_LINE.match(fh.read(10)):
                    return at
            i = data.find(needle, i + 1)
        tail = data[-(len(needle) - 1) :]
        pos = max(pos, 0) + len(chunk)
    return None


# -- .warc.gz ----------------------------------------------------------------------------


def _gzip_records(
    fh: BinaryIO, pos: int, size: int, refuse_truncated: bool
) -> tuple[list[RawRecord], int]:
    fh.seek(pos)
    if fh.read(3) != GZIP_MAGIC:
        raise _Broken("no gzip member starts here (garbage, or not a .warc.gz)")
    data, end = _inflate_member(fh, pos)
    if not _VERSION_LINE.match(data):
        raise _Refused("gzip member holds no WARC record", end)
    # One member usually holds one record; some tools put several in one.
    records, at = [], 0
    while at < len(data):
        header_end = data.find(CRLF2, at)
        if not _VERSION_LINE.match(data, at) or header_end < 0:
            raise _Refused("gzip member holds a WARC header without its blank line", end)
        fields = _header_fields(data[at : header_end + 4])
        length = _content_length(fields, refused_at=end)
        block = data[header_end + 4 : header_end + 4 + length]
        if len(block) < length:
            raise _Refused(
                f"record cut short: block has {len(block)} of the {length} bytes its "
                "Content-Length promises",
                end,
            )
        after = header_end + 4 + length
        if data[after : after + 4] != CRLF2:
            raise _Refused("record not followed by CRLF CRLF (wrong Content-Length)", end)
        _check_complete(fields, block, end, refuse_truncated)
        records.append(RawRecord(pos, end - pos, end, data[at:after]))
        at = after + 4
    return records, end


def _inflate_member(fh: BinaryIO, pos: int) -> tuple[bytes, int]:
    """The decompressed bytes of the gzip member at `pos` and the offset just after it."""
    fh.seek(pos)
    d = zlib.decompressobj(zlib.MAX_WBITS | 16)
    out: list[bytes] = []
    produced = fed = 0
    while not d.eof:
        chunk = fh.read(CHUNK)
        if not chunk:
            raise _Broken("gzip member cut short (the file ends inside it)")
        fed += len(chunk)
        try:
            piece = d.decompress(chunk)
        except zlib.error as exc:
            raise _Broken(f"corrupt gzip member ({exc})") from None
        produced += len(piece)
        if produced > MAX_RECORD:
            raise _Broken(f"gzip member inflates past {MAX_RECORD} bytes; not read")
        out.append(piece)
    return b"".join(out), pos + fed - len(d.unused_data)


def _next_member(fh: BinaryIO, start: int, size: int) -> int | None:
    """Offset of the next gzip member, from `start` on, that begins a `WARC/1.` record."""
    pos, tail = start, b""
    while pos < size:
        fh.seek(pos)
        chunk = fh.read(CHUNK)
        if not chunk:
            return None
        data = tail + chunk
        base = pos - len(tail)
        i = data.find(GZIP_MAGIC)
        while i >= 0:
            at = base + i
            if at >= start and _member_starts_record(fh, at):
                return at
            i = data.find(GZIP_MAGIC, i + 1)
        tail = data[-(len(GZIP_MAGIC) - 1) :]
        pos += len(chunk)
    return None


def _member_starts_record(fh: BinaryIO, at: int) -> bool:
    fh.seek(at)
    d = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        head = d.decompress(fh.read(4096), 16)
    except zlib.error:
        return False
    return head.startswith(b"WARC/1.")


# -- both --------------------------------------------------------------------------------


def _header_fields(header: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in header.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon:
            fields.setdefault(
                name.strip().decode("latin-1").lower(), value.strip().decode("latin-1")
            )
    return fields


def _content_length(fields: dict[str, str], refused_at: int | None = None) -> int:
    value = fields.get("content-length", "")
    if not value.isdigit():
        reason = f"WARC header without a valid Content-Length ({value[:20]!r})"
        if refused_at is not None:
            raise _Refused(reason, refused_at)
        raise _Broken(reason)
    return int(value)


def _check_complete(fields: dict[str, str], block: bytes, end: int, refuse_truncated: bool) -> None:
    truncated = fields.get("warc-truncated")
    if truncated is not None and refuse_truncated:
        raise _Refused(f"record marked WARC-Truncated: {truncated[:40] or 'unspecified'}", end)
    digest = fields.get("warc-block-digest")
    if digest and not digest_matches(digest, block):
        raise _Refused(f"block digest mismatch ({digest[:60]})", end)


def digest_matches(digest: str, block: bytes) -> bool:
    """Whether `digest` (`algo:value`, base32 or hex) is that of `block`. False only for a digest that can be computed and differs; unknown algorithms pass."""
    algo, _, value = digest.partition(":")
    algo = algo.strip().lower().replace("-", "")
    try:
        h = hashlib.new(algo, block)
    except ValueError:
        return True
    value = value.strip()
    try:
        if len(value) == h.digest_size * 2:
            expected = bytes.fromhex(value)
        else:
            expected = base64.b32decode(value.upper())
    except (ValueError, binascii.Error):
        return False
    return h.digest() == expected
