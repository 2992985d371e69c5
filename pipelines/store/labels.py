"""The names the store gives the town and column rows a record creates: a value the caller
passes (the crawler reads it from its town configuration); the store never reads that
configuration itself."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["ColumnLike", "SiteLabels", "TownLike"]


class ColumnLike(Protocol):
    """A configured column, as `crawler.config.Column` is."""

    @property
    def path(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def feed(self) -> int | None: ...


class TownLike(Protocol):
    """A configured town with its columns, as `crawler.config.Town` is."""

    @property
    def slug(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def columns(self) -> Sequence[ColumnLike]: ...


@dataclass(frozen=True)
class SiteLabels:
    """Configured towns by slug and columns by path (names, feed ids)."""

    towns: Mapping[str, TownLike] = field(default_factory=dict)
    columns: Mapping[str, ColumnLike] = field(default_factory=dict)

    @classmethod
    def of(cls, towns: Iterable[TownLike]) -> SiteLabels:
        towns = list(towns)
        return cls(
            towns={t.slug: t for t in towns},
            columns={c.path: c for t in towns for c in t.columns},
        )
