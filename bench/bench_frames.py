"""Benchmark: a category's per-store history as a DataFrame, against pandas.read_sql.

One claim, measured in the same run on each backend: ``history_frame(url, category,
by="store")`` (Arrow columns through ADBC) builds the 10,000,000-row frame at least 5x
faster than ``pandas.read_sql`` of the same statement (``frames.history_statement``)
through the SQLAlchemy engine, the way a notebook would do it. (``history_frame`` reads
that statement in ranges of store ids on parallel connections, one snapshot; the
benchmark checks once, untimed, that both give the same values in the same order.)

The history is generated inside the database (a recursive CTE on SQLite,
generate_series on PostgreSQL), not through the importer: ``--stores`` stores x
``--weeks`` weeks of one category (20,000 x 500 = 10,000,000 rows), inserted in key
order. Both reads are repeated ``--repeats`` times, interleaved; medians are compared.

    .venv/bin/python bench/bench_frames.py                    # SQLite and PostgreSQL
    BENCH_QUICK=1 .venv/bin/python bench/bench_frames.py      # 100,000 rows, seconds
    .venv/bin/python bench/bench_frames.py --backend sqlite --stores 2000

PostgreSQL comes from ``FFDB_BENCH_POSTGRES_URL`` (default: the local test server); when
it cannot be reached its half is skipped with the reason. Quick mode reports the ratio
but does not judge it (start-up costs dominate small reads).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import fresh_database, load

from backend.app.database.db import make_engine, normalize_url, redacted
from backend.app.maintenance.integrity import drop_guards, install_guards
from backend.app.queries.frames import history_frame, history_statement

CATEGORY = "BENCH-CAT"
FIRST_WEEK = "2016-01-04"  # a Monday
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGET = 5.0


def quick() -> bool:
    return os.environ.get("BENCH_QUICK", "") not in ("", "0")


# --- data -----------------------------------------------------------------------------------


def generate(engine: Engine, stores: int, weeks: int) -> int:
    """A cluster, a category, ``stores`` stores and ``weeks`` weeks of history each."""
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        store_numbers = "generate_series(1, :stores) AS n(i)"
        week_numbers = "generate_series(0, :weeks - 1) AS w(i)"
        store_id = "'B' || lpad(CAST(n.i AS TEXT), 6, '0')"
        week = f"CAST(DATE '{FIRST_WEEK}' + 7 * w.i AS DATE)"
        week_text = f"CAST({week} AS TEXT)"
    else:
        store_numbers = (
            "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
            "WHERE i < :stores) SELECT i FROM n) AS n"
        )
        week_numbers = (
            "(WITH RECURSIVE w(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM w "
            "WHERE i < :weeks - 1) SELECT i FROM w) AS w"
        )
        store_id = "printf('B%06d', n.i)"
        week = f"date('{FIRST_WEEK}', '+' || (7 * w.i) || ' days')"
        week_text = week
    with engine.begin() as connection:
        # Generated rows join existing parents, so they cannot orphan a row; the per-row
        # foreign-key triggers (SQLite) would only slow the load down.
        if not postgres:
            connection.exec_driver_sql("PRAGMA cache_size=-262144")
            drop_guards(connection)
        connection.execute(
            text(
                "INSERT INTO store_clusters (cluster_id, cluster_name, fashion_tier) "
                "VALUES ('BENCH', 'Bench', 'MAINSTREAM')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO categories (category_id, category_name, season_start_date, "
                "season_end_date, season_length_weeks) VALUES (:c, 'Bench category', "
                f"{'DATE ' if postgres else ''}'2025-02-17', "
                f"{'DATE ' if postgres else ''}'2025-05-11', 12)"
            ),
            {"c": CATEGORY},
        )
        connection.execute(
            text(
                "INSERT INTO stores (store_id, store_name, cluster_id, store_size_sqft, "
                "location_tier, median_income, store_format, region, avg_weekly_sales_12mo) "
                f"SELECT {store_id}, 'Store ' || {store_id}, 'BENCH', 10000, 'B', 60000, "
                f"'MALL', 'MIDWEST', 100.0 FROM {store_numbers}"
            ),
            {"stores": stores},
        )
        # In key order (store, category, week), ids as definitions.historical_sale_id
        # makes them: the B-tree writes append.
        connection.execute(
            text(
                "INSERT INTO historical_sales (sale_id, store_id, category_id, "
                "week_start_date, units_sold) "
                f"SELECT 'HS:' || {store_id} || ':' || :c || ':' || {week_text}, {store_id}, "
                f":c, {week}, (n.i * 7 + w.i * 13) % 97 "
                f"FROM {store_numbers} CROSS JOIN {week_numbers} ORDER BY n.i, w.i"
            ),
            {"stores": stores, "weeks": weeks, "c": CATEGORY},
        )
        if not postgres:
            install_guards(connection)
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))
        connection.commit()
        return int(connection.execute(text("SELECT COUNT(*) FROM historical_sales")).scalar_one())


# --- the two reads --------------------------------------------------------------------------


def arrow_frame(url: URL) -> int:
    return len(history_frame(url, CATEGORY, by="store"))


def read_sql_frame(engine: Engine) -> int:
    import pandas as pd

    return len(pd.read_sql(history_statement(CATEGORY, "store"), engine))


def same_frames(url: URL, engine: Engine, rows: int) -> None:
    """Untimed, once: both reads give every row, the same values in the same order (the
    baseline keeps pandas' default types: ids as str, weeks as date objects)."""
    import pandas as pd

    ours = history_frame(url, CATEGORY, by="store")
    theirs = pd.read_sql(history_statement(CATEGORY, "store"), engine)
    assert len(ours) == len(theirs) == rows
    assert list(ours.columns) == list(theirs.columns)
    assert (ours["store_id"].astype(str).to_numpy() == theirs["store_id"].to_numpy()).all()
    weeks = pd.to_datetime(theirs["week_start_date"]).to_numpy()
    assert (ours["week_start_date"].to_numpy() == weeks).all()
    assert (ours["units_sold"].to_numpy() == theirs["units_sold"].to_numpy()).all()


def interleaved_medians(reads: dict[str, Callable[[], int]], repeats: int) -> dict[str, float]:
    """Each read's median; every repeat is printed with its ratio and the load average
    (other work on the machine moves both reads)."""
    times: dict[str, list[float]] = {name: [] for name in reads}
    for number in range(1, repeats + 1):
        for name, read in reads.items():
            gc.collect()
            started = time.perf_counter()
            read()
            times[name].append(time.perf_counter() - started)
        now = {name: found[-1] for name, found in times.items()}
        ratio = now["read_sql"] / now["arrow"]
        shown = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in now.items())
        print(f"  repeat {number}: {shown}: {ratio:.1f}x ({load()})", flush=True)
    return {name: statistics.median(found) for name, found in times.items()}


# --- databases ------------------------------------------------------------------------------


def postgres_unreachable(postgres_url: URL) -> str | None:
    admin = make_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        return str(error).splitlines()[0]
    finally:
        admin.dispose()
    return None


def run(backend: str, args: argparse.Namespace) -> bool | None:
    postgres_url = normalize_url(args.postgres_url)
    if backend == "postgresql":
        reason = postgres_unreachable(postgres_url)
        if reason is not None:
            print(f"== postgresql: skipped, {redacted(postgres_url)} unreachable: {reason}")
            return None
    where = "a temporary file" if backend == "sqlite" else redacted(postgres_url)
    print(f"== {backend} ({where})", flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="ffdb-bench-") as folder,
        fresh_database(backend, postgres_url, Path(folder)) as engine,
    ):
        started = time.perf_counter()
        rows = generate(engine, args.stores, args.weeks)
        print(f"  generated {rows:,} history rows in {time.perf_counter() - started:.1f} s")
        url = engine.url
        same_frames(url, engine, rows)
        medians = interleaved_medians(
            {"arrow": lambda: arrow_frame(url), "read_sql": lambda: read_sql_frame(engine)},
            args.repeats,
        )
    ratio = medians["read_sql"] / medians["arrow"]
    print(f"  history_frame (Arrow via ADBC): median {medians['arrow']:8.2f} s")
    print(f"  pandas.read_sql (SQLAlchemy):   median {medians['read_sql']:8.2f} s")
    judged = "" if args.quick else f" (target >= {TARGET:.0f}x)"
    print(f"  frame ratio: {ratio:.1f}x faster{judged}", flush=True)
    return ratio >= TARGET


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    small = quick()
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--stores", type=int, default=400 if small else 20_000)
    parser.add_argument("--weeks", type=int, default=250 if small else 500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("FFDB_BENCH_POSTGRES_URL") or DEFAULT_POSTGRES_URL,
        help="server to create the bench database on [$FFDB_BENCH_POSTGRES_URL]",
    )
    args = parser.parse_args()
    args.quick = small
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = [result for backend in backends if (result := run(backend, args)) is not None]
    if args.quick:
        print("quick mode: ratios shown, not judged")
        return 0
    print("targets met" if all(results) else "TARGETS MISSED")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
