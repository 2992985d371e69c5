"""`reindex` reading and extracting in a forked reader process (`crawler.readahead.Ahead`),
with a share of the pages extracted in its own process, gives the very database and output
it gives reading in its own process, on both engines, whatever the share."""

from __future__ import annotations

import io
import os
import threading

import pytest

from crawler import readahead, reindexing, reindexpages
from crawler.reindexing import run_reindex
from tests.conftest_db import dump
from tests.test_export_reindex import archive  # noqa: F401 - the fixture

# How the reader hands pages over, and how many of the archive's 3 article pages go over:
# by the backlog in the pipe (this archive is small, so every page goes over), except in the
# archive's last ENDING_BYTES (the default: this archive's second file, which holds one of
# the pages, is all within them, so it is written in ENDING_BATCH_SIZE batches too); never (a
# backlog limit of 0); where the backlog cannot be read, every MAIN_SHARE-th page.
POLICIES = {
    "backlog, then the ending": ({}, 2),
    "backlog": ({"ENDING_BYTES": 0}, 3),
    "never": ({"HAND_OVER_BELOW": 0}, 0),
    "every page": ({"MAIN_SHARE": 1, "backlog": None, "ENDING_BYTES": 0}, 3),
    "every 2nd page": ({"MAIN_SHARE": 2, "backlog": None, "ENDING_BYTES": 0}, 1),
    "batches of 1 in the ending": ({"ENDING_BATCH_SIZE": 1}, 2),
}


@pytest.mark.parametrize("policy", list(POLICIES))
def test_the_reader_process_writes_the_same_database(archive, two_urls, policy, monkeypatch):  # noqa: F811
    assert threading.active_count() == 1  # else `Ahead` would not fork: nothing tested
    changes, handed_over = POLICIES[policy]
    for name, value in changes.items():
        if name == "backlog":
            monkeypatch.setattr(readahead, "backlog", lambda value=value: value)
        else:
            monkeypatch.setattr(reindexing, name, value)
    extracted_here = []
    real_events = reindexpages.Pages.events

    def events(self, *args):
        extracted_here.append(args[1])
        return real_events(self, *args)

    forks = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    here, there = two_urls
    monkeypatch.setattr(reindexpages.Pages, "events", events)  # counts this process's pages
    outputs = []
    for url, reader in ((here, False), (there, True)):
        out, err = io.StringIO(), io.StringIO()
        extracted_here.clear()
        assert run_reindex(archive["root"], url, out, err, reader_process=reader) == 0
        outputs.append((out.getvalue(), err.getvalue()))
    assert len(forks) == 1
    assert len(extracted_here) == handed_over  # of the archive's 3 article pages
    assert outputs[0] == outputs[1]
    assert "2 new, 1 changed" in outputs[0][0] and "1 revisits" in outputs[0][0]
    a, b = dump(here), dump(there)
    assert a["articles"] and a["captures"] and a["interview_turns"]
    assert a == b
