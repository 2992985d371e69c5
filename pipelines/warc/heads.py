"""HTTP heads as they crossed the wire: request and response lines and headers, byte-exact.

One job: turn a status or request line and a header list into the exact bytes a WARC record
holds (warcio would re-render them). No Scrapy imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from urllib.parse import SplitResult, urlsplit

from warcio.statusandheaders import StatusAndHeaders

Header = tuple[str | bytes, str | bytes]
# warcio's header filter: maps a (name, value) pair to the pair to write, or None to drop it.
HeaderFilter = Callable[[tuple[str, str]], tuple[str, str] | None]


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
    ) -> None:
        if raw is None:
            raw = first_line + b"\r\n"
            raw += b"".join(n + b": " + v + b"\r\n" for n, v in headers) + b"\r\n"
        self.raw = raw
        protocol, _, rest = first_line.decode("latin-1").partition(" ")
        # StatusAndHeaders' fields, set here rather than by its __init__: the str form of
        # the headers is made only when something reads it (most records are written
        # without it; `get_header` reads the bytes).
        self.statusline = rest
        self.protocol = protocol
        self.total_len = 0
        self._pairs = headers
        self._str_headers: list[tuple[str, str]] | None = None
        self.headers_buff = self.raw

    @property
    def headers(self) -> list[tuple[str, str]]:  # type: ignore[override]
        if self._str_headers is None:
            self._str_headers = [(_s(n), _s(v)) for n, v in self._pairs]
        return self._str_headers

    @headers.setter
    def headers(self, value: Sequence[tuple[str | bytes, str | bytes]]) -> None:
        self._str_headers = [(_s(n), _s(v)) for n, v in value]

    def get_header(self, name: str, default_value: str | None = None) -> str | None:
        if self._str_headers is not None:
            return super().get_header(name, default_value)
        want = name.lower().encode("latin-1", "replace")
        for key, value in self._pairs:
            if key.lower() == want:
                return _s(value)
        return default_value

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

    def compute_headers_buffer(self, header_filter: HeaderFilter | None = None) -> None:
        self.headers_buff = self.raw

    def to_bytes(self, filter_func: HeaderFilter | None = None, encoding: str = "utf-8") -> bytes:
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


def _host_value(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port and parts.port != default:
        host += f":{parts.port}"
    return host


def default_reason(status: int) -> str:
    """The standard reason phrase of `status`, "" for a code without one."""
    try:
        return HTTPStatus(int(status)).phrase
    except ValueError:
        return ""
