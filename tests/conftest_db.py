"""Database fixtures (a pytest plugin, registered in tests/conftest.py): a throwaway PostgreSQL
cluster for the session and a fresh database per test, on SQLite and on PostgreSQL.

`db_url` runs a test once per engine. Without PostgreSQL server binaries the postgres cases
are skipped with the reason, except under CI=true, where they fail: CI must test both.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from pipelines.records import CAPTURE_FIELDS
from tests.pg import PgCluster, PostgresUnavailable, find_bindir


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"PostgreSQL is required under CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A PostgreSQL server for the whole session (initdb in a temp dir, free port, trust)."""
    if find_bindir() is None:
        _unavailable("server binaries (initdb, postgres) not found; install postgresql")
    cluster = PgCluster()
    try:
        cluster.start()
    except PostgresUnavailable as exc:
        _unavailable(str(exc))
    print(f"\nPostgreSQL test cluster at {cluster.url}")
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_database_url(pg_cluster: PgCluster) -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = pg_cluster.create_database(name)
    yield url
    pg_cluster.drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_urls(request: pytest.FixtureRequest, tmp_path) -> Iterator[tuple[str, str]]:
    """Two new, empty databases of one engine."""
    if request.param == "sqlite":
        yield (f"sqlite:///{tmp_path / 'a.sqlite'}", f"sqlite:///{tmp_path / 'b.sqlite'}")
        return
    cluster = request.getfixturevalue("pg_cluster")
    names = [f"t_{uuid.uuid4().hex[:16]}" for _ in range(2)]
    urls = [cluster.create_database(n) for n in names]
    yield urls[0], urls[1]
    for name in names:
        cluster.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """URL of a new SQLite file (not created yet) in the test's temp dir."""
    return f"sqlite:///{tmp_path / 'db' / 'dgarchive.sqlite'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_database_url")


@pytest.fixture
def db_engine(db_url: str):
    from pipelines.store import make_engine

    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def migrated_engine(db_engine):
    """`db_engine` with the schema at head."""
    from pipelines.store import upgrade

    upgrade(db_engine)
    return db_engine


@pytest.fixture
def store(migrated_engine):
    from crawler.config import load_towns
    from pipelines.store import RecordStore

    return RecordStore(migrated_engine, towns=load_towns())


# --------------------------------------------------------------------------- test records
# Hand-built records in the contract's shape. The interview is taken from a text capture of a
# Houjie interview page (traditional script, as the site served it).

ARTICLE_BASE = "https://www.dg.gov.cn/houjie/cjjs/tshj/content/post_"
HOST_Q1 = "聽完政府工作報告后,您有什么感受?接下來,厚街鎮有什么樣的總體發展思路?"
GUEST_A1 = (
    "政府工作報告政治站位高、政策舉措實,“含金量”滿滿,充分體現東莞的擔當,更加堅定今后厚街"
    "發展的方向。厚街將勇當“追兵”,再攀高峰,一步一個腳印扎實推進中國式現代化建設的厚街實踐。\n"
    "今年,厚街將積極擴大有效投資。聚焦“兩重”“兩新”領域,統籌做好謀劃儲備、資金爭取、"
    "服務保障等工作,爭取更多項目納入國家和省市“大盤子”。"
)
HOST_Q2 = (
    "當前,人工智能技術日新月異,產業化進程不斷提速。對此,厚街鎮如何進一步培育壯大新興產業,"
    "加快推進新型工業化?"
)
GUEST_A2 = (
    "立足我鎮制造業集群優勢,聚焦鍛長補短、集群強鏈,構建現代化產業體系。\n"
    "一是打好產業發展“優勢牌”。聚焦高端化、智能化、綠色化,加快傳統產業轉型升級。"
)


def capture_for(
    n: int,
    *,
    fetched_at: str = "2026-11-22T00:15:00Z",
    record_id: str | None = None,
    digest: str | None = None,
    filename: str = "DGARCHIVE-20261122001500000-00000-test.warc.gz",
    etag: str | None = None,
) -> dict:
    """A capture dict (docs/architecture.md) for article `n`, as the WARC writer gives it."""
    return {
        "warc_filename": filename,
        "warc_offset": 1000 * n,
        "warc_length": 900,
        "warc_record_id": record_id or f"<urn:uuid:00000000-0000-4000-8000-{n:012d}>",
        "payload_digest": digest or f"sha1:DIGEST{n}",
        "fetched_at": fetched_at,
        "target_uri": f"http://127.0.0.1:8123/houjie/cjjs/tshj/content/post_{n}.html",
        "status": 200,
        "etag": etag,
        "last_modified": None,
    }


def plain_record(n: int, *, text: str | None = None, capture: dict | None = None) -> dict:
    """A simplified-script article that is not an interview."""
    return {
        "url": f"{ARTICLE_BASE}{n}.html",
        "site": "中国东莞厚街镇",
        "column": "图说厚街",
        "title": f"厚街镇新闻第{n}号",
        "published_at": f"2023-03-{(n % 28) + 1:02d}T09:30:00+08:00",
        "source": "本网",
        "script": "hans",
        "text": text if text is not None else f"第{n}条新闻的正文。\n厚街镇举办活动。",
        "images": [],
        "interview": None,
        "anomalies": [],
        "capture": capture if capture is not None else capture_for(n),
        "town": "houjie",
    }


def interview_record(n: int = 3987862, *, capture: dict | None = None) -> dict:
    """An interview in traditional script: a guest, two sections, host and guest turns."""
    return {
        "url": f"{ARTICLE_BASE}{n}.html",
        "site": "中國東莞厚街鎮",
        "column": "圖說厚街",
        "title": "兩會會客廳|厚街鎮黨委書記謝衛東:對標對表 勇挑重擔",
        "published_at": "2025-02-27T21:05:00+08:00",
        "source": "東莞日報",
        "script": "hant",
        "text": "\n".join(
            [
                "訪談嘉賓:東莞市厚街鎮黨委書記謝衛東",
                "內容簡介:2月27日,市十七屆人大五次會議開幕。",
                "訪談記錄",
                "關鍵詞1:談感想",
                "對標對表 勇挑重擔",
                f"東莞日報:{HOST_Q1}",
                f"謝衛東:{GUEST_A1}",
                "關鍵詞2:人工智能",
                "培育壯大新興產業",
                f"東莞日報:{HOST_Q2}",
                f"謝衛東:{GUEST_A2}",
            ]
        ),
        "images": [
            {"src": "https://www.dg.gov.cn/attachment/0/1/2/3.jpg", "alt": "微信圖片_1.jpg"}
        ],
        "interview": {
            "guests": [{"name": "謝衛東", "title": "東莞市厚街鎮黨委書記"}],
            "summary": "2月27日,市十七屆人大五次會議開幕。",
            "sections": [
                {"label": "關鍵詞1", "topic": "談感想", "headline": "對標對表 勇挑重擔"},
                {"label": "關鍵詞2", "topic": "人工智能", "headline": "培育壯大新興產業"},
            ],
            "turns": [
                {"speaker": "東莞日報", "role": "host", "text": HOST_Q1, "section": 0},
                {"speaker": "謝衛東", "role": "guest", "text": GUEST_A1, "section": 0},
                {"speaker": "東莞日報", "role": "host", "text": HOST_Q2, "section": 1},
                {"speaker": "謝衛東", "role": "guest", "text": GUEST_A2, "section": 1},
            ],
        },
        "anomalies": [
            {"kind": "hidden_offsite_link", "detail": "http://spam.example/ 日韓歐美綜合"}
        ],
        "capture": capture if capture is not None else capture_for(n),
        "town": "houjie",
    }


def row_counts(engine) -> dict[str, int]:
    """Rows in every modelled table."""
    from sqlalchemy import func, select

    from pipelines.store.models import Base

    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar()
            for t in Base.metadata.sorted_tables
        }


SYNC_KEYS = ("article_id", "version", "content_hash", "status")  # export's added keys


def contract(record: dict) -> dict:
    """An exported record without the sync keys export adds: the record as saved."""
    return {k: v for k, v in record.items() if k not in SYNC_KEYS}


def exported(record: dict) -> dict:
    """What export gives back for a saved record: no `town`, the capture's location fields."""
    out = {k: v for k, v in record.items() if k not in ("town", "column_path", "capture")}
    cap = record["capture"]
    out["capture"] = {k: cap.get(k) for k in CAPTURE_FIELDS}
    return out


RUN_COLUMNS = {"id", "started_at", "finished_at", "args"}  # the run's own, differ per run


def dump(url: str) -> dict[str, list[tuple]]:
    """Every row of every modelled table, in key order; run ids replaced by their order."""
    from sqlalchemy import select

    from pipelines.store import make_engine
    from pipelines.store.models import Base

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            runs = {
                run_id: f"run{i}"
                for i, run_id in enumerate(
                    conn.scalars(select(Base.metadata.tables["crawl_runs"].c.id).order_by("id"))
                )
            }
            out = {}
            for table in Base.metadata.sorted_tables:
                cols = [
                    c
                    for c in table.columns
                    if table.name != "crawl_runs" or c.name not in RUN_COLUMNS
                ]
                rows = conn.execute(select(*cols).order_by(*table.primary_key.columns))
                out[table.name] = [
                    tuple(runs.get(v, v) if isinstance(v, str) else v for v in row) for row in rows
                ]
            return out
    finally:
        engine.dispose()
