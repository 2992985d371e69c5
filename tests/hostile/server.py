"""The hostile site's server: raw sockets, so a case can send any bytes, or none, and hang up.

Routing: `/robots.txt`, the tshj list page (page 1 lists a control article plus every selected
case's article), the control article, and each case's paths. A case is a function that gets
the parsed request and a `Responder` bound to the connection; it writes whatever it likes.
"""

from __future__ import annotations

import gzip
import importlib
import pkgutil
import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

CANONICAL = "https://www.dg.gov.cn/"
COLUMN = "houjie/cjjs/tshj/"
CONTROL_ID = 4100000  # a well-formed article listed with every case: the crawl's control


@dataclass
class Request:
    method: str
    path: str  # path and query as sent
    headers: dict[str, str]  # lower-cased names

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


class Responder:
    """Writes to one client connection. `send` is raw; `respond` a whole HTTP/1.1 answer."""

    def __init__(self, sock: socket.socket, site: HostileSite):
        self.sock = sock
        self.site = site
        self.closed = False

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def respond(
        self,
        status: int,
        body: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
        *,
        reason: str | None = None,
        content_length: bool = True,
        content_type: str | None = "text/html; charset=utf-8",
    ) -> None:
        lines = [f"HTTP/1.1 {status} {reason or REASONS.get(status, 'Status')}"]
        hdrs = list(headers or [])
        names = {k.lower() for k, _ in hdrs}
        if content_type and "content-type" not in names:
            hdrs.append(("Content-Type", content_type))
        if content_length and "content-length" not in names:
            hdrs.append(("Content-Length", str(len(body))))
        if not content_length:
            hdrs.append(("Connection", "close"))
        lines += [f"{k}: {v}" for k, v in hdrs]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        if not content_length:
            self.close()

    def html(self, status: int, page: str, headers: list[tuple[str, str]] | None = None) -> None:
        self.respond(status, page.encode("utf-8"), headers)

    def redirect(self, location: str, status: int = 302) -> None:
        self.respond(status, b"", [("Location", location)])

    def close(self) -> None:
        """Hang up now (without a clean close of the HTTP exchange)."""
        if not self.closed:
            self.closed = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()


REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    307: "Temporary Redirect",
    404: "Not Found",
    410: "Gone",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

Handler = Callable[[Request, Responder], None]


@dataclass
class Case:
    """One hostile behaviour: its article id and the handlers of the paths it serves.

    `routes` maps a path (no query) to a handler; the case's article path is
    `/houjie/cjjs/tshj/content/post_<article_id>.html` and must be among them (or be served
    by `handler`). `note` says what a crawl should make of it.
    """

    name: str
    article_id: int
    handler: Handler
    routes: dict[str, Handler] = field(default_factory=dict)
    note: str = ""

    @property
    def article_path(self) -> str:
        return f"/{COLUMN}content/post_{self.article_id}.html"


CASES: dict[str, Case] = {}


def case(name: str, article_id: int, note: str = "", routes: dict[str, Handler] | None = None):
    """Decorator: register `fn(request, responder)` as the handler of case `name`'s article."""

    def register(fn: Handler) -> Handler:
        if name in CASES:
            raise ValueError(f"hostile case {name!r} registered twice")
        if any(c.article_id == article_id for c in CASES.values()):
            raise ValueError(f"hostile case {name!r}: article id {article_id} already taken")
        CASES[name] = Case(name, article_id, fn, dict(routes or {}), note or (fn.__doc__ or ""))
        return fn

    return register


def _load_cases() -> None:
    from tests.hostile import cases as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")


# -- pages ----------------------------------------------------------------------------------


def article_html(
    article_id: int,
    title: str | None = None,
    paragraphs: int = 5,
    published: str = "2024-05-06 09:30",
    body: str | None = None,
) -> str:
    """A well-formed article in the platform's `server` markup (meta tags, ucaptitle, wzades)."""
    title = title or f"厚街镇召开第{article_id % 1000}次工作会议"
    if body is None:
        body = "\n".join(
            f"<p>\u3000\u3000第{i + 1}段：厚街镇持续推进城市更新和乡村振兴，"
            f"各项工作取得阶段性进展，群众满意度稳步提升。</p>"
            for i in range(paragraphs)
        )
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>图说厚街-中国东莞厚街镇</title>
<meta name="SiteName" content="中国东莞厚街镇">
<meta name="ColumnName" content="图说厚街">
<meta name="ArticleTitle" content="{title}">
<meta name="PubDate" content="{published}">
<meta name="ContentSource" content="本网">
<meta name="Url" content="{CANONICAL}{COLUMN}content/post_{article_id}.html">
</head>
<body>
<div class="article">
<div class="con_title"><ucaptitle>{title}</ucaptitle></div>
<div class="con_info"><span>中国东莞政府门户网站</span>&nbsp;&nbsp;<span>{published}</span>&nbsp;&nbsp;<span>来源: 本网</span></div>
<div class="con_cen" id="zoom"><ucapcontent><div wzades="正文">
{body}
</div></ucapcontent></div>
</div>
</body>
</html>
"""


def list_html(hrefs: list[str]) -> str:
    rows = "\n".join(
        f'<div class="list-right_title fon_1"><a href="{h}" target="_blank">厚街新闻{i}</a>'
        f"<span>2024-05-06</span></div>"
        for i, h in enumerate(hrefs)
    )
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>图说厚街-中国东莞厚街镇</title></head>
<body><div class="list-right"><div class="list-right_tit"><span>图说厚街</span></div>
<div class="list-right_con">
{rows}
</div></div></body></html>
"""


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


# -- server ---------------------------------------------------------------------------------


class HostileSite:
    """Serves the selected cases (all registered cases when `cases` is None)."""

    def __init__(self, cases: list[str] | None = None):
        _load_cases()
        names = list(CASES) if cases is None else list(cases)
        unknown = [n for n in names if n not in CASES]
        if unknown:
            raise KeyError(f"unknown hostile case(s): {unknown}; known: {sorted(CASES)}")
        self.cases = [CASES[n] for n in names]
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.list_extra: list[str] = []  # more hrefs for page 1 (a case may add its own)

    # addresses
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def article_url(self, name: str) -> str:
        """The canonical URL of case `name`'s article (as export and the report name it)."""
        return CANONICAL + CASES[name].article_path.lstrip("/")

    def fetch_url(self, name: str) -> str:
        """The same article on this server."""
        return self.url + CASES[name].article_path.lstrip("/")

    @property
    def control_url(self) -> str:
        return f"{CANONICAL}{COLUMN}content/post_{CONTROL_ID}.html"

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if urlsplit(r.path).path == path)

    # life cycle
    def start(self) -> HostileSite:
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> HostileSite:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # routing
    def routes(self) -> dict[str, Handler]:
        table: dict[str, Handler] = {
            "/robots.txt": _robots,
            f"/{COLUMN}": self._list,
            f"/{COLUMN}index.html": self._list,
            f"/{COLUMN}content/post_{CONTROL_ID}.html": _control,
            "/houjie/xwzx/zhxw/": _empty_list,  # houjie's other column: nothing in it
        }
        for c in self.cases:
            table[c.article_path] = c.handler
            table.update(c.routes)
        return table

    def _list(self, req: Request, out: Responder) -> None:
        hrefs = [f"content/post_{CONTROL_ID}.html"]
        hrefs += [c.article_path for c in self.cases]
        out.html(200, list_html(hrefs + self.list_extra))

    def handle(self, req: Request, out: Responder) -> None:
        with self._lock:
            self.requests.append(req)
        handler = self.routes().get(urlsplit(req.path).path)
        if handler is None:
            out.html(404, "<html><body><h1>404 页面不存在</h1></body></html>")
        else:
            handler(req, out)


def _robots(req: Request, out: Responder) -> None:
    out.respond(200, b"User-agent: *\nDisallow: /houjie/private/\n", content_type="text/plain")


def _empty_list(req: Request, out: Responder) -> None:
    out.html(200, list_html([]))


def _control(req: Request, out: Responder) -> None:
    out.html(200, article_html(CONTROL_ID, title="厚街镇对照文章：一切正常"))


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, site: HostileSite):
        self.site = site
        super().__init__(address, handler)


class _Handler(socketserver.BaseRequestHandler):
    """HTTP/1.1 with keep-alive: read a head, dispatch, repeat until the case hangs up."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(30)
        out = Responder(sock, self.server.site)
        buf = b""
        while not out.closed:
            try:
                while b"\r\n\r\n" not in buf:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
            except OSError:
                return
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            try:
                method, path, _ = lines[0].split(" ", 2)
            except ValueError:
                return
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            try:
                self.server.site.handle(Request(method, path, headers), out)
            except OSError:
                return  # the client hung up while a case was writing
