"""Bodies too large to keep (ids 4200200-4200299): a gzip bomb, an endless body, 60 MB.

Each must be stopped by the default size limit (DOWNLOAD_MAXSIZE, 32 MiB), archived as far
as it came, reported under the article's URL with the limit named, and not stored; the
crawl's memory stays bounded (the tests measure its peak RSS).
"""

from __future__ import annotations

import zlib

from tests.hostile.server import Request, Responder, case

BOMB_INFLATED = 1024**3  # 1 GiB of zeros behind the HTML head
_bomb_cache: list[bytes] = []


def gzip_bomb() -> bytes:
    """About 1 MB of gzip inflating to 1 GiB (built once, in 16 MiB steps)."""
    if not _bomb_cache:
        head = b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>x</title></head><body>"
        comp = zlib.compressobj(9, zlib.DEFLATED, 31)
        parts = [comp.compress(head)]
        zeros = b"\0" * (16 * 1024 * 1024)
        for _ in range(BOMB_INFLATED // len(zeros)):
            parts.append(comp.compress(zeros))
        parts.append(comp.flush())
        _bomb_cache.append(b"".join(parts))
    return _bomb_cache[0]


@case("gzip_bomb", 4200200, "gzip bomb: ~1 MB inflating to 1 GiB")
def bomb(req: Request, out: Responder) -> None:
    out.respond(200, gzip_bomb(), [("Content-Encoding", "gzip")])


@case("endless_body", 4200201, "no Content-Length, a body that never ends")
def endless(req: Request, out: Responder) -> None:
    head = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nConnection: close\r\n\r\n"
    out.send(head.encode() + b"<!DOCTYPE html><html><body>")
    chunk = ("<p>厚街镇持续推进城市更新和乡村振兴。</p>\n" * 2000).encode()
    try:
        while True:  # until the client hangs up
            out.send(chunk)
    except OSError:
        pass
    finally:
        out.close()


@case("sixty_mb", 4200202, "a 60 MB page with its Content-Length")
def sixty_mb(req: Request, out: Responder) -> None:
    size = 60 * 1024 * 1024
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {size}\r\n\r\n"
    )
    out.send(head.encode())
    chunk = b"<p>" + b"a" * 65530 + b"</p>"
    sent = 0
    try:
        while sent < size:
            piece = chunk[: size - sent]
            out.send(piece)
            sent += len(piece)
    except OSError:
        out.close()
