"""How fast ``ffdb transfer`` moves SQLite to PostgreSQL, COPY against batched INSERT.

Builds a SQLite database with ROWS historical_sales rows (plus their stores and
category), then copies it into fresh PostgreSQL databases twice: through COPY (what
``transfer`` uses on a PostgreSQL target) and through SQLAlchemy's batched
``executemany`` INSERT (the baseline, measured in the same run). Also copies it to
SQLite. Peak memory (tracemalloc) is printed for two sizes to show it stays flat.

    .venv/bin/python bench/bench_transfer.py [ROWS]

Needs the PostgreSQL server of the tests (FFDB_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, insert, text
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine, normalize_url
from backend.app.maintenance.schema_version import alembic_config
from backend.app.maintenance.transfer import LoadMethod, transfer
from backend.app.models import Category, HistoricalSales, Store, StoreCluster

ADMIN_URL = normalize_url(
    os.environ.get("FFDB_TEST_POSTGRES_URL")
    or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
STORES = 50


def build_source(path: Path, rows: int) -> Engine:
    url = f"sqlite:///{path}"
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    weeks = rows // STORES
    with engine.begin() as connection:
        connection.execute(
            insert(Category),
            [
                {
                    "category_id": "C",
                    "category_name": "Dresses",
                    "season_start_date": date(2024, 3, 1),
                    "season_end_date": date(2024, 5, 24),
                    "season_length_weeks": 12,
                }
            ],
        )
        cluster = {"cluster_id": "K", "cluster_name": "k", "fashion_tier": "VALUE"}
        connection.execute(insert(StoreCluster), [cluster])
        connection.execute(
            insert(Store),
            [
                {
                    "store_id": f"S{n:03d}",
                    "store_name": f"Store {n}",
                    "cluster_id": "K",
                    "store_size_sqft": 5_000,
                    "location_tier": "B",
                    "median_income": 60_000,
                    "store_format": "MALL",
                    "region": "WEST",
                    "avg_weekly_sales_12mo": 1234.5,
                }
                for n in range(STORES)
            ],
        )
        start = date(1990, 1, 1)
        for week in range(weeks):
            connection.execute(
                insert(HistoricalSales),
                [
                    {
                        "sale_id": f"H{n:03d}-{week:06d}",
                        "store_id": f"S{n:03d}",
                        "category_id": "C",
                        "week_start_date": start + timedelta(weeks=week),
                        "units_sold": (n * week) % 97,
                    }
                    for n in range(STORES)
                ],
            )
    return engine


@contextmanager
def fresh_postgres() -> Iterator[Engine]:
    admin = make_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"ffdb_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    url: URL = ADMIN_URL.set(database=name)
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def timed(source: Engine, target: Engine, method: LoadMethod) -> tuple[float, int, int]:
    """Seconds, rows copied, and peak traced memory (bytes) of one transfer."""
    tracemalloc.start()
    began = time.perf_counter()
    report = transfer(source, target, method=method)
    seconds = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, report.total_rows, peak


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        results: dict[str, tuple[float, int, int]] = {}
        sources = {}
        for size in (rows // 4, rows):
            sources[size] = build_source(Path(folder) / f"source-{size}.db", size)
        for size, source in sources.items():
            for method in ("insert", "copy"):
                with fresh_postgres() as target:
                    results[f"{size} {method}"] = timed(source, target, method)
        sqlite_target = Path(folder) / "target.db"
        command.upgrade(alembic_config(f"sqlite:///{sqlite_target}"), "head")
        sqlite_engine = make_engine(f"sqlite:///{sqlite_target}")
        results[f"{rows} sqlite"] = timed(sources[rows], sqlite_engine, "insert")
        sqlite_engine.dispose()
        for source in sources.values():
            source.dispose()

    print(f"{'run':<22}{'rows':>10}{'seconds':>10}{'rows/s':>12}{'peak MiB':>10}")
    for name, (seconds, copied, peak) in results.items():
        rate, mib = copied / seconds, peak / 2**20
        print(f"{name:<22}{copied:>10}{seconds:>10.2f}{rate:>12,.0f}{mib:>10.1f}")
    insert_s, copy_s = results[f"{rows} insert"][0], results[f"{rows} copy"][0]
    print(f"COPY vs executemany INSERT into PostgreSQL: {insert_s / copy_s:.2f}x faster")
    small_peak, large_peak = results[f"{rows // 4} copy"][2], results[f"{rows} copy"][2]
    print(f"peak memory at 4x the rows: {large_peak / small_peak:.2f}x (flat is ~1x)")


if __name__ == "__main__":
    main()
