"""`reindex` reading and extracting in a forked reader process (`crawler.readahead.Ahead`),
with a share of the pages extracted in its own process, gives the very database and output
it gives reading in its own process, on both engines."""

from __future__ import annotations

import io
import os
import threading

import pytest

from crawler import reindexing
from crawler.reindexing import run_reindex
from tests.test_export_reindex import archive  # noqa: F401 - the fixture
from tests.test_reindex_writer import dump


@pytest.mark.parametrize("share", [1, 2])
def test_the_reader_process_writes_the_same_database(archive, two_urls, share, monkeypatch):  # noqa: F811
    assert threading.active_count() == 1  # else `Ahead` would not fork: nothing tested
    monkeypatch.setattr(reindexing, "MAIN_SHARE", share)
    forks = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    here, there = two_urls
    outputs = []
    for url, reader in ((here, False), (there, True)):
        out, err = io.StringIO(), io.StringIO()
        assert run_reindex(archive["root"], url, out, err, reader_process=reader) == 0
        outputs.append((out.getvalue(), err.getvalue()))
    assert len(forks) == 1
    assert outputs[0] == outputs[1]
    assert "2 new, 1 changed" in outputs[0][0] and "1 revisits" in outputs[0][0]
    a, b = dump(here), dump(there)
    assert a["articles"] and a["captures"] and a["interview_turns"]
    assert a == b
