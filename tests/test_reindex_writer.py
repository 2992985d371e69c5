"""`reindex` writing through a writer process (`pipelines.store.itemwriter`) gives the very
database it gives writing in its own process, on both engines; a failed batch stops the
writing as it does in one process."""

from __future__ import annotations

import io
import uuid

import pytest
from sqlalchemy import select

from crawler.reindexing import run_reindex
from pipelines import writerboot
from pipelines.store import RecordStore, ensure_schema, make_engine
from pipelines.store.itemwriter import ItemWriter
from pipelines.store.models import Base
from tests.conftest_db import plain_record
from tests.test_export_reindex import archive  # noqa: F401 - the fixture

RUN_COLUMNS = {"id", "started_at", "finished_at", "args"}  # the run's own, differ per run


def dump(url: str) -> dict[str, list[tuple]]:
    """Every row of every modelled table, in key order; run ids replaced by their order."""
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


def test_the_writer_process_writes_the_same_database(archive, two_urls):  # noqa: F811
    here, there = two_urls
    outputs = []
    for url, process in ((here, False), (there, True)):
        out, err = io.StringIO(), io.StringIO()
        assert run_reindex(archive["root"], url, out, err, writer_process=process) == 0
        outputs.append((out.getvalue(), err.getvalue()))
    assert outputs[0] == outputs[1]
    assert "2 new, 1 changed" in outputs[0][0] and "1 revisits" in outputs[0][0]
    a, b = dump(here), dump(there)
    assert a["articles"] and a["captures"] and a["interview_turns"]
    assert a == b


def test_a_failed_batch_stops_the_writer_process(sqlite_url):
    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    store = RecordStore(engine)
    run_id = str(uuid.uuid4())
    store.start_run(run_id, {}, kind="reindex")
    writer = ItemWriter(store, sqlite_url, run_id, process=writerboot.new_writer_process())
    try:
        writer.write([plain_record(1)])
        writer.write([{"url": ""}])  # no URL: `save` refuses the batch
        writer.write([plain_record(2)])
        with pytest.raises(ValueError, match="no url"):
            writer.finish()
    finally:
        writer.close()
    try:
        assert set(store.known_articles()) == {plain_record(1)["url"]}
    finally:
        engine.dispose()
