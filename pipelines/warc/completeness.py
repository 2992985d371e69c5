"""Whether a response body arrived whole, judged from the bytes as received. Pure: no Scrapy.

Scrapy hands on a gzip body cut in half as whatever its first half inflates to (its gunzip
keeps partial output), and a body without Content-Length ends wherever the connection
closed. Neither is an error to Scrapy; both would be stored as a short article. `check_body`
looks at the payload as it came off the wire (before decompression) and says:

- `truncated`: the value for the WARC record's `WARC-Truncated` header (`disconnect`,
  `length`) when the capture itself is cut, else None;
- `problem`: why the body is not whole, for the report, else None.

Checks: the download handler's flags (`dataloss`: the connection closed before the promised
length; `partial`: no length was promised and the connection closed; `download_stopped`:
the size limit cut it), Content-Length against the body, a gzip/deflate stream that ends
before its end-of-stream marker (or inflates past the size limit), and for a close-delimited
HTML body, whether `</html>` arrived.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

_CHUNK = 65536  # inflated bytes per step: the output is counted and dropped, never kept
_HTML_END_WINDOW = 4096


@dataclass(frozen=True)
class BodyCheck:
    truncated: str | None = None  # WARC-Truncated value
    problem: str | None = None  # the reason to report, None when the body is whole
    # With `keep_inflated`: the decoded body of a whole gzip or zlib-deflate stream that is
    # one stream and nothing else, as Scrapy's own decoding would give it (compare=False:
    # a verdict is the two fields above).
    inflated: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def complete(self) -> bool:
        return self.problem is None


def header(headers: Iterable[tuple[bytes | str, bytes | str]], name: str) -> str | None:
    """The first value of header `name` (case-insensitive) in a list of (name, value)."""
    want = name.lower()
    for key, value in headers:
        key = key.decode("latin-1") if isinstance(key, bytes) else key
        if key.lower() == want:
            return value.decode("latin-1") if isinstance(value, bytes) else value
    return None


def _first_values(headers: Iterable[tuple[bytes | str, bytes | str]]) -> dict[str, str]:
    """The first value of each header `check_body` reads, by lower-case name: one pass, where
    `header()` for each name would walk the list (and decode every name) again."""
    found: dict[str, str] = {}
    for key, value in headers:
        key = key.decode("latin-1") if isinstance(key, bytes) else key
        name = key.lower()
        if name in _READ and name not in found:
            found[name] = value.decode("latin-1") if isinstance(value, bytes) else value
    return found


_READ = frozenset({"content-length", "content-encoding", "content-type"})


def check_body(
    headers: Iterable[tuple[bytes | str, bytes | str]],
    body: bytes,
    flags: Iterable[str] = (),
    *,
    status: int = 200,
    max_size: int = 0,
    keep_inflated: bool = False,
) -> BodyCheck:
    """Judge `body` (the payload as received, still content-encoded) against its headers.

    `keep_inflated`: a gzip/deflate body is inflated to be judged anyway; keep the result
    (`BodyCheck.inflated`) so that the crawl does not inflate it a second time."""
    flags = set(flags)
    if status in (204, 304) or 100 <= status < 200:
        return BodyCheck()  # no body, whatever Content-Length says of the entity
    headers = _first_values(headers)
    if "download_stopped" in flags:
        return BodyCheck("length", f"body cut at the size limit after {len(body)} bytes")
    if "dataloss" in flags:
        return BodyCheck(
            "disconnect",
            f"connection closed before the whole body arrived ({_promised(headers, body)})",
        )
    length = headers.get("content-length")
    if length is not None and length.strip().isdigit() and int(length) != len(body):
        return BodyCheck(
            "length", f"body is {len(body)} bytes, Content-Length promised {int(length)}"
        )
    coding = (headers.get("content-encoding") or "").strip().lower()
    close_delimited = "partial" in flags
    if coding in ("gzip", "x-gzip", "deflate"):
        problem, inflated = _inflate(body, coding, max_size, keep_inflated)
        if problem:
            return BodyCheck("disconnect" if close_delimited else None, problem)
        return BodyCheck(inflated=inflated)
    if close_delimited:
        content_type = (headers.get("content-type") or "").lower()
        if "html" in content_type or not content_type:
            if b"</html" not in body[-_HTML_END_WINDOW:].lower():
                return BodyCheck(
                    "disconnect",
                    "connection closed before </html> (no Content-Length): the page is cut",
                )
            return BodyCheck()
        # Not HTML and no length: nothing tells a whole body from a cut one.
        return BodyCheck("disconnect", None)
    return BodyCheck()


def stream_problem(body: bytes, coding: str = "gzip", *, max_size: int = 0) -> str | None:
    """Why a gzip/deflate `body` is not one whole stream, or None when it is.

    Inflates in bounded steps and keeps nothing, so a bomb costs CPU, not memory; past
    `max_size` inflated bytes (when > 0) it stops and says so.
    """
    return _inflate(body, coding, max_size, False)[0]


def _inflate(
    body: bytes, coding: str, max_size: int, keep: bool
) -> tuple[str | None, bytes | None]:
    """`stream_problem`, and with `keep` the inflated bytes of a stream that has none.

    They are kept only where Scrapy's HttpCompressionMiddleware (`gunzip`) decodes the body
    to the same bytes: a gzip body that is one gzip member (magic number first, nothing after
    its trailer, CRC and length checked by zlib). Anything else (deflate, whose decoder in
    Scrapy stops on its own terms; trailing bytes; a zlib stream under a gzip label) is left
    for Scrapy to decode.
    """
    wbits = 47 if coding in ("gzip", "x-gzip") else 15  # 47: gzip or zlib header, auto
    if wbits != 47 or not body.startswith(b"\x1f\x8b"):
        keep = False
    decomp = zlib.decompressobj(wbits)
    data = body
    inflated = 0
    parts: list[bytes] = []
    try:
        while True:
            out = decomp.decompress(data, _CHUNK)
            inflated += len(out)
            if max_size and inflated > max_size:
                return (
                    f"{coding} body inflates past the size limit ({max_size} bytes) "
                    f"from {len(body)} bytes"
                ), None
            if keep:
                parts.append(out)
            if decomp.eof:
                whole = keep and not decomp.unused_data
                return None, b"".join(parts) if whole else None
            data = decomp.unconsumed_tail
            if not data and not out:
                break
    except zlib.error as exc:
        if coding == "deflate" and inflated == 0 and wbits == 15:
            return stream_problem_raw(body, max_size=max_size), None
        return f"{coding} stream is corrupt after {inflated} inflated bytes: {exc}", None
    return (
        f"{coding} stream cut short: it ends after {inflated} inflated bytes, before its end"
    ), None


def stream_problem_raw(body: bytes, *, max_size: int = 0) -> str | None:
    """Raw deflate (no zlib header), as some servers send for `deflate`."""
    decomp = zlib.decompressobj(-15)
    data, inflated = body, 0
    try:
        while True:
            out = decomp.decompress(data, _CHUNK)
            inflated += len(out)
            if max_size and inflated > max_size:
                return f"deflate body inflates past the size limit ({max_size} bytes)"
            if decomp.eof:
                return None
            data = decomp.unconsumed_tail
            if not data and not out:
                return f"deflate stream cut short after {inflated} inflated bytes"
    except zlib.error as exc:
        return f"deflate stream is corrupt: {exc}"


def _promised(headers: dict[str, str], body: bytes) -> str:
    length = headers.get("content-length")
    if length and length.strip().isdigit():
        return f"{len(body)} of {int(length)} bytes"
    return f"{len(body)} bytes"
