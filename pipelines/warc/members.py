"""Gzip members for `.warc.gz`: one member per record, compressed payloads stored as they are.

Pure, standard library and warcio headers only. No Scrapy imports.
"""

from __future__ import annotations

import struct
import zlib

from warcio.statusandheaders import StatusAndHeaders

_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"  # deflate, mtime 0, unix
_COMPRESSED_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd", "compress"})
_COMPRESSED_TYPES = ("image/", "video/", "audio/", "font/woff", "application/zip")


def already_compressed(head: StatusAndHeaders | None) -> bool:
    """True for a payload deflate cannot shrink: content-encoded, or an image, video, font."""
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
