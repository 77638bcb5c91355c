"""Small SQL building blocks the read modules share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Float, UnaryExpression, case, cast, func, null
from sqlalchemy.orm import QueryableAttribute, Session

# A Core column expression or an ORM attribute such as ``Forecast.created_at``.
ColumnLike = ColumnElement[Any] | QueryableAttribute[Any]


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


def ratio_or_null(
    numerator: ColumnElement[Any], denominator: ColumnElement[Any]
) -> ColumnElement[float | None]:
    """numerator / denominator as a float, NULL when the denominator is 0 or NULL."""
    return case(
        (func.coalesce(denominator, 0) == 0, null()),
        else_=cast(numerator, Float) / cast(denominator, Float),
    )


def total(column: ColumnLike) -> ColumnElement[int]:
    """SUM as a 64-bit integer on both backends (PostgreSQL's SUM(bigint) is numeric)."""
    return cast(func.sum(column), BigInteger)


def newest_first(created_at: ColumnLike, key: ColumnLike) -> list[UnaryExpression[Any]]:
    """Latest ``created_at`` first, rows without one last, ties broken by the greater key."""
    return [created_at.desc().nulls_last(), key.desc()]
