"""Writing the store: `RecordStore`, the one writer of records (with their capture), used by
the crawl's pipeline and by `reindex` alike. Crawl runs (`runs.py`) and what revisits find
(`status.py`) are mixins of it; reads delegate to `reader.py`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from pipelines.dates import parse_iso
from pipelines.records import ArticleRecord
from pipelines.store import reader
from pipelines.store.batch import Batch
from pipelines.store.bigrams import WriterBigrams
from pipelines.store.bulk import BULK_DIALECTS, Run, plan, write_new
from pipelines.store.conflicts import CONFLICT_RETRIES, is_conflict
from pipelines.store.engine import make_engine
from pipelines.store.failures import DatabaseError, translated
from pipelines.store.labels import SiteLabels, TownLike
from pipelines.store.models import (
    Anomaly,
    Article,
    ArticleVersion,
    Capture,
    Image,
    Interview,
    InterviewGuest,
    InterviewSection,
    InterviewTurn,
    Person,
    SiteColumn,
    Town,
)
from pipelines.store.runs import CrawlRuns, ensure_run
from pipelines.store.status import ArticleStatus, mark_seen
from pipelines.store.transforms import (
    CHINA,
    capture_row,
    clean_text,
    column_path_of,
    content_hash,
    dicts,
    fidelity_extra,
    make_current,
    validate_record,
    version_record,
)
from pipelines.text import to_simplified

__all__ = ["RecordStore"]


class RecordStore(CrawlRuns, ArticleStatus):
    """Writes records (with their capture) and reads them back. The crawl's pipeline and
    `reindex` both write through `save`, so a rebuilt database equals the live one.

    Versions: a record whose normalized content hash equals its article's current one adds a
    captures row only; a different hash adds a version. The version with the latest capture
    is current, so WARC files may be replayed in any order. A capture already stored (same
    WARC-Record-ID) is skipped entirely.
    """

    def __init__(self, engine: Engine | str | URL, *, towns: Iterable[TownLike] = ()) -> None:
        """`towns`: the configured towns (with their columns), which name the town and
        column rows a record creates; without them a new town is named by its slug."""
        self.labels = SiteLabels.of(towns)
        self._owned = not isinstance(engine, Engine)
        self.engine = make_engine(engine) if self._owned else engine
        self.rows_written = 0  # rows inserted or updated, over the store's life
        # SQLite: the bigram index of a batch's new articles filled by `save` instead of
        # its insert trigger (`pipelines.store.bigrams`); set by `reindex`.
        self.writer_bigrams = False
        # A batch's new articles written as plain rows, one executemany per table
        # (`pipelines.store.bulk`); set by `reindex`.
        self.bulk_inserts = False

    def close(self) -> None:
        """Dispose of the engine if the store made it from a URL."""
        if self._owned:
            self.engine.dispose()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with translated(self.engine):
            with Session(self.engine, expire_on_commit=False, autoflush=False) as session:
                event.listen(session, "before_flush", self._count_rows)
                with session.begin():
                    yield session

    def _count_rows(self, session: Session, _ctx: Any, _instances: Any) -> None:
        dirty = sum(1 for obj in session.dirty if session.is_modified(obj))
        self.rows_written += len(session.new) + dirty

    # writing --------------------------------------------------------------

    def save_items(self, items: Iterable[dict], run_id: str) -> dict[str, int]:
        """Write items in arrival order: each run of records in one `save` batch; an item
        with `article_status` (a 404/410 or a move) through `record_status`; a revisit
        (`{"revisit": True, "url", "capture"}`) through `record_revisit`. The one definition
        of what a crawl's or a reindex's batch does to the database, wherever it runs.
        Counts of new, changed and unchanged articles, revisits and withdrawn ones."""
        counts = dict.fromkeys(("new", "changed", "unchanged", "revisits", "withdrawn"), 0)
        records: list[dict] = []
        for item in [*items, None]:
            if item is not None and not item.get("revisit"):
                records.append(item)
                continue
            if records:
                for key, n in self.save(records, run_id).items():
                    counts[key] = counts.get(key, 0) + n
                records = []
            if item is None:
                continue
            if item.get("article_status"):
                if self.record_status(
                    item["url"], item["article_status"], item.get("capture"), run_id
                ):
                    counts["withdrawn"] += 1
            elif item.get("capture") and self.record_revisit(item["url"], item["capture"], run_id):
                counts["revisits"] += 1
        return counts

    def save(self, records: Iterable[ArticleRecord], run_id: str | None = None) -> dict[str, int]:
        """Store a batch of records in one transaction; counts of new, changed and unchanged
        articles. Each record is the contract record plus `capture` (the WARC location, with
        optional `etag` / `last_modified`) and an optional `town` slug and `column_path`.

        What the batch needs from the database is read up front in a few queries, the rows
        are built in memory and written in one flush (multi-row inserts): a batch costs a
        handful of round trips, not several per record.
        """
        records = list(records)
        for record in records:
            validate_record(record)
        if not records:
            return {"new": 0, "changed": 0, "unchanged": 0}
        # Another writer (a worker of a distributed crawl) may insert the same town, column,
        # person or article between our read and our insert: the unique constraint refuses
        # ours, and the batch is read and written again, now seeing their rows.
        for attempt in range(CONFLICT_RETRIES):
            counts = {"new": 0, "changed": 0, "unchanged": 0}
            try:
                with self._session() as s:
                    ensure_run(s, run_id)
                    batch = Batch.load(s, records)
                    bulk = self.bulk_inserts and s.get_bind().dialect.name in BULK_DIALECTS
                    runs = plan(records, batch) if bulk else [Run.orm(records)]
                    for i, run in enumerate(runs):
                        if i:  # what the runs before wrote: read again
                            s.flush()
                            batch = Batch.load(s, run.records)
                        if run.new:
                            counts["new"] += write_new(self, s, run, run_id, batch)
                            counts["unchanged"] += run.skipped
                        else:
                            self._save_orm(s, run.records, run_id, batch, counts)
            except DatabaseError as exc:
                if attempt + 1 < CONFLICT_RETRIES and is_conflict(exc):
                    continue
                raise
            return counts
        raise AssertionError("unreachable")

    def _save_orm(
        self,
        s: Session,
        records: list[dict],
        run_id: str | None,
        batch: Batch,
        counts: dict[str, int],
    ) -> None:
        for record in records:
            counts[self._save_one(s, record, run_id, batch)] += 1
        if self.writer_bigrams:
            self._flush_with_bigrams(s)
        else:
            s.flush()

    def _flush_with_bigrams(self, s: Session) -> None:
        new = [obj for obj in s.new if isinstance(obj, Article)]
        bigrams = WriterBigrams(s)
        if new:
            bigrams.before_flush()
        s.flush()
        if new:
            bigrams.after_flush(new)

    def _save_one(self, s: Session, record: ArticleRecord, run_id: str | None, batch: Batch) -> str:
        url = record["url"].strip()
        capture = record.get("capture") or None
        rid = capture.get("warc_record_id") if capture else None
        if rid:
            if rid in batch.record_ids:
                return "unchanged"  # this very capture is stored already
            batch.record_ids.add(rid)
        digest = content_hash(record)
        article = batch.articles.get(url)
        cap = capture_row(capture, url, run_id) if capture else None
        seen = cap.fetched_at if cap is not None else datetime.now(UTC)
        if cap is not None:
            s.add(cap)
        if article is None:
            article = Article(
                url=url,
                column=self._column(s, url, record, batch),
                content_hash=digest,
                status="live",
                content_changed_at=seen,
                first_seen_at=seen,
                last_seen_at=seen,
                last_checked_at=seen,
            )
            s.add(article)
            batch.articles[url] = article
            if cap is not None:
                cap.article = article
            version = self._version(s, article, record, digest, cap, batch.next_number(url), batch)
            make_current(article, version)
            return "new"
        if cap is not None:
            cap.article = article
        mark_seen(article, seen)
        if digest == article.content_hash:
            return "unchanged"
        version = self._version(s, article, record, digest, cap, batch.next_number(url), batch)
        article.content_changed_at = max(article.content_changed_at, seen)
        current = article.current_version
        current_at = (
            current.capture.fetched_at
            if current is not None and current.capture is not None
            else None
        )
        if current_at is None or seen >= current_at:
            make_current(article, version)
        return "changed"

    def _column(self, s: Session, url: str, record: dict, batch: Batch) -> SiteColumn | None:
        given = record.get("column_path")
        path = given.strip().lstrip("/") if isinstance(given, str) and given.strip() else ""
        path = path or column_path_of(url)
        if not path:
            return None
        if path in batch.columns:
            return batch.columns[path]
        column = s.scalar(select(SiteColumn).where(SiteColumn.path == path))
        if column is None:
            towns, columns = self.labels.towns, self.labels.columns
            slug = (record.get("town") or path.split("/", 1)[0]).strip()
            town = batch.towns.get(slug) or s.scalar(select(Town).where(Town.slug == slug))
            if town is None:
                conf = towns.get(slug)
                town = Town(
                    slug=slug,
                    name=conf.name if conf else slug,
                    site_name=(conf.site if conf and conf.site else None)
                    or clean_text(record.get("site")),
                )
                s.add(town)
            batch.towns[slug] = town
            conf_col = columns.get(path)
            column = SiteColumn(
                town=town,
                path=path,
                name=(conf_col.name if conf_col and conf_col.name else None)
                or clean_text(record.get("column"))
                or path,
                feed_id=conf_col.feed if conf_col else None,
            )
            s.add(column)
        batch.columns[path] = column
        return column

    def _person(self, s: Session, name: str, batch: Batch) -> Person:
        person = batch.people.get(name)
        if person is None:
            person = Person(name=name, name_simplified=to_simplified(name) or name)
            s.add(person)
            batch.people[name] = person
        return person

    def _version(
        self,
        s: Session,
        article: Article,
        record: dict,
        digest: str,
        cap: Capture | None,
        number: int,
        batch: Batch,
    ) -> ArticleVersion:
        version = ArticleVersion(
            article=article,
            number=number,
            capture=cap,
            content_hash=digest,
            site=clean_text(record.get("site")),
            column_label=clean_text(record.get("column")),
            title=clean_text(record.get("title")),
            published_at=parse_iso(record.get("published_at"), CHINA),
            source=clean_text(record.get("source")),
            script=clean_text(record.get("script")) or None,  # "" is kept in `extra`
            text=clean_text(record.get("text")),
        )
        s.add(version)
        for i, img in enumerate(dicts(record.get("images"))):
            version.images.append(
                Image(
                    position=i, src=clean_text(img.get("src")) or "", alt=clean_text(img.get("alt"))
                )
            )
        for i, anomaly in enumerate(dicts(record.get("anomalies"))):
            version.anomalies.append(
                Anomaly(
                    position=i,
                    kind=clean_text(anomaly.get("kind")) or "",
                    detail=clean_text(anomaly.get("detail")),
                )
            )
        interview = record.get("interview")
        if isinstance(interview, dict):
            version.interview = self._interview(s, interview, batch)
        version.extra = fidelity_extra(record, version_record(version, record["url"].strip()))
        return version

    def _interview(self, s: Session, data: dict, batch: Batch) -> Interview:
        interview = Interview(summary=clean_text(data.get("summary")))
        guests: dict[str, Person] = {}
        for i, guest in enumerate(dicts(data.get("guests"))):
            name = (clean_text(guest.get("name")) or "").strip()
            if not name:
                continue  # nothing to link; `extra` keeps the guest as given
            person = self._person(s, name, batch)
            guests[name] = person
            interview.guests.append(
                InterviewGuest(position=i, person=person, title=clean_text(guest.get("title")))
            )
        sections = []
        for i, sec in enumerate(dicts(data.get("sections"))):
            row = InterviewSection(
                position=i,
                label=clean_text(sec.get("label")),
                topic=clean_text(sec.get("topic")),
                headline=clean_text(sec.get("headline")),
            )
            interview.sections.append(row)
            sections.append(row)
        only_guest = next(iter(guests.values())) if len(guests) == 1 else None
        for i, turn in enumerate(dicts(data.get("turns"))):
            speaker = clean_text(turn.get("speaker")) or ""
            role = clean_text(turn.get("role")) or ""
            index = turn.get("section")
            section = (
                sections[index]
                if isinstance(index, int)
                and not isinstance(index, bool)
                and 0 <= index < len(sections)
                else None
            )
            # A guest's turn names the guest as in the guest line; with a single guest, any
            # guest turn is theirs (the speaker may be written shorter than the guest line).
            person = guests.get(speaker.strip()) or (only_guest if role == "guest" else None)
            interview.turns.append(
                InterviewTurn(
                    position=i,
                    speaker=speaker,
                    role=role,
                    text=clean_text(turn.get("text")) or "",
                    section=section,
                    person=person,
                )
            )
        return interview

    # reading --------------------------------------------------------------

    def known_articles(self, urls: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Stored articles and their last capture, for the incremental crawl: see
        `reader.known_articles`."""
        with self._session() as s:
            return reader.known_articles(s, urls)

    def iter_records(
        self, since: date | None = None, chunk: int = 200, changed_since: datetime | None = None
    ) -> Iterator[dict]:
        """Every article's current version as its contract record plus `capture` and the
        article's sync keys: see `reader.iter_records`."""
        return reader.iter_records(self.engine, since, chunk, changed_since)
