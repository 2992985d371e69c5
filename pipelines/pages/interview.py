"""Interview structure from clean body lines: guests, summary, sections, turns. Pure.

Input is the article's text, one paragraph a line, already free of boilerplate; output is the
contract's `interview` object, or None for an article that is not an interview. The labels
are matched in simplified and traditional script, with `:` or `：`.
"""

from __future__ import annotations

import re

from pipelines.pages.boilerplate import either_script
from pipelines.records import Guest, Interview, Section, Turn

_C = r"\s*[:：]\s*"

GUEST_RE = re.compile(
    rf"^(?:{either_script('访谈嘉宾')}|{either_script('嘉宾')}|{either_script('访谈对象')}){_C}(?P<rest>.*)$"
)
SUMMARY_RE = re.compile(
    rf"^(?:{either_script('内容简介')}|{either_script('访谈简介')}|{either_script('简介')}){_C}(?P<rest>.*)$"
)
TRANSCRIPT_RE = re.compile(
    rf"^(?:{either_script('访谈记录')}|{either_script('访谈实录')}|{either_script('文字实录')}|{either_script('访谈内容')})"
    r"\s*[:：]?\s*$"
)
SECTION_RE = re.compile(
    rf"^(?P<label>{either_script('关键词')}\s*(?:\d+|[一二三四五六七八九十]+))\s*(?:[:：]|\s)\s*(?P<topic>.*)$"
)
# A speaker prefix: a short name without punctuation, then a colon. Digits are excluded so a
# time ("10:30") or a list number never opens a turn.
SPEAKER_RE = re.compile(
    r"^(?P<name>[^\s\d:：,，。;；、!！?？“”\"'（）()《》【】\[\]]{1,12})\s*[:：]\s*(?P<rest>.*)$"
)

# Interviewers: the town's and the city's media outlets and the usual role words. A speaker
# who is not a guest is a host whatever the name; this list decides only when a page has no
# guest line to tell guests from hosts.
HOST_NAMES = frozenset(
    """厚街发布 厚街發布 东莞日报 東莞日報 东莞发布 東莞發布 东莞电视台 東莞電視台 东莞广播电视台
    東莞廣播電視台 东莞时间网 東莞時間網 i东莞 記者 记者 主持人 小编 小編 问 問 东莞+ 東莞+""".split()
)
GUEST_WORDS = frozenset({"答"})  # Q&A layout: 问 is the host, 答 the guest
_NOT_SPEAKERS_RE = re.compile(
    "^(?:"
    + "|".join(
        either_script(w)
        for w in (
            "访谈嘉宾",
            "嘉宾",
            "访谈对象",
            "内容简介",
            "访谈简介",
            "简介",
            "访谈记录",
            "访谈实录",
            "来源",
            "发布日期",
            "发布时间",
            "时间",
            "日期",
            "地点",
            "作者",
            "编辑",
            "责任编辑",
            "摄影",
            "图片",
            "附件",
            "通讯员",
            "文",
            "图",
            "文图",
            "备注",
            "注",
            "电话",
            "联系电话",
            "地址",
            "网址",
            "邮箱",
        )
    )
    + r"|(?:"
    + either_script("关键词")
    + r").*)$"
)
# Credits after the transcript (责任编辑：…, 来源：…, 文/图：…) end the current turn: they are
# the page's, not the speaker's.
CREDIT_RE = re.compile(
    "^(?:"
    + "|".join(
        either_script(w)
        for w in (
            "责任编辑",
            "编辑",
            "审核",
            "审校",
            "校对",
            "来源",
            "撰稿",
            "摄影",
            "记者",
            "通讯员",
        )
    )
    + r"|文\s*/\s*图|图\s*/\s*文|文图)\s*[:：]"
)
_GUEST_SPLIT_RE = re.compile(r"\s*[、；;，,/]\s*|\s{2,}")
_TITLE_TRIM = " :：、，,;；/"
_NAME_LIKE_RE = re.compile(r"^[\u4e00-\u9fff·]{2,4}$")


def parse_interview(lines: list[str]) -> Interview | None:
    """The `interview` object of the contract, or None when `lines` are not an interview."""
    guest_i = _first(GUEST_RE, lines)
    transcript_i = _first(TRANSCRIPT_RE, lines)
    start = _transcript_start(lines, guest_i, transcript_i)
    speakers = _speakers(lines[start:], lines[guest_i] if guest_i is not None else "")
    if not speakers:
        return None
    if guest_i is None and transcript_i is None:
        # No labels: only a dialogue between a known interviewer and someone else counts.
        if not (speakers & HOST_NAMES) or not (speakers - HOST_NAMES):
            return None

    guests: list[Guest] = []
    if guest_i is not None:
        guests = split_guests(GUEST_RE.match(lines[guest_i]).group("rest"), speakers)
    guest_names = {g["name"] for g in guests}

    summary = _summary(lines, transcript_i, start)
    sections, turns = _turns(lines[start:], speakers, guest_names)
    if not turns:
        return None
    return {"guests": guests, "summary": summary, "sections": sections, "turns": turns}


def _first(pattern: re.Pattern, lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if pattern.match(line):
            return i
    return None


def _transcript_start(lines: list[str], guest_i: int | None, transcript_i: int | None) -> int:
    if transcript_i is not None:
        return transcript_i + 1
    summary_i = _first(SUMMARY_RE, lines)
    # Without a 访谈记录 label the transcript starts after the summary's first paragraph.
    for i in (summary_i, guest_i):
        if i is not None:
            return i + 1
    return 0


def _speakers(lines: list[str], guest_line: str) -> set[str]:
    """Names that open turns: in the guest line, a known interviewer, or seen twice or more."""
    counts: dict[str, int] = {}
    for line in lines:
        m = SPEAKER_RE.match(line)
        if m and not _NOT_SPEAKERS_RE.match(m.group("name")):
            counts[m.group("name")] = counts.get(m.group("name"), 0) + 1
    return {
        name
        for name, n in counts.items()
        if n >= 2
        or name in HOST_NAMES
        or name in GUEST_WORDS
        or (guest_line and name in guest_line)
    }


def split_guests(text: str, speakers: set[str]) -> list[Guest]:
    """`东莞市厚街镇党委书记谢卫东` -> name 谢卫东 (a speaker), title the rest.

    The name is the one the guest speaks under in the transcript, whether or not a space
    parts it from the title; several guests are separated by 、 ； or ，.
    """
    guests = []
    names = sorted(speakers - HOST_NAMES, key=len, reverse=True)
    for part in _guest_parts(text.strip(), names):
        part = part.strip()
        if not part:
            continue
        name = next((n for n in names if n in part), None)
        if name is None:
            # A guest who never speaks: "title name" with a space, else the whole part.
            head, _, tail = part.rpartition(" ")
            if head and _NAME_LIKE_RE.match(tail):
                name = tail
            else:
                guests.append({"name": part, "title": ""})
                continue
        title = " ".join(s.strip(_TITLE_TRIM) for s in part.split(name, 1) if s.strip(_TITLE_TRIM))
        guests.append({"name": name, "title": title})
    return guests


def _guest_parts(text: str, names: list[str]) -> list[str]:
    """Split the guest line into one part per guest.

    A separator only parts two guests when a speaker's name follows it: in
    `河田社区党委书记、居委会主任 陈丽华` the 、 joins two titles of one guest.
    """
    pieces = _GUEST_SPLIT_RE.split(text)
    if not any(n in text for n in names):
        return pieces
    seps = _GUEST_SPLIT_RE.findall(text)
    parts: list[str] = []
    pending = ""
    for i, piece in enumerate(pieces):
        pending += piece
        if any(n in piece for n in names):
            parts.append(pending)
            pending = ""
        elif i < len(seps):
            pending += seps[i]
    if pending.strip():
        head, _, tail = pending.strip().rpartition(" ")
        if parts and not (head and _NAME_LIKE_RE.match(tail)):
            parts[-1] += "、" + pending  # trailing titles after a name belong to that guest
        else:
            parts.append(pending)  # a guest who never speaks
    return parts


def _summary(lines: list[str], transcript_i: int | None, start: int) -> str | None:
    summary_i = _first(SUMMARY_RE, lines)
    if summary_i is None:
        return None
    end = transcript_i if transcript_i is not None and transcript_i > summary_i else start
    first = SUMMARY_RE.match(lines[summary_i]).group("rest")
    parts = [first] if first else []
    parts.extend(lines[summary_i + 1 : max(end, summary_i + 1)])
    return "\n".join(parts)


def _turns(
    lines: list[str], speakers: set[str], guest_names: set[str]
) -> tuple[list[Section], list[Turn]]:
    sections: list[Section] = []
    turns: list[Turn] = []
    current: Turn | None = None
    expect_headline = False
    for line in lines:
        sm = SECTION_RE.match(line)
        if sm:
            sections.append(
                {
                    "label": re.sub(r"\s+", "", sm.group("label")),
                    "topic": sm.group("topic").strip(),
                    "headline": None,
                }
            )
            current = None
            expect_headline = True
            continue
        m = SPEAKER_RE.match(line)
        if (
            current is not None
            and CREDIT_RE.match(line)
            and not (m and m.group("name") in speakers)
        ):
            current = None  # a credit line: no turn's text
            continue
        if m and m.group("name") in speakers:
            name = m.group("name")
            current = {
                "speaker": name,
                "role": _role(name, guest_names),
                "text": m.group("rest").strip(),
                "section": len(sections) - 1 if sections else None,
            }
            turns.append(current)
            expect_headline = False
            continue
        if expect_headline:
            sections[-1]["headline"] = line
            expect_headline = False
            continue
        if current is not None:
            current["text"] = f"{current['text']}\n{line}" if current["text"] else line
    return sections, turns


def _role(name: str, guest_names: set[str]) -> str:
    if guest_names:
        return "guest" if name in guest_names else "host"
    return "host" if name in HOST_NAMES else "guest"
