"""`urljoin` of the links a site repeats on every page, computed once per folder. Pure.

A list page's bar links every other list page and every article links the same stylesheets,
scripts and images: resolving each of them against each page was most of the Python work per
link. `urljoin(base, href)` depends only on the base's scheme, host and folder when `href`
has a path of its own (RFC 3986's merge: the base's last segment, query and fragment play no
part), so such results can be kept under (`base_key(base)`, href) and shared by every page of
the folder. Anything else is resolved against the whole base every time.
"""

from __future__ import annotations

from urllib.parse import urlsplit

_SCHEMES = ("http://", "https://")


def base_key(base: str) -> tuple[str, ...]:
    """What `urljoin(base, href)` depends on when `folder_only(href)`."""
    parts = urlsplit(base)
    path = parts.path
    if not path.startswith("/"):
        return (base,)  # no folder to speak of: this base alone
    return (parts.scheme, parts.netloc, path[: path.rfind("/") + 1])


def folder_only(href: str) -> bool:
    """True when the (stripped) `href` resolves against `base_key` alone: a path of its own
    with no scheme (`index_3.html`, `../x/a.png`, `/a/b.css`), or `http(s)://host...`.
    A query or fragment alone, `//host`, other schemes and control characters: False."""
    if not href.isprintable():
        return False  # urlsplit drops tabs and newlines anywhere: judge the whole thing
    for scheme in _SCHEMES:
        if href.startswith(scheme):  # a host of its own: only the base's scheme counts
            return href[len(scheme) : len(scheme) + 1] not in ("", "/", "?", "#")
    c = href[:1]
    if c.isascii() and (c.isalnum() or c in "._-" or (c == "/" and href[1:2] != "/")):
        return ":" not in href
    return False
