"""The models and the pure helpers around them: constraint names, UTC timestamps on both
engines, the normalized content hash, column paths, date formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipelines.dates import parse_iso
from pipelines.store import (
    CHINA,
    column_path_of,
    content_hash,
    iso_china,
    iso_utc,
)
from pipelines.store.models import Article, Base, Capture, UTCDateTime
from tests.conftest_db import interview_record, plain_record


def test_every_constraint_and_index_has_a_conventional_name():
    prefixes = {
        "PrimaryKeyConstraint": "pk_",
        "UniqueConstraint": "uq_",
        "ForeignKeyConstraint": "fk_",
        "CheckConstraint": "ck_",
    }
    for table in Base.metadata.sorted_tables:
        for constraint in table.constraints:
            kind = type(constraint).__name__
            name = constraint.name
            assert name, f"{table.name}: unnamed {kind}"
            assert name.startswith(prefixes[kind] + table.name), name
            assert len(name) <= 63, name  # PostgreSQL's identifier limit
        for index in table.indexes:
            assert index.name and index.name.startswith("ix_" + table.name), index.name


def test_tables_have_readable_names():
    assert {t.name for t in Base.metadata.sorted_tables} == {
        "towns", "site_columns", "crawl_runs", "captures", "articles", "article_versions",
        "images", "anomalies", "people", "interviews", "interview_guests",
        "interview_sections", "interview_turns",
    }  # fmt: skip


def test_utc_datetime_refuses_naive_values():
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1), None)


def test_timestamps_come_back_aware_and_equal(migrated_engine):
    china_morning = datetime(2023, 2, 27, 7, 30, tzinfo=CHINA)  # the day before, in UTC
    with Session(migrated_engine) as s, s.begin():
        s.add(
            Capture(url="https://www.dg.gov.cn/x", fetched_at=china_morning, warc_type="response")
        )
    with Session(migrated_engine) as s:
        stored = s.scalar(select(Capture.fetched_at))
    assert stored.tzinfo is not None
    assert stored == china_morning
    assert stored.utcoffset() == timedelta(0)
    assert iso_china(stored) == "2023-02-27T07:30:00+08:00"


def test_unique_urls_and_record_ids_are_enforced(migrated_engine):
    now = datetime.now(UTC)
    with pytest.raises(IntegrityError):
        with Session(migrated_engine) as s, s.begin():
            for _ in range(2):
                s.add(
                    Capture(
                        url="u",
                        fetched_at=now,
                        warc_type="response",
                        warc_record_id="<urn:uuid:same>",
                    )
                )
                s.flush()
    with pytest.raises(IntegrityError):
        with Session(migrated_engine) as s, s.begin():
            for _ in range(2):
                s.add(
                    Article(
                        url="https://www.dg.gov.cn/a.html",
                        content_hash="h",
                        first_seen_at=now,
                        last_seen_at=now,
                    )
                )
                s.flush()


@pytest.mark.parametrize(
    ("change", "same"),
    [
        (lambda r: r.update(text=r["text"].replace("\n", "\r\n")), True),
        (lambda r: r.update(text="\u3000\u3000" + r["text"] + "\n\n"), True),
        (lambda r: r.update(title=r["title"] + "  "), True),
        (lambda r: r.update(published_at="2025-02-27T13:05:00+00:00"), True),  # same instant
        (lambda r: r.update(capture={"warc_record_id": "other"}), True),
        (lambda r: r.update(town="elsewhere", column_path="x/y/"), True),
        (lambda r: r.update(anomalies=[]), False),
        (lambda r: r.update(images=[]), False),
        (lambda r: r.update(text=r["text"] + "\n多一段"), False),
        (lambda r: r.update(published_at="2025-02-27T21:06:00+08:00"), False),
        (lambda r: r["interview"]["turns"][0].update(role="guest"), False),
        (lambda r: r["interview"]["guests"][0].update(title="鎮長"), False),
        (lambda r: r.update(source="本網"), False),
    ],
)
def test_content_hash_ignores_what_is_not_a_change(change, same):
    import copy

    record = interview_record()
    other = copy.deepcopy(record)
    change(other)
    assert (content_hash(record) == content_hash(other)) is same


def test_content_hash_is_stable():
    assert content_hash(plain_record(1)) == content_hash(plain_record(1))
    assert content_hash(plain_record(1)).startswith("sha256:")
    assert content_hash(plain_record(1)) != content_hash(plain_record(2))


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://www.dg.gov.cn/houjie/cjjs/tshj/content/post_3987862.html", "houjie/cjjs/tshj/"),
        ("https://www.dg.gov.cn/daojiao/xwzx/zhxw/content/post_1.html", "daojiao/xwzx/zhxw/"),
        ("https://www.dg.gov.cn/houjie/other/page.html", "houjie/other/"),
        ("https://www.dg.gov.cn/index.html", ""),
    ],
)
def test_column_path_of(url, path):
    assert column_path_of(url) == path


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-02-27T10:14:00+08:00", datetime(2023, 2, 27, 2, 14, tzinfo=UTC)),
        ("2023-02-27T10:14:00", datetime(2023, 2, 27, 2, 14, tzinfo=UTC)),  # China time
        ("2026-11-22T00:15:00Z", datetime(2026, 11, 22, 0, 15, tzinfo=UTC)),  # named UTC
        ("not a date", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_datetime_takes_china_time_for_naive_published_dates(value, expected):
    assert parse_iso(value, CHINA) == expected


def test_date_formats():
    moment = datetime(2026, 11, 22, 0, 15, tzinfo=UTC)
    assert iso_utc(moment) == "2026-11-22T00:15:00Z"
    assert iso_utc(moment.replace(microsecond=120000)) == "2026-11-22T00:15:00.12Z"
    assert iso_china(moment) == "2026-11-22T08:15:00+08:00"
    assert iso_utc(moment.astimezone(timezone(timedelta(hours=-5)))) == "2026-11-22T00:15:00Z"
