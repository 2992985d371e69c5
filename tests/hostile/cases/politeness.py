"""Retry-After, huge lists and over-long links (ids 4200300-4200399).

Each Retry-After case answers its first request with 429/503 and records when every request
came (`site.arrivals[path]`), so a test measures the wait on the server side.
"""

from __future__ import annotations

import time
from email.utils import formatdate
from urllib.parse import urlsplit

from tests.hostile.server import Request, Responder, article_html, case


def _arrived(req: Request, out: Responder) -> int:
    """Record this request's arrival; return how many came before it for the same path."""
    arrivals = out.site.__dict__.setdefault("arrivals", {})
    times = arrivals.setdefault(urlsplit(req.path).path, [])
    times.append(time.monotonic())
    return len(times) - 1


@case("retry_after_seconds", 4200300, "429 + Retry-After: 2, then 200: retried after >= 2 s")
def retry_after_seconds(req: Request, out: Responder) -> None:
    if _arrived(req, out) == 0:
        out.html(429, "<html><body>slow down</body></html>", [("Retry-After", "2")])
    else:
        out.html(200, article_html(4200300))


@case("retry_after_date", 4200301, "503 + Retry-After as an HTTP date 3 s ahead, then 200")
def retry_after_date(req: Request, out: Responder) -> None:
    if _arrived(req, out) == 0:
        when = formatdate(time.time() + 3, usegmt=True)
        out.html(503, "<html><body>maintenance</body></html>", [("Retry-After", when)])
    else:
        out.html(200, article_html(4200301))


@case("retry_after_too_long", 4200302, "429 + Retry-After: 120 every time: over the cap, failure")
def retry_after_too_long(req: Request, out: Responder) -> None:
    _arrived(req, out)
    out.html(429, "<html><body>come back later</body></html>", [("Retry-After", "120")])
