"""`dgarchive reindex`: rebuild the database from WARC files alone. No network, no Scrapy.

Each article response in the archive goes through the crawl's own code: the page through
`pipelines.pages.extract_record` (with the charset decided as the spider decides it), the
spider's defaults for what the page lacks, the item pipelines' work in their crawl order
(`CleaningPipeline`'s as `pipelines.cleaning.clean_record`, then `RecordStore.save` as
`DatabasePipeline` does), a revisit through
`RecordStore.record_revisit`. Files are
read in name order, which is the order they were written (the name starts with the UTC time
the file was opened), so versions come out as the crawls made them, and the export of the
rebuilt database equals the export of the live one. Reindexing into a database that already
holds the captures adds nothing: a capture is stored once by its WARC-Record-ID.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from crawler import readahead
from crawler.config import load_towns
from crawler.exitcodes import ExitCode
from crawler.readahead import Ahead
from crawler.reindexpages import Pages, events, file_size, say

if TYPE_CHECKING:
    from pipelines.store import RecordStore

# The reading and extraction (`crawler.reindexpages`) import the page objects, the cleaning
# and the WARC reader; the writing the store (SQLAlchemy).
# Imported where each is used, so that a reader process (`READER_PROCESS_MIN_BYTES`) imports
# the one while this process imports the other, on two cores.

BATCH_SIZE = 200
# From this many bytes of WARC files on, the files are read and their pages extracted in a
# child process (`crawler.readahead.Ahead`, forked: no second interpreter to start) on the
# second core, while this process imports the store, checks the schema and writes; below it,
# the fork and the pickling of the records would cost more than they save.
READER_PROCESS_MIN_BYTES = 2_000_000
# With a reader process, the reader hands an article page to this process to extract (it
# sends the page instead of its record) whenever this process has less than HAND_OVER_BELOW
# bytes of the reader's messages left to read (`crawler.readahead.backlog`), that is, when
# it would soon wait for the reader; otherwise the reader extracts the page itself. So
# neither process waits for the other however the work divides on the machine: writing
# costs less than reading and extracting, so this process takes some of the extraction,
# more while it has nothing to write (importing the store, checking the schema) and less on
# a machine where writing costs more. 64 KiB are about 25 records, a few tens of ms of work.
HAND_OVER_BELOW = 1 << 16
# Where the backlog cannot be read (no FIONREAD on pipes), every MAIN_SHARE-th page. On the
# bench archive a fixed share of 5 left this process waiting 0.6-0.9 s for the reader, and
# a share of 2 the reader waiting for this process.
MAIN_SHARE = 3


# The last ENDING_BYTES of the archive (about 200 articles of the mirror) are written in
# batches of ENDING_BATCH_SIZE, and the reader hands no page over there: what is left to do
# after the reader's last record, the write of the batch that holds it, is then a quarter
# of a full batch's (0.14 s of the bench archive's 3.3).
ENDING_BYTES = 1 << 20
ENDING_BATCH_SIZE = BATCH_SIZE // 4


def hand_over(n: int) -> bool:
    """Whether the reader sends the `n`-th article page for this process to extract."""
    left = readahead.backlog()
    return n % MAIN_SHARE == 0 if left is None else left < HAND_OVER_BELOW


WARC_SUFFIXES = (".warc.gz", ".warc")
OPEN_SUFFIXES = tuple(s + ".open" for s in WARC_SUFFIXES)


def archive_files(archive_dir: str | Path) -> tuple[list[Path], list[Path]]:
    """(finished WARC files, `.open` files) under `archive_dir`, each in name order."""
    root = Path(archive_dir)
    done, still_open = [], []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        if path.name.endswith(WARC_SUFFIXES):
            done.append(path)
        elif path.name.endswith(OPEN_SUFFIXES):
            still_open.append(path)
    key = lambda p: (p.name, str(p))  # noqa: E731
    return sorted(done, key=key), sorted(still_open, key=key)


class _Writer:
    """The items of `crawler.reindexpages.events` into the store, in batches: a batch is
    written (`RecordStore.save_items`, in arrival order) when it holds `size` records
    (BATCH_SIZE, ENDING_BATCH_SIZE near the archive's end), after a revisit and at the end
    of a file."""

    def __init__(self, store: RecordStore, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self.batch: list[dict] = []
        self.size = BATCH_SIZE

    def write(self, counts: Counter[str]) -> None:
        if self.batch:
            counts.update(self.store.save_items(self.batch, self.run_id))
            self.batch = []


def _take(event: tuple, writer: _Writer, counts: Counter[str], err: TextIO) -> None:
    """One event of `crawler.reindexpages.events`: a record or revisit into the writer's
    batch, a message to `err`, or a count."""
    kind, value = event
    if kind == "say":
        say(err, value)
        return
    if kind == "count":
        counts[value[0]] += value[1]
        return
    if kind == "ending":
        writer.size = ENDING_BATCH_SIZE
        if len(writer.batch) < writer.size:
            return
    if kind in ("record", "revisit"):
        writer.batch.append(value)
        if kind == "record" and len(writer.batch) < writer.size:
            return
    # a full batch, a revisit (it follows the responses it refers to: written after them),
    # the end of a file, or the archive's end near
    writer.write(counts)


def run_reindex(
    archive_dir: str | Path,
    db_url: str,
    out: TextIO,
    err: TextIO,
    *,
    reader_process: bool | None = None,
) -> int:
    """Rebuild `db_url` from the WARC files under `archive_dir`; returns the exit status.

    0: every record of every finished file read and every article page extracted.
    1: damage or problems, each named on `err` in one line, the rest stored: a damaged spot
    in a file (`FILE: damaged at byte N (M bytes): reason`: a record cut short, marked
    `WARC-Truncated`, a digest mismatch, garbage; reading resumes at the next record), a file
    that cannot be opened, a page that cannot be extracted.
    2: no such archive directory, or no finished WARC file in it (only `.open` files, or
    none at all): nothing to reindex. Database problems raise
    `pipelines.store.DatabaseError` for the command to report.

    `reader_process`: read the files and extract their pages in a child process
    (`crawler.readahead.Ahead`) while this one writes the database; by default when the
    finished files hold at least `READER_PROCESS_MIN_BYTES`. The database is the same
    either way.
    """
    archive = Path(archive_dir)
    if not archive.is_dir():
        say(err, f"error: no archive directory {archive}")
        return int(ExitCode.USAGE)
    files, still_open = archive_files(archive)
    for path in still_open:
        say(
            err,
            f"warning: skipping {path.name}: still open (a crawl is writing it, or died; the "
            "next `dgarchive crawl` on this archive repairs and closes it)",
        )
    if not files:
        if still_open:
            say(
                err,
                f"error: nothing to reindex under {archive}: its {len(still_open)} WARC "
                "file(s) are all .open, i.e. unfinished. If no crawl is running, the next "
                "`dgarchive crawl --archive` on it repairs them (cuts each back to its last "
                "complete record and closes it); then run reindex again",
            )
        else:
            say(err, f"error: nothing to reindex: no *.warc.gz or *.warc file under {archive}")
        return int(ExitCode.USAGE)

    if reader_process is None:
        # Whatever the load: the child is forked (no second interpreter), and on a busy
        # machine two processes get two shares of the CPU.
        reader_process = sum(file_size(p) for p in files) >= READER_PROCESS_MIN_BYTES
    # Forked first: the child imports the page objects and reads while this process
    # imports SQLAlchemy and checks the schema; this one imports the page objects when the
    # reader first hands it a page (about 0.1 CPU-s twice, against 0.13 s before the fork).
    pages: Pages | None = None
    stream: Iterator[tuple] = (
        Ahead(lambda: events(files, hand_over, ENDING_BYTES)) if reader_process else events(files)
    )
    counts: Counter[str] = Counter()
    engine = None
    try:
        from pipelines.store import RecordStore, ensure_schema, make_engine

        engine = make_engine(db_url)
        store = RecordStore(engine, towns=load_towns())
        store.writer_bigrams = True  # batches of new articles: see pipelines.store.bigrams
        store.bulk_inserts = True  # new articles as plain rows: see pipelines.store.bulk
        run_id = str(uuid.uuid4())
        writer = _Writer(store, run_id)
        ensure_schema(engine)
        store.start_run(run_id, {"command": "reindex", "archive": str(archive)}, kind="reindex")
        for kind, value in stream:
            if kind == "page":  # this process's share of the extraction
                pages = pages or Pages()
                for event in pages.events(*value):
                    _take(event, writer, counts, err)
            else:
                _take((kind, value), writer, counts, err)
        writer.write(counts)
        problems = counts["failed_pages"] + counts["unreadable_files"] + counts["damaged_spots"]
        store.finish_run(
            run_id,
            "finished" if not problems else "partial",
            {
                "files": counts["files"],
                "unreadable_files": counts["unreadable_files"],
                "damaged_files": counts["damaged_files"],
                "damaged_spots": counts["damaged_spots"],
                "skipped_open_files": len(still_open),
                "new_articles": counts["new"],
                "changed_articles": counts["changed"],
                "unchanged_articles": counts["unchanged"],
                "revisits": counts["revisits"],
                "failed_pages": counts["failed_pages"],
                "dropped": counts["dropped"],
            },
        )
    finally:
        if isinstance(stream, Ahead):
            stream.close()
        if engine is not None:
            engine.dispose()
    trouble = []
    if counts["damaged_spots"]:
        trouble.append(
            f"{counts['damaged_spots']} damaged spot(s) in {counts['damaged_files']} file(s) "
            "skipped"
        )
    if counts["unreadable_files"]:
        trouble.append(f"{counts['unreadable_files']} file(s) unreadable")
    if counts["failed_pages"]:
        trouble.append(f"{counts['failed_pages']} page(s) not extracted")
    print(
        f"reindexed {counts['files']} WARC file(s): {counts['new']} new, "
        f"{counts['changed']} changed, {counts['unchanged']} unchanged articles, "
        f"{counts['revisits']} revisits"
        + (f"; {', '.join(trouble)}, see stderr" if trouble else ""),
        file=out,
    )
    return int(ExitCode.PARTIAL if problems else ExitCode.OK)
