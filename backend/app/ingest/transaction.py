"""One transaction per import: committed on success, rolled back on problems or dry runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

IMPORT_CACHE_KIB = 16 * 1024
SQLITE_DEFAULT_CACHE = -2000  # SQLite's own default: 2,000 KiB


@contextmanager
def import_transaction(engine: Engine, *, dry_run: bool) -> Iterator[Connection]:
    """A connection in a write transaction (IMMEDIATE on SQLite) that only a clean,
    real run commits."""
    with engine.connect() as connection:
        transaction = connection.begin()
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # B-tree writes are an import's cost: a page cache that holds the working set
            # of rows moved in key order (their indexes grow at a few places) saves
            # re-reading and re-writing pages; bounded, so memory stays flat at any size
            # (16 MB was as fast as 64 MB). Set back before the connection is pooled again.
            connection.exec_driver_sql(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")
        try:
            try:
                yield connection
            except BaseException:
                transaction.rollback()
                raise
            if dry_run:
                transaction.rollback()
            else:
                transaction.commit()
        finally:
            if sqlite:
                connection.exec_driver_sql(f"PRAGMA cache_size={SQLITE_DEFAULT_CACHE}")
