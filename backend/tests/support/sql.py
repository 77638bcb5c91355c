"""Plain SQL on a database given by its URL, through our own engine (pragmas on)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine


def execute_sql(url: URL, *statements: str) -> None:
    """Run ``statements`` in one transaction."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def query_rows(url: URL, sql: str) -> list[tuple[object, ...]]:
    """The rows ``sql`` returns, as tuples."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()
