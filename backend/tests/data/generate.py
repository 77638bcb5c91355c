"""Write the repository's own import fixtures: small, deterministic, retailer-shaped.

    python backend/tests/data/generate.py [--out DIR]     (default: this folder)

The files copy the headers and spellings of the retailer exports the system reads
(``../shared/fixtures/retail-exports/``, which are not ours to copy), with numbers
drawn here from a fixed seed, so the same files come out on every run:

- ``stores_whole_numbers.csv``, ``stores_decimals.csv``: store attributes in the two
  retailer layouts (whole numbers; decimal sales, small traffic and density figures).
  Every spelling occurs: ``Mall``, ``ShoppingCenter``, ``Standalone``, ``Outlet``;
  ``Northeast``, ``Southeast``, ``Midwest``, ``West``; ``Premium``, ``Mainstream``,
  ``Value``; tiers ``A``..``C``; ``True``/``False``.
- ``normal_season/actuals_week_NN.csv``: daily actuals (date,store_id,quantity_sold),
  one season week per file, 7 days x every store, weeks 1..12 from Monday 2025-02-17.
- ``actuals_weekly.csv``: the same actuals as weekly totals (store_id,week_number,
  units_sold).
- ``historical_sales_daily.csv``: last year's daily sales with the category by name
  (date,store_id,category,quantity_sold,revenue).
- ``historical_sales_weekly.csv``: the same history as weekly totals by category id
  (week_start_date,store_id,category_id,units_sold).

Each weekly file is its daily file summed, so importing one after the other changes
nothing; the tests rely on that.
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path

SEED = 20250217
STORES = 20
SEASON_START = date(2025, 2, 17)  # a Monday
SEASON_WEEKS = 12
HISTORY_START = date(2024, 2, 19)  # the Monday a year before
HISTORY_WEEKS = 4
CATEGORY_ID = "womens_dresses"
CATEGORY_NAME = "Women's Dresses"
UNIT_PRICE = 49.9

STORE_HEADER = [
    "store_id",
    "avg_weekly_sales_12mo",
    "store_size_sqft",
    "median_income",
    "location_tier",
    "fashion_tier",
    "store_format",
    "region",
    "foot_traffic",
    "competitor_density",
    "online_penetration",
    "population_density",
    "mall_location",
]
FASHION_TIERS = ["Premium", "Mainstream", "Value"]
STORE_FORMATS = ["Mall", "ShoppingCenter", "Standalone", "Outlet"]
REGIONS = ["Northeast", "Southeast", "Midwest", "West"]
LOCATION_TIERS = ["A", "B", "C"]
# Demand through the season (ramp-up, peak in week 5, plateau) and through the week.
SEASON_SHAPE = [0.6, 0.75, 0.9, 1.0, 1.25, 1.05, 1.1, 1.1, 1.1, 1.05, 1.1, 1.15]
WEEKDAY_SHAPE = [0.85, 0.8, 0.85, 0.95, 1.1, 1.35, 1.2]  # Monday .. Sunday


def store_ids() -> list[str]:
    return [f"S{number:03d}" for number in range(1, STORES + 1)]


def _categorical(index: int) -> dict[str, str]:
    """Spellings by position, so that every one of them occurs in every store file."""
    store_format = STORE_FORMATS[index % 4]
    return {
        "location_tier": LOCATION_TIERS[(index // 2) % 3],
        "fashion_tier": FASHION_TIERS[index % 3],
        "store_format": store_format,
        "region": REGIONS[(index // 3) % 4],
        "mall_location": str(store_format in ("Mall", "ShoppingCenter") or index % 7 == 0),
    }


def whole_number_stores(rng: random.Random) -> list[list[str]]:
    """The first layout: every figure a whole number, except the two ratios."""
    rows = []
    for index, store_id in enumerate(store_ids()):
        values = {
            "store_id": store_id,
            "avg_weekly_sales_12mo": str(rng.randint(200, 1100)),
            "store_size_sqft": str(rng.randrange(3500, 15000, 100)),
            "median_income": str(rng.randrange(36000, 150000, 1000)),
            "foot_traffic": str(rng.randrange(400, 3200, 50)),
            "competitor_density": f"{rng.uniform(1, 7):.1f}",
            "online_penetration": f"{rng.uniform(0.2, 0.52):.2f}",
            "population_density": str(rng.randrange(1400, 14600, 100)),
            **_categorical(index),
        }
        rows.append([values[column] for column in STORE_HEADER])
    return rows


def decimal_stores(rng: random.Random) -> list[list[str]]:
    """The second layout: sales with all their decimals, small traffic and density."""
    rows = []
    for index, store_id in enumerate(store_ids()):
        values = {
            "store_id": store_id,
            "avg_weekly_sales_12mo": repr(rng.uniform(200, 1300)),
            "store_size_sqft": str(rng.randint(3100, 14900)),
            "median_income": str(rng.randint(35000, 150000)),
            "foot_traffic": str(rng.randint(150, 750)),
            "competitor_density": f"{rng.uniform(1, 7):.1f}",
            "online_penetration": f"{rng.uniform(0.2, 0.5):.2f}",
            "population_density": str(rng.randint(3, 14)),
            **_categorical(index + 1),
        }
        rows.append([values[column] for column in STORE_HEADER])
    return rows


def daily_units(
    rng: random.Random, start: date, weeks: int, scale: float
) -> list[tuple[date, str, int]]:
    """(day, store, units) for every day of ``weeks`` weeks from ``start``, day by day."""
    base = {store_id: rng.uniform(12, 40) * scale for store_id in store_ids()}
    rows = []
    for offset in range(weeks * 7):
        day = start + timedelta(days=offset)
        shape = SEASON_SHAPE[offset // 7 % len(SEASON_SHAPE)] * WEEKDAY_SHAPE[day.weekday()]
        for store_id in store_ids():
            # Now and then a store sells nothing that day: zero is a value, not a gap.
            units = (
                0 if rng.random() < 0.01 else round(base[store_id] * shape * rng.uniform(0.8, 1.2))
            )
            rows.append((day, store_id, units))
    return rows


def weekly_totals(
    daily: Iterable[tuple[date, str, int]], start: date
) -> dict[tuple[int, str], int]:
    """{(week index from 0, store): units} of daily rows."""
    totals: dict[tuple[int, str], int] = {}
    for day, store_id, units in daily:
        key = ((day - start).days // 7, store_id)
        totals[key] = totals.get(key, 0) + units
    return totals


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def generate(out: Path) -> list[Path]:
    """Write every fixture file under ``out``; returns their paths."""
    rng = random.Random(SEED)
    written: list[Path] = []

    def write(name: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        write_csv(out / name, header, rows)
        written.append(out / name)

    write("stores_whole_numbers.csv", STORE_HEADER, whole_number_stores(rng))
    write("stores_decimals.csv", STORE_HEADER, decimal_stores(rng))

    actuals = daily_units(rng, SEASON_START, SEASON_WEEKS, scale=1.0)
    for week in range(1, SEASON_WEEKS + 1):
        days = actuals[(week - 1) * 7 * STORES : week * 7 * STORES]
        rows = [(day.isoformat(), store_id, units) for day, store_id, units in days]
        write(
            f"normal_season/actuals_week_{week:02d}.csv",
            ["date", "store_id", "quantity_sold"],
            rows,
        )
    season_totals = weekly_totals(actuals, SEASON_START)
    write(
        "actuals_weekly.csv",
        ["store_id", "week_number", "units_sold"],
        [(store_id, week + 1, units) for (week, store_id), units in sorted(season_totals.items())],
    )

    history = daily_units(rng, HISTORY_START, HISTORY_WEEKS, scale=0.9)
    write(
        "historical_sales_daily.csv",
        ["date", "store_id", "category", "quantity_sold", "revenue"],
        [
            (day.isoformat(), store_id, CATEGORY_NAME, units, f"{units * UNIT_PRICE:.2f}")
            for day, store_id, units in history
        ],
    )
    history_totals = weekly_totals(history, HISTORY_START)
    write(
        "historical_sales_weekly.csv",
        ["week_start_date", "store_id", "category_id", "units_sold"],
        [
            ((HISTORY_START + timedelta(weeks=week)).isoformat(), store_id, CATEGORY_ID, units)
            for (week, store_id), units in sorted(history_totals.items())
        ],
    )
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    arguments = parser.parse_args()
    for path in generate(arguments.out):
        print(path)


if __name__ == "__main__":
    main()
