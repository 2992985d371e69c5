"""`CleaningPipeline`: check each item and normalise its whitespace before it is stored.

Thin by design: extraction (`pipelines.pages`) already removed the boilerplate; this stage only
refuses items that cannot be stored and evens out whitespace in any item, including ones built
by other code paths (revisits, future spiders). Scrapy item pipeline; no settings of its own.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from pipelines.text import normalize_space

# Provenance is kept byte for byte: WARC names, digests and dates are identifiers.
UNTOUCHED = frozenset({"capture"})


def normalize_value(value: Any) -> Any:
    """Strings: Unicode spaces to ASCII, runs collapsed, each line stripped, empty lines
    dropped (`text`, `summary` and turn texts are one paragraph a line). Containers recurse."""
    if isinstance(value, str):
        if "\n" not in value and "\r" not in value:
            return normalize_space(value)
        lines = (normalize_space(x) for x in value.replace("\r\n", "\n").split("\n"))
        return "\n".join(x for x in lines if x)
    if isinstance(value, dict):
        return {k: normalize_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_value(v) for v in value]
    return value


def has_url(url: Any) -> bool:
    return isinstance(url, str) and bool(url.strip())


def normalize_fields(record: MutableMapping[str, Any]) -> None:
    """Every field of `record` but `capture` normalised (`normalize_value`), in place."""
    for key in list(record.keys()):
        if key not in UNTOUCHED:
            record[key] = normalize_value(record[key])


def clean_record(record: dict) -> dict | None:
    """`CleaningPipeline.process_item` for a plain dict (as `dgarchive reindex` builds
    them): `record` normalised in place, or None when it has no `url` (the pipeline drops
    it). Imports neither Scrapy nor itemadapter, which reindex, running no crawl, does
    without (about 0.4 CPU-s of imports)."""
    if not has_url(record.get("url")):
        return None
    normalize_fields(record)
    return record


class CleaningPipeline:
    """Drops items without a `url` (`DropItem`); normalises whitespace in every other field
    but `capture`.

    Settings: none. Stats: `cleaning/items`, `cleaning/dropped_no_url`.
    """

    def __init__(self, stats: Any = None) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Any) -> CleaningPipeline:
        return cls(stats=crawler.stats)

    def process_item(self, item: Any) -> Any:
        # Here, not at the top: itemadapter imports pydantic (0.12 CPU-s), and Scrapy loads
        # this pipeline before the crawl's first request but needs itemadapter only later.
        from itemadapter import ItemAdapter

        adapter = ItemAdapter(item)
        if not has_url(adapter.get("url")):
            from scrapy.exceptions import DropItem  # loaded already in a crawl

            self._inc("cleaning/dropped_no_url")
            raise DropItem(f"item has no url: {sorted(adapter.keys())}")
        normalize_fields(adapter)
        self._inc("cleaning/items")
        return item

    def _inc(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(key)
