"""A plain case that behaves: proves the machinery (a crawl must store it and exit 0)."""

from __future__ import annotations

from tests.hostile.server import Request, Responder, article_html, case


@case("well_formed", 4200999, "a normal article: stored, exit 0")
def well_formed(req: Request, out: Responder) -> None:
    out.html(200, article_html(4200999))
