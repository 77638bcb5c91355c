"""One transaction per import: committed on success, rolled back on problems or dry runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine

from backend.app.maintenance.bulk_move import detach_staging_files

IMPORT_CACHE_KIB = 16 * 1024
SQLITE_DEFAULT_CACHE = -2000  # SQLite's own default: 2,000 KiB


@contextmanager
def import_transaction(
    engine: Engine, *, dry_run: bool, guards_check_keys: bool = False
) -> Iterator[Connection]:
    """A connection in a write transaction (IMMEDIATE on SQLite) that only a clean,
    real run commits.

    ``guards_check_keys``: on SQLite the transaction runs with ``PRAGMA foreign_keys``
    off, so that the schema's guard triggers (``maintenance/integrity.py``, one per
    foreign key and direction, which refuse exactly what the pragma would) are the
    check; a bulk move sets the insert guards aside once one query has proven every
    staged row's parents present (``bulk_move``), instead of a lookup per row. The
    pragma cannot change inside a transaction, hence here."""
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        driver: Any = connection.connection.driver_connection
        if sqlite and guards_check_keys:
            driver.execute("PRAGMA foreign_keys=OFF")
        transaction = connection.begin()
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
                # On the driver: through SQLAlchemy a statement would begin a transaction,
                # in which SQLite ignores the foreign_keys pragma.
                detach_staging_files(connection)
                if guards_check_keys:
                    driver.execute("PRAGMA foreign_keys=ON")
                driver.execute(f"PRAGMA cache_size={SQLITE_DEFAULT_CACHE}")
