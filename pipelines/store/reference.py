"""The column reference of docs/schema.md, generated from the models' comments: the one place
the descriptions live (PostgreSQL stores the same text with `COMMENT ON`).

`python -m pipelines.store.reference docs/schema.md` rewrites the section between its markers;
tests/test_schema_doc.py fails when the document and the models disagree."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import Column, Table

from pipelines.store.models import Base

__all__ = ["BEGIN", "END", "column_reference", "update_document"]

BEGIN = "<!-- column reference: generated from pipelines/store/models.py; do not edit -->"
END = "<!-- end of column reference -->"


def _type(column: Column) -> str:
    name = type(column.type).__name__
    kind = {"UTCDateTime": "timestamp (UTC)", "JSONOrJSONB": "JSON (jsonb on PostgreSQL)"}.get(
        name, str(column.type).lower()
    )
    return kind + ("" if column.nullable else ", not null")


def _table(table: Table) -> str:
    rows = [f"### `{table.name}`", "", table.comment or "", "", "| column | type | meaning |"]
    rows.append("|---|---|---|")
    for column in table.columns:
        rows.append(f"| `{column.name}` | {_type(column)} | {column.comment or ''} |")
    return "\n".join(rows)


def column_reference() -> str:
    """The generated section, markers included."""
    tables = sorted(Base.metadata.sorted_tables, key=lambda t: t.name)
    body = "\n\n".join(_table(t) for t in tables)
    return f"{BEGIN}\n\n{body}\n\n{END}"


def update_document(path: Path) -> bool:
    """Rewrite the section in `path`; True if it changed."""
    text = path.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    new = text[:start] + column_reference() + text[end:]
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    for name in sys.argv[1:] or ["docs/schema.md"]:
        print(f"{name}: {'updated' if update_document(Path(name)) else 'up to date'}")
