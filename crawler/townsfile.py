"""A towns TOML file as its user wrote it: where a town's folder may be, and rewriting the
file after `dgarchive towns discover --write`, comments and layout kept (tomlkit).

A town may list where else its folder has been seen: `folder = "st"` (the one verified) and
`alternatives = ["st", ...]` (to try after the slug). `crawler.config` ignores both; only
discovery reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from crawler.config import ConfigError, normalize_column_path


@dataclass
class FoundColumn:
    """A news column discovery saw on the site."""

    path: str  # under the site root, ends with "/"
    name: str
    feed: int | None = None
    pages: int = 1
    newest: date | None = None


@dataclass
class TownResult:
    """What discovery learned of one town: the folder that answered (None when no candidate
    did), its news columns, the configured columns proven wrong (path -> why) and the list
    pages seen that are not news (path -> name)."""

    slug: str
    folder: str | None = None
    columns: dict[str, FoundColumn] = field(default_factory=dict)
    wrong: dict[str, str] = field(default_factory=dict)
    not_news: dict[str, str] = field(default_factory=dict)


def read_text(path: str | Path | None) -> str:
    """The towns file's text (the bundled crawler/towns.toml when `path` is None)."""
    if path is None:
        return resources.files("crawler").joinpath("towns.toml").read_text(encoding="utf-8")
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read towns file {str(path)!r}: {exc}") from None


def bundled_path() -> Path:
    return Path(str(resources.files("crawler").joinpath("towns.toml")))


def _parse(text: str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigError(f"towns file is not valid TOML: {exc}") from None


def candidate_folders(text: str) -> dict[str, list[str]]:
    """Town slug -> the folders to try for its home page, in order: the verified `folder`,
    the slug, then the `alternatives`."""
    out: dict[str, list[str]] = {}
    for town in _parse(text).get("town", []):
        slug = str(town["slug"])
        tries = [town.get("folder"), slug, *(town.get("alternatives") or [])]
        out[slug] = list(dict.fromkeys(str(f).strip("/") for f in tries if f))
    return out


def apply_discovery(text: str, results: Iterable[TownResult]) -> tuple[str, list[str]]:
    """The towns file rewritten with what discovery saw, and one line per change.

    For each town whose folder answered: the town is `verified = true` (with `folder` when
    it is not the slug); configured columns seen as news columns are `verified = true` (and
    gain the feed id found); configured columns proven wrong (gone, moved, not a list page)
    are removed, a comment naming them is left in the town's table; news columns not yet
    configured are added, `verified = true`. Everything else, comments included, is kept.
    """
    doc = _parse(text)
    by_slug = {r.slug: r for r in results}
    changes: list[str] = []
    for town in doc.get("town", []):
        slug = str(town["slug"])
        result = by_slug.get(slug)
        if result is None or result.folder is None:
            continue
        if town.get("verified") is not True:
            town["verified"] = True
            changes.append(f"{slug}: town verified (folder /{result.folder}/)")
        if result.folder != slug and town.get("folder") != result.folder:
            town["folder"] = result.folder
        columns = _multiline(town)
        removed: list[str] = []
        configured: set[str] = set()
        for i in reversed(range(len(columns))):
            entry = columns[i]
            path = normalize_column_path(str(entry["path"]))
            configured.add(path)
            found = result.columns.get(path)
            if path in result.wrong and found is None:
                del columns[i]
                removed.append(f"{path} ({result.wrong[path]})")
                changes.append(f"{slug}: removed {path}: {result.wrong[path]}")
            elif found is not None:
                if entry.get("verified") is not True:
                    entry["verified"] = True
                    changes.append(f"{slug}: {path} verified")
                if found.feed is not None and entry.get("feed") != found.feed:
                    entry["feed"] = found.feed
                    changes.append(f"{slug}: {path} feed {found.feed}")
                if not entry.get("name") and found.name:
                    entry["name"] = found.name
        for path, found in result.columns.items():
            if path not in configured:
                fields = {"path": path, "name": found.name, "feed": found.feed, "verified": True}
                columns.add_line(_inline(fields), indent=INDENT)
                changes.append(f"{slug}: added {path} {found.name}")
        for note in reversed(removed):
            columns.add_line(comment=f"removed by towns discover: {note}", indent=INDENT)
    return tomlkit.dumps(doc), changes


INDENT = "  "  # as crawler/towns.toml indents its column lists


def _multiline(town: Any) -> Any:
    """The town's `columns` array, rewritten one entry a line if it was on one line (the
    entries keep their own formatting, the array its trailing comment)."""
    old = town.get("columns")
    if old is not None and "\n" in old.as_string():
        return old
    new = tomlkit.array()
    for entry in old or []:
        new.add_line(entry, indent=INDENT)
    new.add_line(indent="")
    if old is not None:
        new.trivia.comment_ws = old.trivia.comment_ws
        new.trivia.comment = old.trivia.comment
    town["columns"] = new
    return town["columns"]


def _inline(fields: dict[str, Any]) -> Any:
    """An inline table written like the file's own (`{ path = "…", name = "…" }`)."""
    body = ", ".join(
        f"{k} = {tomlkit.item(v).as_string()}" for k, v in fields.items() if v is not None
    )
    return tomlkit.parse(f"entry = {{ {body} }}\n")["entry"]
