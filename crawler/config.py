"""Bundled town/column configuration and the site-root mapping. Pure: no Scrapy imports."""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

CANONICAL_ROOT = "https://www.dg.gov.cn/"
CANONICAL_HOSTS = frozenset({"www.dg.gov.cn", "dg.gov.cn"})


class ConfigError(ValueError):
    """A town, column or site root that the configuration cannot accept (a usage error)."""


@dataclass(frozen=True)
class Column:
    path: str  # e.g. "houjie/cjjs/tshj/" (relative to the site root, ends with "/")
    name: str
    town: str
    feed: int | None = None
    verified: bool = False


@dataclass(frozen=True)
class Town:
    slug: str
    name: str
    site: str
    verified: bool = False
    columns: tuple[Column, ...] = field(default_factory=tuple)


def load_towns(text: str | None = None, *, path: str | os.PathLike[str] | None = None) -> list[Town]:
    """Parse the bundled towns.toml (or the file at `path`, or `text`) into towns, in file
    order. ConfigError when the file cannot be read or is no valid TOML."""
    if text is None and path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read towns file {str(path)!r}: {exc}") from None
    if text is None:
        text = resources.files("crawler").joinpath("towns.toml").read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = f"towns file {str(path)!r}" if path is not None else "towns configuration"
        raise ConfigError(f"{where} is not valid TOML: {exc}") from None
    try:
        return _towns_of(data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"towns configuration: a town or column lacks {exc}") from None


def _towns_of(data: dict) -> list[Town]:
    towns = []
    for t in data.get("town", []):
        cols = tuple(
            Column(
                path=normalize_column_path(c["path"]),
                name=c.get("name", ""),
                town=t["slug"],
                feed=c.get("feed"),
                verified=bool(c.get("verified", False)),
            )
            for c in t.get("columns", [])
        )
        towns.append(
            Town(
                slug=t["slug"],
                name=t.get("name", t["slug"]),
                site=t.get("site", ""),
                verified=bool(t.get("verified", False)),
                columns=cols,
            )
        )
    return towns


def normalize_column_path(path: str) -> str:
    """`/houjie/cjjs/tshj/index.html` -> `houjie/cjjs/tshj/`."""
    p = path.strip().lstrip("/")
    if p.endswith(".html"):
        p = p.rsplit("/", 1)[0] + "/" if "/" in p else ""
    if p and not p.endswith("/"):
        p += "/"
    return p


def select_columns(
    towns: list[Town], town_slugs: list[str], column_paths: list[str]
) -> list[Column]:
    """The columns a crawl covers: named towns' columns plus named column paths.

    Nothing named means every configured column. A column path that is not configured is
    accepted when its first segment is a known town slug (new columns appear on the site
    before they reach this file); anything else is a ConfigError.
    """
    by_slug = {t.slug: t for t in towns}
    chosen: list[Column] = []
    for slug in town_slugs:
        if slug not in by_slug:
            raise ConfigError(f"unknown town {slug!r} (known: {', '.join(by_slug)})")
        chosen.extend(by_slug[slug].columns)
    known = {c.path: c for t in towns for c in t.columns}
    for raw in column_paths:
        path = normalize_column_path(raw)
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] not in by_slug or len(parts) < 2:
            raise ConfigError(f"unknown column {raw!r}: expected a path like houjie/cjjs/tshj/")
        chosen.append(known.get(path) or Column(path=path, name="", town=parts[0]))
    if not town_slugs and not column_paths:
        chosen = [c for t in towns for c in t.columns]
    seen: set[str] = set()
    return [c for c in chosen if not (c.path in seen or seen.add(c.path))]


def town_by_slug(towns: list[Town], slug: str) -> Town | None:
    return next((t for t in towns if t.slug == slug), None)


DEFAULT_PORTS = {"http": 80, "https": 443}
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _unescape_unreserved(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: `/a/b/../c/./d` -> `/a/c/d`; never climbs above `/`."""
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == ".":
            if last:
                out.append("")
        elif seg == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(seg)
    result = "/".join(out)
    return result if result.startswith("/") or not path.startswith("/") else "/" + result


# Pure, and asked about the same URLs again and again (every page's links, the page bar,
# shared images): 5% of the reactor thread uncached. Bounded, so memory stays flat.
@functools.lru_cache(maxsize=4096)
def normalize_url(url: str) -> str:
    """The URL a scope check may compare: percent-encoding made safe and uniform (escapes of
    unreserved characters decoded, so `%2e%2e` is `..`), dot segments removed, scheme and
    host lower-cased, the default port and the fragment dropped. The query is kept as is
    (its order can matter to the server)."""
    # Imported here: w3lib.url brings urllib.request, http.client, email and ssl (35 ms),
    # which every command importing this module paid before it did anything, and `reindex`
    # before it started its reader process (the one process here that normalises URLs).
    from w3lib.url import safe_url_string

    p = urlsplit(safe_url_string(url.strip()))
    scheme = p.scheme.lower()
    path = remove_dot_segments(_ESCAPE.sub(_unescape_unreserved, p.path))
    query = _ESCAPE.sub(_unescape_unreserved, p.query)
    netloc = p.netloc
    if p.hostname:
        host = p.hostname
        try:
            port = p.port
        except ValueError:
            port = None
        if ":" in host:
            host = f"[{host}]"
        userinfo = netloc.rpartition("@")[0]
        netloc = (userinfo + "@" if userinfo else "") + host
        if port is not None and port != DEFAULT_PORTS.get(scheme):
            netloc += f":{port}"
    if netloc and not path:
        path = "/"
    return urlunsplit((scheme, netloc, path, query, ""))


def origin(url: str) -> tuple[str, int | None]:
    """(host, effective port) of a URL: `http://h/` and `http://h:80/` are one origin."""
    p = urlsplit(url)
    try:
        port = p.port
    except ValueError:
        return (p.hostname or "", -1)
    return (p.hostname or "", port or DEFAULT_PORTS.get(p.scheme.lower()))


class SiteMap:
    """Maps www.dg.gov.cn URLs onto a site root (the real site or a mirror) and back.

    Fetch URLs are what goes on the wire and into the WARC; canonical URLs
    (https://www.dg.gov.cn/...) are what records and the database use, so a mirror crawl
    and a live crawl describe the same articles.
    """

    def __init__(self, site_root: str = CANONICAL_ROOT) -> None:
        self.root = validate_site_root(site_root)
        parts = urlsplit(self.root)
        self._scheme, self._netloc, self._path = parts.scheme, parts.netloc, parts.path

    @property
    def is_canonical(self) -> bool:
        return self._netloc in CANONICAL_HOSTS and self._path == "/"

    def in_scope(self, url: str) -> bool:
        """True for a fetch URL (as `to_fetch` gives it) under the site root: http or https,
        the root's host AND port, the root's path. What a redirect may lead to."""
        p = urlsplit(url)
        if p.scheme not in ("http", "https"):
            return False
        if self.is_canonical:
            return (p.hostname or "") in CANONICAL_HOSTS and origin(url)[1] in (80, 443)
        return origin(url) == origin(self.root) and p.path.startswith(self._path)

    def in_site(self, url: str) -> bool:
        """True for URLs on the site root or on www.dg.gov.cn (http or https)."""
        p = urlsplit(normalize_url(url))
        if p.scheme not in ("http", "https"):
            return False
        if p.netloc == self._netloc and p.path.startswith(self._path):
            return True
        return (p.hostname or "") in CANONICAL_HOSTS

    def to_fetch(self, url: str) -> str:
        """A www.dg.gov.cn URL (either scheme) as fetched from the site root, normalized
        (`normalize_url`) so that scope checks on it cannot be fooled by `../` or `%2e`."""
        p = urlsplit(normalize_url(url))
        if (p.hostname or "") in CANONICAL_HOSTS and not self.is_canonical:
            path = self._path.rstrip("/") + "/" + p.path.lstrip("/")
            return urlunsplit((self._scheme, self._netloc, path, p.query, ""))
        return urlunsplit((p.scheme, p.netloc, p.path, p.query, ""))

    def to_canonical(self, url: str) -> str:
        """A fetch URL back on https://www.dg.gov.cn/."""
        p = urlsplit(url)
        if p.netloc == self._netloc and p.path.startswith(self._path):
            rest = p.path[len(self._path) :]
            return urlunsplit(("https", "www.dg.gov.cn", "/" + rest, p.query, ""))
        if (p.hostname or "") in CANONICAL_HOSTS:
            return urlunsplit(("https", "www.dg.gov.cn", p.path, p.query, ""))
        return url

    def column_url(self, column: Column) -> str:
        return self.root + column.path


def canonical_urls(site_root: str) -> Callable[[str], str]:
    """How a crawl of `site_root` ("" for the canonical site) maps its fetch URLs back to
    canonical ones: what the WARC reader (`pipelines.warc.reader`) is given, as it may not
    import the configuration. ConfigError for a malformed root."""
    return SiteMap(site_root or CANONICAL_ROOT).to_canonical


def validate_site_root(url: str) -> str:
    """Return the site root with a trailing slash, or raise ConfigError."""
    p = urlsplit(url.strip())
    if p.scheme not in ("http", "https") or not p.hostname or p.query or p.fragment:
        raise ConfigError(f"malformed --site-root {url!r}: expected http(s)://host[:port]/")
    try:
        p.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ConfigError(f"malformed --site-root {url!r}: {exc}") from None
    path = p.path if p.path.endswith("/") else p.path + "/"
    # Normalized like every URL the crawl compares with it (`http://h:80/a/../` is `http://h/`).
    return normalize_url(urlunsplit((p.scheme, p.netloc, path, "", "")))
