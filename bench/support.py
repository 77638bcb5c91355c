"""What the benchmarks share: quick mode, timing, ratio lines, seeded databases, files.

``BENCH_QUICK=1`` (``make bench-quick``) makes every size small enough that all of
``bench_import.py``, ``bench_startup.py`` and ``bench_writes.py`` finish in under two
minutes; ratios then say less about large files but are still measured against the
baselines in the same run.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.app.database.db import make_engine, normalize_url  # noqa: E402
from backend.app.maintenance.definitions import historical_sale_id  # noqa: E402
from backend.app.maintenance.schema_version import alembic_config  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK", "").lower() in ("1", "true", "yes")
FFDB = str(Path(sys.executable).with_name("ffdb"))
ALEMBIC = str(Path(sys.executable).with_name("alembic"))
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CATEGORIES = 50
HISTORY_STORES = 200
FIRST_WEEK = date(2015, 1, 5)  # a Monday
SEASON_START = date(2025, 2, 17)
FORECASTS = ("F1", "F2")  # F1 takes the file; F2 holds the "other rows" of actuals


def size(full: int, quick: int, variable: str) -> int:
    return int(os.environ.get(variable) or (quick if QUICK else full))


def load() -> str:
    return "load average " + ", ".join(f"{value:.2f}" for value in os.getloadavg())


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def ratio_line(name: str, ours: float, baseline: float, target: float, rows: int = 0) -> str:
    """``name: ffdb X s, baseline Y s: ratio R (target >= T: meets)``; ratio = baseline/ours."""
    ratio = baseline / ours
    rates = f" ({rows / ours:,.0f} vs {rows / baseline:,.0f} rows/s)" if rows else ""
    return (
        f"{name}: ffdb {ours:.2f} s, baseline {baseline:.2f} s{rates}: ratio {ratio:.2f}x "
        f"({verdict(ratio >= target)} target >= {target}x)"
    )


def run(args: Sequence[str], **options: object) -> float:
    """Seconds ``args`` took to run (checked, stdout discarded)."""
    started = time.perf_counter()
    subprocess.run(list(args), check=True, stdout=subprocess.DEVNULL, **options)  # type: ignore[call-overload]
    return time.perf_counter() - started


def best_of(repeats: int, *timed: Callable[[], float]) -> list[float]:
    """The fastest of ``repeats`` interleaved runs of each timed function (start-up times:
    the minimum is what the code costs, the rest is the machine's other work)."""
    results: list[list[float]] = [[] for _ in timed]
    for _ in range(repeats):
        for index, function in enumerate(timed):
            results[index].append(function())
    return [min(values) for values in results]


def median_of(values: list[float]) -> float:
    return statistics.median(values)


# --- databases ---------------------------------------------------------------------------


def postgres_admin_url() -> URL:
    return normalize_url(os.environ.get("FFDB_TEST_POSTGRES_URL") or DEFAULT_PG)


def seed(url: str | URL, stores: int) -> None:
    """Migrate to head and add what the files reference: ``stores`` stores, 50
    categories, forecasts F1 and F2 (12 weeks)."""
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO store_clusters (cluster_id, cluster_name, fashion_tier) "
                "VALUES ('CL_VALUE', 'Value', 'VALUE')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO stores (store_id, store_name, cluster_id, store_size_sqft, "
                "location_tier, median_income, store_format, region, avg_weekly_sales_12mo) "
                "VALUES (:id, :id, 'CL_VALUE', 1000, 'A', 50000, 'MALL', 'WEST', 100.0)"
            ),
            [{"id": store_id(i)} for i in range(stores)],
        )
        connection.execute(
            text(
                "INSERT INTO categories (category_id, category_name, season_start_date, "
                "season_end_date, season_length_weeks) VALUES (:id, :id, :start, :end, 12)"
            ),
            [
                {
                    "id": category_id(i),
                    "start": SEASON_START,
                    "end": SEASON_START + timedelta(weeks=12),
                }
                for i in range(CATEGORIES)
            ],
        )
        connection.execute(
            text(
                "INSERT INTO forecasts (forecast_id, category_id, season, forecast_horizon_weeks, "
                "total_season_demand, weekly_demand_curve, peak_week, models_used) VALUES "
                "(:id, :category, '2025', 12, 1000, '[]', 1, '[\"prophet\"]')"
            ),
            [{"id": forecast, "category": category_id(i)} for i, forecast in enumerate(FORECASTS)],
        )
    engine.dispose()


def copy_sqlite(template: Path, target: Path) -> Path:
    for suffix in ("-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    shutil.copyfile(template, target)
    return target


def store_id(number: int) -> str:
    return f"S{number:05d}"


def category_id(number: int) -> str:
    return f"CAT{number:03d}"


# --- files -------------------------------------------------------------------------------


def history_file(path: Path, rows: int, *, first_week: int = 0, with_ids: bool = False) -> Path:
    """Weekly history rows in a retailer's order (week, store, category); ``with_ids``
    puts the table's own columns first, id included (for ``psql \\copy`` straight in)."""
    per_week = HISTORY_STORES * CATEGORIES
    with open(path, "w", encoding="utf-8", newline="") as out:
        if with_ids:
            out.write("sale_id,store_id,category_id,week_start_date,units_sold\n")
        else:
            out.write("week_start_date,store_id,category_id,units_sold\n")
        written, week = 0, first_week
        while written < rows:
            day = (FIRST_WEEK + timedelta(weeks=week)).isoformat()
            take = min(per_week, rows - written)
            lines = []
            for i in range(take):
                store, category = store_id(i // CATEGORIES), category_id(i % CATEGORIES)
                units = (i * 7919 + week * 31) % 500
                if with_ids:
                    sale_id = historical_sale_id(store, category, day)
                    lines.append(f"{sale_id},{store},{category},{day},{units}\n")
                else:
                    lines.append(f"{day},{store},{category},{units}\n")
            out.writelines(lines)
            written += take
            week += 1
    return path


def actuals_stores(rows: int) -> int:
    return -(-rows // 12)


def actuals_file(path: Path, rows: int) -> Path:
    """Weekly actuals ``store_id,week_number,units_sold``: weeks 1..12, each for as many
    stores as ``rows`` needs (one forecast holds 12 weeks per store)."""
    stores = actuals_stores(rows)
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("store_id,week_number,units_sold\n")
        written = 0
        for week in range(1, 13):
            take = min(stores, rows - written)
            out.writelines(f"{store_id(i)},{week},{(i * 13 + week) % 300}\n" for i in range(take))
            written += take
    return path


@contextmanager
def fresh_database(backend: str, postgres_url: URL, folder: Path) -> Iterator[Engine]:
    """A new database at head: a file in ``folder`` or a database on the server."""
    if backend == "sqlite":
        url = normalize_url(f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.db'}")
        command.upgrade(alembic_config(url), "head")
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    admin = make_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"ffdb_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    url = postgres_url.set(database=name)
    engine = make_engine(url)
    try:
        command.upgrade(alembic_config(url), "head")
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()
