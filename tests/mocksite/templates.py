"""HTML of the mirror: page chrome, list pages, the four article markups, error pages.

Pure: content objects in, `str` out. Chrome is written as real elements (header, nav,
breadcrumb, share widget, byline, footer), never as text inside the body, because that is
where the live site keeps it; the seeds' chrome lines were stripped when they became bodies.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable

from .content import (
    CANONICAL,
    COLUMNS,
    SITE_ID_CODE,
    SITE_NAME,
    Article,
    ColumnInfo,
    Para,
    s2t,
)

HOME = CANONICAL + "houjie/index.html"
CSS_PATH = "/houjie/css/style.css"
JS_PATH = "/houjie/js/common.js"
BASE_CSS_PATH = "/houjie/css/base.css"  # @import-ed by style.css
SHARE_CSS_PATH = "/houjie/share/share.css"  # the share widget's own, on article pages only
FAVICON_PATH = "/favicon.ico"
LOGO_PATH = "/houjie/images/logo.png"
LOGO_2X_PATH = "/houjie/images/logo@2x.png"  # in the logo's srcset only
SHARE_SERVICES = [
    ("weixin", "微信"), ("tsina", "新浪微博"), ("qzone", "QQ空间"), ("sqq", "QQ好友"),
    ("tqq", "腾讯微博"), ("douban", "豆瓣网"), ("renren", "人人网"), ("copy", "复制网址"),
]  # fmt: skip
STATIC_IMAGES = {
    LOGO_PATH: 1,
    "/houjie/images/share.png": 2,
    "/houjie/images/gaba.png": 3,
    "/houjie/images/dzjg.png": 4,
    LOGO_2X_PATH: 5,
    "/houjie/images/header_bg.png": 6,  # style.css
    "/houjie/images/nav_bg.png": 7,  # style.css
    "/houjie/images/footer_bg.png": 8,  # base.css
    "/houjie/share/sprite.png": 9,  # share.css
    **{f"/houjie/share/icons/{k}.png": 10 + i for i, (k, _) in enumerate(SHARE_SERVICES)},
}
# Under robots.txt's Disallow: a page requisite the crawl must leave alone.
PRIVATE_PIXEL_PATH = "/houjie/private/stat.png"
# The share widget's script as the real pages load it, from the share service's own host: off
# site, so never fetched by the crawl (and blocked in the browser tests).
SHARE_JS = "http://bdimg.share.baidu.com/static/api/js/share.js?cdnversion=486"
OFFSITE = "http://www.gd.gov.cn/"
SPAM = '<div style="display:none"><a href="http://spam.example/">日韩欧美综合</a></div>'


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def text_html(text: str) -> str:
    """Body text as the CMS writes it: escaped, no-break spaces as &nbsp;."""
    return esc(text).replace("\u00a0", "&nbsp;")


def page_title(col: ColumnInfo) -> str:
    # Confirmed by capture 004: <title> names the column path and site, not the article.
    return f"{col.parent}_{col.name}_{SITE_NAME}"


# -- chrome ---------------------------------------------------------------------------------


def header(col: ColumnInfo) -> str:
    return f"""<div class="header">
<div class="top_bar"><div class="w1200"><span class="top_date" id="today"></span><a href="https://www.dg.gov.cn/" target="_blank">东莞市人民政府</a> | <a href="javascript:void(0)" id="wza">无障碍浏览</a> | <a href="javascript:void(0)" id="jft">繁體</a></div></div>
<div class="logo w1200"><a href="{HOME}"><img src="{LOGO_PATH}" srcset="{LOGO_PATH} 1x, {LOGO_2X_PATH} 2x" alt="{SITE_NAME}"></a>
<form class="search" action="https://search.dg.gov.cn/search" method="get" target="_blank"><input type="text" name="q" placeholder="请输入关键字"><input type="submit" value="搜索"></form></div>
<div class="nav"><ul class="w1200">
<li><a href="{HOME}">首页</a></li>
<li><a href="{CANONICAL}houjie/xwzx/zhxw/">新闻中心</a></li>
<li><a href="{CANONICAL}houjie/zwgk/">政务公开</a></li>
<li><a href="{CANONICAL}houjie/zwfw/">政务服务</a></li>
<li{' class="on"' if col.path.startswith("houjie/cjjs/") else ""}><a href="{CANONICAL}houjie/cjjs/tshj/">城镇建设</a></li>
<li><a href="{CANONICAL}houjie/zjhj/">走进厚街</a></li>
<li><a href="{CANONICAL}houjie/hdjl/">互动交流</a></li>
</ul></div>
</div>"""


def breadcrumb(col: ColumnInfo, label: str = "当前位置：") -> str:
    return (
        f'<div class="position">{label}<a href="{HOME}">首页</a> &gt; '
        f'<a href="{CANONICAL}{col.parent_path}">{col.parent}</a> &gt; '
        f'<a href="{CANONICAL}{col.path}">{col.name}</a></div>'
    )


def footer() -> str:
    return f"""<div class="footer">
<div class="links w1200">相关链接：<a href="{OFFSITE}" target="_blank">广东省人民政府</a> <a href="https://www.dg.gov.cn/" target="_blank">东莞市人民政府</a> <a href="https://www.dg.gov.cn/humen/" target="_blank">虎门镇</a> <a href="https://www.dg.gov.cn/dalang/" target="_blank">大朗镇</a></div>
<div class="foot w1200">
<div class="dzjg"><a href="https://bszs.conac.cn/sitename?method=show&amp;id=4419000098" target="_blank"><img src="/houjie/images/dzjg.png" alt="党政机关"></a></div>
<p>版权所有：东莞市人民政府办公室&nbsp;&nbsp;承办：东莞市政务服务和数据管理局</p>
<p>网站标识码：{SITE_ID_CODE}</p>
<p>备案号：<a href="https://beian.miit.gov.cn/" target="_blank">粤ICP备19114884号</a>&nbsp;&nbsp;<a href="http://www.beian.gov.cn/portal/registerSystemInfo?recordcode=44190002000375" target="_blank"><img src="/houjie/images/gaba.png" alt="">粤公网安备 44190002000375号</a>&nbsp;&nbsp;技术支持：开普云&nbsp;&nbsp;<a href="{CANONICAL}houjie/lxwm/">联系我们</a>&nbsp;<a href="{CANONICAL}houjie/wzdt/">网站地图</a></p>
<p><a href="https://www.cnzz.com/stat/website.php?web_id=1281096312" target="_blank">站长统计</a><img src="{PRIVATE_PIXEL_PATH}" width="1" height="1" alt=""></p>
</div>
</div>"""


def share_widget() -> str:
    """The share buttons of article pages: their own stylesheet and icons on the site, and the
    share service's script from its own host."""
    links = "".join(
        f'<a href="javascript:void(0)" class="bds_{k}" data-cmd="{k}" title="分享到{n}">'
        f'<img src="/houjie/share/icons/{k}.png" alt=""></a>'
        for k, n in SHARE_SERVICES
    )
    return (
        f'<link rel="stylesheet" href="{SHARE_CSS_PATH}">'
        '<div class="bdsharebuttonbox share"><span class="share_txt">分享到：</span>'
        f'<a href="javascript:void(0)" class="bds_more" data-cmd="more">'
        f'<img src="/houjie/images/share.png" alt="分享"></a>{links}</div>'
        '<script>window._bd_share_config={"common":{"bdText":"","bdPic":""},"share":{}};'
        f'</script><script src="{SHARE_JS}"></script>'
    )


def head(col: ColumnInfo, *, charset: str = "utf-8", extra: str = "") -> str:
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="{charset}">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{esc(page_title(col))}</title>
<meta name="SiteName" content="{SITE_NAME}">
<meta name="SiteDomain" content="www.dg.gov.cn">
<meta name="SiteIDCode" content="{SITE_ID_CODE}">
<meta name="ColumnName" content="{esc(col.name)}">
<meta name="ColumnDescription" content="{esc(col.name)}">
<meta name="ColumnKeywords" content="{esc(col.name)}">
<meta name="ColumnType" content="{esc(col.parent)}">
{extra}<link rel="shortcut icon" href="{FAVICON_PATH}" type="image/x-icon">
<link rel="stylesheet" href="{CSS_PATH}">
<script src="{JS_PATH}"></script>
</head>"""


# -- list pages -----------------------------------------------------------------------------


def item_href(article: Article, index: int) -> str:
    """List links alternate between https, http and relative, as the platform emits them."""
    form = index % 3
    if form == 0:
        return article.url
    if form == 1:
        return "http://www.dg.gov.cn" + article.path
    return f"content/post_{article.id}.html"


def page_name(n: int) -> str:
    return "index.html" if n == 1 else f"index_{n}.html"


def page_bar(page: int, pages: int, *, every: bool = False) -> str:
    """首页 / 上一页 / a window of numbers / 下一页 / 尾页, all real links where enabled.

    `every`: the numbers run from 1 to `pages`, as some CMSes render the bar (the crawler
    must stay linear in the number of list pages however many each bar links)."""

    def link(n: int, text: str) -> str:
        return f'<a href="{page_name(n)}">{text}</a>'

    parts = [f'<span class="page_total">共{pages}页</span>']
    if page > 1:
        parts += [link(1, "首页"), link(page - 1, "上一页")]
    else:
        parts += ['<span class="disabled">首页</span>', '<span class="disabled">上一页</span>']
    lo = 1 if every else max(1, min(page - 4, pages - 9))
    hi = pages if every else min(pages, lo + 9)
    for n in range(lo, hi + 1):
        parts.append(f'<span class="current">{n}</span>' if n == page else link(n, str(n)))
    if page < pages:
        parts += [link(page + 1, "下一页"), link(pages, "尾页")]
    else:
        parts += ['<span class="disabled">下一页</span>', '<span class="disabled">尾页</span>']
    return '<div class="page" id="page">' + " ".join(parts) + "</div>"


def list_page(
    col: ColumnInfo,
    items: list[Article],
    page: int,
    pages: int,
    total: int,
    extras: list[tuple[str, str, str]] = (),  # (href, title, date) appended on page 1
    *,
    full_bar: bool = False,
) -> str:
    if col.older:
        return older_list_page(col, items, page, pages, total)
    rows = [
        f'<div class="list-right_title fon_1"><a href="{item_href(a, i)}" title="{esc(a.title)}"'
        f' target="_blank">{esc(a.title)}</a><span>{a.published:%Y-%m-%d}</span></div>'
        for i, a in enumerate(items)
    ]
    rows += [
        f'<div class="list-right_title fon_1"><a href="{href}" title="{esc(t)}" target="_blank">'
        f"{esc(t)}</a><span>{d}</span></div>"
        for href, t, d in extras
    ]
    body = "\n".join(rows)
    return f"""{head(col)}
<body>
{header(col)}
<div class="w1200 main">
{breadcrumb(col)}
<div class="list-left"><div class="list-left_title">{esc(col.parent)}</div><ul><li class="on"><a href="{CANONICAL}{col.path}">{esc(col.name)}</a></li><li><a href="{CANONICAL}houjie/cjjs/ghjs/">规划建设</a></li></ul></div>
<div class="list-right">
<div class="list-right_tit"><span>{esc(col.name)}</span></div>
<div class="list-right_con">
{body}
</div>
{page_bar(page, pages, every=full_bar)}
</div>
</div>
{footer()}
</body>
</html>
"""


def older_header(col: ColumnInfo, charset: str = "utf-8", meta_charset: bool = True) -> str:
    ctype = (
        f'<meta http-equiv="Content-Type" content="text/html; charset={charset}" />\n'
        if meta_charset
        else ""
    )
    return f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
{ctype}<title>{esc(page_title(col))}</title>
<link href="{CSS_PATH}" rel="stylesheet" type="text/css" />
<script type="text/javascript" src="{JS_PATH}"></script>
</head>
<body>
<div class="top"><div class="logo"><a href="{CANONICAL}houjie/"><img src="{LOGO_PATH}" alt="{SITE_NAME}" border="0" /></a></div></div>
<div class="menu"><a href="{CANONICAL}houjie/">首页</a> | <a href="{CANONICAL}houjie/xwzx/zhxw/">新闻中心</a> | <a href="{CANONICAL}houjie/zwgk/">政务公开</a> | <a href="{CANONICAL}houjie/cjjs/tshj/">城镇建设</a> | <a href="{CANONICAL}houjie/hdjl/">互动交流</a></div>"""


def older_left(col: ColumnInfo) -> str:
    return (
        f'<div class="con-left"><div class="left-title">{esc(col.parent)}</div><ul>'
        f'<li class="on"><a href="{CANONICAL}{col.path}">{esc(col.name)}</a></li>'
        f'<li><a href="{CANONICAL}{col.parent_path}tzgg/">通知公告</a></li></ul></div>'
    )


def older_footer() -> str:
    return f"""<div class="bottom">
<p><a href="{OFFSITE}" target="_blank">广东省人民政府</a> | <a href="{CANONICAL}houjie/lxwm/">联系我们</a> | <a href="{CANONICAL}houjie/wzdt/">网站地图</a></p>
<p>版权所有：东莞市人民政府办公室&nbsp;&nbsp;承办：东莞市政务服务和数据管理局<br />
网站标识码：{SITE_ID_CODE}&nbsp;&nbsp;备案号：<a href="https://beian.miit.gov.cn/" target="_blank">粤ICP备19114884号</a>&nbsp;&nbsp;粤公网安备 44190002000375号</p>
</div>"""


def older_list_page(
    col: ColumnInfo, items: list[Article], page: int, pages: int, total: int
) -> str:
    rows = "\n".join(
        f'<div class="list_div"><a href="{item_href(a, i)}" title="{esc(a.title)}" '
        f'target="_blank">{esc(a.title)}</a><span class="list_time">{a.published:%Y-%m-%d}</span>'
        "</div>"
        for i, a in enumerate(items)
    )
    # The platform writes this page bar with JavaScript: there are no <a> page links at all.
    bar = (
        '<div class="page_list"><div id="page_div"></div>'
        f"<script>createPageHTML('page_div', {pages}, {page}, 'index', 'html', {total});"
        "</script></div>"
    )
    return f"""{older_header(col)}
<div class="cen-div-1">
{older_left(col)}
<div class="con-right">
<div class="con-right-title"><span>{esc(col.name)}</span>{breadcrumb(col, "您现在的位置：")}</div>
{rows}
{bar}
</div>
</div>
{older_footer()}
</body>
</html>
"""


# -- article bodies -------------------------------------------------------------------------


def img_tag(p: Para, *, older: bool = False) -> str:
    img = p.image
    assert img is not None
    if older:
        return f'<img src="{img.path}" alt="{esc(img.alt)}" border="0" />'
    return f'<img src="{img.path}" alt="{esc(img.alt)}" title="{esc(img.alt)}" />'


def paras_p(paras: list[Para], indent: str = "\u3000\u3000") -> str:
    """Body as <p> paragraphs; labels and section lines in <strong>."""
    out = []
    for p in paras:
        center = ' style="text-align: center;"' if p.center else ""
        if p.kind == "img":
            out.append(f"<p{center}>{img_tag(p)}</p>")
        elif p.kind == "blank":
            out.append("<p>&nbsp;</p>")
        elif p.bold:
            lead = "" if p.center else indent
            out.append(f"<p{center}>{lead}<strong>{text_html(p.label + p.text)}</strong></p>")
        else:
            label = f"<strong>{text_html(p.label)}</strong>" if p.label else ""
            out.append(f"<p{center}>{indent}{label}{text_html(p.text)}</p>")
    return "\n".join(out)


def paras_br(paras: list[Para]) -> str:
    """Body as <br>-separated runs in one container, as the older template writes it."""
    out = []
    for p in paras:
        if p.kind == "img":
            out.append(f'<div align="center">{img_tag(p, older=True)}</div>')
        elif p.kind == "blank":
            out.append("<br />")
        else:
            out.append(f"\u3000\u3000{text_html(p.label + p.text)}<br />")
    return "\n".join(out)


def body_html(article: Article, paras: list[Para]) -> str:
    """The content HTML (also the `content` of the post JSON)."""
    if article.template == "older":
        return paras_br(paras)
    # Indentation varies between editors: U+3000 or &nbsp; runs.
    indent = "&nbsp;&nbsp;&nbsp;&nbsp;" if article.id % 3 == 0 else "\u3000\u3000"
    return paras_p(paras, indent)


def meta_tags(a: Article) -> str:
    return (
        f'<meta name="ArticleTitle" content="{esc(a.title)}">\n'
        f'<meta name="PubDate" content="{a.published:%Y-%m-%d %H:%M}">\n'
        f'<meta name="ContentSource" content="{esc(a.source)}">\n'
        f'<meta name="Url" content="{a.url}">\n'
        f'<link rel="alternate" media="only screen and (max-width: 640px)" '
        f'href="{CANONICAL}{a.mobile_path.lstrip("/")}">\n'
    )


def byline_time(a: Article) -> str:
    return f"{a.published:%Y-%m-%d %H:%M:%S}" if a.seconds else f"{a.published:%Y-%m-%d %H:%M}"


TOOLBAR_STYLE = (
    "width:1px;height:1px;display:block;position:absolute;left:-999px;top:-999px;overflow:hidden;"
)
# The accessibility toolbar's wordings (see site-notes.md): region kind per prompt, the Tab
# key's case, punctuation, and whether the page-level sentence ends with the Alt help.
TOOLBARS = (
    {"region": "视窗区", "nav": "导航区", "tab": "Tab", "comma": ",", "alt": True, "tip": True},
    {"region": "交互区", "nav": "导航区", "tab": "tab", "comma": ",", "alt": False, "tip": True},
    {"region": "视窗区", "nav": "导航区", "tab": "Tab", "comma": "，", "alt": True, "tip": True},
    {"region": "交互区", "nav": "交互区", "tab": "Tab", "comma": ",", "alt": False, "tip": False},
)


class Toolbar:
    """The hidden links an accessibility toolbar injects, as a saved DOM keeps them."""

    def __init__(self, variant: int, title: str):
        self.t = TOOLBARS[variant % len(TOOLBARS)]
        self.title = title

    def _a(self, text: str, cls: str = "esdNavLink", id_: str = "") -> str:
        ident = f' id="{id_}"' if id_ else ""
        return (
            f'<a href="javascript:void(0)"{ident} class="{cls}" tabindex="0" '
            f'style="{TOOLBAR_STYLE}">{text}</a>'
        )

    def tip(self) -> str:
        if not self.t["tip"]:
            return ""
        c = self.t["comma"]
        text = f"已打开{self.title}栏目页面{c}本页面是由1个导航区、7个视窗区共计8个区域组成"
        text += f"{c}操作帮助请按Alt加问号键。" if self.t["alt"] else "。"
        return self._a(text, id_="esdTipLink")

    def enter(self, n: int, links: int | None, nav: bool = False) -> str:
        c, kind = self.t["comma"], self.t["nav" if nav else "region"]
        text = f"提示:您已进入{kind}{n}"
        if links is not None:
            text += f"{c}本区域含有{links}个链接{c}按下{self.t['tab']}键浏览信息"
        return self._a(text, "esdNavLink esdNavLinkFirst")

    def leave(self, n: int, nav: bool = False) -> str:
        kind = self.t["nav" if nav else "region"]
        return self._a(f"提示:您已离开{kind}{n}", "esdNavLink esdNavLinkLast")


def article_page(a: Article, paras: list[Para]) -> str:
    """The full HTML of an article, in its template and script."""
    col = COLUMNS[a.column]
    content = body_html(a, paras)
    if a.template == "older":
        return older_article(a, col, content)
    # Rendered in simplified script with placeholders for the article's own strings; a
    # traditional-script page converts the chrome and keeps the article's text verbatim.
    ph = {"@@TITLE@@": esc(a.title), "@@SOURCE@@": esc(a.source), "@@BODY@@": content}
    charset = "gbk" if a.encoding == "gbk" else "utf-8"
    if a.template == "server":
        page = server_article(a, col, charset)
    else:
        page = byline_article(a, col, charset, saved=a.template == "saved_dom")
    if a.script == "hant":
        page = s2t(page)
    for k, v in ph.items():
        page = page.replace(k, v)
    return page


def _meta_placeholders(a: Article) -> str:
    return (
        meta_tags(a)
        .replace(f'content="{esc(a.title)}"', 'content="@@TITLE@@"', 1)
        .replace(f'content="{esc(a.source)}"', 'content="@@SOURCE@@"', 1)
    )


def server_article(a: Article, col: ColumnInfo, charset: str) -> str:
    return f"""{head(col, charset=charset, extra=_meta_placeholders(a))}
<body>
{header(col)}
<div class="w1200 main">
{breadcrumb(col)}
<div class="article">
<div class="con_title"><ucaptitle>@@TITLE@@</ucaptitle></div>
<div class="con_info"><span>中国东莞政府门户网站</span>&nbsp;&nbsp;<span>{byline_time(a)}</span>&nbsp;&nbsp;<span>来源: @@SOURCE@@</span> <span class="font_size">【字体：<a href="javascript:doZoom(18)">大</a> <a href="javascript:doZoom(16)">中</a> <a href="javascript:doZoom(14)">小</a>】</span></div>
<div class="con_cen" id="zoom"><ucapcontent><div wzades="正文">
@@BODY@@
</div></ucapcontent></div>
<div class="con_share">{share_widget()}</div>
<div class="con_print"><a href="javascript:window.print()">【打印页面】</a> <a href="javascript:window.close()">【关闭页面】</a></div>
</div>
</div>
{footer()}
</body>
</html>
"""


def byline_article(a: Article, col: ColumnInfo, charset: str, *, saved: bool) -> str:
    tb = Toolbar(a.toolbar, page_title(col)) if saved else None

    def t(fn: Callable[[], str]) -> str:
        return fn() if tb else ""

    saved_from = (
        f"<!-- saved from url=({len(a.url):04d}){a.url} -->\n" if saved else ""
    )  # browsers' mark of a saved page
    head_html = head(col, charset=charset, extra=_meta_placeholders(a))
    doctype, rest = head_html.split("\n", 1)
    return f"""{doctype}
{saved_from}{rest}
<body>
{t(lambda: tb.tip())}
{t(lambda: tb.enter(1, 45))}
{header(col)}
{breadcrumb(col)}
{t(lambda: tb.leave(1))}
<div class="w1200 main">
<div class="article">
{t(lambda: tb.enter(2, 9))}
<div class="share_top">{share_widget()}</div>
{t(lambda: tb.leave(2))}
<div class="article_title"><ucaptitle>@@TITLE@@</ucaptitle></div>
{t(lambda: tb.enter(1, 5, nav=True))}
<div class="article_info"><span class="fontsize">字体大小：<a href="javascript:void(0)" onclick="setFontSize(18)">大</a> <a href="javascript:void(0)" onclick="setFontSize(16)">中</a> <a href="javascript:void(0)" onclick="setFontSize(14)">小</a></span> <span class="pubtime">发布日期: <publishtime>{byline_time(a)}</publishtime></span> <span class="source">来源: @@SOURCE@@</span> <span class="print">[ <a href="javascript:window.print()">打印页面</a> ]</span>&nbsp;&nbsp;&nbsp;&nbsp;<span class="close">[ <a href="javascript:window.close()">关闭页面</a> ]</span></div>
{t(lambda: tb.leave(1, nav=True))}
{t(lambda: tb.enter(3, None))}
<div class="con_cen article_con" id="zoom"><ucapcontent>
@@BODY@@
</ucapcontent></div>
{t(lambda: tb.leave(3))}
</div>
</div>
{t(lambda: tb.enter(4, 6))}
{footer()}
{SPAM if saved and a.spam else ""}
</body>
</html>
"""


def older_article(a: Article, col: ColumnInfo, content: str) -> str:
    if a.encoding == "gb2312-meta":
        top = older_header(col, "gb2312")
    else:
        top = older_header(col)
    return f"""{top}
<div class="cen-div-1">
{older_left(col)}
<div class="con-right">
{breadcrumb(col, "您现在的位置：")}
<div class="detail">
<h1 class="detail_title">{esc(a.title)}</h1>
<div class="detail_info">发布时间：{byline_time(a)}&nbsp;&nbsp;&nbsp;&nbsp;来源：{esc(a.source)}&nbsp;&nbsp;&nbsp;&nbsp;【字号：<a href="javascript:doZoom(16)">大</a> <a href="javascript:doZoom(14)">中</a> <a href="javascript:doZoom(12)">小</a>】</div>
<div class="detail_con" id="zoom">
{content}
</div>
<div class="detail_foot"><a href="javascript:window.print()">[打印本页]</a> <a href="javascript:window.close()">[关闭窗口]</a></div>
</div>
</div>
</div>
{older_footer()}
</body>
</html>
"""


def mobile_page(a: Article, paras: list[Para]) -> str:
    col = COLUMNS[a.column]
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0, maximum-scale=1.0, user-scalable=no">
<title>{esc(page_title(col))}</title>
<meta name="ArticleTitle" content="{esc(a.title)}">
<meta name="PubDate" content="{a.published:%Y-%m-%d %H:%M}">
<meta name="ContentSource" content="{esc(a.source)}">
<link rel="canonical" href="{a.url}">
<link rel="stylesheet" href="{CSS_PATH}">
</head>
<body class="mobile">
<div class="m-header"><a href="{HOME}"><img src="{LOGO_PATH}" alt="{SITE_NAME}"></a></div>
<div class="m-article">
<h1>{esc(a.title)}</h1>
<div class="m-info">{a.published:%Y-%m-%d %H:%M}&nbsp;&nbsp;来源：{esc(a.source)}</div>
<div class="m-content">
{paras_p(paras)}
</div>
</div>
<div class="m-footer">版权所有：东莞市人民政府办公室</div>
</body>
</html>
"""


def truncate_mid_tag(page: str) -> str:
    """Cut an article off inside a tag, past the start of its body, like a half-saved file."""
    at = page.find("<p", page.find("ucapcontent") + 1)
    at = page.find("<p", at + 2)  # the second paragraph, so some body survives
    return page[: at + 2] if at > 0 else page[: len(page) // 2]


# -- other pages ----------------------------------------------------------------------------


def post_json(a: Article, paras: list[Para]) -> str:
    doc = {
        "id": a.id,
        "title": a.title,
        "url": a.url,
        "column": COLUMNS[a.column].name,
        "source": a.source,
        "created_at": f"{a.published:%Y-%m-%d %H:%M:%S}",
        "content": body_html(a, paras),
    }
    return json.dumps(doc, ensure_ascii=False)


def feed_json(col: ColumnInfo, articles: list[Article]) -> str:
    doc = {
        "name": col.name,
        "updated": (
            f"{max(a.last_modified for a in articles):%Y-%m-%d %H:%M:%S}" if articles else None
        ),
        "articles": [
            {
                "id": a.id,
                "title": a.title,
                "url": a.url,
                "created_at": f"{a.published:%Y-%m-%d %H:%M:%S}",
            }
            for a in articles
        ],
        "children": [],
    }
    return json.dumps(doc, ensure_ascii=False)


def simple_page(title: str, body: str) -> str:
    col = COLUMNS["houjie/cjjs/tshj/"]
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{esc(title)}</title>
<link rel="stylesheet" href="{CSS_PATH}">
</head>
<body>
{header(col)}
<div class="w1200 main">
{body}
</div>
{footer()}
</body>
</html>
"""


def not_found_page() -> str:
    return simple_page(
        "404 页面不存在",
        '<div class="error"><h1>404</h1><p>抱歉，您访问的页面不存在或已被删除。</p>'
        f'<p><a href="{HOME}">返回首页</a></p></div>',
    )


def server_error_page() -> str:
    return simple_page(
        "500 服务器内部错误",
        '<div class="error"><h1>500</h1><p>服务器繁忙，请稍后再试。</p>'
        "<pre>java.lang.NullPointerException\n\tat com.ucap.cms.ArticleServlet.doGet</pre></div>",
    )


def town_home_page() -> str:
    links = "".join(
        f'<li><a href="{CANONICAL}{c.path}">{esc(c.name)}</a></li>'
        for c in COLUMNS.values()
        if not c.path.startswith("houjie/private/")
    )
    return simple_page(SITE_NAME, f'<div class="home"><ul>{links}</ul></div>')


def portal_home_page() -> str:
    return simple_page(
        "东莞市人民政府门户网站",
        f'<div class="home"><ul><li><a href="{CANONICAL}houjie/">厚街镇</a></li></ul></div>',
    )


ROBOTS = """User-agent: *
Disallow: /houjie/private/
Disallow: /__admin/
"""

CSS = """@import url("base.css");
body{margin:0;font:14px/1.8 "Microsoft YaHei",SimSun,sans-serif;color:#333}
a{color:#333;text-decoration:none}.w1200{width:1200px;margin:0 auto}
.header{background:url(../images/header_bg.png) repeat-x}
.header .nav{background:#1d5fa8 url("../images/nav_bg.png") repeat-x}.header .nav li{display:inline-block;padding:0 24px}
.header .nav a{color:#fff}.position{padding:10px 0;color:#666}
.list-right_title{border-bottom:1px dashed #ddd;line-height:40px}
.list-right_title span{float:right;color:#999}.page{text-align:center;padding:20px}
.con_title,.article_title{font-size:24px;font-weight:bold;text-align:center}
.con_info,.article_info{text-align:center;color:#666;border-bottom:1px solid #eee}
.con_cen p{text-indent:0;margin:0 0 1em}.footer{background:#f4f4f4;text-align:center}
.cen-div-1{width:1000px;margin:0 auto;overflow:hidden}.con-left{float:left;width:220px}
.con-right{float:right;width:760px}.list_div{line-height:32px;border-bottom:1px dotted #ccc}
.list_div .list_time{float:right}.detail_title{font-size:22px;text-align:center}
"""

JS = """/* page bar, font size and share helpers */
function createPageHTML(divId, pageCount, currentPage, prefix, ext, total) {
  var el = document.getElementById(divId);
  if (!el || pageCount <= 1) { return; }
  function name(n) { return n == 1 ? prefix + "." + ext : prefix + "_" + n + "." + ext; }
  var h = ["<span>共" + total + "条 " + pageCount + "页</span>"];
  if (currentPage > 1) {
    h.push('<a href="' + name(1) + '">首页</a>');
    h.push('<a href="' + name(currentPage - 1) + '">上一页</a>');
  }
  for (var n = Math.max(1, currentPage - 4); n <= Math.min(pageCount, currentPage + 4); n++) {
    h.push(n == currentPage ? "<span>" + n + "</span>" : '<a href="' + name(n) + '">' + n + "</a>");
  }
  if (currentPage < pageCount) {
    h.push('<a href="' + name(currentPage + 1) + '">下一页</a>');
    h.push('<a href="' + name(pageCount) + '">尾页</a>');
  }
  el.innerHTML = h.join(" ");
}
function doZoom(size) { var z = document.getElementById("zoom"); if (z) { z.style.fontSize = size + "px"; } }
function setFontSize(size) { doZoom(size); }
"""

BASE_CSS = """/* reset and footer */
ul{margin:0;padding:0;list-style:none}img{border:0}
.foot{background:url('../images/footer_bg.png') repeat-x;padding:10px 0}
"""

SHARE_CSS = """.bdsharebuttonbox{display:inline-block;height:20px}
.bdsharebuttonbox a{display:inline-block;width:16px;height:16px;margin:0 3px;
background:url(sprite.png) no-repeat;vertical-align:middle}
.bdsharebuttonbox img{width:16px;height:16px}
"""
