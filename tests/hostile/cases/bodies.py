"""Bad bodies served as an article: none may become a record (ids 4200100-4200199).

Each is archived, reported under the article's URL, not stored, and fetched again by the
next incremental run. `deep_font` and `bogus_charset` are articles that must be stored
whole; `impossible_date` and `file_image` are stored without the bad field.
"""

from __future__ import annotations

from tests.hostile.server import Request, Responder, article_html, case, gzipped

# Marked `BAD` cases are the ones a crawl must refuse; the tests iterate over them.
BAD: dict[str, str] = {}  # case name -> a word the report's reason must contain


def _bad(name: str, article_id: int, reason_word: str, note: str):
    BAD[name] = reason_word
    return case(name, article_id, note)


@_bad("gzip_cut_half", 4200100, "gzip", "a gzip body of 200 paragraphs cut in half")
def gzip_cut_half(req: Request, out: Responder) -> None:
    body = gzipped(article_html(4200100, paragraphs=200).encode())
    half = body[: len(body) // 2]
    out.respond(200, half, [("Content-Encoding", "gzip")])


@_bad("no_length_closed", 4200101, "</html>", "no Content-Length, connection closed mid-page")
def no_length_closed(req: Request, out: Responder) -> None:
    page = article_html(4200101, paragraphs=200).encode()
    out.respond(200, page[: len(page) // 2], content_length=False)


@_bad("no_body_tag", 4200102, "<body>", "a page that ends after </head>")
def no_body_tag(req: Request, out: Responder) -> None:
    page = article_html(4200102)
    out.html(200, page[: page.index("<body>")] + "</html>\n")


@_bad("plain_text", 4200103, "plain text", "one line of plain text served as text/html")
def plain_text(req: Request, out: Responder) -> None:
    out.respond(200, "厚街镇召开工作会议，会议强调要抓好各项工作。\n".encode())


@_bad("soft_404", 4200104, "soft 404", "a 'page not found' page served with 200")
def soft_404(req: Request, out: Responder) -> None:
    out.html(
        200,
        """<!DOCTYPE html><html><head><meta charset="utf-8">
<title>页面不存在_中国东莞厚街镇</title></head><body>
<div class="header"><a href="/houjie/">首页</a></div>
<div class="error"><h1>404</h1><p>抱歉，您访问的页面不存在或已被删除。</p>
<p>您可以返回首页，或者浏览新闻中心的其他栏目，查看厚街镇最新的政务信息和便民服务。</p></div>
<div class="footer"><p>版权所有：东莞市厚街镇人民政府</p></div>
</body></html>""",
    )


@_bad("frameset", 4200105, "frameset", "a frameset page")
def frameset(req: Request, out: Responder) -> None:
    out.html(
        200,
        """<!DOCTYPE html><html><head><meta charset="utf-8"><title>厚街镇新闻</title></head>
<frameset cols="20%,80%"><frame src="/houjie/menu.html"><frame src="/houjie/main.html">
<noframes>厚街镇召开第一百零五次工作会议，会议强调要抓好各项工作落实。</noframes>
</frameset></html>""",
    )


@_bad("maintenance", 4200106, "maintenance", "系统维护中 served with 200")
def maintenance(req: Request, out: Responder) -> None:
    out.html(
        200,
        """<!DOCTYPE html><html><head><meta charset="utf-8"><title>系统维护中</title></head>
<body><div class="weihu"><h2>系统维护中</h2>
<p>为了给您提供更好的服务，本网站正在进行系统升级，预计于今日18时恢复访问，敬请谅解。</p>
</div></body></html>""",
    )


@case("deep_font", 4200107, "400 paragraphs, each opening a <font> it never closes")
def deep_font(req: Request, out: Responder) -> None:
    body = "\n".join(
        f"<p><font>\u3000\u3000第{i + 1}段：厚街镇持续推进城市更新。" for i in range(400)
    )
    out.html(200, article_html(4200107, body=body))


@case("impossible_date", 4200108, "published 2023-02-30 10:14: stored with no date")
def impossible_date(req: Request, out: Responder) -> None:
    out.html(200, article_html(4200108, published="2023-02-30 10:14"))


def _photo(req: Request, out: Responder) -> None:
    out.respond(200, b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", content_type="image/gif")


@case(
    "file_image",
    4200109,
    "a file: image and an http one: only the http one kept",
    routes={"/houjie/cjjs/images/photo2.jpg": _photo},
)
def file_image(req: Request, out: Responder) -> None:
    body = (
        "<p>厚街镇举行活动，群众积极参与各项文体活动，现场气氛热烈。</p>\n"
        '<p><img src="file:///C:/Users/editor/Desktop/photo1.jpg" alt="本地"></p>\n'
        '<p><img src="../../images/photo2.jpg" alt="现场"></p>'
    )
    out.html(200, article_html(4200109, body=body))


@case("bogus_charset", 4200110, "GBK bytes with charset=x-bogus in the header and no <meta>")
def bogus_charset(req: Request, out: Responder) -> None:
    page = article_html(4200110).replace('<meta charset="utf-8">\n', "")
    out.respond(200, page.encode("gb18030"), content_type="text/html; charset=x-bogus")
