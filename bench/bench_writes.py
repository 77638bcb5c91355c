"""The write API's batch calls against the importer, for the same rows, in one run.

``domain/records.py`` is how the agents write without a CSV: its rows/s for weekly
history, actual sales, and allocations of 1,000 stores should stay within 2x of the
importer's rows/s on the same rows (target: ratio >= 0.5). Both in-process, on fresh
copies of one seeded database, on SQLite and (when reachable) PostgreSQL.

Rows: 200,000 (``BENCH_QUICK=1``: 20,000), or ``FFDB_BENCH_WRITE_ROWS``.
"""

from __future__ import annotations

import gc
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, text
from support import (
    FIRST_WEEK,
    actuals_file,
    actuals_stores,
    copy_sqlite,
    history_file,
    load,
    postgres_admin_url,
    seed,
    size,
    store_id,
    verdict,
)

from backend.app.database.db import make_engine, session_scope
from backend.app.domain import records
from backend.app.ingest.actuals import import_actuals
from backend.app.ingest.historical_sales import import_historical_sales

TARGET = 0.5
ALLOCATION_STORES, ALLOCATIONS = 1_000, 10


def _history_rows(path: Path) -> list[records.HistoricalSalesRow]:
    with open(path, encoding="utf-8") as lines:
        next(lines)
        return [
            records.HistoricalSalesRow(store, category, date.fromisoformat(week), int(units))
            for week, store, category, units in (line.rstrip("\n").split(",") for line in lines)
        ]


def _actual_rows(path: Path) -> list[records.ActualSalesRow]:
    with open(path, encoding="utf-8") as lines:
        next(lines)
        return [
            records.ActualSalesRow(store, int(week), int(units))
            for store, week, units in (line.rstrip("\n").split(",") for line in lines)
        ]


def _timed(function: Callable[[], object]) -> float:
    # A full collection first, for both sides: the bench's own input rows (400,000 Python
    # objects) leave one due, which otherwise lands in whichever timed call allocates
    # next (measured: 222 ms inside ten allocation calls of ~5 ms each).
    gc.collect()
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def _line(name: str, rows: int, writer: float, importer: float) -> None:
    ratio = (rows / writer) / (rows / importer)
    print(
        f"{name}: write API {rows / writer:,.0f} rows/s, importer {rows / importer:,.0f} rows/s: "
        f"ratio {ratio:.2f} ({verdict(ratio >= TARGET)} target >= {TARGET}, i.e. within 2x)",
        flush=True,
    )


def bench(backend: str, fresh: Callable[[], Iterator[Engine]], work: Path, rows: int) -> None:
    # In two steps: the sales rows (400,000 objects) are gone before the allocations, or
    # each full collection their tracked dicts bring on would cost tens of milliseconds,
    # a cost of this script's own data, not of the calls.
    importer = bench_sales(backend, fresh, work, rows)
    bench_allocations(backend, fresh, rows, importer)


def _measured(fresh: Callable[[], Iterator[Engine]], write: Callable[[Engine], object]) -> float:
    """Seconds ``write`` takes on a fresh database, after one untimed run on another:
    what a running agent or import pays per batch, not this process's one-time costs
    (modules loaded, statements compiled), which would fall on whichever side runs
    first. Both sides are measured so."""
    with contextmanager(fresh)() as engine:
        write(engine)
    with contextmanager(fresh)() as engine:
        return _timed(lambda: write(engine))


def bench_sales(
    backend: str, fresh: Callable[[], Iterator[Engine]], work: Path, rows: int
) -> float:
    """History and actuals; returns the actuals import's seconds."""
    history = history_file(work / "history.csv", rows)
    actuals = actuals_file(work / "actuals.csv", rows)
    history_rows, actual_rows = _history_rows(history), _actual_rows(actuals)

    def write_history(engine: Engine) -> None:
        with session_scope(engine) as session:
            records.record_historical_sales(session, history_rows)

    importer = _measured(fresh, lambda engine: import_historical_sales(engine, history))
    writer = _measured(fresh, write_history)
    _line(f"{backend} historical sales ({rows:,} rows)", rows, writer, importer)

    def write_actuals(engine: Engine) -> None:
        with session_scope(engine) as session:
            records.record_actual_sales(session, "F1", actual_rows)

    importer = _measured(fresh, lambda engine: import_actuals(engine, actuals, "F1"))
    writer = _measured(fresh, write_actuals)
    _line(f"{backend} actual sales ({rows:,} rows)", rows, writer, importer)
    return importer


def bench_allocations(
    backend: str, fresh: Callable[[], Iterator[Engine]], rows: int, importer: float
) -> None:
    """Against the actuals import's rows/s (``importer``: its seconds for ``rows``)."""
    items = [
        {"store_id": store_id(i), "initial": 10, "holdback": 2} for i in range(ALLOCATION_STORES)
    ]

    def write_allocations(engine: Engine) -> None:
        for number in range(ALLOCATIONS):
            with session_scope(engine) as session:
                records.record_allocation(
                    session,
                    allocation_id=f"A{number}",
                    forecast_id="F1",
                    manufacturing_qty=12 * ALLOCATION_STORES,
                    initial_allocation_total=10 * ALLOCATION_STORES,
                    holdback_total=2 * ALLOCATION_STORES,
                    store_allocations=items,
                )

    writer = _measured(fresh, write_allocations)
    _line(
        f"{backend} allocations of {ALLOCATION_STORES:,} stores ({ALLOCATIONS} calls; "
        "importer: the actuals import's rows/s)",
        ALLOCATIONS * ALLOCATION_STORES,
        writer,
        importer * ALLOCATIONS * ALLOCATION_STORES / rows,
    )


def main() -> None:
    rows = size(200_000, 20_000, "FFDB_BENCH_WRITE_ROWS")
    stores = max(200, actuals_stores(rows), ALLOCATION_STORES)
    print(f"bench_writes: {rows:,} rows ({load()})", flush=True)
    with tempfile.TemporaryDirectory(prefix="ffdb-bench-") as directory:
        work = Path(directory)
        template = work / "template.db"
        seed(f"sqlite:///{template}", stores)

        def sqlite_copy() -> Iterator[Engine]:
            engine = make_engine(f"sqlite:///{copy_sqlite(template, work / 'copy.db')}")
            try:
                yield engine
            finally:
                engine.dispose()

        bench("SQLite", sqlite_copy, work, rows)

        admin_url = postgres_admin_url()
        admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:
            print(f"PostgreSQL: skipped, {admin_url.render_as_string()} unreachable ({error!r})")
            return
        names: list[str] = []
        try:
            base = f"ffdb_bench_{uuid.uuid4().hex[:8]}"
            names.append(base)
            with admin.connect() as connection:
                connection.exec_driver_sql(f"CREATE DATABASE {base}")
            seed(admin_url.set(database=base), stores)

            def postgres_copy() -> Iterator[Engine]:
                name = f"ffdb_bench_{uuid.uuid4().hex[:8]}"
                names.append(name)
                with admin.connect() as connection:
                    connection.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {base}")
                engine = make_engine(admin_url.set(database=name))
                try:
                    yield engine
                finally:
                    engine.dispose()

            bench("PostgreSQL", postgres_copy, work, rows)
        finally:
            with admin.connect() as connection:
                for name in names:
                    connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.dispose()
    print(f"bench_writes: done ({load()}); first week {FIRST_WEEK}")


if __name__ == "__main__":
    main()
