"""Benchmark: ``find_rule_violations`` keeps memory flat as the database grows.

The domain-rule scan (``ffdb doctor``'s ``domain_rules``) runs its sums in SQL and
streams forecast curves in bounded batches, so the Python memory it needs should not
grow with the number of forecasts, allocations and actual sales. Measured in one run:

- the sample season (3 forecasts) plus ``--small`` (default 200) filler forecasts,
  then plus ``--large`` (default 2,000): each filler has a 12-week curve, a 3-cluster
  distribution, an allocation over the 50 demo stores and 6 weeks of actual sales
  (300 rows), all consistent, so the scan finds nothing;
- peak Python memory of one scan (tracemalloc) and the median time of ``--runs`` scans
  at each size, and their ratios large / small. Claim: memory ratio at most 1.5 for
  10x the rows; time grows with the rows (it reads them all).

    .venv/bin/python bench/bench_rule_violations.py                       # SQLite
    .venv/bin/python bench/bench_rule_violations.py --backend postgresql  # FFDB_BENCH_POSTGRES_URL
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.engine import URL

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.app.database.db import make_engine, normalize_url, read_only, redacted
from backend.app.demo.sample_season import apportion, generate_sample_season
from backend.app.domain.rules import curve_from_units
from backend.app.domain.violations import find_rule_violations
from backend.app.maintenance.schema_version import alembic_config
from backend.app.models import (
    ActualSales,
    Allocation,
    Forecast,
    ForecastClusterDistribution,
    Store,
)

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CLUSTERS = ("CL-PREMIUM", "CL-MAINSTREAM", "CL-VALUE")
WEEKS_SOLD = 6


def add_filler_forecasts(engine: Engine, first: int, count: int, seed: int) -> int:
    """``count`` consistent filler forecasts numbered from ``first``; returns rows written."""
    rng = random.Random(seed + first)
    with engine.connect() as connection:
        stores = list(connection.scalars(select(Store.store_id).order_by(Store.store_id)))
    written = 0
    with engine.begin() as connection:
        for number in range(first, first + count):
            forecast_id = f"BENCH-F{number:06d}"
            units = [rng.randint(500, 2_000) for _ in range(12)]
            total = sum(units)
            connection.execute(
                insert(Forecast),
                {
                    "forecast_id": forecast_id,
                    "category_id": "CAT-WD",
                    "season": "Bench",
                    "forecast_horizon_weeks": 12,
                    "total_season_demand": total,
                    "weekly_demand_curve": curve_from_units(units),
                    "peak_week": units.index(max(units)) + 1,
                    "models_used": ["bench"],
                },
            )
            weights = [0.3, 0.5, 0.2]
            cluster_units = apportion(total, weights)
            connection.execute(
                insert(ForecastClusterDistribution),
                [
                    {
                        "distribution_id": f"{forecast_id}-{cluster}",
                        "forecast_id": forecast_id,
                        "cluster_id": cluster,
                        "allocation_percentage": weight,
                        "total_units": share,
                    }
                    for cluster, weight, share in zip(CLUSTERS, weights, cluster_units, strict=True)
                ],
            )
            initial = apportion(total, [1.0] * len(stores))
            holdback = apportion(total // 3, [1.0] * len(stores))
            connection.execute(
                insert(Allocation),
                {
                    "allocation_id": f"BENCH-A{number:06d}",
                    "forecast_id": forecast_id,
                    "manufacturing_qty": total + total // 3,
                    "initial_allocation_total": total,
                    "holdback_total": total // 3,
                    "store_allocations": [
                        {"store_id": store, "initial": first_units, "holdback": held}
                        for store, first_units, held in zip(stores, initial, holdback, strict=True)
                    ],
                },
            )
            connection.execute(
                insert(ActualSales),
                [
                    {
                        "actual_id": f"{forecast_id}-{store}-{week}",
                        "store_id": store,
                        "forecast_id": forecast_id,
                        "week_number": week,
                        "units_sold": rng.randint(0, 40),
                    }
                    for store in stores
                    for week in range(1, WEEKS_SOLD + 1)
                ],
            )
            written += 1 + len(CLUSTERS) + 1 + len(stores) * WEEKS_SOLD
    return written


def scan(engine: Engine) -> int:
    with read_only(engine).connect() as connection:
        return len(find_rule_violations(connection))


def measure(engine: Engine, runs: int) -> tuple[float, float, int]:
    """(median seconds, peak traced KiB, problems found)."""
    problems = scan(engine)  # warm caches and compiled statements
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        scan(engine)
        times.append(time.perf_counter() - start)
    gc.collect()
    tracemalloc.start()
    try:
        scan(engine)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return statistics.median(times), peak / 1024, problems


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            model.__tablename__: int(
                connection.scalar(select(func.count()).select_from(model)) or 0
            )
            for model in (Forecast, Allocation, ActualSales)
        }


def run(url: URL, small: int, large: int, runs: int) -> None:
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    try:
        print(f"database: {redacted(url)}")
        generate_sample_season(engine, seed=42)
        add_filler_forecasts(engine, 0, small, seed=42)
        small_counts = counts(engine)
        small_time, small_peak, small_problems = measure(engine, runs)
        add_filler_forecasts(engine, small, large - small, seed=42)
        large_counts = counts(engine)
        large_time, large_peak, large_problems = measure(engine, runs)
    finally:
        engine.dispose()
    assert small_problems == large_problems == 0, (small_problems, large_problems)

    def row(label: str, sizes: dict[str, int], seconds: float, peak: float) -> str:
        return (
            f"{label:<6} forecasts={sizes['forecasts']:>6,} allocations={sizes['allocations']:>6,} "
            f"actual_sales={sizes['actual_sales']:>9,}  median {seconds * 1000:8.1f} ms  "
            f"peak memory {peak:8.1f} KiB"
        )

    print(row("small", small_counts, small_time, small_peak))
    print(row("large", large_counts, large_time, large_peak))
    rows_ratio = large_counts["actual_sales"] / small_counts["actual_sales"]
    memory_ratio = large_peak / small_peak
    print(
        f"rows x{rows_ratio:.1f}: time ratio {large_time / small_time:.2f}, "
        f"peak memory ratio {memory_ratio:.2f} (claim: memory ratio <= 1.5) -> "
        + ("OK" if memory_ratio <= 1.5 else "FAILED")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--large", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if args.large <= args.small:
        parser.error("--large must be greater than --small")
    if args.backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            run(normalize_url(f"sqlite:///{directory}/bench.db"), args.small, args.large, args.runs)
        return 0
    admin_url = normalize_url(os.environ.get("FFDB_BENCH_POSTGRES_URL") or DEFAULT_POSTGRES_URL)
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"ffdb_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        try:
            run(admin_url.set(database=name), args.small, args.large, args.runs)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
