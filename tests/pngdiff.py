"""Compare two PNG screenshots pixel by pixel, for tests. Pillow when installed, else the
standard library (zlib): 8-bit greyscale, RGB, grey+alpha or RGBA, not interlaced, which is
what Chromium writes."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # PNG colour type -> samples per pixel


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB bytes)."""
    try:
        from PIL import Image
    except ImportError:
        return _decode_stdlib(data)
    import io

    image = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = image.size
    raw = image.tobytes()
    return w, h, [raw[y * w * 3 : (y + 1) * w * 3] for y in range(h)]


def _decode_stdlib(data: bytes) -> tuple[int, int, list[bytes]]:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunk = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("PNG without IHDR")
    width, height, depth, ctype, _comp, _filter, interlace = header
    if depth != 8 or ctype not in CHANNELS or interlace:
        raise ValueError(
            f"unsupported PNG: depth {depth}, colour type {ctype}, interlace {interlace}"
        )
    bpp = CHANNELS[ctype]
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = prev[i]
            upleft = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + _paeth(left, up, upleft)) & 0xFF
        prev = line
        rows.append(_to_rgb(bytes(line), ctype))
    return width, height, rows


def _to_rgb(line: bytes, ctype: int) -> bytes:
    if ctype == 2:
        return line
    if ctype == 6:
        return bytes(b for i in range(0, len(line), 4) for b in line[i : i + 3])
    grey = line if ctype == 0 else line[::2]
    return bytes(g for g in grey for _ in range(3))


def diff_fraction(a: Path, b: Path, tolerance: int = 24) -> float:
    """The fraction of pixels whose colour differs by more than `tolerance` in a channel.

    Raises AssertionError when the images differ in size."""
    wa, ha, ra = decode_png(a.read_bytes())
    wb, hb, rb = decode_png(b.read_bytes())
    assert (wa, ha) == (wb, hb), f"screenshots differ in size: {wa}x{ha} vs {wb}x{hb}"
    differing = 0
    for row_a, row_b in zip(ra, rb, strict=True):
        if row_a == row_b:
            continue
        for i in range(0, len(row_a), 3):
            if any(abs(row_a[i + k] - row_b[i + k]) > tolerance for k in range(3)):
                differing += 1
    return differing / (wa * ha)
