"""Redirects and refreshes that leave the site, the column or the article (ids 4200000-4200099).

Off-site cases send the crawl to `site.foreign_url` when the test sets it (a second server on
another port of 127.0.0.1, so the test can count what reached it), else to a closed port.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.hostile.server import COLUMN, CONTROL_ID, Request, Responder, article_html, case

ARTICLES = f"/{COLUMN}content/"
LOOP_B = 4200050  # the second article of the A -> B -> A loop
MOVED_TO = 4200060  # the article `redirect_in_column` moves to
CHAIN_HOPS = 30


def _foreign(out: Responder, article_id: int) -> str:
    root = getattr(out.site, "foreign_url", "http://127.0.0.1:9/")
    return f"{root}{COLUMN}content/post_{article_id}.html"


@case("redirect_other_port", 4200000, "302 to the same host, another port: refused, failure")
def redirect_other_port(req: Request, out: Responder) -> None:
    out.redirect(_foreign(out, 4200000))


@case("meta_refresh_other_port", 4200001, "meta refresh to another port: refused, failure")
def meta_refresh_other_port(req: Request, out: Responder) -> None:
    page = article_html(4200001).replace(
        "<head>", f'<head><meta http-equiv="refresh" content="0; url={_foreign(out, 4200001)}">'
    )
    out.html(200, page)


@case("refresh_header_other_port", 4200002, "Refresh header to another port: refused, failure")
def refresh_header_other_port(req: Request, out: Responder) -> None:
    out.html(200, article_html(4200002), [("Refresh", f"0; url={_foreign(out, 4200002)}")])


def _error_page(req: Request, out: Responder) -> None:
    out.html(
        200, "<html><head><title>错误</title></head><body><h1>您访问的页面不存在</h1></body></html>"
    )


@case(
    "redirect_error_page",
    4200003,
    "302 to the site's own error page answering 200: not the article, failure",
    routes={"/houjie/error.html": _error_page},
)
def redirect_error_page(req: Request, out: Responder) -> None:
    out.redirect("/houjie/error.html")


@case("redirect_self_loop", 4200004, "302 to itself: a loop, failure")
def redirect_self_loop(req: Request, out: Responder) -> None:
    out.redirect(req.path)


def _loop_b(req: Request, out: Responder) -> None:
    out.redirect(f"{ARTICLES}post_4200005.html")


@case(
    "redirect_two_loop",
    4200005,
    "A -> B -> A: a loop, failure of A",
    routes={f"{ARTICLES}post_{LOOP_B}.html": _loop_b},
)
def redirect_two_loop(req: Request, out: Responder) -> None:
    out.redirect(f"{ARTICLES}post_{LOOP_B}.html")


@case("redirect_chain_30", 4200007, f"{CHAIN_HOPS} hops: over REDIRECT_MAX_TIMES, failure of hop 0")
def redirect_chain_30(req: Request, out: Responder) -> None:
    hop = int(parse_qs(urlsplit(req.path).query).get("hop", ["0"])[0])
    if hop < CHAIN_HOPS:
        out.redirect(f"{ARTICLES}post_4200007.html?hop={hop + 1}")
    else:
        out.html(200, article_html(4200007))


@case("redirect_dot_segments", 4200008, "302 to content/../../../../houjie/error.html: refused")
def redirect_dot_segments(req: Request, out: Responder) -> None:
    root = f"http://127.0.0.1:{out.site.port}"
    out.redirect(f"{root}{ARTICLES}../../../../houjie/error.html")


def _moved_to(req: Request, out: Responder) -> None:
    out.html(200, article_html(MOVED_TO, title="厚街镇文章迁移后的新地址"))


@case(
    "redirect_in_column",
    4200009,
    "301 to another article of the column: followed, stored under the new URL",
    routes={f"{ARTICLES}post_{MOVED_TO}.html": _moved_to},
)
def redirect_in_column(req: Request, out: Responder) -> None:
    out.respond(301, b"", [("Location", f"post_{MOVED_TO}.html")])


@case(
    "redirect_canonical_host",
    4200010,
    "302 to https://www.dg.gov.cn/…: the same page on the crawled root, never the live site",
)
def redirect_canonical_host(req: Request, out: Responder) -> None:
    if "moved=1" in req.path:
        out.html(200, article_html(4200010))
    else:
        out.redirect(f"https://www.dg.gov.cn{ARTICLES}post_4200010.html?moved=1")


@case(
    "redirect_to_linked_article",
    4200011,
    "301 to the control article, which the list links too: no failure, whichever comes first",
)
def redirect_to_linked_article(req: Request, out: Responder) -> None:
    out.respond(301, b"", [("Location", f"post_{CONTROL_ID}.html")])
