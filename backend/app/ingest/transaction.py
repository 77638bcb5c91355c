"""One transaction per import: committed on success, rolled back on problems or dry runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine


@contextmanager
def import_transaction(engine: Engine, *, dry_run: bool) -> Iterator[Connection]:
    """A connection in a write transaction (IMMEDIATE on SQLite) that only a clean,
    real run commits."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        except BaseException:
            transaction.rollback()
            raise
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()


def as_date(connection: Connection, expression: str) -> str:
    """SQL turning ISO date text into the dialect's date value (SQLite stores the text)."""
    if connection.dialect.name == "sqlite":
        return expression
    return f"CAST({expression} AS DATE)"
