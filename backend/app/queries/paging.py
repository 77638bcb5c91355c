"""Keyset paging shared by the list reads: fetch one row more than the page to know
whether another page follows; the next page starts after the last key shown."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from backend.app.queries.errors import InvalidReadArgument
from backend.app.schemas.read_models import Page, ReadModel

MAX_PAGE_SIZE = 1_000
Item = TypeVar("Item", bound=ReadModel)


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidReadArgument(f"limit {limit} is outside 1..{MAX_PAGE_SIZE}")


def page_of(rows: Sequence[Item], limit: int, key: Callable[[Item], str]) -> Page[Item]:
    """``rows`` holds up to ``limit + 1`` items in key order."""
    items = list(rows[:limit])
    more = len(rows) > limit
    return Page(items=items, next_after=key(items[-1]) if more and items else None)
