"""Unique-constraint conflicts with a concurrent writer (a worker of a distributed crawl that
inserted the same row first), and how many times a write is tried again after one."""

from __future__ import annotations

__all__ = ["CONFLICT_RETRIES", "is_conflict"]

CONFLICT_RETRIES = 5


def is_conflict(exc: BaseException) -> bool:
    """A unique constraint refused a row a concurrent writer inserted first."""
    from sqlalchemy.exc import IntegrityError

    return isinstance(exc.__cause__, IntegrityError)
