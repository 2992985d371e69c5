"""What one `RecordStore.save` batch reads from the database up front (stored captures,
articles, version numbers, people) and what it adds, so a batch costs a few queries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from pipelines.store.models import Article, ArticleVersion, Capture, Person, SiteColumn, Town
from pipelines.store.transforms import clean_text, dicts

__all__ = ["Batch", "chunks"]


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    """`items` in lists of at most `size` (an IN list stays under the drivers' limits)."""
    for i in range(0, len(items), size):
        yield items[i : i + size]



class Batch:
    """What one `save` batch knows of the database, read up front, plus what it adds."""

    def __init__(self) -> None:
        self.record_ids: set[str] = set()  # WARC-Record-IDs stored or added
        self.articles: dict[str, Article] = {}  # by URL, stored or added
        self.numbers: dict[str, int] = {}  # highest version number by URL
        self.people: dict[str, Person] = {}
        self.columns: dict[str, SiteColumn] = {}
        self.towns: dict[str, Town] = {}

    def next_number(self, url: str) -> int:
        """The next version number of the article at `url`."""
        self.numbers[url] = self.numbers.get(url, 0) + 1
        return self.numbers[url]

    @classmethod
    def load(cls, s: Session, records: list[dict]) -> Batch:
        """Read what `records` need from the database, in chunked IN queries."""
        batch = cls()
        rids = sorted(
            {
                r["capture"]["warc_record_id"]
                for r in records
                if r.get("capture") and r["capture"].get("warc_record_id")
            }
        )
        urls = sorted({r["url"].strip() for r in records})
        names = sorted(
            {
                (clean_text(g.get("name")) or "").strip()
                for r in records
                if isinstance(r.get("interview"), dict)
                for g in dicts(r["interview"].get("guests"))
            }
            - {""}
        )
        for chunk in chunks(rids, 500):
            batch.record_ids.update(
                s.scalars(select(Capture.warc_record_id).where(Capture.warc_record_id.in_(chunk)))
            )
        for chunk in chunks(urls, 500):
            for article in s.scalars(
                select(Article)
                .where(Article.url.in_(chunk))
                .options(selectinload(Article.current_version).selectinload(ArticleVersion.capture))
            ):
                batch.articles[article.url] = article
            for url, number in s.execute(
                select(Article.url, func.max(ArticleVersion.number))
                .join(ArticleVersion, ArticleVersion.article_id == Article.id)
                .where(Article.url.in_(chunk))
                .group_by(Article.url)
            ):
                batch.numbers[url] = number or 0
        for chunk in chunks(names, 500):
            for person in s.scalars(select(Person).where(Person.name.in_(chunk))):
                batch.people[person.name] = person
        return batch

