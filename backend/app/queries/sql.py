"""Small SQL building blocks the read modules share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ColumnElement, UnaryExpression, cast, func
from sqlalchemy.orm import Session

from backend.app.maintenance.json_rows import ColumnLike


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


def total(column: ColumnLike) -> ColumnElement[int]:
    """SUM as a 64-bit integer on both backends (PostgreSQL's SUM(bigint) is numeric)."""
    return cast(func.sum(column), BigInteger)


def newest_first(created_at: ColumnLike, key: ColumnLike) -> list[UnaryExpression[Any]]:
    """Latest ``created_at`` first, rows without one last, ties broken by the greater key."""
    return [created_at.desc().nulls_last(), key.desc()]
