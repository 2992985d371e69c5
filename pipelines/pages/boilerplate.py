"""Boilerplate removal for article pages, by element and by text. Pure: no I/O, no settings.

The text rules work on single lines (a paragraph each) so that they apply alike to a parsed
page, a browser-saved DOM and a plain text capture (`clean_text_lines`). Every pattern accepts
simplified and traditional script, ASCII and full-width colons: the site's own script switch
and the accessibility toolbar produce both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from pipelines.pages import selectors as sel
from pipelines.records import Anomaly
from pipelines.text import normalize_space

if TYPE_CHECKING:
    from lxml import etree

# Simplified -> traditional for the characters the patterns below use. A table rather than
# OpenCC at import: the patterns stay readable and deterministic, and tests check the table
# against OpenCC's own conversion.
# fmt: off
_TRAD = {
    "进": "進", "离": "離", "开": "開", "视": "視", "区": "區", "导": "導", "链": "鏈",
    "个": "個", "键": "鍵", "浏": "瀏", "览": "覽", "页": "頁", "组": "組", "帮": "幫",
    "请": "請", "问": "問", "号": "號", "码": "碼", "权": "權", "备": "備", "网": "網",
    "统": "統", "计": "計", "术": "術", "联": "聯", "们": "們", "图": "圖", "长": "長",
    "体": "體", "关": "關", "闭": "閉", "当": "當", "办": "辦", "标": "標", "识": "識",
    "务": "務", "据": "據", "单": "單", "数": "數", "扫": "掃", "纠": "糾", "错": "錯", "顶": "頂",
    "栏": "欄", "编": "編", "辑": "輯", "责": "責", "机": "機", "维": "維", "发": "發",
    "布": "佈", "来": "來", "时": "時", "间": "間", "读": "讀",
    "系": "繫", "这": "這", "将": "將", "为": "為", "签": "簽", "电": "電", "话": "話",
    "访": "訪", "谈": "談", "宾": "賓", "对": "對", "内": "內", "简": "簡", "记": "記",
    "录": "錄", "实": "實", "词": "詞", "点": "點", "摄": "攝", "讯": "訊", "员": "員",
    "邮": "郵", "协": "協", "声": "聲", "现": "現", "启": "啟", "门": "門", "户": "戶",
    "击": "擊", "注": "註", "审": "審", "核": "覈",
}
# fmt: on
# Every word given to `either_script`, so tests can check the table covers it (against OpenCC).
BOTH_SCRIPT_WORDS: list[str] = []


def either_script(text: str) -> str:
    """A regex fragment matching `text` in simplified or traditional script."""
    BOTH_SCRIPT_WORDS.append(text)
    out = []
    for ch in text:
        trad = _TRAD.get(ch)
        out.append(f"[{ch}{trad}]" if trad else re.escape(ch))
    return "".join(out)


_C = r"\s*[:：]\s*"  # a colon, either width, with optional spaces
_SEP = r"\s*[,，、]?\s*"

# --- the accessibility toolbar's prompts (site-notes: injected by JavaScript) -------------
_REGION = "(?:" + "|".join(either_script(w) for w in ("视窗区", "导航区", "交互区")) + ")"
_LINKS_HINT = either_script("本区域含有") + r"\s*\d+\s*" + either_script("个链接")
_TAB_HINT = either_script("按下") + r"\s*tab\s*" + either_script("键浏览信息")
PROMPT_RE = re.compile(
    "(?:"
    # 提示:您已进入视窗区1,本区域含有45个链接,按下Tab键浏览信息 / 提示:您已离开导航区1
    rf"(?:{either_script('提示')}{_C})?{either_script('您已')}(?:{either_script('进入')}|{either_script('离开')})\s*{_REGION}\s*\d*"
    rf"(?:{_SEP}{_LINKS_HINT})?(?:{_SEP}{_TAB_HINT})?"
    # 本区域含有N个链接,按下Tab键浏览信息 on its own
    rf"|{_LINKS_HINT}(?:{_SEP}{_TAB_HINT})?|{_TAB_HINT}"
    # 已打开…页面,本页面是由…个区域组成,操作帮助请按Alt加问号键。
    rf"|{either_script('已打开')}[^,，。\n]{{0,80}}?{either_script('页面')}{_SEP}{either_script('本页面是由')}"
    rf"[^。\n]{{0,80}}?{either_script('区域组成')}"
    rf"(?:{_SEP}{either_script('操作帮助请按')}\s*alt\s*{either_script('加问号键')})?\s*[。.]?"
    rf"|{either_script('操作帮助请按')}\s*alt\s*{either_script('加问号键')}\s*[。.]?"
    ")",
    re.IGNORECASE,
)
# The page-level sentence names the page's <title>; text captures have no other source for it.
PAGE_TIP_TITLE_RE = re.compile(
    rf"{either_script('已打开')}(?P<title>[^,，。\n]{{1,80}}?)(?:{either_script('栏目')})?{either_script('页面')}{_SEP}"
    rf"{either_script('本页面是由')}"
)

# --- page furniture inside a line --------------------------------------------------------
# 字体大小：大 中 小 / 【字体：大 中 小】 / 字号：大中小
FONT_SWITCH_RE = re.compile(
    rf"[【\[]?\s*(?:{either_script('字体')}(?:{either_script('大小')})?|{either_script('字号')}){_C}?"
    r"[【\[（(]?\s*大\s*[|｜/、,，]?\s*中\s*[|｜/、,，]?\s*小\s*[】\]）)]?\s*[】\]]?"
)
_PRINT_WORDS = (
    f"(?:{either_script('打印')}|{either_script('关闭')})"
    f"(?:{either_script('页面')}|{either_script('本页')}|{either_script('窗口')}|{either_script('本文')}|{either_script('此页')})?"
)
PRINT_BRACKETED_RE = re.compile(rf"[\[【（(]\s*{_PRINT_WORDS}\s*[\]】）)]")
PRINT_BARE_RE = re.compile(
    "(?:"
    + "|".join(
        either_script(w) for w in ("打印页面", "关闭页面", "打印本页", "关闭本页", "关闭窗口")
    )
    + ")"
)
SHARE_RE = re.compile(rf"^{either_script('分享到')}(?:{_C})?")
BREADCRUMB_RE = re.compile(
    rf"^(?:(?:{either_script('您的')}|{either_script('您现在的')})?{either_script('当前位置')}|{either_script('您现在的位置')}"
    rf"|{either_script('您所在的位置')}|{either_script('所在位置')}){_C}?"
)
ARTICLE_NAV_RE = re.compile(rf"^(?:{either_script('上一篇')}|{either_script('下一篇')}){_C}")

# --- footer -------------------------------------------------------------------------------
# Strong markers never occur in article prose; weak ones (承办：, 联系我们, ...) only count when
# a second marker shares the line, and 主办/承办 only as a label with a colon, so
# "本次活动由……主办，……承办" stays.
FOOTER_STRONG_RE = re.compile(
    "|".join(
        [either_script(w) for w in ("版权所有", "网站标识码", "公网安备", "站长统计")]
        + [
            r"ICP\s*" + either_script("备"),
            r"copyright\s*(?:©|\(c\))",
            rf"{either_script('技术支持')}{_C}",
        ]
    ),
    re.IGNORECASE,
)
FOOTER_WEAK_RE = re.compile(
    "|".join(
        [
            rf"(?:{either_script(w)})(?:{either_script('单位')})?{_C}"
            for w in ("主办", "承办", "协办")
        ]
        + [either_script(w) for w in ("备案号", "技术支持", "联系我们", "网站地图", "网站声明")]
    )
)
_FOOTER_MAX = 300  # a footer line is short; a paragraph quoting 版权所有 in prose is not

# Lines that are furniture when they stand alone.
# fmt: off
_ALONE = {
    "分享到", "打印", "关闭", "打印页面", "关闭页面", "打印本页", "关闭窗口", "返回顶部",
    "返回首页", "站长统计", "网站地图", "联系我们", "我要纠错", "扫一扫在手机打开当前页",
    "扫一扫在手机上查看当前页面", "字体", "大", "中", "小", "相关链接", "附件", "首页", "收藏",
}
# fmt: on
ALONE_RE = re.compile(
    r"^[【\[]?(?:"
    + "|".join(either_script(w) for w in sorted(_ALONE, key=len, reverse=True))
    + r")[】\]]?$"
)
# Capture debris: runs of ? (bytes the capture could not map), bars, bullets, lone punctuation.
PUNCT_ONLY_RE = re.compile(r"^[\s?？|｜\-_=*.。…·•、,，:：;；!！~/\\【】\[\]()（）]*$")

# Literal needles every match of a pattern contains. A substring test is a memchr-speed scan
# while each regex scan of a paragraph costs microseconds; content lines almost never hold a
# needle, so most lines are settled without running the patterns at all.
_PROMPT_NEEDLES = ("您已", "本区域", "本區域", "按下", "已打开", "已打開", "操作帮助", "操作幫助")
_FONT_NEEDLES = ("字",)
_PRINT_NEEDLES = ("打印", "关闭", "關閉")
_FOOTER_STRONG_NEEDLES = (
    "版权", "版權", "标识码", "標識碼", "安备", "安備", "站长统计", "站長統計", "icp",
    "copyright", "技术支持", "技術支持",
)  # fmt: skip
_FOOTER_WEAK_NEEDLES = (
    "主办", "主辦", "承办", "承辦", "协办", "協辦", "备案号", "備案號", "技术支持", "技術支持",
    "联系我们", "聯系我們", "聯繫我們", "网站地图", "網站地圖", "网站声明", "網站聲明",
)  # fmt: skip


def _has(text: str, needles: tuple[str, ...]) -> bool:
    for n in needles:
        if n in text:
            return True
    return False


def strip_prompts(text: str) -> str:
    """Remove the toolbar's prompts wherever they sit in `text` (they glue onto content)."""
    return PROMPT_RE.sub(" ", text) if _has(text, _PROMPT_NEEDLES) else text


def is_footer_line(line: str) -> bool:
    if len(line) > _FOOTER_MAX:
        return False
    if _has(line.lower(), _FOOTER_STRONG_NEEDLES) and FOOTER_STRONG_RE.search(line):
        return True
    if not _has(line, _FOOTER_WEAK_NEEDLES):
        return False
    return len({m.group(0) for m in FOOTER_WEAK_RE.finditer(line)}) >= 2


def is_furniture_line(line: str) -> bool:
    """A whole line that is page furniture: share, breadcrumb, article nav, footer, debris."""
    if PUNCT_ONLY_RE.match(line) or ALONE_RE.match(line):
        return True
    if len(line) <= 80 and (SHARE_RE.match(line) or ARTICLE_NAV_RE.match(line)):
        return True
    if len(line) <= 160 and BREADCRUMB_RE.match(line):
        return True
    return is_footer_line(line)


def clean_line(line: str) -> str:
    """The content left in one line of text, or "" when nothing is left."""
    line = normalize_space(line)
    if not line:
        return ""
    cut = line
    if _has(cut, _PROMPT_NEEDLES):
        cut = PROMPT_RE.sub(" ", cut)
    if _has(cut, _FONT_NEEDLES):
        cut = FONT_SWITCH_RE.sub(" ", cut)
    has_print = _has(cut, _PRINT_NEEDLES)
    if has_print:
        cut = PRINT_BRACKETED_RE.sub(" ", cut)
    if cut is not line:
        line = normalize_space(cut)
    if not line or is_furniture_line(line):
        return ""
    if has_print:
        bare = normalize_space(PRINT_BARE_RE.sub(" ", line))
        if not bare or PUNCT_ONLY_RE.match(bare):
            return ""
    return line


def clean_text_lines(lines: Iterable[str]) -> list[str]:
    """Apply the text rules to plain text: one cleaned paragraph per item, empties dropped.

    Items may hold several lines (they are split on newlines first). Order is kept; nothing
    is ever moved or merged.
    """
    out = []
    for item in lines:
        for raw in item.split("\n"):
            line = clean_line(raw)
            if line:
                out.append(line)
    return out


def strip_byline_furniture(line: str) -> str:
    """A byline with the font switch and print/close links taken out (bare words too)."""
    line = FONT_SWITCH_RE.sub(" ", line)
    line = PRINT_BRACKETED_RE.sub(" ", line)
    line = PRINT_BARE_RE.sub(" ", line)
    return normalize_space(strip_prompts(line))


# --- by element ---------------------------------------------------------------------------
_NEG_OFFSET_RE = re.compile(
    r"(?:^|;|\s)(?:left|top|right|text-indent|margin-left|margin-top)\s*:\s*-(\d+(?:\.\d+)?)\s*"
    r"(px|em|rem|pt)?",
    re.IGNORECASE,
)
_HIDDEN_RE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_TINY_RE = re.compile(r"(?:^|;|\s)(?:width|height)\s*:\s*[01](?:px)?\s*(?:;|$)", re.IGNORECASE)
# Off-screen: -500px is past any real layout; toolbars and spam injections use -999 to -99999.
_OFFSCREEN_PX = 500.0
_UNIT_PX = {"px": 1.0, "pt": 1.33, "em": 16.0, "rem": 16.0, None: 1.0, "": 1.0}


def is_hidden_style(style: str) -> bool:
    """True when an inline style hides the element or moves it off-screen."""
    if not style:
        return False
    if _HIDDEN_RE.search(style):
        return True
    for m in _NEG_OFFSET_RE.finditer(style):
        unit = (m.group(2) or "").lower()
        if float(m.group(1)) * _UNIT_PX.get(unit, 1.0) >= _OFFSCREEN_PX:
            return True
    return bool(_TINY_RE.search(style) and "overflow" in style.lower())


def same_site(href_url: str, page_url: str) -> bool:
    """True when a link stays on the page's own site (its host, or any host under dg.gov.cn)."""
    host = (urlsplit(href_url).hostname or "").lower()
    page_host = (urlsplit(page_url).hostname or "").lower()
    return not host or host == page_host or host == "dg.gov.cn" or host.endswith(".dg.gov.cn")


def _drop(el: etree._Element) -> None:
    parent = el.getparent()
    if parent is None:
        return
    # Keep the tail: it is the text that follows the element, not part of it.
    tail = el.tail
    if tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def remove_never_text(root: etree._Element, found: list | None = None) -> None:
    """Scripts, styles and other elements whose text is never page text (tails kept)."""
    for el in sel.scan(root).never_text if found is None else found:
        _drop(el)


def remove_toolbar(root: etree._Element, found: list | None = None) -> int:
    """The accessibility toolbar's injected links (`a.esdNavLink`, `#esdTipLink`)."""
    found = sel.scan(root).toolbar if found is None else found
    for el in found:
        _drop(el)
    return len(found)


def remove_hidden(root: etree._Element, page_url: str, styled: list | None = None) -> list[Anomaly]:
    """Drop hidden and off-screen elements; report the hidden links that leave the site.

    Returns `hidden_offsite_link` anomalies (`detail`: "<href> <text>"), a sign of an
    SEO-spam injection the archivist should know about. `styled` is the elements with a
    style or hidden attribute, when the caller has them from `selectors.scan`.
    """
    anomalies: list[Anomaly] = []
    hidden = [
        el
        for el in (sel.scan(root).styled if styled is None else styled)
        if el.get("hidden") is not None or is_hidden_style(el.get("style", ""))
    ]
    marked = set(hidden)
    for el in hidden:
        if any(a in marked for a in el.iterancestors()):
            continue  # goes with its hidden ancestor; its links are reported there
        for a in el.iter("a"):
            href = (a.get("href") or "").strip()
            if not href:
                continue
            if not href.lower().startswith(("http:", "https:", "//")) and ":" in href[:12]:
                continue  # javascript:, mailto: — not a link to another site
            absolute = urljoin(page_url, href)
            if not same_site(absolute, page_url):
                text = normalize_space("".join(a.itertext()))
                anomalies.append(
                    {"kind": "hidden_offsite_link", "detail": f"{absolute} {text}".strip()}
                )
        _drop(el)
    return anomalies


def remove_furniture(
    root: etree._Element, keep: etree._Element | None = None, found: list | None = None
) -> None:
    """Navigation, footer and share widgets, recognised by tag, class or id.

    `keep` (the article body) and its ancestors are never removed, so a template that wraps
    the body in a `footer`-classed box does not lose it.
    """
    protected = set()
    if keep is not None:
        protected.add(keep)
        protected.update(keep.iterancestors())
    for el in sel.scan(root).furniture if found is None else found:
        if el in protected or el.getparent() is None:
            continue
        _drop(el)
