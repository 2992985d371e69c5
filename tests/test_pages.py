"""Golden tests of the article page objects, plus the bad inputs they must survive.

Each case is `tests/fixtures/pages/<case>/` with `input.html` (or `input.txt`, a text
capture), `meta.json` (`url`, optional `encoding` as an HTTP header would give it, optional
`contains` / `not_contains` checks on `text`) and `expected.json`, the whole record.
`pytest --update-golden` rewrites expected.json so a change in extraction shows up as a diff.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.pages import extract_record
from pipelines.pages.byline import parse_page_date
from pipelines.pages.encoding import UnreadablePage, codec_for, decode_body, repair_mojibake
from pipelines.pages.interview import parse_interview, split_guests
from pipelines.text import detect_script

CASES_DIR = Path(__file__).parent / "fixtures" / "pages"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "meta.json").exists())
RECORD_KEYS = [
    "url", "site", "column", "title", "published_at", "source", "script", "text", "images",
    "interview", "anomalies",
]  # fmt: skip

# Strings that are never article content on this site (both scripts). Checked against every
# field of every record except `anomalies`, which names what was removed on purpose.
BOILERPLATE = [
    "提示", "您已进入", "您已進入", "您已离开", "您已離開", "视窗区", "視窗區", "导航区", "導航區",
    "交互区", "交互區", "本区域含有", "本區域含有", "Tab键", "Tab鍵", "tab鍵", "操作帮助",
    "操作幫助", "问号键", "問號鍵", "分享到", "字体", "字體", "打印", "关闭页面", "關閉頁面",
    "关闭窗口", "当前位置", "當前位置", "您现在的位置", "版权所有", "版權所有", "网站标识码",
    "網站標識碼", "4419000098", "备案号", "備案號", "ICP", "公网安备", "公網安備", "技术支持",
    "技術支持", "开普云", "開普云", "联系我们", "聯系我們", "网站地图", "網站地圖", "站长统计",
    "站長統計", "日韩欧美综合", "slh", "上一篇", "下一篇", "首页", "首頁", "走进厚街", "政务公开",
    "政務公開", "相关链接", "请输入关键字", "微博", "QQ空间", "loadContent", "_hmt",
]  # fmt: skip


def _load(case: str) -> tuple[bytes, dict]:
    d = CASES_DIR / case
    meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
    src = d / "input.html" if (d / "input.html").exists() else d / "input.txt"
    return src.read_bytes(), meta


def _record(case: str) -> dict:
    body, meta = _load(case)
    return extract_record(body, meta["url"], encoding=meta.get("encoding"))


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, update_golden: bool) -> None:
    record = _record(case)
    expected_path = CASES_DIR / case / "expected.json"
    if update_golden:
        expected_path.write_text(
            json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    assert list(record) == RECORD_KEYS
    for key in RECORD_KEYS:  # field by field, so a failure names the field
        assert record[key] == expected[key], key


@pytest.mark.parametrize("case", CASES)
def test_text_contains_and_not_contains(case: str) -> None:
    _, meta = _load(case)
    record = _record(case)
    for needle in meta.get("contains", []):
        assert needle in record["text"], needle
    for needle in meta.get("not_contains", []):
        assert needle not in record["text"], needle


@pytest.mark.parametrize("case", CASES)
def test_no_boilerplate_in_any_field(case: str) -> None:
    record = _record(case)
    record.pop("anomalies")
    dumped = json.dumps(record, ensure_ascii=False)
    left = [b for b in BOILERPLATE if b in dumped]
    assert left == []


@pytest.mark.parametrize("case", [c for c in CASES if c.startswith("interview_")])
def test_interview_structure_partitions_the_transcript(case: str) -> None:
    """Sections, headlines and turns, put back together, are exactly the transcript's lines."""
    record = _record(case)
    iv = record["interview"]
    lines = record["text"].split("\n")
    label = next(i for i, x in enumerate(lines) if x in ("访谈记录", "訪談記錄"))

    rebuilt, section = [], None
    for turn in iv["turns"]:
        if turn["section"] != section:
            assert turn["section"] is not None and (section or -1) < turn["section"]
            section = turn["section"]
            s = iv["sections"][section]
            rebuilt += [f"{s['label']}:{s['topic']}", s["headline"]]
        first, *rest = turn["text"].split("\n")
        rebuilt += [f"{turn['speaker']}:{first}", *rest]

    def norm(x: str) -> str:
        return re.sub(r"\s*[:：]\s*", ":", x, count=1)

    assert [norm(x) for x in rebuilt] == [norm(x) for x in lines[label + 1 :]]

    intro = next(i for i, x in enumerate(lines) if re.match("^(内容简介|內容簡介)", x))
    summary = [re.sub(r"^(内容简介|內容簡介)\s*[:：]\s*", "", lines[intro])] + lines[
        intro + 1 : label
    ]
    assert iv["summary"] == "\n".join(summary)


@pytest.mark.parametrize("case", [c for c in CASES if c.startswith("interview_")])
def test_guest_split_matches_the_transcript(case: str) -> None:
    """The guest's name is the name the guest speaks under; name + title is the guest line."""
    record = _record(case)
    iv = record["interview"]
    guest_line = next(x for x in record["text"].split("\n") if re.match("^(访谈嘉宾|訪談嘉賓)", x))
    assert len(iv["guests"]) == 1
    guest = iv["guests"][0]
    assert {t["speaker"] for t in iv["turns"] if t["role"] == "guest"} == {guest["name"]}
    rest = re.sub(r"^(访谈嘉宾|訪談嘉賓)\s*[:：]\s*", "", guest_line).replace(" ", "")
    assert sorted(rest) == sorted(guest["name"] + guest["title"])
    assert {t["role"] for t in iv["turns"] if t["speaker"] != guest["name"]} == {"host"}


SEED_GUESTS = {
    ("004", "hans"): {"name": "詹静", "title": "寮厦社区党委书记"},
    ("004", "hant"): {"name": "詹靜", "title": "寮廈社區黨委書記"},
    ("000", "hans"): {"name": "谢卫东", "title": "东莞市厚街镇党委书记"},
    ("000", "hant"): {"name": "謝衛東", "title": "東莞市厚街鎮黨委書記"},
}
SEED_SECTIONS = {
    "hans": [
        ("关键词1", "谈感想", "对标对表 勇挑重担"),
        ("关键词2", "人工智能", "培育壮大新兴产业"),
        ("关键词3", "“百千万工程”", "加快构建镇强村兴的生动格局"),
    ],
    "hant": [
        ("關鍵詞1", "談感想", "對標對表 勇挑重擔"),
        ("關鍵詞2", "人工智能", "培育壯大新興產業"),
        ("關鍵詞3", "“百千萬工程”", "加快構建鎮強村興的生動格局"),
    ],
}


@pytest.mark.parametrize("case", [c for c in CASES if c.startswith("interview_")])
def test_seed_facts(case: str) -> None:
    """What the seed captures say, independent of the golden files."""
    seed = case.split("_")[1]
    script = case.rsplit("_", 1)[1]
    record = _record(case)
    iv = record["interview"]
    assert record["script"] == script
    assert iv["guests"] == [SEED_GUESTS[(seed, script)]]
    speakers = [t["speaker"] for t in iv["turns"]]
    roles = [t["role"] for t in iv["turns"]]
    assert roles == ["host", "guest"] * 3
    if seed == "004":
        host = "厚街发布" if script == "hans" else "厚街發布"
        assert speakers == [host, SEED_GUESTS[(seed, script)]["name"]] * 3
        assert iv["sections"] == [] and {t["section"] for t in iv["turns"]} == {None}
        assert iv["turns"][1]["text"].count("\n") == 4  # the answer runs over 5 paragraphs
        assert iv["turns"][-1]["text"].endswith("蓄勢添能。" if script == "hant" else "蓄势添能。")
    else:
        host = "东莞日报" if script == "hans" else "東莞日報"
        assert speakers == [host, SEED_GUESTS[(seed, script)]["name"]] * 3
        got = [(s["label"], s["topic"], s["headline"]) for s in iv["sections"]]
        assert got == SEED_SECTIONS[script]
        assert [t["section"] for t in iv["turns"]] == [0, 0, 1, 1, 2, 2]
        assert iv["turns"][-1]["text"].endswith("5.5%以上。")


# --- bad input ------------------------------------------------------------------------------
URL = "https://www.dg.gov.cn/houjie/cjjs/tshj/content/post_3987862.html"


@pytest.mark.parametrize("body", [b"", b"   \n\t ", "", "\n\n"])
def test_empty_input_is_unreadable(body) -> None:
    with pytest.raises(UnreadablePage, match="empty"):
        extract_record(body, URL)


def test_unreadable_page_is_a_value_error() -> None:
    assert issubclass(UnreadablePage, ValueError)


@pytest.mark.parametrize("seed", range(5))
def test_binary_junk_is_unreadable(seed: int) -> None:
    rng = random.Random(seed)
    junk = b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(2048))
    with pytest.raises(UnreadablePage, match="binary"):
        extract_record(junk, URL)


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.55, 0.8, 0.97])
def test_truncated_html_gives_a_record(fraction: float) -> None:
    body, meta = _load("interview_004_server_hans")
    full = extract_record(body, meta["url"])
    cut = body[: int(len(body) * fraction)]
    record = extract_record(cut, meta["url"])
    assert list(record) == RECORD_KEYS
    assert {"kind": "truncated", "detail": "no </html>: capture may be cut short"} in record[
        "anomalies"
    ]
    # What survives is a prefix of the full text (the last line may be cut short).
    got = [x for x in record["text"].split("\n") if x]
    want = full["text"].split("\n")
    assert got[:-1] == want[: max(len(got) - 1, 0)]
    if got:
        assert want[len(got) - 1].startswith(got[-1].rstrip("\ufffd"))


def test_truncated_inside_a_character() -> None:
    body, meta = _load("interview_004_server_hans")
    i = body.index("詹静".encode()) + 1  # inside the first byte sequence of 詹
    record = extract_record(body[:i], meta["url"], encoding="utf-8")
    assert [a["kind"] for a in record["anomalies"]][:1] == ["decode_errors"]
    assert "body_not_found" not in [a["kind"] for a in record["anomalies"]]


def test_gbk_page_decoded_by_meta_charset_alone() -> None:
    body, meta = _load("news_gbk_meta_charset")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    with pytest.raises(UnicodeDecodeError):
        body.decode("gb2312")  # the page holds GBK-only characters: 喆
    assert meta.get("encoding") is None
    record = extract_record(body, meta["url"])
    assert "刘喆" in record["text"]
    assert record["anomalies"] == []


@pytest.mark.parametrize("header", ["gbk", "GB2312", "utf-8", "iso-8859-1"])
def test_gbk_page_whatever_the_http_header(header: str) -> None:
    body, meta = _load("news_gbk_meta_charset")
    record = extract_record(body, meta["url"], encoding=header)
    assert "刘喆" in record["text"]
    assert record["title"] == "厚街镇开展2015年义务植树活动"


def test_utf8_page_labelled_gbk_is_read_as_utf8() -> None:
    body, meta = _load("news_server_hans")
    relabelled = body.replace(b'<meta charset="utf-8">', b'<meta charset="gb2312">')
    record = extract_record(relabelled, meta["url"])
    assert record["text"] == _record("news_server_hans")["text"]
    assert {"kind": "mojibake_repaired", "detail": "meta says gb2312, body is UTF-8"} in record[
        "anomalies"
    ]


@pytest.mark.parametrize("case", ["no_body_empty_container", "no_body_error_page"])
def test_page_without_body(case: str) -> None:
    record = _record(case)
    assert record["text"] == ""
    assert record["interview"] is None
    assert "body_not_found" in [a["kind"] for a in record["anomalies"]]


@pytest.mark.parametrize(
    "body",
    [
        "<html><body><p>x",
        "<html><head><title>a_b_中国东莞厚街镇</title></head></html>",
        "<!-- only a comment -->",
        "<<<>>><div",
        "<?xml version='1.0' encoding='utf-8'?><html><body><p>厚街镇召开会议，部署全年工作任务。</p></body></html>",
        "<table><tr><td>发布日期：2099-13-45 99:99</td></tr></table>",
        "\ufeff<html><body><div wzades='正文'></div></body></html>",
    ],
)
def test_odd_markup_gives_a_record(body: str) -> None:
    record = extract_record(body, URL)
    assert list(record) == RECORD_KEYS
    assert isinstance(record["text"], str)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=600),
        st.text(max_size=600),
        st.lists(
            st.sampled_from(
                [
                    "<p>",
                    "</p>",
                    "<br>",
                    "<div wzades='正文'>",
                    "</div>",
                    "<ucapcontent>",
                    "<strong>",
                    "访谈嘉宾：",
                    "詹静：",
                    "厚街发布：",
                    "关键词1：",
                    "访谈记录",
                    "<a class='esdNavLink' style='display:none' href='http://x.example/'>",
                    "</a>",
                    "发布日期: 2023-02-27 10:14",
                    "来源: 本网",
                    "\u3000",
                    "&nbsp;",
                    "<script>",
                    "</script>",
                    "<!--",
                    "-->",
                    "<img src='a.jpg'>",
                    "正文内容。",
                ]
            ),
            max_size=60,
        ).map("".join),
    )
)
def test_never_a_traceback(body) -> None:
    """Any input gives a record or UnreadablePage, nothing else."""
    try:
        record = extract_record(body, URL)
    except UnreadablePage:
        return
    assert list(record) == RECORD_KEYS
    assert record["script"] in ("hans", "hant")


# --- units ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, expected",
    [
        ("2023-02-27 10:14", "2023-02-27T10:14:00+08:00"),
        ("中国东莞政府门户网站  2023-11-15 12:14:17  来源: 本网", "2023-11-15T12:14:17+08:00"),
        ("发布日期: 2023-02-27 10:14 来源: 本网", "2023-02-27T10:14:00+08:00"),
        ("发布日期：2015年03月12日", "2015-03-12T00:00:00+08:00"),
        ("2023/2/7 9:05", "2023-02-07T09:05:00+08:00"),
        ("2023年2月27日 10时14分", "2023-02-27T10:14:00+08:00"),
        ("2023-13-01", None),
        ("no date", None),
        ("", None),
    ],
)
def test_parse_page_date(text: str, expected: str | None) -> None:
    assert parse_page_date(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("访谈嘉宾：寮厦社区党委书记 詹静", "hans"),
        ("訪談嘉賓:寮廈社區黨委書記 詹靜", "hant"),
        ("聽完政府工作報告后,您有什么感受?接下來,厚街鎮有什么樣的總體發展思路?", "hant"),
        ("厚街镇开展2015年义务植树活动", "hans"),
        ("", "hans"),
        ("2023 ABC", "hans"),
    ],
)
def test_detect_script(text: str, expected: str) -> None:
    assert detect_script(text) == expected


@pytest.mark.parametrize(
    "line, speakers, expected",
    [
        ("寮厦社区党委书记 詹静", {"詹静", "厚街发布"}, [{"name": "詹静", "title": "寮厦社区党委书记"}]),
        ("东莞市厚街镇党委书记谢卫东", {"谢卫东", "东莞日报"}, [{"name": "谢卫东", "title": "东莞市厚街镇党委书记"}]),
        ("詹静 寮厦社区党委书记", {"詹静"}, [{"name": "詹静", "title": "寮厦社区党委书记"}]),
        (
            "厚街镇镇长王强、厚街镇副镇长李丽",
            {"王强", "李丽", "记者"},
            [{"name": "王强", "title": "厚街镇镇长"}, {"name": "李丽", "title": "厚街镇副镇长"}],
        ),
        ("寮厦社区党委书记 张三", {"厚街发布"}, [{"name": "张三", "title": "寮厦社区党委书记"}]),
        ("寮厦社区党委书记", {"厚街发布"}, [{"name": "寮厦社区党委书记", "title": ""}]),
    ],
)  # fmt: skip
def test_split_guests(line: str, speakers: set, expected: list) -> None:
    assert split_guests(line, speakers) == expected


def test_news_with_a_reporter_line_is_not_an_interview() -> None:
    lines = ["记者：王小明", "11月18日上午，厚街镇举行活动。", "活动由厚街镇文化服务中心承办。"]
    assert parse_interview(lines) is None


def test_question_and_answer_layout_is_an_interview() -> None:
    lines = [
        "问：今年有什么计划？",
        "答：推进乡村振兴。",
        "问：具体怎么做？",
        "答：分三步。",
        "第一步……",
    ]
    iv = parse_interview(lines)
    assert [(t["speaker"], t["role"]) for t in iv["turns"]] == [
        ("问", "host"), ("答", "guest"), ("问", "host"), ("答", "guest"),
    ]  # fmt: skip
    assert iv["turns"][-1]["text"] == "分三步。\n第一步……"
    assert iv["guests"] == [] and iv["summary"] is None


@pytest.mark.parametrize(
    "credit", ["责任编辑：李明", "来源：东莞日报", "文/图：厚街发布", "編輯:王芳"]
)
def test_credits_after_the_transcript_belong_to_no_turn(credit: str) -> None:
    lines = [
        "访谈嘉宾：厚街镇镇长 王强",
        "访谈记录",
        "记者：今年的重点？",
        "王强：产业。",
        "还有民生。",
        credit,
    ]
    iv = parse_interview(lines)
    assert [t["text"] for t in iv["turns"]] == ["今年的重点？", "产业。\n还有民生。"]


def test_a_speaker_named_like_a_credit_still_speaks() -> None:
    lines = ["访谈记录", "记者：问题一？", "张三：回答一。", "记者：问题二？", "张三：回答二。"]
    iv = parse_interview(lines)
    assert [(t["speaker"], t["text"]) for t in iv["turns"]] == [
        ("记者", "问题一？"), ("张三", "回答一。"), ("记者", "问题二？"), ("张三", "回答二。"),
    ]  # fmt: skip


def test_times_and_labels_do_not_open_turns() -> None:
    lines = [
        "访谈嘉宾：厚街镇镇长 王强",
        "访谈记录",
        "厚街发布：会议几点开始？",
        "王强：上午安排如下：",
        "10:30 开幕",
        "地点：厚街镇政府",
    ]
    iv = parse_interview(lines)
    assert [t["speaker"] for t in iv["turns"]] == ["厚街发布", "王强"]
    assert iv["turns"][1]["text"] == "上午安排如下：\n10:30 开幕\n地点：厚街镇政府"


@pytest.mark.parametrize(
    "label, codec",
    [("gbk", "gb18030"), ("GB2312", "gb18030"), ("x-gbk", "gb18030"), ("gb18030", "gb18030"),
     ("utf-8", "utf-8"), ("UTF8", "utf-8"), ("iso-8859-1", "cp1252"), ("big5", "big5"),
     ("no-such-charset", None), ("", None), (None, None)],
)  # fmt: skip
def test_codec_for(label, codec) -> None:
    assert codec_for(label) == codec


@pytest.mark.parametrize(
    "head",
    [
        b'<meta charset="gbk">',
        b"<meta charset=gbk>",
        b'<meta http-equiv="Content-Type" content="text/html; charset=gb2312">',
        b"<META HTTP-EQUIV='content-type' CONTENT='text/html;charset=GBK'>",
    ],
)
def test_meta_charset_forms(head: bytes) -> None:
    page = b"<html><head>" + head + b"</head><body><p>" + "厚街镇刘喆".encode("gbk") + b"</p>"
    decoded = decode_body(page)
    assert decoded.encoding == "gb18030" and decoded.source == "meta"
    assert "厚街镇刘喆" in decoded.text


def test_sniffing_without_any_declaration() -> None:
    assert decode_body("<p>厚街镇</p>".encode()).encoding == "utf-8"
    assert decode_body("<p>厚街镇刘喆</p>".encode("gbk")).encoding == "gb18030"


def test_byte_order_mark_wins() -> None:
    decoded = decode_body("\ufeff<p>厚街</p>".encode("utf-16"), "gbk")
    assert decoded.source == "bom" and "厚街" in decoded.text


def _as_windows_1252(text: str) -> str:
    """What a browser shows for UTF-8 bytes it reads as windows-1252 (WHATWG: C1 kept)."""
    return "".join(
        bytes([b]).decode("cp1252") if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D) else chr(b)
        for b in text.encode("utf-8")
    )


@pytest.mark.parametrize(
    "original",
    [
        "访谈嘉宾：寮厦社区党委书记 詹静",
        "今年计划投入约4000万元推进乡村振兴，包括农贸市场升级改造。",
    ],
)
def test_mojibake_utf8_read_as_cp1252_is_repaired(original: str) -> None:
    garbled = _as_windows_1252(original)
    assert garbled != original
    text, detail = repair_mojibake(f"<p>{garbled}</p>")
    assert text == f"<p>{original}</p>" and "windows-1252" in detail


def test_mojibake_utf8_read_as_gbk_is_repaired() -> None:
    # Only some lines survive UTF-8 -> GBK exactly; this one (from the 004 seed) does.
    original = "访谈嘉宾:寮厦社区党委书记 詹静"
    garbled = original.encode("utf-8").decode("gb18030")
    assert "寮厦" not in garbled and garbled.startswith("璁胯皥")
    text, detail = repair_mojibake(f"内容简介\n{garbled}\n访谈记录")
    assert text == f"内容简介\n{original}\n访谈记录" and "GBK" in detail


@pytest.mark.parametrize(
    "text",
    ["“工改工”项目落地", "Café au lait, naïve résumé", "厚街镇涓涓细流汇成河", "锛 is a character"],
)
def test_mojibake_repair_leaves_genuine_text_alone(text: str) -> None:
    assert repair_mojibake(text) == (text, None)


def test_mojibake_repair_reported_in_anomalies() -> None:
    page = "<html><body><div wzades='正文'><p>厚街镇召开2023年经济工作会议，部署全年工作。</p></div></body></html>"
    record = extract_record(_as_windows_1252(page), URL)
    assert record["text"] == "厚街镇召开2023年经济工作会议，部署全年工作。"
    assert [a["kind"] for a in record["anomalies"]][:1] == ["mojibake_repaired"]
