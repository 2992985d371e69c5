"""Bulk inserts of a batch's NEW articles (`RecordStore.bulk_inserts`, set by `reindex`).

A record whose article is neither in the database nor earlier in its batch (the usual case
when `reindex` rebuilds a fresh database) becomes plain rows (`pipelines.store.rows`), not
ORM objects, and the batch's rows go in one `executemany` per table. The store assigns the
primary keys up front, so that child rows name their parents without a round trip: SQLite
`max(id) + 1` on, read once per batch while the batch holds the writer's lock; PostgreSQL
`nextval` of each table's sequence. The ids come out as the ORM's flush gives them (in the
order the records come, table by table), so the database is the very one `save` writes
without bulk inserts (tests/test_store_bulk.py compares every table on both engines).

Articles already stored, or seen earlier in the batch (a second capture of the same page),
go the ORM way (`RecordStore._save_one`): `plan` cuts a batch into runs of each kind, written
in record order.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, bindparam, insert, text, update
from sqlalchemy.orm import Session

from pipelines.store.batch import Batch
from pipelines.store.bigrams import WriterBigrams
from pipelines.store.declarative import UTCDateTime
from pipelines.store.models import Base
from pipelines.store.rows import TABLES, Ids, NewRows, guest_names, row_counts
from pipelines.store.transforms import content_hash
from pipelines.store.trigrams import WriterTrigrams

if TYPE_CHECKING:
    from pipelines.store.writer import RecordStore

__all__ = ["BULK_DIALECTS", "Run", "plan", "write_new"]

BULK_DIALECTS = ("sqlite", "postgresql")


class Run:
    """A run of consecutive records of one batch: `new` ones (bulk rows; a record whose
    capture is stored already is skipped, as `_save_one` skips it) or not (the ORM way)."""

    def __init__(self, new: bool) -> None:
        self.new = new
        self.records: list[dict] = []
        self.skipped = 0  # captures stored already (counted unchanged)

    @classmethod
    def orm(cls, records: list[dict]) -> Run:
        run = cls(new=False)
        run.records = records
        return run


def _rid(record: dict) -> str | None:
    capture = record.get("capture") or None
    return capture.get("warc_record_id") if capture else None


def plan(records: list[dict], batch: Batch) -> list[Run]:
    """`records` cut into runs of new articles and of the others, in order, by what
    `_save_one` would do with each given `batch` (what the database holds)."""
    record_ids = set(batch.record_ids)
    urls = set(batch.articles)
    runs: list[Run] = []
    for record in records:
        rid = _rid(record)
        if rid and rid in record_ids:
            if runs and runs[-1].new:
                runs[-1].skipped += 1  # nothing to write: stays in the run
                continue
            new = False  # an ORM run counts it
        else:
            if rid:
                record_ids.add(rid)
            url = record["url"].strip()
            new = url not in urls
            urls.add(url)
        if not runs or runs[-1].new != new:
            runs.append(Run(new))
        runs[-1].records.append(record)
    return runs


def write_new(store: RecordStore, s: Session, run: Run, run_id: str | None, batch: Batch) -> int:
    """Write `run` (new articles) in bulk; the number of articles written."""
    records = run.records
    if not records:
        return 0
    digests = [content_hash(r) for r in records]
    # Towns, columns and people: few rows, through the ORM as `_save_one` makes them, in
    # record order (their ids as it gives them), written before the bulk rows need their ids.
    columns = [store._column(s, r["url"].strip(), r, batch) for r in records]
    for record in records:
        for name in guest_names(record):
            store._person(s, name, batch)
    s.flush()
    people = {name: person.id for name, person in batch.people.items()}
    rows = NewRows(Ids(_allocate(s, row_counts(records))))
    for record, digest, column in zip(records, digests, columns, strict=True):
        rows.add(record, digest, run_id, column.id if column is not None else None, people)
    _insert(store, s, rows)
    store.rows_written += rows.count()
    return len(records)


def _allocate(s: Session, counts: dict[str, int]) -> dict[str, Iterator[int]]:
    """Primary keys for `counts[table]` new rows of each table."""
    wanted = [t for t in TABLES if counts[t]]
    if s.get_bind().dialect.name == "sqlite":
        # The writer's lock first (a write that changes nothing), so that no other writer
        # inserts between the read of max(id) and the inserts.
        s.execute(text("UPDATE articles SET id = id WHERE 0"))
        tops = s.execute(
            text("SELECT " + ", ".join(f"(SELECT max(id) FROM {t})" for t in wanted))
        ).one()
        ids = {
            t: iter(range((top or 0) + 1, (top or 0) + 1 + counts[t]))
            for t, top in zip(wanted, tops, strict=True)
        }
    else:
        ids = {}
        for t in wanted:  # the sequence behind the table's serial key, in ascending order
            got = s.scalars(
                text(
                    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"table": t, "n": counts[t]},
            ).all()
            ids[t] = iter(sorted(got))
    return {t: ids.get(t, iter(())) for t in TABLES}


def _insert(store: RecordStore, s: Session, rows: NewRows) -> None:
    tables = Base.metadata.tables
    sqlite = s.get_bind().dialect.name == "sqlite"
    articles = rows.tables["articles"]
    bigrams = WriterBigrams(s) if store.writer_bigrams else None
    trigrams = WriterTrigrams(s)
    times: dict[datetime, Any] = {}  # timestamps bound: an article's times are one, mostly
    if bigrams is not None:
        bigrams.before_flush()
    trigrams.before_insert()
    if sqlite:
        # articles.current_version_id and article_versions.article_id name each other:
        # checked at the commit, as the rows are all there by then.
        s.execute(text("PRAGMA defer_foreign_keys = ON"))
        _page_cache(s)
        _insert_rows(s, tables["articles"], articles, times)
    else:
        s.execute(
            insert(tables["articles"]),
            [{**a, "current_version_id": None} for a in articles],
        )
    for name in TABLES[1:]:
        if rows.tables[name]:
            _insert_rows(s, tables[name], rows.tables[name], times)
    if not sqlite:
        table = tables["articles"]
        s.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(current_version_id=bindparam("b_version")),
            [{"b_id": a["id"], "b_version": a["current_version_id"]} for a in articles],
        )
    trigrams.after_insert(articles[0]["id"], articles[-1]["id"])
    if bigrams is not None:
        bigrams.after_rows(articles)


# The page cache of the writer's connection while it writes bulk rows, in KiB. SQLite's
# default (2 MiB) holds less than a batch's rows, index and FTS pages: with it, the 2,000
# articles of `bench_reindex` took 51,000 page writes and 26,000 reads (dirty pages spilled
# to the WAL before the commit, pages read again), against 34,000 and 9,600 with 8 MiB or
# more; those calls' system time was about 15% of the store's CPU.
BULK_PAGE_CACHE_KIB = 32 * 1024


def _page_cache(s: Session) -> None:
    """Give the connection a page cache of at least `BULK_PAGE_CACHE_KIB` (a setting of the
    connection, kept after the batch; what the database holds is the same whatever it is)."""
    size = s.scalar(text("PRAGMA cache_size"))
    if size is not None and -BULK_PAGE_CACHE_KIB < size < 0:  # negative: a size in KiB
        s.execute(text(f"PRAGMA cache_size = -{BULK_PAGE_CACHE_KIB}"))


def _insert_rows(
    s: Session, table: Table, rows: list[dict[str, Any]], times: dict[datetime, Any]
) -> None:
    """`s.execute(insert(table), rows)`. On SQLite, for rows that give every column of
    `table` (as `NewRows` makes them), one `executemany` of the INSERT with each column's
    own bind processor (SQLAlchemy's: the very values it would bind, timestamps and JSON
    as the same text) applied to the columns that have one, without SQLAlchemy's per-row
    parameter building. A `UTCDateTime` value's bound form depends on its instant alone
    (equal aware datetimes are the same instant): each is converted once, then taken from
    `times`."""
    conn = s.connection()
    dialect = conn.dialect
    columns = list(table.columns)
    if (
        dialect.name != "sqlite"
        or dialect.paramstyle != "qmark"
        or len(columns) < 2  # itemgetter of one key gives no tuple
        or set(rows[0]) != {c.key for c in columns}  # SQLAlchemy fills what is missing
    ):
        s.execute(insert(table), rows)
        return
    quote = dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})"
    )
    processors = [
        (i, proc, isinstance(c.type, UTCDateTime))
        for i, c in enumerate(columns)
        if (proc := c.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]
    values = operator.itemgetter(*(c.key for c in columns))
    params = []
    for row in rows:
        got = list(values(row))
        for i, proc, timestamp in processors:
            value = got[i]
            if not timestamp:
                got[i] = proc(value)
            elif value is None:  # NULL, as `UTCDateTime` binds it
                continue
            elif (bound := times.get(value)) is not None:
                got[i] = bound
            else:
                got[i] = times[value] = proc(value)
        params.append(tuple(got))
    conn.exec_driver_sql(sql, params)
