"""The frozen heap (issue 15): the crawl process and the database writer process freeze their
start-up heap and raise the young collections' threshold; the crawl undoes it when its engine
stops, and FROZEN_HEAP = False leaves the collector alone."""

from __future__ import annotations

import asyncio
import gc

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler import settings as project_settings
from crawler.heap import FrozenHeap
from pipelines.database import DatabasePipeline
from pipelines.heap import DEFAULT_THRESHOLD, freeze_heap, thaw_heap


@pytest.fixture
def gc_state():
    """The collector as the test found it, restored whatever the test did."""
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    yield before
    gc.unfreeze()
    gc.set_threshold(*before)


def test_freeze_and_thaw(gc_state):
    kept = [{"n": n} for n in range(1000)]  # alive now: frozen
    before = freeze_heap(5000)
    assert before == gc_state
    assert gc.get_threshold() == (5000, *gc_state[1:])
    assert gc.get_freeze_count() >= len(kept)
    young = [[n] for n in range(100)]
    assert all(gc.is_tracked(x) for x in young)  # new objects are collected as before
    thaw_heap(before)
    assert gc.get_threshold() == gc_state
    assert gc.get_freeze_count() == 0


def test_frozen_garbage_cycles_are_collected_after_the_thaw(gc_state):
    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a
    del a, b
    before = freeze_heap()
    assert gc.collect() == 0  # the cycle is frozen: no collection sees it
    thaw_heap(before)
    assert gc.collect() >= 2


def test_the_extension_freezes_at_spider_open_and_thaws_when_the_engine_stops(gc_state):
    crawler = get_crawler(settings_dict={"FROZEN_HEAP_THRESHOLD": 12_000})
    ext = FrozenHeap.from_crawler(crawler)
    assert gc.get_freeze_count() == 0
    ext.spider_opened()
    assert gc.get_threshold() == (12_000, *gc_state[1:])
    frozen = gc.get_freeze_count()
    assert frozen > 0
    ext.spider_opened()  # once
    ext.engine_stopped()
    assert gc.get_threshold() == gc_state
    assert gc.get_freeze_count() == 0
    ext.engine_stopped()  # nothing left to undo
    assert gc.get_threshold() == gc_state


def test_the_extension_is_on_by_default_and_can_be_turned_off(gc_state):
    assert project_settings.FROZEN_HEAP is True
    assert project_settings.FROZEN_HEAP_THRESHOLD == DEFAULT_THRESHOLD
    assert "crawler.heap.FrozenHeap" in project_settings.EXTENSIONS
    assert FrozenHeap.from_crawler(get_crawler()).threshold == DEFAULT_THRESHOLD
    with pytest.raises(NotConfigured):
        FrozenHeap.from_crawler(get_crawler(settings_dict={"FROZEN_HEAP": False}))


def _writer_gc() -> tuple[tuple[int, int, int], int]:
    return gc.get_threshold(), gc.get_freeze_count()


@pytest.mark.parametrize("frozen_heap", [7_000, None])
def test_the_writer_process_freezes_its_heap_once_the_store_is_open(
    tmp_path, gc_state, frozen_heap
):
    pipeline = DatabasePipeline(
        f"sqlite:///{tmp_path / 'db.sqlite'}", writer="process", frozen_heap=frozen_heap
    )
    seen = []

    async def crawl():
        await pipeline.open_spider()
        fut = pipeline._executor.submit(_writer_gc)  # after the store's open, in order
        await pipeline._wait(fut)
        seen.append(fut.result())
        await pipeline.close_spider()
        await pipeline.spider_closed(reason="finished")

    asyncio.run(crawl())
    (thresholds, frozen), = seen
    if frozen_heap is None:
        assert thresholds[0] != 7_000 and frozen == 0
    else:
        assert thresholds[0] == 7_000 and frozen > 10_000  # the store's imports among them
    assert gc.get_threshold() == gc_state  # the crawl process's own is the extension's


def test_a_thread_writer_leaves_the_crawl_process_alone(tmp_path, gc_state):
    pipeline = DatabasePipeline(
        f"sqlite:///{tmp_path / 'db.sqlite'}", writer="thread", frozen_heap=7_000
    )

    async def crawl():
        await pipeline.open_spider()
        await pipeline.close_spider()
        await pipeline.spider_closed(reason="finished")

    asyncio.run(crawl())
    assert gc.get_threshold() == gc_state and gc.get_freeze_count() == 0


def test_the_pipeline_reads_the_settings():
    on = DatabasePipeline.from_crawler(get_crawler(settings_dict={"FROZEN_HEAP_THRESHOLD": 9000}))
    off = DatabasePipeline.from_crawler(get_crawler(settings_dict={"FROZEN_HEAP": False}))
    assert (on.frozen_heap, off.frozen_heap) == (9000, None)
    assert DatabasePipeline.from_crawler(get_crawler()).frozen_heap == DEFAULT_THRESHOLD
