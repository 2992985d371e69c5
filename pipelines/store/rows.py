"""The rows a NEW article's record becomes, as plain dicts (no ORM objects): its capture, the
article, its first version, the version's images, anomalies and interview (guests, sections,
turns). Pure: the ids are handed in (`Ids`), the column's and the guests' ids too, so that
`pipelines.store.bulk` can write a batch of them in one `executemany` per table.

Every value is the one `RecordStore._save_one` gives the ORM objects of the same record
(`tests/test_store_bulk.py` compares the two databases table by table).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from pipelines.dates import parse_iso
from pipelines.store.transforms import (
    CHINA,
    as_int,
    clean_text,
    dicts,
    fidelity_extra,
    iso_china,
)
from pipelines.text import to_simplified

__all__ = ["TABLES", "Ids", "NewRows", "guest_names", "row_counts"]

# The tables of a new article's rows, in an order their foreign keys allow (the article's
# `current_version_id` aside: see `pipelines.store.bulk`).
TABLES = (
    "articles",
    "captures",
    "article_versions",
    "images",
    "anomalies",
    "interviews",
    "interview_guests",
    "interview_sections",
    "interview_turns",
)


def guest_names(record: dict) -> list[str]:
    """The names of the record's guests that get a row (`RecordStore._interview`)."""
    interview = record.get("interview")
    if not isinstance(interview, dict):
        return []
    names = ((clean_text(g.get("name")) or "").strip() for g in dicts(interview.get("guests")))
    return [n for n in names if n]


def row_counts(records: list[dict]) -> dict[str, int]:
    """How many rows of each table `NewRows.add` makes of `records` (new articles)."""
    counts = dict.fromkeys(TABLES, 0)
    for record in records:
        counts["articles"] += 1
        counts["article_versions"] += 1
        counts["captures"] += 1 if record.get("capture") else 0
        counts["images"] += len(dicts(record.get("images")))
        counts["anomalies"] += len(dicts(record.get("anomalies")))
        interview = record.get("interview")
        if isinstance(interview, dict):
            counts["interviews"] += 1
            counts["interview_guests"] += len(guest_names(record))
            counts["interview_sections"] += len(dicts(interview.get("sections")))
            counts["interview_turns"] += len(dicts(interview.get("turns")))
    return counts


class Ids:
    """The ids given to new rows, table by table, in the order the rows are made."""

    def __init__(self, ids: Mapping[str, Iterator[int]]) -> None:
        self._ids = ids

    def next(self, table: str) -> int:
        return next(self._ids[table])


class NewRows:
    """The rows of a batch's new articles, table by table, in record order."""

    def __init__(self, ids: Ids) -> None:
        self.ids = ids
        self.tables: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}

    def count(self) -> int:
        return sum(len(rows) for rows in self.tables.values())

    def add(
        self,
        record: dict,
        digest: str,
        run_id: str | None,
        column_id: int | None,
        people: Mapping[str, int],
    ) -> dict[str, Any]:
        """The rows of `record`, a new article (`RecordStore._save_one`'s first branch);
        returns the article's row."""
        url = record["url"].strip()
        article_id = self.ids.next("articles")
        capture = record.get("capture") or None
        capture_id = None
        if capture:
            cap = self._capture(capture, url, run_id, article_id)
            capture_id = cap["id"]
            seen = cap["fetched_at"]
        else:
            seen = datetime.now(UTC)
        version = self._version(record, url, article_id, capture_id, digest, people)
        article = {
            "id": article_id,
            "url": url,
            "column_id": column_id,
            "current_version_id": version["id"],
            "title": version["title"],
            "published_at": version["published_at"],
            "source": version["source"],
            "script": version["script"],
            "text": version["text"],
            "title_simplified": to_simplified(version["title"]),
            "text_simplified": to_simplified(version["text"]),
            "content_hash": digest,
            "status": "live",
            "gone_at": None,
            "status_changed_at": None,
            "content_changed_at": seen,
            "first_seen_at": seen,
            "last_seen_at": seen,
            "last_checked_at": seen,
        }
        self.tables["articles"].append(article)
        return article

    def _capture(
        self, capture: dict, url: str, run_id: str | None, article_id: int
    ) -> dict[str, Any]:
        row = {  # `transforms.capture_row`
            "id": self.ids.next("captures"),
            "url": url,
            "fetch_url": clean_text(capture.get("target_uri") or capture.get("fetch_url")),
            "fetched_at": parse_iso(capture.get("fetched_at")),
            "status": as_int(capture.get("status")),
            "warc_type": clean_text(capture.get("warc_type")) or "response",
            "warc_filename": clean_text(capture.get("warc_filename")),
            "warc_offset": as_int(capture.get("warc_offset")),
            "warc_length": as_int(capture.get("warc_length")),
            "warc_record_id": clean_text(capture.get("warc_record_id")),
            "payload_digest": clean_text(capture.get("payload_digest")),
            "etag": clean_text(capture.get("etag")),
            "last_modified": clean_text(capture.get("last_modified")),
            "article_id": article_id,
            "crawl_run_id": run_id,
        }
        self.tables["captures"].append(row)
        return row

    def _version(
        self,
        record: dict,
        url: str,
        article_id: int,
        capture_id: int | None,
        digest: str,
        people: Mapping[str, int],
    ) -> dict[str, Any]:
        version_id = self.ids.next("article_versions")
        row = {  # `RecordStore._version`
            "id": version_id,
            "article_id": article_id,
            "number": 1,
            "capture_id": capture_id,
            "content_hash": digest,
            "site": clean_text(record.get("site")),
            "column_label": clean_text(record.get("column")),
            "title": clean_text(record.get("title")),
            "published_at": parse_iso(record.get("published_at"), CHINA),
            "source": clean_text(record.get("source")),
            "script": clean_text(record.get("script")) or None,
            "text": clean_text(record.get("text")),
            "extra": None,
        }
        images = []
        for i, img in enumerate(dicts(record.get("images"))):
            image = {
                "id": self.ids.next("images"),
                "version_id": version_id,
                "position": i,
                "src": clean_text(img.get("src")) or "",
                "alt": clean_text(img.get("alt")),
            }
            self.tables["images"].append(image)
            images.append({"src": image["src"], "alt": image["alt"]})
        anomalies = []
        for i, anomaly in enumerate(dicts(record.get("anomalies"))):
            found = {
                "id": self.ids.next("anomalies"),
                "version_id": version_id,
                "position": i,
                "kind": clean_text(anomaly.get("kind")) or "",
                "detail": clean_text(anomaly.get("detail")),
            }
            self.tables["anomalies"].append(found)
            anomalies.append({"kind": found["kind"], "detail": found["detail"]})
        interview = record.get("interview")
        rebuilt_interview = (
            self._interview(interview, version_id, people) if isinstance(interview, dict) else None
        )
        # `transforms.version_record` of the version as built so far (no `extra` yet)
        rebuilt = {
            "url": url,
            "site": row["site"],
            "column": row["column_label"],
            "title": row["title"],
            "published_at": iso_china(row["published_at"]) if row["published_at"] else None,
            "source": row["source"],
            "script": row["script"],
            "text": row["text"],
            "images": images,
            "interview": rebuilt_interview,
            "anomalies": anomalies,
        }
        row["extra"] = fidelity_extra(record, rebuilt)
        self.tables["article_versions"].append(row)
        return row

    def _interview(self, data: dict, version_id: int, people: Mapping[str, int]) -> dict[str, Any]:
        """The interview's rows (`RecordStore._interview`); its record as
        `transforms._interview_record` rebuilds it."""
        interview_id = self.ids.next("interviews")
        summary = clean_text(data.get("summary"))
        self.tables["interviews"].append(
            {"id": interview_id, "version_id": version_id, "summary": summary}
        )
        guests: dict[str, int] = {}
        guest_list = []
        for i, guest in enumerate(dicts(data.get("guests"))):
            name = (clean_text(guest.get("name")) or "").strip()
            if not name:
                continue
            guests[name] = people[name]
            title = clean_text(guest.get("title"))
            self.tables["interview_guests"].append(
                {
                    "id": self.ids.next("interview_guests"),
                    "interview_id": interview_id,
                    "position": i,
                    "person_id": people[name],
                    "title": title,
                }
            )
            guest_list.append({"name": name, "title": title})
        section_ids = []
        section_list = []
        for i, sec in enumerate(dicts(data.get("sections"))):
            section = {
                "id": self.ids.next("interview_sections"),
                "interview_id": interview_id,
                "position": i,
                "label": clean_text(sec.get("label")),
                "topic": clean_text(sec.get("topic")),
                "headline": clean_text(sec.get("headline")),
            }
            self.tables["interview_sections"].append(section)
            section_ids.append(section["id"])
            section_list.append(
                {
                    "label": section["label"],
                    "topic": section["topic"],
                    "headline": section["headline"],
                }
            )
        only_guest = next(iter(guests.values())) if len(guests) == 1 else None
        turn_list = []
        for i, turn in enumerate(dicts(data.get("turns"))):
            speaker = clean_text(turn.get("speaker")) or ""
            role = clean_text(turn.get("role")) or ""
            index = turn.get("section")
            valid = (
                isinstance(index, int)
                and not isinstance(index, bool)
                and 0 <= index < len(section_ids)
            )
            text = clean_text(turn.get("text")) or ""
            self.tables["interview_turns"].append(
                {
                    "id": self.ids.next("interview_turns"),
                    "interview_id": interview_id,
                    "position": i,
                    "speaker": speaker,
                    "role": role,
                    "person_id": guests.get(speaker.strip())
                    or (only_guest if role == "guest" else None),
                    "section_id": section_ids[index] if valid else None,
                    "text": text,
                }
            )
            turn_list.append(
                {
                    "speaker": speaker,
                    "role": role,
                    "text": text,
                    "section": index if valid else None,
                }
            )
        return {
            "guests": guest_list,
            "summary": summary,
            "sections": section_list,
            "turns": turn_list,
        }
