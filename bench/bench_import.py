"""Import speed and memory of ``ffdb import historical-sales`` against the databases' own loaders.

Measured in one run, on identical fresh databases (migrated, 200 stores, 50 categories):

- SQLite baseline: the ``sqlite3`` CLI's ``.import`` of the CSV into a staging table,
  then ``INSERT INTO historical_sales ... SELECT`` (target: ffdb >= 0.5x its rows/s);
- PostgreSQL baseline: ``psql``'s ``\\copy`` into a staging table, then the same
  ``INSERT ... SELECT`` (target: ffdb >= 0.8x);
- peak resident memory of ``ffdb import`` on a much larger file (target < 200 MB).

Sizes: ``--rows`` (default 1,000,000) and ``--memory-rows`` (default 10,000,000), or
``FFDB_BENCH_ROWS`` / ``FFDB_BENCH_MEMORY_ROWS``; ``--memory-rows 0`` skips the memory
run. PostgreSQL comes from ``FFDB_TEST_POSTGRES_URL`` (default: the local test server)
and is skipped with a note when unreachable.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.app.database.db import make_engine, normalize_url  # noqa: E402
from backend.app.maintenance.schema_version import alembic_config  # noqa: E402

FFDB = str(Path(sys.executable).with_name("ffdb"))
STORES, CATEGORIES = 200, 50
FIRST_WEEK = date(2015, 1, 5)  # a Monday
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MOVE = (
    "INSERT INTO historical_sales (sale_id, store_id, category_id, week_start_date, units_sold) "
    "SELECT 'HS:' || store_id || ':' || category_id || ':' || week_start_date, store_id, "
    "category_id, {week}, units_sold FROM stage;"
)
STAGE = (
    "CREATE TEMP TABLE stage (week_start_date TEXT, store_id TEXT, category_id TEXT, "
    "units_sold INTEGER);"
)


def generate(path: Path, rows: int) -> None:
    """Deterministic weekly rows, in the order a retailer exports them (week, store, category)."""
    per_week = STORES * CATEGORIES
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("week_start_date,store_id,category_id,units_sold\n")
        written = 0
        week = 0
        while written < rows:
            day = (FIRST_WEEK + timedelta(weeks=week)).isoformat()
            take = min(per_week, rows - written)
            lines = [
                f"{day},S{i // CATEGORIES:04d},CAT{i % CATEGORIES:03d},"
                f"{(i * 7919 + week * 31) % 500}\n"
                for i in range(take)
            ]
            out.writelines(lines)
            written += take
            week += 1


def seed(url: str) -> None:
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
            [{"id": f"S{i:04d}"} for i in range(STORES)],
        )
        connection.execute(
            text(
                "INSERT INTO categories (category_id, category_name, season_start_date, "
                "season_end_date, season_length_weeks) VALUES (:id, :id, :start, :end, 12)"
            ),
            [
                {"id": f"CAT{i:03d}", "start": date(2025, 2, 17), "end": date(2025, 5, 11)}
                for i in range(CATEGORIES)
            ],
        )
    engine.dispose()


def timed(args: list[str], **options: object) -> float:
    started = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, **options)  # type: ignore[call-overload]
    return time.perf_counter() - started


def count(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as connection:
        total = int(connection.execute(text("SELECT COUNT(*) FROM historical_sales")).scalar_one())
    engine.dispose()
    return total


def report(name: str, rows: int, baseline: float, ours: float, target: float) -> None:
    base_rate, our_rate = rows / baseline, rows / ours
    ratio = our_rate / base_rate
    verdict = "meets" if ratio >= target else "MISSES"
    print(
        f"{name}: baseline {base_rate:,.0f} rows/s ({baseline:.1f} s), ffdb import "
        f"{our_rate:,.0f} rows/s ({ours:.1f} s), ratio {ratio:.2f} ({verdict} target {target})"
    )


def bench_sqlite(work: Path, csv_path: Path, rows: int) -> None:
    template = work / "template.db"
    seed(f"sqlite:///{template}")
    baseline_db, ours_db = work / "baseline.db", work / "ours.db"
    shutil.copyfile(template, baseline_db)
    shutil.copyfile(template, ours_db)
    script = "\n".join(
        [
            STAGE,
            ".mode csv",
            f".import --skip 1 {csv_path} stage",
            MOVE.format(week="week_start_date"),
        ]
    )
    baseline = timed(["sqlite3", str(baseline_db)], input=script.encode())
    ours = timed(
        [
            FFDB,
            "import",
            "historical-sales",
            str(csv_path),
            "--database-url",
            f"sqlite:///{ours_db}",
        ]
    )
    assert count(f"sqlite:///{baseline_db}") == rows == count(f"sqlite:///{ours_db}")
    report("SQLite", rows, baseline, ours, 0.5)


def bench_postgres(csv_path: Path, rows: int) -> None:
    admin_url = normalize_url(os.environ.get("FFDB_TEST_POSTGRES_URL") or DEFAULT_PG)
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        print(
            f"PostgreSQL: skipped, {admin_url.render_as_string()} unreachable "
            f"({type(error).__name__})"
        )
        return
    names = [f"ffdb_bench_{uuid.uuid4().hex[:8]}" for _ in range(3)]
    template, baseline_db, ours_db = names
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {template}")
        seed(admin_url.set(database=template).render_as_string(hide_password=False))
        with admin.connect() as connection:
            for name in (baseline_db, ours_db):
                connection.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {template}")
        base_url = admin_url.set(database=baseline_db)
        ours_url = admin_url.set(database=ours_db).render_as_string(hide_password=False)
        psql = [
            "psql",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            base_url.host or "127.0.0.1",
            "-p",
            str(base_url.port or 5432),
            "-U",
            base_url.username or "postgres",
            "-d",
            baseline_db,
        ]
        script = "\n".join(
            [
                STAGE,
                f"\\copy stage FROM '{csv_path}' WITH (FORMAT csv, HEADER true)",
                MOVE.format(week="CAST(week_start_date AS DATE)"),
            ]
        )
        env = {**os.environ, "PGPASSWORD": base_url.password or ""}
        baseline = timed(psql, input=script.encode(), env=env)
        ours = timed(
            [FFDB, "import", "historical-sales", str(csv_path), "--database-url", ours_url]
        )
        assert count(base_url.render_as_string(hide_password=False)) == rows == count(ours_url)
        report("PostgreSQL", rows, baseline, ours, 0.8)
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def bench_memory(work: Path, rows: int) -> None:
    csv_path = work / "memory.csv"
    generate(csv_path, rows)
    database = work / "memory.db"
    seed(f"sqlite:///{database}")
    # A fresh parent per measurement, so the peak is the import's and no earlier child's.
    probe = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
        "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    started = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            probe,
            FFDB,
            "import",
            "historical-sales",
            str(csv_path),
            "--database-url",
            f"sqlite:///{database}",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    elapsed = time.perf_counter() - started
    peak_mb = int(out.split()[-1]) / 1024
    verdict = "meets" if peak_mb < 200 else "MISSES"
    print(
        f"Memory: ffdb import of {rows:,} rows peaked at {peak_mb:.0f} MB resident "
        f"({elapsed:.0f} s, {rows / elapsed:,.0f} rows/s; {verdict} target < 200 MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=int(os.environ.get("FFDB_BENCH_ROWS", 1_000_000))
    )
    parser.add_argument(
        "--memory-rows", type=int, default=int(os.environ.get("FFDB_BENCH_MEMORY_ROWS", 10_000_000))
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ffdb-bench-") as directory:
        work = Path(directory)
        csv_path = work / "weekly.csv"
        generate(csv_path, args.rows)
        print(
            f"{args.rows:,} weekly historical-sales rows ({csv_path.stat().st_size / 1e6:.0f} MB)"
        )
        bench_sqlite(work, csv_path, args.rows)
        bench_postgres(csv_path, args.rows)
        if args.memory_rows:
            bench_memory(work, args.memory_rows)


if __name__ == "__main__":
    main()
