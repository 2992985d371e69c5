"""What the mirror publishes: articles, their bodies and images, deterministic given a seed.

Pure: no sockets, no HTML chrome (templates.py renders). The only files read are the two
interview captures bundled in `seeds/`, cleaned of the capture's chrome and mojibake.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path

CHINA = timezone(timedelta(hours=8))
CANONICAL = "https://www.dg.gov.cn/"
SITE_NAME = "中国东莞厚街镇"
SITE_ID_CODE = "4419000098"

TSHJ = "houjie/cjjs/tshj/"
ZHXW = "houjie/xwzx/zhxw/"
PRIVATE = "houjie/private/"


@dataclass(frozen=True)
class ColumnInfo:
    path: str
    name: str
    parent: str  # the breadcrumb level above the column
    parent_path: str
    feed: int | None
    older: bool  # rendered in the older list template (JavaScript page bar)


COLUMNS: dict[str, ColumnInfo] = {
    TSHJ: ColumnInfo(TSHJ, "图说厚街", "城镇建设", "houjie/cjjs/", 9149, older=False),
    ZHXW: ColumnInfo(ZHXW, "综合新闻", "新闻中心", "houjie/xwzx/", None, older=True),
    PRIVATE: ColumnInfo(PRIVATE, "内部资料", "内部资料", "houjie/private/", None, older=False),
}

# Ids are platform-wide and grow with time: seed 004 pins 3987862 to 2023-02-27 10:14, and
# one id per 225 s reaches ~4.5M by late 2026, as observed on the live site.
ID_004 = 3987862
T_004 = datetime(2023, 2, 27, 10, 14, tzinfo=CHINA)
SECONDS_PER_ID = 225
ID_000 = 4268938  # id_at(2025-02-28 09:30)
ID_004_HANT = 3987863  # the traditional-script saved DOM of seed 004
ID_PRIVATE = 3900100
FAULT_IDS = {
    "missing": 3900201,
    "redirect": 3900202,
    "error": 3900203,
    "slow": 3900204,
    "drop": 3900205,
    "truncated": 3900206,
}

SYNTHETIC_START = datetime(2023, 3, 1, 8, 0, tzinfo=CHINA)
SYNTHETIC_END = datetime(2026, 10, 31, 18, 0, tzinfo=CHINA)

# Markups, see templates.py: "server" (meta tags, 中国东莞政府门户网站 byline),
# "byline" (seed 004's 字体大小/发布日期 byline, <publishtime>), "older" (no meta tags,
# <h1>, <br> runs), "saved_dom" (a browser's saved DOM with the accessibility toolbar's links).
TEMPLATES = ("server", "byline", "older", "saved_dom")
# tshj rotation by position: half server, a quarter byline, the rest older and saved DOMs.
TSHJ_ROTATION = (
    "server", "server", "byline", "server", "server", "older",
    "server", "byline", "saved_dom", "server", "byline", "older",
)  # fmt: skip


def id_at(t: datetime) -> int:
    return ID_004 + int((t - T_004).total_seconds() // SECONDS_PER_ID)


@dataclass
class Image:
    path: str  # /attachment/<a>/<b>/<c>/<fileid>.<ext>
    alt: str
    key: int  # makes the bytes unique

    @property
    def ext(self) -> str:
        return self.path.rsplit(".", 1)[1]


@dataclass
class Para:
    """One paragraph of a body; templates decide <p> or a <br> run."""

    kind: str = "p"  # "p" | "img" | "heading" | "blank"
    text: str = ""
    label: str = ""  # a leading label or speaker (with its colon), bold in <p> templates
    bold: bool = False  # the whole paragraph bold (关键词N lines, headlines)
    center: bool = False
    image: Image | None = None


@dataclass
class Article:
    id: int
    column: str
    published: datetime
    title: str
    source: str
    template: str
    kind: str = "news"  # "news" | "interview"
    script: str = "hans"  # "hans" | "hant"
    encoding: str = "utf-8"  # "utf-8" | "gbk" (header and <meta charset>) | "gb2312-meta"
    image: Image | None = None
    seed: str | None = None  # "004" / "000" for the captures
    role: str = "live"  # "live" | "private" | "slow" | "truncated"
    revision: int = 0
    modified: datetime | None = None
    toolbar: int = 0  # which wording of the accessibility toolbar a saved DOM carries
    spam: bool = False  # a hidden off-site link injected at the end
    seconds: bool = True  # the byline shows seconds

    @property
    def path(self) -> str:
        return f"/{self.column}content/post_{self.id}.html"

    @property
    def mobile_path(self) -> str:
        return f"/{self.column}content/mpost_{self.id}.html"

    @property
    def url(self) -> str:
        return CANONICAL + self.path.lstrip("/")

    @property
    def json_path(self) -> str:
        return f"/postmeta/p/{self.id // 1_000_000}/{self.id // 1000}/{self.id}.json"

    @property
    def last_modified(self) -> datetime:
        return self.modified or self.published

    @property
    def column_info(self) -> ColumnInfo:
        return COLUMNS[self.column]


# -- seeds ----------------------------------------------------------------------------------

SEED_DIR = Path(__file__).with_name("seeds")
_LABEL = re.compile(r"^(訪談嘉賓|访谈嘉宾|內容簡介|内容简介)([:：])")
_SECTION = re.compile(r"^(關鍵詞|关键词)\d+[:：]")
_SPEAKER = re.compile(r"^(厚街發布|厚街发布|東莞日報|东莞日报|詹靜|詹静|謝衛東|谢卫东)([:：])")
_HALF_TO_FULL = str.maketrans({",": "，", ":": "：", "?": "？"})


@dataclass(frozen=True)
class Seed:
    title: str
    published: datetime
    source: str
    lines: tuple[str, ...]


@cache
def load_seed(name: str) -> Seed:
    head, _, body = (SEED_DIR / f"{name}.txt").read_text(encoding="utf-8").partition("\n\n")
    meta = dict(line.split(": ", 1) for line in head.splitlines())
    published = datetime.strptime(meta["published"], "%Y-%m-%d %H:%M").replace(tzinfo=CHINA)
    return Seed(meta["title"], published, meta["source"], tuple(body.splitlines()))


@cache
def _converter(config: str):
    import opencc  # only the seeds need it; keep start-up cheap otherwise

    return opencc.OpenCC(config)


def t2s(text: str) -> str:
    return _converter("t2s").convert(text)


def s2t(text: str) -> str:
    return _converter("s2t").convert(text)


def seed_paras(name: str, *, simplified: bool, fullwidth: bool, image: Image | None) -> list[Para]:
    """A capture's body as paragraphs, in either script, ASCII or full-width punctuation."""

    def conv(s: str) -> str:
        if simplified:
            s = t2s(s)
        return s.translate(_HALF_TO_FULL) if fullwidth else s

    paras: list[Para] = []
    after_section = False
    for line in load_seed(name).lines:
        if line.startswith("[img "):
            if image is not None:
                paras.append(Para("img", image=image, center=True))
        elif line == "[blank]":
            paras.append(Para("blank"))
        elif line in ("訪談記錄", "访谈记录"):
            paras.append(Para("heading", conv(line), bold=True, center=True))
        elif _SECTION.match(line):
            paras.append(Para("p", conv(line), bold=True))
            after_section = True
            continue
        elif after_section:
            paras.append(Para("p", conv(line), bold=True, center=True))
        elif m := (_LABEL.match(line) or _SPEAKER.match(line)):
            paras.append(Para("p", conv(line[m.end() :]), label=conv(m.group(0))))
        else:
            paras.append(Para("p", conv(line)))
        after_section = False
    return paras


# -- synthetic text -------------------------------------------------------------------------

COMMUNITIES = (
    "赤岭", "寮厦", "河田", "三屯", "桥头", "汀山", "溪头", "涌口", "双岗", "陈屋",
    "新围", "白濠", "大迳", "新塘", "竹溪", "宝屯", "沙塘", "环冈", "珊美", "鳌台",
)  # fmt: skip
TOPICS = (
    "安全生产", "城市更新", "人居环境整治", "招商引资", "乡村振兴", "“百千万工程”",
    "消防安全", "垃圾分类", "文明城市创建", "防汛防风", "交通安全", "食品安全",
    "科技创新", "企业服务", "基层治理",
)  # fmt: skip
PLACES = (
    "新河公园", "厚街大道", "环湖路绿道", "海月公园", "城市中心公园", "东引运河",
    "厚街体育馆", "厚山现代化产业园", "厚街会展中心", "鳌峙塘片区",
)  # fmt: skip
EVENTS = (
    "第{n}届家具文化节", "“莞邑书香”全民阅读活动", "龙舟邀请赛", "招商推介会",
    "企业家座谈会", "迎春花市", "消防安全演练", "志愿服务嘉年华", "社区邻里节",
)  # fmt: skip
SOURCES = ("本网", "本网", "本网", "东莞日报", "厚街发布", "东莞时间网", "南方+")
NEWS_TITLES = (
    "厚街镇召开{year}年{topic}工作会议",
    "厚街镇扎实推进{topic}工作",
    "{community}社区开展{topic}专项行动",
    "厚街举办{event}",
    "{community}社区：{place}完成升级改造",
    "镇领导带队调研{topic}工作",
    "图说厚街｜{place}焕新颜",
    "厚街{topic}工作获市通报表扬",
    "{place}建设提速 预计年内完工",
    "{community}社区{md}开展{topic}宣传活动",
    "厚街镇{md}召开{topic}专题会议",
    "{place}：{topic}成效初显",
    "厚街镇部署{year}年{topic}重点任务",
    "{community}社区获评{year}年度{topic}先进集体",
)
NEWS_OPENERS = (
    "近日，厚街镇{topic}工作取得新进展。",
    "{md}，厚街镇召开{topic}工作推进会，总结前阶段工作，部署下一步任务。",
    "为进一步推动{topic}工作走深走实，{community}社区近日组织开展专项行动。",
    "{md}，{event}在{place}举行，吸引了众多市民群众参与。",
    "连日来，厚街镇聚焦{topic}，多措并举推动各项任务落地见效。",
)
NEWS_SENTENCES = (
    "会议指出，各部门要提高政治站位，压实工作责任，确保各项任务落地见效。",
    "{community}社区党委书记表示，社区将以此为契机，持续完善基础设施，提升群众获得感。",
    "据了解，今年以来，厚街镇累计投入资金{n}万元，完成{m}个重点项目建设。",
    "活动现场，志愿者向居民发放宣传资料{n}余份，解答群众疑问{m}余人次。",
    "下一步，厚街镇将坚持问题导向，聚焦群众急难愁盼，推动{topic}工作提质增效。",
    "该项目总投资约{m}亿元，建成后将进一步完善片区功能配套。",
    "镇相关负责人表示，将以更大力度推进城市品质提升，打造宜居宜业宜游的美丽厚街。",
    "截至目前，全镇已排查各类隐患{n}处，整改完成率达{p}%。",
    "与会人员实地察看了{place}建设情况，并听取了有关单位的工作汇报。",
    "此次活动进一步增强了群众的参与感和认同感，营造了共建共治共享的良好氛围。",
    "{place}改造提升后，新增绿化面积{n}平方米，成为市民休闲打卡的好去处。",
    "厚街镇将持续深化“放管服”改革，为企业发展提供全链条、全周期服务。",
    "各社区要结合自身实际，细化工作方案，形成上下联动、齐抓共管的工作格局。",
    "今年，厚街镇计划新增停车位{n}个，推动{m}条道路完成升级改造。",
)
NEWS_HEADINGS = (
    "一、提高站位，强化组织领导",
    "二、聚焦重点，狠抓任务落实",
    "三、完善机制，巩固工作成效",
)

GUESTS = (
    ("赤岭", "王志强"), ("河田", "陈丽华"), ("三屯", "黄国强"), ("溪头", "刘建军"),
    ("涌口", "李志明"), ("双岗", "张伟明"), ("桥头", "方永红"), ("汀山", "郑海涛"),
    ("陈屋", "陈少华"), ("新围", "叶振文"), ("白濠", "梁卓峰"), ("珊美", "袁国辉"),
)  # fmt: skip
GUEST_TITLES = ("厚街镇{c}社区党委书记", "{c}社区党委书记", "{c}社区党委书记、居委会主任")
HOSTS = ("厚街发布", "东莞日报")
SECTIONS = (
    ("谈目标", "锚定目标 奋力冲刺"),
    ("项目建设", "以项目建设为抓手 推动高质量发展"),
    ("“百千万工程”", "推动城乡融合 建设和美社区"),
    ("营商环境", "当好服务员 做优营商环境"),
    ("民生实事", "办好民生实事 增进群众福祉"),
    ("招商引资", "拓空间 强招引 蓄势能"),
)
TITLE_HEADLINES = tuple(h for _, h in SECTIONS) + (
    "奋力跑出高质量发展加速度",
    "把招商引资作为“一把手工程”",
    "今年计划新增停车位1000个",
    "以“工改工”释放产业新空间",
    "推动集体经济提质增效",
    "打造宜居宜业和美社区",
    "聚焦民生实事 提升群众获得感",
    "做强产业 做优服务 做美环境",
)
QUESTIONS = (
    "{year}年是推动高质量发展的关键之年，{c}社区今年的工作目标是什么？",
    "请问{c}在推动{topic}方面有哪些具体举措？",
    "面对新形势新任务，{c}社区如何激发发展新动能？",
    "在改善民生方面，{c}今年有哪些实事项目？",
    "请您谈谈{c}社区在{topic}方面的经验做法。",
)
ANSWER_OPENERS = (
    "今年，{c}社区将紧紧围绕镇委镇政府的工作部署，以高质量发展为主线，重点抓好以下几方面工作。",
    "{c}社区将坚持以项目为王，聚焦{topic}，推动各项工作取得新突破。",
    "我们将坚持问题导向和目标导向，把{topic}作为今年工作的重中之重。",
)
ACTIONS = (
    "加快推进重点项目建设", "持续优化营商环境", "全力推进“工改工”项目",
    "深入开展人居环境整治", "扎实推进基层治理", "不断完善民生设施",
    "大力发展集体经济", "积极推进招商引资",
)  # fmt: skip
DETAILS = (
    "今年计划投入约{n}万元，完成道路升级改造和公园建设。",
    "聚焦企业需求，做好用地、用工等要素保障，助力企业做大做强。",
    "全面盘活闲置土地资源，为优质项目落地提供空间保障。",
    "推动社区网格化管理，提升服务群众的精细化水平。",
    "计划新增停车位{n}个，缓解片区停车难问题。",
    "力争全年集体经济收入同比增长{p}%以上。",
)
ORDINALS = "一二三四五六"


class _Filler:
    """Fills {slots} in the text pools from one article's random stream."""

    def __init__(self, rng: random.Random, published: datetime, community: str | None = None):
        self.rng = rng
        self.values = {
            "year": published.year,
            "md": f"{published.month}月{published.day}日",
            "community": community or rng.choice(COMMUNITIES),
            "topic": rng.choice(TOPICS),
            "place": rng.choice(PLACES),
            "event": rng.choice(EVENTS).format(n=rng.randint(5, 20)),
        }
        self.values["c"] = self.values["community"]

    def __call__(self, template: str) -> str:
        rng = self.rng
        return template.format(
            n=rng.randint(12, 980) * 10, m=rng.randint(2, 30), p=rng.randint(3, 99), **self.values
        )


def news_title(rng: random.Random, published: datetime) -> str:
    return _Filler(rng, published)(rng.choice(NEWS_TITLES))


def news_paras(article: Article, seed: int) -> list[Para]:
    rng = random.Random(f"{seed}/{article.id}/body")
    fill = _Filler(rng, article.published)
    paras = []
    if article.image:
        paras.append(Para("img", image=article.image, center=True))
    paras.append(Para("p", fill(rng.choice(NEWS_OPENERS)) + fill(rng.choice(NEWS_SENTENCES))))
    headings = rng.random() < 0.25
    for i in range(rng.randint(2, 6)):
        if headings and i < len(NEWS_HEADINGS):
            paras.append(Para("p", NEWS_HEADINGS[i], bold=True))
        k = rng.randint(2, 4)
        paras.append(Para("p", "".join(fill(s) for s in rng.sample(NEWS_SENTENCES, k))))
    return paras


@dataclass
class InterviewPlan:
    community: str
    name: str
    title: str  # the guest's title
    space: str  # between title and name on the guest line: " ", "\u00a0" or ""
    host: str
    colon: str
    sections: list[tuple[str, str]] = field(default_factory=list)


def interview_plan(rng: random.Random) -> InterviewPlan:
    community, name = rng.choice(GUESTS)
    sections = rng.sample(SECTIONS, rng.randint(2, 3)) if rng.random() < 0.5 else []
    return InterviewPlan(
        community=community,
        name=name,
        title=rng.choice(GUEST_TITLES).format(c=community),
        space=rng.choice((" ", "", "\u00a0")),
        host=rng.choice(HOSTS),
        colon=rng.choice(("：", "：", ":")),
        sections=sections,
    )


def interview_title(plan: InterviewPlan, rng: random.Random) -> str:
    who = plan.name if rng.random() < 0.3 else plan.community
    return f"一把手访谈|{who}：{rng.choice(TITLE_HEADLINES)}"


def interview_paras(article: Article, seed: int) -> list[Para]:
    meta_rng = random.Random(f"{seed}/{article.id}/plan")
    plan = interview_plan(meta_rng)
    rng = random.Random(f"{seed}/{article.id}/body")
    fill = _Filler(rng, article.published, plan.community)
    colon = plan.colon
    paras = []
    if article.image:
        paras.append(Para("img", image=article.image, center=True))
    paras.append(Para("p", f"{plan.title}{plan.space}{plan.name}", label=f"访谈嘉宾{colon}"))
    summary = (
        f"{plan.title}{plan.name}表示，{article.published.year}年{plan.community}社区将"
        f"{rng.choice(ACTIONS)}、{rng.choice(ACTIONS)}，"
        f"为厚街高质量发展贡献更多“{plan.community}力量”。"
    )
    paras.append(Para("p", summary, label=f"内容简介{colon}"))
    if rng.random() < 0.4:
        paras.append(Para("p", fill(rng.choice(NEWS_SENTENCES)) + fill(rng.choice(NEWS_SENTENCES))))
    paras.append(Para("heading", "访谈记录", bold=True, center=True))
    if rng.random() < 0.5:
        paras.append(Para("blank"))

    def exchange() -> None:
        paras.append(Para("p", fill(rng.choice(QUESTIONS)), label=f"{plan.host}{colon}"))
        paras.append(Para("p", fill(rng.choice(ANSWER_OPENERS)), label=f"{plan.name}{colon}"))
        for i, action in enumerate(rng.sample(ACTIONS, rng.randint(2, 4))):
            paras.append(Para("p", f"{ORDINALS[i]}是{action}。" + fill(rng.choice(DETAILS))))

    if plan.sections:
        for i, (topic, headline) in enumerate(plan.sections, 1):
            paras.append(Para("p", f"关键词{i}{colon}{topic}", bold=True))
            paras.append(Para("p", headline, bold=True, center=True))
            exchange()
    else:
        for _ in range(rng.randint(2, 3)):
            exchange()
    return paras


def image_for(article_id: int, published: datetime, rng: random.Random) -> Image:
    fileid = 10_000_000 + article_id
    ext = "png" if rng.random() < 0.2 else "jpg"
    shot = published - timedelta(minutes=rng.randint(30, 600), seconds=rng.randint(0, 59))
    alt = f"微信图片_{shot:%Y%m%d%H%M%S}.jpg"
    path = f"/attachment/0/{article_id // 1000 % 100}/{article_id % 1000}/{fileid}.{ext}"
    return Image(path, alt, article_id)


def body_paras(article: Article, seed: int) -> list[Para]:
    """The body of any article, including the revision note a change adds."""
    if article.seed == "004":
        hant = article.script == "hant"
        paras = seed_paras("004", simplified=not hant, fullwidth=not hant, image=article.image)
    elif article.seed == "000":
        paras = seed_paras("000", simplified=True, fullwidth=False, image=article.image)
    elif article.kind == "interview":
        paras = interview_paras(article, seed)
    else:
        paras = news_paras(article, seed)
    if article.revision:
        note = f"（更新说明：本文第{article.revision}次修订，补充了有关数据。）"
        paras.append(Para("p", s2t(note) if article.script == "hant" else note))
    return paras


# -- the catalogue --------------------------------------------------------------------------


def seed_articles() -> list[Article]:
    s004, s000 = load_seed("004"), load_seed("000")
    image_004 = Image("/attachment/0/12/345/13987862.jpg", "微信图片_20230227101143.jpg", ID_004)
    return [
        Article(
            ID_004, TSHJ, s004.published, t2s(s004.title).translate(_HALF_TO_FULL),
            t2s(s004.source), "byline", kind="interview", image=image_004, seed="004",
            seconds=False,
        ),
        Article(
            ID_004_HANT, TSHJ, s004.published, s004.title, s004.source, "saved_dom",
            kind="interview", script="hant",
            image=Image(image_004.path, "微信圖片_20230227101143.jpg", ID_004),
            seed="004", toolbar=0, spam=True, seconds=False,
        ),
        Article(
            ID_000, TSHJ, s000.published, t2s(s000.title).replace(":", "：", 1),
            t2s(s000.source), "older", kind="interview", seed="000", seconds=False,
        ),
    ]  # fmt: skip


def synthetic_dates(rng: random.Random, n: int, avoid: list[datetime]) -> list[datetime]:
    span = int((SYNTHETIC_END - SYNTHETIC_START).total_seconds() // 86400)
    out = []
    while len(out) < n:
        day = SYNTHETIC_START + timedelta(days=rng.randrange(span + 1))
        t = day.replace(
            hour=rng.randint(8, 21), minute=rng.randint(0, 59), second=rng.randint(0, 59)
        )
        # keep two hours clear of the captures so their fixed ids stay in date order
        if all(abs((t - a).total_seconds()) > 7200 for a in avoid):
            out.append(t)
    return sorted(out)


class Catalogue:
    """All articles of the mirror, and how new ones are made. Not thread-safe by itself."""

    def __init__(self, articles: int, seed: int):
        self.seed = seed
        self.rng = random.Random(seed)
        self.articles: dict[int, Article] = {}
        self.tshj_count = 0
        seeds = seed_articles()
        self.titles = {a.title for a in seeds}
        for a in seeds:
            self.articles[a.id] = a
        dates = synthetic_dates(
            self.rng, max(0, articles - len(seeds)), [a.published for a in seeds]
        )
        prev = 0
        for t in dates:
            aid = max(id_at(t), prev + 1)
            while aid in self.articles:
                aid += 1
            prev = aid
            column = ZHXW if self.rng.random() < 0.25 else TSHJ
            self._make(aid, t, column)
        self._pick_encodings()
        self.private = self._private()

    def _make(self, aid: int, t: datetime, column: str) -> Article:
        rng = self.rng
        if column == TSHJ:
            template = TSHJ_ROTATION[self.tshj_count % len(TSHJ_ROTATION)]
            self.tshj_count += 1
            kind = "interview" if rng.random() < 1 / 6 else "news"
        else:
            template, kind = "older", "news"
        plan = interview_plan(random.Random(f"{self.seed}/{aid}/plan"))
        for _ in range(20):  # titles are unique, as the column's editors keep them
            title = interview_title(plan, rng) if kind == "interview" else news_title(rng, t)
            if title not in self.titles:
                break
        else:
            title += f"（{t:%Y年%m月}）"
        self.titles.add(title)
        image = image_for(aid, t, rng) if rng.random() < 0.5 else None
        a = Article(
            aid, column, t, title, rng.choice(SOURCES), template, kind=kind, image=image,
            toolbar=aid % 4, spam=template == "saved_dom" and aid % 2 == 0,
            seconds=rng.random() < 0.8,
        )  # fmt: skip
        self.articles[aid] = a
        return a

    def _pick_encodings(self) -> None:
        """One GBK page with a charset header, one GB2312-declared page with none."""
        by_age = sorted(self.articles.values(), key=lambda a: a.id)
        gbk = [
            a for a in by_age if a.column == TSHJ and a.template == "server" and a.kind == "news"
        ]
        old = [a for a in by_age if a.column == ZHXW]
        if gbk:
            gbk[min(1, len(gbk) - 1)].encoding = "gbk"
        if old:
            old[min(1, len(old) - 1)].encoding = "gb2312-meta"

    def _private(self) -> Article:
        t = datetime(2022, 12, 20, 9, 0, tzinfo=CHINA)
        return Article(
            ID_PRIVATE, PRIVATE, t, "厚街镇内部工作通报（仅限内部查阅）", "本网", "server",
            role="private",
        )  # fmt: skip

    def fault_articles(self) -> dict[str, Article]:
        """Real pages behind two of the faults: the slow one and the truncated one."""
        t = datetime(2023, 1, 10, 10, 0, tzinfo=CHINA)
        slow = Article(
            FAULT_IDS["slow"], TSHJ, t, "厚街镇召开2023年第一次工作例会", "本网", "server",
            role="slow",
        )  # fmt: skip
        trunc = Article(
            FAULT_IDS["truncated"], TSHJ, t + timedelta(days=1),
            "厚街镇开展春节前安全生产大检查", "本网", "server", role="truncated",
        )  # fmt: skip
        return {"slow": slow, "truncated": trunc}

    def add(self, n: int) -> list[Article]:
        """n new tshj articles, newer and with higher ids than everything published."""
        new = []
        newest = max(self.articles.values(), key=lambda a: a.published)
        t = max(newest.published, SYNTHETIC_END)
        top = max(self.articles)
        for _ in range(n):
            t = t + timedelta(hours=self.rng.randint(1, 6), minutes=self.rng.randint(0, 59))
            top = max(id_at(t), top + 1)
            new.append(self._make(top, t, TSHJ))
        return new[::-1]

    def live(self, column: str | None = None) -> list[Article]:
        """Live articles (of a column), newest first."""
        arts = [a for a in self.articles.values() if column is None or a.column == column]
        return sorted(arts, key=lambda a: (a.published, a.id), reverse=True)
