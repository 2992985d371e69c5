"""Tiny but valid PNG and baseline JPEG bytes for the mirror's images. Pure: bytes out.

No imaging library is needed: a PNG is a few zlib'd rows, and a flat 8x8 grey JPEG is one
block whose only non-zero coefficient is DC, so two two-symbol Huffman tables encode it.
Every image carries something of its own (colour, a JPEG comment) so no two image URLs share
a payload digest, as on the real site, and WARC deduplication is not exercised by accident.
"""

from __future__ import annotations

import struct
import zlib


def png(rgb: tuple[int, int, int], width: int = 8, height: int = 8) -> bytes:
    """A truecolour PNG filled with one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    row = b"\x00" + bytes(rgb) * width  # filter type 0 (None) per row
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(row * height, 9))
        + chunk(b"IEND", b"")
    )


def jpeg(grey: int, comment: bytes = b"") -> bytes:
    """A baseline (SOF0) 8x8 greyscale JFIF filled with one grey level, with a COM segment."""

    def segment(marker: int, data: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(data) + 2) + data

    # A flat block's DC coefficient is 8 x (level - 128) (FDCT gain 8); quantiser 1 keeps it.
    dc = 8 * (max(0, min(255, grey)) - 128)
    cat = abs(dc).bit_length()
    value = dc if dc >= 0 else dc + (1 << cat) - 1  # JPEG's one's-complement for negatives

    # DC table: symbols {0, cat} with 2-bit codes 00, 01. AC table: {EOB, 0x01} likewise.
    dc_syms = bytes([0, cat]) if cat else bytes([0, 1])
    counts = bytes([0, 2] + [0] * 14)
    dht = b"\x00" + counts + dc_syms + b"\x10" + counts + bytes([0x00, 0x01])

    bits = ("01" + format(value, f"0{cat}b")) if cat else "00"
    bits += "00"  # EOB: every AC coefficient is zero
    bits += "1" * (-len(bits) % 8)  # pad with 1s to a byte boundary
    data = bytearray()
    for i in range(0, len(bits), 8):
        byte = int(bits[i : i + 8], 2)
        data.append(byte)
        if byte == 0xFF:
            data.append(0x00)  # byte stuffing

    return (
        b"\xff\xd8"
        + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + (segment(0xFE, comment) if comment else b"")
        + segment(0xDB, b"\x00" + b"\x01" * 64)
        + segment(0xC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00")
        + segment(0xC4, dht)
        + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
        + bytes(data)
        + b"\xff\xd9"
    )


def ico(rgb: tuple[int, int, int], size: int = 16) -> bytes:
    """A favicon.ico holding one PNG image (Vista-style ICO), as browsers read them."""
    image = png(rgb, size, size)
    head = struct.pack("<HHH", 0, 1, 1)  # reserved, type 1 (icon), one image
    entry = struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(image), 6 + 16)
    return head + entry + image


def colour_for(key: int) -> tuple[int, int, int]:
    """A deterministic colour per key, so different images differ."""
    return (key * 37 % 256, key * 91 % 256, key * 53 % 256)
