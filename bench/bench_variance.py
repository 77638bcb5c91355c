"""Benchmark: a forecast's variance read is indexed and computed in the database.

Two claims, each printed as medians and a ratio measured in the same run:

1. The read costs the same whether actual_sales holds ``--small`` (100,000) or
   ``--large`` (10,000,000) rows of *other* forecasts: ratio of medians <= 1.5.
2. It runs at least 10x faster than loading the forecast's actual_sales rows (and its
   forecast and allocation) through the ORM and computing the same report in Python.

The measured forecast belongs to a retailer of ``--stores`` stores (default 1,000)
with actual sales for all 12 weeks (12,000 rows) and an allocation across all stores;
every filler forecast has the same shape. Filler rows are generated inside the
database (a recursive CTE on SQLite, generate_series on PostgreSQL).

    .venv/bin/python bench/bench_variance.py                       # SQLite
    .venv/bin/python bench/bench_variance.py --backend postgresql  # FFDB_BENCH_POSTGRES_URL
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import fresh_database

from backend.app.database.db import normalize_url, read_only, redacted
from backend.app.maintenance.integrity import drop_guards, install_guards
from backend.app.models import (
    ActualSales,
    Allocation,
    Category,
    Forecast,
    Store,
    StoreCluster,
)
from backend.app.models.enums import FashionTier, LocationTier, Region, StoreFormat
from backend.app.queries import forecast_variance

WEEKS = 12
MEASURED = "BENCH-F-MEASURED"
CATEGORY = "BENCH-CAT"
FILLER_CHUNK = 50  # forecasts per INSERT, so progress shows
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


# --- data -----------------------------------------------------------------------------------


def curve(total_per_week: int) -> list[dict[str, int]]:
    return [{"week_number": w, "demand_units": total_per_week + 10 * w} for w in range(1, 13)]


def build_measured_forecast(engine: Engine, stores: int, seed: int = 42) -> int:
    """Stores, the measured forecast, its allocation and 12 weeks of its sales; returns rows."""
    rng = random.Random(seed)
    store_ids = [f"B{i:05d}" for i in range(1, stores + 1)]
    with Session(engine) as session:
        session.add(
            StoreCluster(
                cluster_id="BENCH", cluster_name="Bench", fashion_tier=FashionTier.MAINSTREAM
            )
        )
        session.add(
            Category(
                category_id=CATEGORY,
                category_name="Bench category",
                season_start_date=date(2025, 2, 17),
                season_end_date=date(2025, 5, 11),
                season_length_weeks=WEEKS,
            )
        )
        session.flush()
        session.add_all(
            Store(
                store_id=store_id,
                store_name=f"Store {store_id}",
                cluster_id="BENCH",
                store_size_sqft=10_000,
                location_tier=LocationTier.B,
                median_income=60_000,
                store_format=StoreFormat.MALL,
                region=Region.MIDWEST,
                avg_weekly_sales_12mo=100.0,
            )
            for store_id in store_ids
        )
        points = curve(stores * 3)
        session.add(
            Forecast(
                forecast_id=MEASURED,
                category_id=CATEGORY,
                season="Bench",
                forecast_horizon_weeks=WEEKS,
                total_season_demand=sum(p["demand_units"] for p in points),
                weekly_demand_curve=points,
                peak_week=WEEKS,
                models_used=["prophet", "arima"],
                created_at=datetime(2025, 2, 1, tzinfo=UTC),
            )
        )
        session.flush()
        split = [{"store_id": s, "initial": rng.randint(20, 60), "holdback": 10} for s in store_ids]
        session.add(
            Allocation(
                allocation_id="BENCH-A-MEASURED",
                forecast_id=MEASURED,
                manufacturing_qty=sum(i["initial"] + i["holdback"] for i in split),
                initial_allocation_total=sum(i["initial"] for i in split),
                holdback_total=10 * stores,
                store_allocations=split,
            )
        )
        session.flush()
        rows = [
            {
                "actual_id": f"M-{store_id}-{week}",
                "store_id": store_id,
                "forecast_id": MEASURED,
                "week_number": week,
                "units_sold": rng.randint(0, 8),
            }
            for store_id in store_ids
            for week in range(1, WEEKS + 1)
        ]
        session.execute(insert(ActualSales), rows)
        session.commit()
    return len(rows)


def add_filler(engine: Engine, first: int, count: int) -> None:
    """Filler forecasts ``first``..``first+count-1``, each with sales in every store and week."""
    postgres = engine.dialect.name == "postgresql"
    numbers = (
        "FROM generate_series(CAST(:first AS INTEGER), CAST(:last AS INTEGER)) AS n(i)"
        if postgres
        else "FROM (WITH RECURSIVE n(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM n "
        "WHERE i < :last) SELECT i FROM n) AS n"
    )
    weeks = (
        "generate_series(1, 12) AS w(i)"
        if postgres
        else "(WITH RECURSIVE w(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM w WHERE i < 12) "
        "SELECT i FROM w) AS w"
    )
    json_value = "CAST(:{} AS JSONB)" if postgres else ":{}"
    points = curve(100)
    with engine.begin() as connection:
        # The filler joins existing stores and forecasts, so it cannot orphan a row; the
        # per-row foreign-key triggers would only slow the load down several times.
        if not postgres:
            drop_guards(connection)
        elif connection.exec_driver_sql(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).scalar():
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        connection.execute(
            text(
                "INSERT INTO forecasts (forecast_id, category_id, season, forecast_horizon_weeks, "
                "total_season_demand, weekly_demand_curve, peak_week, models_used) "
                f"SELECT 'FILL-' || n.i, :category, 'Filler', 12, :total, "
                f"{json_value.format('curve')}, 12, {json_value.format('models')} {numbers}"
            ),
            {
                "first": first,
                "last": first + count - 1,
                "category": CATEGORY,
                "total": sum(p["demand_units"] for p in points),
                "curve": json.dumps(points),
                "models": '["prophet"]',
            },
        )
        connection.execute(
            text(
                "INSERT INTO actual_sales (actual_id, store_id, forecast_id, week_number, "
                "units_sold) SELECT f.forecast_id || '-' || s.store_id || '-' || w.i, "
                "s.store_id, f.forecast_id, w.i, (w.i * 7) % 23 "
                f"FROM (SELECT 'FILL-' || n.i AS forecast_id {numbers}) AS f "
                f"CROSS JOIN stores s CROSS JOIN {weeks}"
            ),
            {"first": first, "last": first + count - 1},
        )
        if not postgres:
            install_guards(connection)


def fill_to(engine: Engine, rows_wanted: int, stores: int, done: int) -> int:
    """Add filler forecasts until filler rows reach ``rows_wanted``; returns forecasts made."""
    per_forecast = stores * WEEKS
    target = -(-rows_wanted // per_forecast)
    started = time.perf_counter()
    while done < target:
        count = min(FILLER_CHUNK, target - done)
        add_filler(engine, done + 1, count)
        done += count
        rate = done * per_forecast / (time.perf_counter() - started + 1e-9)
        print(f"    filler: {done * per_forecast:>12,} rows ({rate:,.0f} rows/s)", flush=True)
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    return done


# --- the two ways of computing the report ---------------------------------------------------


def variance_in_database(engine: Engine) -> dict[str, Any]:
    with Session(read_only(engine)) as session:
        return forecast_variance(session, MEASURED, WEEKS).to_json_object()


def variance_through_orm(engine: Engine) -> dict[str, Any]:
    """The report as an agent without the read API would compute it: rows into Python."""
    with Session(read_only(engine)) as session:
        forecast = session.get_one(Forecast, MEASURED)
        allocation = session.scalars(
            select(Allocation)
            .where(Allocation.forecast_id == MEASURED)
            .order_by(Allocation.created_at.desc(), Allocation.allocation_id.desc())
        ).first()
        sales = session.scalars(
            select(ActualSales).where(
                ActualSales.forecast_id == MEASURED, ActualSales.week_number <= WEEKS
            )
        ).all()
        planned = {p["week_number"]: p["demand_units"] for p in forecast.weekly_demand_curve}
        by_week: dict[int, int] = defaultdict(int)
        stores_of_week: dict[int, set[str]] = defaultdict(set)
        by_store: dict[str, int] = defaultdict(int)
        for sale in sales:
            by_week[sale.week_number] += sale.units_sold
            stores_of_week[sale.week_number].add(sale.store_id)
            by_store[sale.store_id] += sale.units_sold
        shipped: dict[str, int] = defaultdict(int)
        for item in allocation.store_allocations if allocation else []:
            shipped[item["store_id"]] += item["initial"]

        def pct(numerator: float, denominator: float | None) -> float | None:
            return numerator / denominator if denominator else None

        weeks = []
        for w in range(1, WEEKS + 1):
            actual = by_week[w] if w in stores_of_week else None
            weeks.append(
                {
                    "week_number": w,
                    "forecast_units": planned[w],
                    "actual_units": actual,
                    "variance_units": None if actual is None else actual - planned[w],
                    "variance_pct": None
                    if actual is None
                    else pct(actual - planned[w], planned[w]),
                    "stores_reported": len(stores_of_week[w]),
                    "partial": actual is not None and bool(set(shipped) - stores_of_week[w]),
                }
            )
        reported = [w for w in weeks if w["actual_units"] is not None]
        f_total = sum(w["forecast_units"] for w in reported)
        a_total = sum(w["actual_units"] for w in reported)
        return {
            "forecast_id": MEASURED,
            "week": WEEKS,
            "stores_allocated": len(shipped) if allocation else None,
            "weeks": weeks,
            "cumulative": {
                "weeks_reported": len(reported),
                "weeks_partial": sum(w["partial"] for w in reported),
                "forecast_units": f_total,
                "actual_units": a_total,
                "variance_units": a_total - f_total,
                "variance_pct": pct(a_total - f_total, f_total),
            },
            "stores": [
                {
                    "store_id": s,
                    "units_sold": by_store.get(s, 0),
                    "units_shipped": shipped.get(s),
                    "sell_through_pct": pct(by_store.get(s, 0), shipped.get(s)),
                }
                for s in sorted(set(by_store) | set(shipped))
            ],
        }


def interleaved_medians(reads: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each read, timed in turn so all see the same machine load.

    A collection runs before each timed read so that one read's garbage is not
    collected on the next one's clock; during the read the collector runs as it would
    for an agent (the ORM's objects cost what they cost).
    """
    for read in reads.values():
        read()  # warm the page cache and SQLAlchemy's statement cache
    times: dict[str, list[float]] = {name: [] for name in reads}
    for _ in range(repeats):
        for name, read in reads.items():
            gc.collect()
            started = time.perf_counter()
            read()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def same_report(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def rounded(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, 9)
        if isinstance(value, dict):
            return {k: rounded(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rounded(v) for v in value]
        return value

    return bool(rounded(a) == rounded(b))


# --- databases ------------------------------------------------------------------------------


def run(backend: str, args: argparse.Namespace) -> bool:
    """Two databases with the same measured forecast and small / large filler, read in turn."""
    postgres_url = normalize_url(args.postgres_url)
    where = "temporary files" if backend == "sqlite" else redacted(postgres_url)
    print(f"== {backend} ({where})", flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="ffdb-bench-") as folder,
        fresh_database(backend, postgres_url, Path(folder)) as small_db,
        fresh_database(backend, postgres_url, Path(folder)) as large_db,
    ):
        sizes = {}
        for label, engine, rows in (
            ("small", small_db, args.small),
            ("large", large_db, args.large),
        ):
            own_rows = build_measured_forecast(engine, args.stores)
            print(f"  {label}: measured forecast with {own_rows:,} actual_sales rows", flush=True)
            sizes[label] = fill_to(engine, rows, args.stores, 0) * args.stores * WEEKS
        expected = variance_through_orm(small_db)
        for engine in (small_db, large_db):
            assert same_report(variance_in_database(engine), expected), "reports differ"
        medians = interleaved_medians(
            {
                "small": lambda: variance_in_database(small_db),
                "large": lambda: variance_in_database(large_db),
                "orm": lambda: variance_through_orm(small_db),
            },
            args.repeats,
        )
    size_ratio = medians["large"] / medians["small"]
    speedup = medians["orm"] / medians["small"]
    for label in ("small", "large"):
        print(
            f"  variance read with {sizes[label]:>12,} other rows: "
            f"median {medians[label] * 1000:8.2f} ms"
        )
    print(f"  ratio large/small: {size_ratio:.2f} (target <= 1.5)")
    print(
        f"  ORM load + Python with {sizes['small']:>10,} other rows: "
        f"median {medians['orm'] * 1000:8.2f} ms"
    )
    print(f"  database read vs ORM + Python: {speedup:.1f}x faster (target >= 10x)", flush=True)
    return size_ratio <= 1.5 and speedup >= 10


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--small", type=int, default=100_000, help="filler rows, first run")
    parser.add_argument("--large", type=int, default=10_000_000, help="filler rows, second run")
    parser.add_argument("--stores", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=41)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("FFDB_BENCH_POSTGRES_URL") or DEFAULT_POSTGRES_URL,
        help="server to create the bench database on [$FFDB_BENCH_POSTGRES_URL]",
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = [run(backend, args) for backend in backends]
    print("targets met" if all(results) else "TARGETS MISSED")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
