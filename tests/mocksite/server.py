"""The mirror as a real HTTP/1.1 server on 127.0.0.1: routing, caching, validators, gzip, faults.

Standard library only. A body is rendered on first request and cached with its validators
and gzip form until the content changes, so a handler does a dict lookup and one socket
write: fast enough for a Scrapy crawl at 8-16 concurrent requests to reach hundreds of
pages a second on a small machine.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import math
import re
import socket
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import images, templates, towns
from .content import (
    CANONICAL,
    CHINA,
    COLUMNS,
    FAULT_IDS,
    ID_000,
    ID_004,
    ID_004_HANT,
    TSHJ,
    ZHXW,
    Article,
    Catalogue,
    body_paras,
)

LIST_COLUMNS = (TSHJ, ZHXW)
STYLESHEETS = {
    templates.CSS_PATH: templates.CSS,
    templates.BASE_CSS_PATH: templates.BASE_CSS,
    templates.SHARE_CSS_PATH: templates.SHARE_CSS,
}
STATIC_MTIME = datetime(2023, 1, 1, tzinfo=CHINA).timestamp()
FAULT_TITLES = {
    "missing": "厚街镇2022年度重点项目建设情况通报",
    "redirect": "一把手访谈|寮厦：今年计划投4000万推进乡村振兴（旧址）",
    "error": "厚街镇开展“双随机、一公开”联合检查",
    "slow": "厚街镇召开2023年第一次工作例会",
    "drop": "厚街镇新河公园改造工程正式动工",
    "truncated": "厚街镇开展春节前安全生产大检查",
}


class HeaderDict(dict):
    """Request headers as sent (original case), looked up case-insensitively."""

    def _key(self, key: str) -> str | None:
        if dict.__contains__(self, key):
            return key
        low = key.lower()
        return next((k for k in self if k.lower() == low), None)

    def __getitem__(self, key: str) -> str:
        k = self._key(key)
        if k is None:
            raise KeyError(key)
        return dict.__getitem__(self, k)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._key(key) is not None

    def get(self, key: str, default=None):  # type: ignore[override]
        k = self._key(key)
        return default if k is None else dict.__getitem__(self, k)


@dataclass
class Resource:
    status: int
    body: bytes
    content_type: str | None
    last_modified: float | None = None
    html: bool = False  # HTML responses carry the two cookies
    compressible: bool = False
    headers: list[tuple[str, str]] = field(default_factory=list)
    fault: str | None = None  # "slow" | "drop"
    etag: str | None = None
    _gz: bytes | None = None

    def __post_init__(self) -> None:
        if self.status == 200 and self.etag is None:
            self.etag = '"' + hashlib.sha1(self.body).hexdigest()[:20] + '"'

    def gzipped(self) -> bytes:
        if self._gz is None:  # a race computes the same bytes twice: mtime is fixed
            self._gz = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gz


def accepts_gzip(value: str) -> bool:
    for part in value.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() not in ("gzip", "x-gzip", "*"):
            continue
        q = 1.0
        for param in params.split(";"):
            k, _, v = param.strip().partition("=")
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        if q > 0:
            return True
    return False


def not_modified(headers, res: Resource) -> bool:
    inm = headers.get("If-None-Match")
    if inm is not None:  # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return res.etag is not None and ("*" in tags or res.etag in tags)
    ims = headers.get("If-Modified-Since")
    if ims and res.last_modified is not None:
        try:
            since = parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError):
            return False
        return int(res.last_modified) <= since
    return False


def _html(status: int, text: str, **kw) -> Resource:
    return Resource(
        status, text.encode("utf-8"), "text/html; charset=utf-8", html=True, compressible=True, **kw
    )


_ARTICLE_ID = re.compile(r"m?post_(\d+)\.html")
_LIST = re.compile(r"^/(houjie/[a-z0-9_/]+/)(?:index(?:_(\d+))?\.html)?$")
_POST_JSON = re.compile(r"^/postmeta/p/(\d+)/(\d+)/(\d+)\.json$")


class MockSite:
    """A faithful, deterministic Houjie-like town site on 127.0.0.1 for crawls and benchmarks.

    `articles` is the total number of live articles (the three seed pages included),
    split ~75/25 between houjie/cjjs/tshj/ and houjie/xwzx/zhxw/; `per_page` list items per
    page; `faults` links the fault pages from tshj page 1; `seed` fixes all content.

    For large mirrors (benchmarks): `full_page_bar` makes tshj's page bar link every page
    number, not a window of ten (zhxw's `createPageHTML` bar names them all anyway);
    `cache_limit` keeps at most that many rendered bodies (least recently used go, and are
    rendered again, identically, when asked for); `log=False` keeps neither `requests_log`
    nor `body_sent`, which otherwise grow with every request.
    """

    def __init__(
        self,
        articles: int = 60,
        per_page: int = 20,
        faults: bool = False,
        seed: int = 0,
        slow_seconds: float = 2.0,
        *,
        full_page_bar: bool = False,
        cache_limit: int | None = None,
        log: bool = True,
    ):
        if per_page < 1:
            raise ValueError("per_page must be at least 1")
        self.per_page = per_page
        self.faults = faults
        self.seed = seed
        self.slow_seconds = slow_seconds
        self._lock = threading.RLock()
        self._catalogue = Catalogue(articles, seed)
        self.full_page_bar = full_page_bar
        self.cache_limit = cache_limit
        self.log = log
        self._cache: OrderedDict[str, Resource] = OrderedDict()
        self._log_lock = threading.Lock()
        self.requests_log: list[tuple[str, str, HeaderDict]] = []
        self._sent: dict[str, bytes] = {}
        self._down = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._cookies = itertools.count(1)
        self.url = ""
        self._reindex()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, port: int = 0) -> MockSite:
        server = _Server(("127.0.0.1", port), _Handler, self)
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}/"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> MockSite:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def down(self) -> None:
        """Simulate a dead site: every new request's connection is closed with no response."""
        self._down = True

    def up(self) -> None:
        self._down = False

    # -- content API ------------------------------------------------------------------------

    def add_articles(self, n: int = 1) -> list[str]:
        """Publish n new tshj articles; returns their canonical URLs, newest first."""
        with self._lock:
            new = self._catalogue.add(n)
            self._reindex()
            return [a.url for a in new]

    def change_article(self, url_or_id: str | int) -> str:
        """Change an article's body text (so its ETag and Last-Modified change)."""
        aid = self._article_id(url_or_id)
        with self._lock:
            a = self._catalogue.articles.get(aid)
            if a is None:
                raise KeyError(f"no live article {url_or_id!r}")
            a.revision += 1
            now = datetime.now(CHINA).replace(microsecond=0)
            a.modified = max(a.last_modified + timedelta(seconds=60), now)
            self._cache = OrderedDict()
            return a.url

    def articles(self, column: str | None = None) -> list[Article]:
        """Live articles (of a column), newest first: id, template, kind, script, encoding..."""
        with self._lock:
            return self._catalogue.live(self._column(column))

    def article_urls(self, column: str | None = None) -> list[str]:
        return [a.url for a in self.articles(column)]

    def list_page_urls(self, column: str | None = None) -> list[str]:
        col = self._column(column)
        urls = []
        with self._lock:
            for path in LIST_COLUMNS:
                if col is None or col == path:
                    pages = self._pages(path)
                    urls.append(CANONICAL + path)
                    urls += [f"{CANONICAL}{path}index_{n}.html" for n in range(2, pages + 1)]
        return urls

    def image_urls(self) -> list[str]:
        with self._lock:
            return [CANONICAL + p.lstrip("/") for p in self._images]

    def fault_urls(self) -> dict[str, str]:
        """Canonical URLs of the fault pages linked from tshj page 1 (empty without faults)."""
        if not self.faults:
            return {}
        return {k: f"{CANONICAL}{TSHJ}content/post_{v}.html" for k, v in FAULT_IDS.items()}

    @property
    def private_url(self) -> str:
        return self._catalogue.private.url

    @property
    def seed_urls(self) -> dict[str, str]:
        """The capture-based articles: 004 (byline markup), 004-hant (saved DOM), 000 (older)."""
        arts = self._catalogue.articles
        return {"004": arts[ID_004].url, "004-hant": arts[ID_004_HANT].url, "000": arts[ID_000].url}

    def mirror_url(self, url: str) -> str:
        """A canonical (or any) URL's path on this mirror."""
        p = urlsplit(url)
        return self.url.rstrip("/") + p.path + (f"?{p.query}" if p.query else "")

    def reset_log(self) -> None:
        with self._log_lock:
            self.requests_log.clear()

    def body_sent(self, path: str) -> bytes:
        """The exact body bytes last written for a path (gzip if sent so; partial if cut)."""
        p = urlsplit(path)
        key = (p.path or "/") + (f"?{p.query}" if p.query else "")
        return self._sent[key]

    # -- internals --------------------------------------------------------------------------

    @staticmethod
    def _article_id(url_or_id: str | int) -> int:
        if isinstance(url_or_id, int):
            return url_or_id
        s = str(url_or_id).strip()
        if s.isdigit():
            return int(s)
        m = _ARTICLE_ID.search(s)
        if not m:
            raise KeyError(f"not an article URL or id: {url_or_id!r}")
        return int(m.group(1))

    @staticmethod
    def _column(column: str | None) -> str | None:
        if column is None:
            return None
        c = re.sub(r"index(_\d+)?\.html$", "", urlsplit(column).path).strip("/") + "/"
        for path in LIST_COLUMNS:
            if c == path or path.endswith("/" + c) or c.endswith("/" + path):
                return path
        raise KeyError(f"unknown column {column!r}")

    def _reindex(self) -> None:
        """Rebuild the path maps after the catalogue changed; drop every cached body."""
        cat = self._catalogue
        paths: dict[str, tuple[str, Article]] = {}
        imgs: dict[str, Article] = {}
        for a in cat.live():
            paths[a.path] = ("post", a)
            paths[a.mobile_path] = ("mpost", a)
            paths[a.json_path] = ("json", a)
            if a.image is not None:
                imgs.setdefault(a.image.path, a)
        paths[cat.private.path] = ("post", cat.private)
        if self.faults:
            for a in cat.fault_articles().values():
                paths[a.path] = ("post", a)
        self._paths = paths
        self._images = imgs
        # Each column's live articles, newest first: a list page is one slice of them.
        self._live = {column: cat.live(column) for column in LIST_COLUMNS}
        self._cache = OrderedDict()

    def _pages(self, column: str) -> int:
        n = sum(1 for a in self._catalogue.articles.values() if a.column == column)
        return max(1, math.ceil(n / self.per_page))

    def _record(self, method: str, raw: str, headers) -> None:
        if not self.log:
            return
        entry = (method, raw, HeaderDict(headers.items()))
        with self._log_lock:
            self.requests_log.append(entry)

    def _remember(self, key: str, body: bytes) -> None:
        if self.log:
            self._sent[key] = body

    def _resource(self, path: str) -> Resource:
        with self._lock:
            res = self._cache.get(path)
            if res is None:
                res = self._build(path)
                if res.status != 404:  # unknown paths are not worth remembering
                    self._cache[path] = res
                    if self.cache_limit is not None and len(self._cache) > self.cache_limit:
                        self._cache.popitem(last=False)
            elif self.cache_limit is not None:
                self._cache.move_to_end(path)
            return res

    def _build(self, path: str) -> Resource:
        if path == "/robots.txt":
            return Resource(200, templates.ROBOTS.encode(), "text/plain", STATIC_MTIME)
        if (town := towns.page(path)) is not None:  # the towns of `dgarchive towns` (towns.py)
            return Resource(
                town.status, town.body, town.content_type, STATIC_MTIME, html=town.html,
                compressible=True, headers=town.headers,
            )  # fmt: skip
        if path in ("/", "/index.html"):
            return _html(200, templates.portal_home_page(), last_modified=STATIC_MTIME)
        if path in ("/houjie/", "/houjie/index.html"):
            return _html(200, templates.town_home_page(), last_modified=STATIC_MTIME)
        if path == templates.JS_PATH:
            return Resource(
                200, templates.JS.encode(), "application/javascript; charset=utf-8", STATIC_MTIME,
                compressible=True,
            )  # fmt: skip
        if path in STYLESHEETS:
            return Resource(
                200, STYLESHEETS[path].encode(), "text/css; charset=utf-8", STATIC_MTIME,
                compressible=True,
            )  # fmt: skip
        if path == templates.FAVICON_PATH:
            return Resource(200, images.ico(images.colour_for(20)), "image/x-icon", STATIC_MTIME)
        if path == templates.PRIVATE_PIXEL_PATH:
            return Resource(200, images.png((255, 255, 255), 1, 1), "image/png", STATIC_MTIME)
        if path in templates.STATIC_IMAGES:
            body = images.png(images.colour_for(templates.STATIC_IMAGES[path]), 16, 16)
            return Resource(200, body, "image/png", STATIC_MTIME)
        if path.startswith("/attachment/"):
            return self._image(path)
        if path.startswith("/postmeta/"):
            return self._json(path)
        if self.faults and (res := self._fault(path)) is not None:
            return res
        hit = self._paths.get(path)
        if hit is not None and hit[0] != "json":
            return self._article(hit[1], mobile=hit[0] == "mpost")
        m = _LIST.match(path)
        if m and m.group(1) in LIST_COLUMNS and m.group(2) != "1":
            return self._list(m.group(1), int(m.group(2) or 1))
        return self._not_found()

    def _not_found(self) -> Resource:
        return _html(404, templates.not_found_page())

    def _article(self, a: Article, mobile: bool = False) -> Resource:
        paras = body_paras(a, self.seed)
        if mobile:
            text, encoding = templates.mobile_page(a, paras), "utf-8"
        else:
            text, encoding = templates.article_page(a, paras), a.encoding
        if a.role == "truncated":
            text = templates.truncate_mid_tag(text)
        if encoding == "gbk":
            body, ctype = text.encode("gbk", "xmlcharrefreplace"), "text/html; charset=gbk"
        elif encoding == "gb2312-meta":
            # Declared only in <meta http-equiv>; the header names no charset.
            body, ctype = text.encode("gb2312", "xmlcharrefreplace"), "text/html"
        else:
            body, ctype = text.encode("utf-8"), "text/html; charset=utf-8"
        return Resource(
            200, body, ctype, a.last_modified.timestamp(), html=True, compressible=True,
            fault="slow" if a.role == "slow" else None,
        )  # fmt: skip

    def _list(self, column: str, page: int) -> Resource:
        col = COLUMNS[column]
        items = self._live[column]
        pages = max(1, math.ceil(len(items) / self.per_page))
        if page > pages:
            return self._not_found()
        chunk = items[(page - 1) * self.per_page : page * self.per_page]
        extras = self._extras() if column == TSHJ and page == 1 else []
        text = templates.list_page(
            col, chunk, page, pages, len(items), extras, full_bar=self.full_page_bar
        )
        newest = max((a.last_modified for a in items), default=None)
        return _html(200, text, last_modified=newest.timestamp() if newest else STATIC_MTIME)

    def _extras(self) -> list[tuple[str, str, str]]:
        """Links page 1 of tshj carries beyond its items: a robots-disallowed article, faults."""
        private = self._catalogue.private
        out = [(private.url, private.title, f"{private.published:%Y-%m-%d}")]
        if self.faults:
            hrefs = ("content/post_{}.html", "http://www.dg.gov.cn/" + TSHJ + "content/post_{}.html",
                     CANONICAL + TSHJ + "content/post_{}.html")  # fmt: skip
            for i, (kind, aid) in enumerate(FAULT_IDS.items()):
                out.append((hrefs[i % 3].format(aid), FAULT_TITLES[kind], f"2023-01-{10 + i:02d}"))
        return out

    def _fault(self, path: str) -> Resource | None:
        m = _ARTICLE_ID.search(path)
        if not m or not path.startswith("/" + TSHJ + "content/post_"):
            return None
        aid = int(m.group(1))
        if aid == FAULT_IDS["redirect"]:
            target = self._catalogue.articles[ID_004].path
            return _html(
                301,
                templates.simple_page("301 Moved Permanently", "<h1>301 Moved Permanently</h1>"),
                headers=[("Location", self.url.rstrip("/") + target)],
            )
        if aid == FAULT_IDS["error"]:
            return _html(500, templates.server_error_page())
        if aid == FAULT_IDS["drop"]:
            a = Article(
                aid, TSHJ, datetime(2023, 1, 14, 9, 0, tzinfo=CHINA), FAULT_TITLES["drop"], "本网",
                "server",
            )  # fmt: skip
            res = self._article(a)
            res.fault = "drop"
            res.compressible = False  # the cut is made in the identity body
            return res
        return None

    def _image(self, path: str) -> Resource:
        a = self._images.get(path)
        if a is None or a.image is None:
            return self._not_found()
        img = a.image
        if img.ext == "png":
            body, ctype = images.png(images.colour_for(img.key)), "image/png"
        else:
            body = images.jpeg(img.key % 256, f"dgarchive mirror {path}".encode())
            ctype = "image/jpeg"
        return Resource(200, body, ctype, a.published.timestamp())

    def _json(self, path: str) -> Resource:
        ctype = "application/json; charset=utf-8"
        if path == f"/postmeta/i/{COLUMNS[TSHJ].feed}.json":
            arts = self._catalogue.live(TSHJ)
            text = templates.feed_json(COLUMNS[TSHJ], arts)
            mtime = max(a.last_modified for a in arts).timestamp() if arts else STATIC_MTIME
            return Resource(200, text.encode(), ctype, mtime, compressible=True)
        m = _POST_JSON.match(path)
        hit = self._paths.get(path) if m else None
        if hit is None or hit[0] != "json":
            return self._not_found()
        a = hit[1]
        text = templates.post_json(a, body_paras(a, self.seed))
        return Resource(200, text.encode(), ctype, a.last_modified.timestamp(), compressible=True)

    # -- admin ------------------------------------------------------------------------------

    def _admin(self, method: str, path: str, query: str) -> tuple[int, object]:
        qs = parse_qs(query)
        try:
            if path == "/__admin/add" and method == "POST":
                return 200, self.add_articles(int(qs.get("n", ["1"])[0]))
            if path == "/__admin/change" and method == "POST":
                return 200, {"url": self.change_article(qs["id"][0])}
            if path == "/__admin/log" and method == "GET":
                with self._log_lock:
                    return 200, [[m, p, dict(h)] for m, p, h in self.requests_log]
            if path == "/__admin/reset_log" and method == "POST":
                self.reset_log()
                return 200, {"ok": True}
        except (KeyError, ValueError) as exc:
            return 400, {"error": str(exc)}
        return 404, {"error": f"no admin action {method} {path}"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, handler, site: MockSite):
        self.site = site
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def verify_request(self, request, client_address) -> bool:
        # While down, a new connection is closed at once, before any byte is answered.
        return not self.site._down

    def close_connections(self) -> None:
        with self.connections_lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], OSError):  # clients hang up; that is not news
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 60  # idle keep-alive connections end after a minute
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args) -> None:
        pass  # silent: per-request logging would cost more than serving

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.raw_requestline or self.server.site._down:
                self.close_connection = True  # down: hang up without a response
                return
            if not self.parse_request():
                return
            method = getattr(self, "do_" + self.command, None)
            if method is None:
                self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method {self.command}")
                return
            method()
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._serve(head=False)

    def _write(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        if self.close_connection:
            headers.append(("Connection", "close"))
        elif self.request_version == "HTTP/1.0":
            headers.append(("Connection", "keep-alive"))
        phrase = HTTPStatus(status).phrase
        head = f"HTTP/1.1 {status} {phrase}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
        # One write: headers and body in the same segment, no Nagle/delayed-ACK stall.
        self.wfile.write(head.encode("latin-1") + b"\r\n" + body)

    def _serve(self, head: bool) -> None:
        site = self.server.site
        raw = self.path
        split = urlsplit(raw)
        path = split.path or "/"
        if path.startswith("/__admin/"):
            status, doc = site._admin(self.command, path, split.query)
            body = json.dumps(doc, ensure_ascii=False).encode()
            self._write(
                status,
                [("Content-Type", "application/json; charset=utf-8"),
                 ("Content-Length", str(len(body)))],
                b"" if head else body,
            )  # fmt: skip
            return
        site._record(self.command, raw, self.headers)
        if self.command == "POST":
            res = templates.simple_page("405 Method Not Allowed", "<h1>405</h1>")
            body = res.encode()
            site._remember(raw, body)
            self._write(
                405,
                [("Content-Type", "text/html; charset=utf-8"), ("Allow", "GET, HEAD"),
                 ("Content-Length", str(len(body)))],
                body,
            )  # fmt: skip
            return
        res = site._resource(path)
        if res.fault == "slow":
            time.sleep(site.slow_seconds)
        headers = [("Server", "nginx"), ("Date", formatdate(usegmt=True))]
        gz = (
            res.compressible
            and res.status == 200
            and accepts_gzip(self.headers.get("Accept-Encoding", ""))
        )
        etag = ("W/" + res.etag) if (gz and res.etag) else res.etag
        if res.status == 200 and not_modified(self.headers, res):
            if etag:
                headers.append(("ETag", etag))
            if res.last_modified is not None:
                headers.append(("Last-Modified", formatdate(res.last_modified, usegmt=True)))
            if res.compressible:
                headers.append(("Vary", "Accept-Encoding"))
            site._remember(raw, b"")
            self._write(304, headers, b"")
            return
        body = res.gzipped() if gz else res.body
        if res.content_type:
            headers.append(("Content-Type", res.content_type))
        headers.append(("Content-Length", str(len(body))))
        if gz:
            headers.append(("Content-Encoding", "gzip"))
        if res.compressible:
            headers.append(("Vary", "Accept-Encoding"))
        if etag:
            headers.append(("ETag", etag))
        if res.last_modified is not None:
            headers.append(("Last-Modified", formatdate(res.last_modified, usegmt=True)))
        headers.extend(res.headers)
        if res.html:
            # Two Set-Cookie lines, as the live site's application server and load balancer
            # send them; an archive must keep both.
            n = next(site._cookies)
            session = hashlib.md5(f"{site.seed}/{n}".encode()).hexdigest().upper()
            headers.append(("Set-Cookie", f"JSESSIONID={session}; Path=/; HttpOnly"))
            headers.append(("Set-Cookie", f"SERVERID={session[:8].lower()}|{n}; Path=/"))
        if head:
            body = b""
        elif res.fault == "drop":
            # Promise the whole body, deliver half, hang up.
            body = body[: len(body) // 2]
            self.close_connection = True
        site._remember(raw, body)
        if raw != path:
            site._remember(path, body)
        self._write(res.status, headers, body)
