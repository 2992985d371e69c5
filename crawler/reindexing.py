"""`dgarchive reindex`: rebuild the database from WARC files alone. No network, no Scrapy.

Each article response in the archive goes through the crawl's own code: the page through
`pipelines.pages.extract_record` (with the charset decided as the spider decides it), the
spider's defaults for what the page lacks, the item pipelines in their crawl order
(`CleaningPipeline`, then `RecordStore.save` as `DatabasePipeline` does), a revisit through
`RecordStore.record_revisit`. Files are
read in name order, which is the order they were written (the name starts with the UTC time
the file was opened), so versions come out as the crawls made them, and the export of the
rebuilt database equals the export of the live one. Reindexing into a database that already
holds the captures adds nothing: a capture is stored once by its WARC-Record-ID.
"""

from __future__ import annotations

import io
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from crawler.config import Column, canonical_urls, load_towns
from crawler.exitcodes import ExitCode
from crawler.readahead import Ahead
from pipelines import writerboot

if TYPE_CHECKING:
    from pipelines.store.itemwriter import ItemWriter
    from pipelines.warc.reader import ArchivedResponse

# The reading and extraction (`_events`) import the page objects, the cleaning pipeline (and
# with it Scrapy) and the WARC reader; the writing the store (SQLAlchemy). Imported where
# each is used, so that a reader process (`READER_PROCESS_MIN_BYTES`) imports the one while
# this process imports the other, on two cores.

BATCH_SIZE = 200
# From this many bytes of WARC files on, the files are read and their pages extracted in a
# child process (`crawler.readahead.Ahead`, forked: no second interpreter to start) on the
# second core, while this process imports the store, checks the schema and writes; below it,
# the fork and the pickling of the records would cost more than they save.
READER_PROCESS_MIN_BYTES = 2_000_000


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


class ArticleEnricher:
    """Builds records as the spider does (`pipelines.pages.article_record`), finding the
    column the spider was crawling from the article URL's folder, which is the listed
    column on this site."""

    def __init__(self) -> None:
        from pipelines.pages import article_record

        self._article_record = article_record
        towns = load_towns()
        self.towns = {t.slug: t for t in towns}
        self.columns = {c.path: c for t in towns for c in t.columns}

    def column_for(self, url: str) -> Column:
        from pipelines.store.transforms import column_path_of

        path = column_path_of(url)
        return self.columns.get(path) or Column(path=path, name="", town=path.split("/")[0])

    def record(self, body: bytes, url: str, encoding: str | None) -> dict:
        column = self.column_for(url)
        town = self.towns.get(column.town)
        return self._article_record(
            body,
            url,
            encoding=encoding,
            town=column.town,
            column_path=column.path,
            column_name=column.name,
            site=town.site if town is not None else None,
        )


def _header(capture: ArchivedResponse, name: str) -> str | None:
    headers = capture.http_headers
    return headers.get_header(name) if headers is not None else None


def _encoding(capture: ArchivedResponse) -> str | None:
    """The charset label as the spider takes it (`pipelines.pages.encoding.http_charset`)."""
    from pipelines.pages.encoding import http_charset

    return http_charset(_header(capture, "Content-Type"))


def _site_roots(
    files: list[Path], site_root_of: Callable[[Path], str | None], err: TextIO
) -> dict[Path, str | None]:
    """Each file's site root, from its warcinfo; for a file whose warcinfo is damaged, the
    nearest other file's (the one before, else after), so its mirror URLs still map back to
    www.dg.gov.cn URLs instead of being skipped as off-site."""
    own: dict[Path, str | None] = {}
    for p in files:
        try:
            own[p] = site_root_of(p)
        except OSError:
            pass  # reading the file reports it
    roots: dict[Path, str | None] = {}
    for i, path in enumerate(files):
        if own.get(path) is not None or path not in own:
            roots[path] = own.get(path)
            continue
        before = [own[p] for p in reversed(files[:i]) if own.get(p) is not None]
        after = [own[p] for p in files[i + 1 :] if own.get(p) is not None]
        guess = (before or after or [None])[0]
        roots[path] = guess
        _say(
            err,
            f"warning: {path.name}: no complete warcinfo record first; its fetch URLs are "
            + (
                f"mapped with the site root {guess or 'https://www.dg.gov.cn/'} of another file"
                if guess is not None
                else "taken as www.dg.gov.cn URLs"
            ),
        )
    return roots


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # reading the file reports it


def printable(text: str) -> str:
    """`text` safe for a terminal or a log: control and unprintable characters escaped.

    File names, URLs and reasons can come from damaged bytes; stderr gets none of them raw.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _say(err: TextIO, message: str) -> None:
    print("dgarchive: " + printable(message), file=err)


def _events(files: list[Path]) -> Iterator[tuple]:
    """What reading `files` gives, in order: `("record", record)` (extracted and cleaned),
    `("revisit", item)`, `("end", path)` after each file, `("say", message)` for stderr,
    `("count", (key, n))`. Picklable, for a reader process (`crawler.readahead.Ahead`)."""
    from scrapy.exceptions import DropItem

    from pipelines.cleaning import CleaningPipeline
    from pipelines.pages import is_article_url
    from pipelines.warc.reader import WarcReadError, describe, read_warc, site_root_of
    from pipelines.warc.scan import Damage

    enricher = ArticleEnricher()
    cleaner = CleaningPipeline()
    said = io.StringIO()
    roots = _site_roots(files, site_root_of, said)
    for line in said.getvalue().splitlines():
        yield ("say", line.removeprefix("dgarchive: "))
    for path in files:
        damaged = 0
        try:
            for cap in read_warc(path, site_root=roots.get(path), canonical_urls=canonical_urls):
                if isinstance(cap, Damage):
                    damaged += 1
                    yield ("say", f"warning: {path.name}: {describe(cap)}")
                    continue
                url = cap.canonical_url
                if not url or not is_article_url(url):
                    continue
                capture = dict(cap.capture)
                capture["etag"] = _header(cap, "ETag")
                capture["last_modified"] = _header(cap, "Last-Modified")
                if cap.warc_type == "revisit":
                    yield ("revisit", {"revisit": True, "url": url, "capture": capture})
                    continue
                if cap.status != 200 or cap.body is None:
                    continue
                try:
                    record = enricher.record(cap.body, url, _encoding(cap))
                except Exception as exc:  # noqa: BLE001 - the live crawl skipped it too
                    yield ("count", ("failed_pages", 1))
                    where = f"{path.name}@{capture.get('warc_offset')}"
                    yield ("say", f"warning: cannot extract {url} ({where}): {exc}")
                    continue
                record["capture"] = capture
                try:
                    record = cleaner.process_item(record)
                except DropItem:
                    yield ("count", ("dropped", 1))  # the crawl dropped it too
                    continue
                yield ("record", record)
            yield ("count", ("files", 1))
        except WarcReadError as exc:
            yield ("count", ("unreadable_files", 1))
            yield ("say", f"warning: {exc}")
        if damaged:
            yield ("count", ("damaged_spots", damaged))
            yield ("count", ("damaged_files", 1))
        yield ("end", path)  # keep what this file gave even if a later one fails


def run_reindex(
    archive_dir: str | Path,
    db_url: str,
    out: TextIO,
    err: TextIO,
    *,
    reader_process: bool | None = None,
    writer_process: bool = False,
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
    finished files hold at least `READER_PROCESS_MIN_BYTES`. `writer_process`: write the database in a spawned writer process
    (`ItemWriter`) instead, while this one reads and extracts; off by default. The database
    is the same either way.
    """
    archive = Path(archive_dir)
    if not archive.is_dir():
        _say(err, f"error: no archive directory {archive}")
        return int(ExitCode.USAGE)
    files, still_open = archive_files(archive)
    for path in still_open:
        _say(
            err,
            f"warning: skipping {path.name}: still open (a crawl is writing it, or died; the "
            "next `dgarchive crawl` on this archive repairs and closes it)",
        )
    if not files:
        if still_open:
            _say(
                err,
                f"error: nothing to reindex under {archive}: its {len(still_open)} WARC "
                "file(s) are all .open, i.e. unfinished. If no crawl is running, the next "
                "`dgarchive crawl --archive` on it repairs them (cuts each back to its last "
                "complete record and closes it); then run reindex again",
            )
        else:
            _say(err, f"error: nothing to reindex: no *.warc.gz or *.warc file under {archive}")
        return int(ExitCode.USAGE)

    if reader_process is None:
        # Whatever the load: the child is forked (no second interpreter), and on a busy
        # machine two processes get two shares of the CPU.
        reader_process = (
            not writer_process and sum(_size(p) for p in files) >= READER_PROCESS_MIN_BYTES
        )
    # Forked first, before this process imports the store: the child imports the page
    # objects and reads while this one imports SQLAlchemy and checks the schema.
    events: Iterator[tuple] = Ahead(lambda: _events(files)) if reader_process else _events(files)
    counts: Counter[str] = Counter()
    writer: ItemWriter | None = None
    engine = None
    try:
        from pipelines.store import RecordStore, ensure_schema, make_engine
        from pipelines.store.itemwriter import ItemWriter

        engine = make_engine(db_url)
        towns = load_towns()
        store = RecordStore(engine, towns=towns)
        store.writer_bigrams = True  # batches of new articles: see pipelines.store.bigrams
        store.bulk_inserts = True  # new articles as plain rows: see pipelines.store.bulk
        run_id = str(uuid.uuid4())
        # Started first, so the writer process starts up while the schema is checked; it
        # writes nothing before the first batch.
        writer = ItemWriter(
            store,
            db_url,
            run_id,
            towns=towns,
            process=writerboot.new_writer_process() if writer_process else None,
        )
        ensure_schema(engine)
        store.start_run(run_id, {"command": "reindex", "archive": str(archive)}, kind="reindex")
        batch: list[dict] = []
        for kind, value in events:
            if kind == "record":
                batch.append(value)
                if len(batch) < BATCH_SIZE:
                    continue
            elif kind == "revisit":
                # A revisit follows the responses it refers to: written after them.
                batch.append(value)
            elif kind == "say":
                _say(err, value)
                continue
            elif kind == "count":
                counts[value[0]] += value[1]
                continue
            if batch:  # a full batch, a revisit, or the end of a file
                writer.write(batch[:])  # the process mode pickles it later: a copy
                batch.clear()
        if batch:
            writer.write(batch)
        counts.update(writer.finish())
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
        if isinstance(events, Ahead):
            events.close()
        if writer is not None:
            writer.close()
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
