"""The byline: where it is, and the date and source it gives. Pure: text lines in, values out.

A byline is a short line holding a date and one of the byline words (来源, 发布, 日期, ...).
Dates are the site's China time, written out by `pipelines.dates.iso_china`; a date-shaped
string that is no calendar date (`2023-02-30`) is reported, never guessed at.
"""

from __future__ import annotations

import re
from datetime import datetime

from pipelines.dates import CHINA, iso_china
from pipelines.pages.boilerplate import either_script

__all__ = ["SOURCE_RE", "best_page_date", "find_byline", "impossible_dates", "parse_page_date"]

_C = r"\s*[:：]\s*"
DATE_RE = re.compile(
    r"(?P<y>(?:19|20)\d\d)\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*(?P<H>\d{1,2})\s*[:：时時]\s*(?P<M>\d{1,2})(?:\s*[:：分]\s*(?P<S>\d{1,2}))?)?"
)
_BYLINE_WORDS_RE = re.compile(
    "|".join(
        either_script(w)
        for w in ("来源", "发布", "日期", "时间", "门户网站", "作者", "浏览", "点击", "编辑")
    )
)
SOURCE_RE = re.compile(
    rf"(?:{either_script('来源')}|{either_script('信息来源')}){_C}(?P<source>[^\s\[【|｜]+)"
)
_BYLINE_MAX = 200


def find_byline(lines: list[str]) -> int | None:
    """The index of the first byline among `lines`, or None."""
    for i, line in enumerate(lines):
        if len(line) <= _BYLINE_MAX and DATE_RE.search(line) and _BYLINE_WORDS_RE.search(line):
            return i
    return None


def best_page_date(*texts: str) -> str | None:
    """The first date found, with seconds taken from a later source naming the same minute.

    PubDate meta tags stop at minutes while `<publishtime>` or the byline often carry
    seconds; the more precise reading of the same instant wins.
    """
    found = [d for d in map(parse_page_date, texts) if d]
    if not found:
        return None
    best = found[0]
    for other in found[1:]:
        if other[:16] == best[:16] and best[17:19] == "00":
            return other
    return best


def parse_page_date(text: str | None) -> str | None:
    """`2023-02-27 10:14` -> `2023-02-27T10:14:00+08:00` (China time); None when no date."""
    if not text:
        return None
    m = DATE_RE.search(text)
    if not m:
        return None
    return _valid(m)


def _valid(m: re.Match) -> str | None:
    y, mo, d = int(m["y"]), int(m["m"]), int(m["d"])
    hh, mm, ss = int(m["H"] or 0), int(m["M"] or 0), int(m["S"] or 0)
    try:
        # The calendar decides: 2023-02-30 or 2023-04-31 match the pattern but are no date.
        moment = datetime(y, mo, d, hh, mm, ss, tzinfo=CHINA)
    except ValueError:
        return None
    return iso_china(moment)


def impossible_dates(*texts: str) -> list[str]:
    """The date-shaped strings in `texts` that are not calendar dates (`2023-02-30 10:14`)."""
    out = []
    for text in texts:
        m = DATE_RE.search(text) if text else None
        if m and _valid(m) is None and m.group(0).strip() not in out:
            out.append(m.group(0).strip())
    return out
