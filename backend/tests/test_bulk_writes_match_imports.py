"""The write API's batch calls and the importer store identical rows for the same input:
both move staged rows with ``maintenance/bulk_move.py``; on both backends.

Two copies of the demo season: one gets a file through ``ffdb import``, the other the
same rows through ``records``; afterwards every table of the two is equal, and a second
write of changed values updates the same rows in both.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app.database.db import make_engine
from backend.app.domain import records, sales_columns
from backend.app.domain.records import ActualSalesRow, HistoricalSalesRow
from backend.tests.support.cli import run_ffdb
from backend.tests.support.databases import READS, DatabaseCache
from backend.tests.support.exports import write_file as write
from backend.tests.support.snapshot import snapshot
from backend.tests.support.sql import query_rows

WD = "FC-CAT-WD-SS25"
WHEN = ("created_at",)


@pytest.fixture
def two_demos(database_cache: DatabaseCache, tmp_path: Path) -> Iterator[tuple[URL, URL]]:
    with (
        database_cache.copy(READS, tmp_path / "imported.db") as imported,
        database_cache.copy(READS, tmp_path / "written.db") as written,
    ):
        yield imported, written


def _history(url: URL) -> list[HistoricalSalesRow]:
    """Every stored week of a few series with units changed, plus eight new weeks each."""
    stored = query_rows(
        url,
        "SELECT store_id, category_id, week_start_date, units_sold FROM historical_sales "
        "WHERE store_id IN ('S001', 'S002', 'S003') AND sale_id NOT LIKE 'EDGE%' "
        "ORDER BY store_id, category_id, week_start_date",
    )
    assert stored
    rows = [
        HistoricalSalesRow(
            str(store), str(category), date.fromisoformat(str(week)), int(units) + i % 2
        )  # type: ignore[call-overload]
        for i, (store, category, week, units) in enumerate(stored)
    ]
    last: dict[tuple[str, str], date] = {}
    for row in rows:
        last[(row.store_id, row.category_id)] = row.week_start_date
    for (store, category), week in last.items():
        rows += [
            HistoricalSalesRow(store, category, week + timedelta(weeks=k), 10 + k)
            for k in range(1, 9)
        ]
    return rows


def _actuals(url: URL) -> list[ActualSalesRow]:
    """The forecast's stored weeks with units changed, plus every week not yet recorded."""
    horizon = int(
        query_rows(url, f"SELECT forecast_horizon_weeks FROM forecasts WHERE forecast_id = '{WD}'")[
            0
        ][0]  # type: ignore[call-overload]
    )
    stored = {
        (str(store), int(week)): int(units)  # type: ignore[call-overload]
        for store, week, units in query_rows(
            url,
            "SELECT store_id, week_number, units_sold FROM actual_sales "
            f"WHERE forecast_id = '{WD}'",
        )
    }
    stores = sorted({store for store, _ in stored})
    assert stored and len({week for _, week in stored}) < horizon
    return [
        ActualSalesRow(store, week, stored.get((store, week), 3) + (week + len(store)) % 3)
        for store in stores
        for week in range(1, horizon + 1)
    ]


@pytest.mark.parametrize("arrow_min_rows", [sales_columns.ARROW_MIN_ROWS, 0])
def test_written_and_imported_rows_are_identical(
    two_demos: tuple[URL, URL],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    arrow_min_rows: int,
) -> None:
    """Both write paths: row by row (a small call), and as columns (any size, for 0)."""
    monkeypatch.setattr(sales_columns, "ARROW_MIN_ROWS", arrow_min_rows)
    imported, written = two_demos
    history, actuals = _history(imported), _actuals(imported)

    history_file = write(
        tmp_path / "history.csv",
        "week_start_date,store_id,category_id,units_sold\n"
        + "".join(
            f"{r.week_start_date},{r.store_id},{r.category_id},{r.units_sold}\n" for r in history
        ),
    )
    actuals_file = write(
        tmp_path / "actuals.csv",
        "store_id,week_number,units_sold\n"
        + "".join(f"{r.store_id},{r.week_number},{r.units_sold}\n" for r in actuals),
    )
    for args in (
        ("historical-sales", str(history_file)),
        # --replace: the importer refuses changed units of recorded weeks without it; the
        # file covers every store of its weeks, so it deletes nothing.
        ("actuals", str(actuals_file), "--forecast-id", WD, "--replace"),
    ):
        outcome = run_ffdb(capsys, "import", *args, "--database-url", imported)
        assert outcome.exit_code == 0, outcome.stderr
        assert "replaced rows deleted" not in outcome.stdout

    engine = make_engine(written)
    try:
        with Session(engine) as session:
            assert records.record_historical_sales(session, history) == len(history)
            assert records.record_actual_sales(session, WD, actuals) == len(actuals)
            session.commit()
    finally:
        engine.dispose()

    # Every table equal, but for when the rows were made.
    assert snapshot(written, without=WHEN) == snapshot(imported, without=WHEN)
    changed = {
        (row.store_id, row.category_id, str(row.week_start_date)): row.units_sold for row in history
    }
    stored = {
        (str(s), str(c), str(w)): int(u)  # type: ignore[call-overload]
        for s, c, w, u in query_rows(
            written,
            "SELECT store_id, category_id, week_start_date, units_sold FROM historical_sales "
            "WHERE store_id IN ('S001', 'S002', 'S003') AND sale_id NOT LIKE 'EDGE%'",
        )
    }
    assert stored == changed
    recorded = {
        (str(s), int(w)): int(u)  # type: ignore[call-overload]
        for s, w, u in query_rows(
            written,
            "SELECT store_id, week_number, units_sold FROM actual_sales "
            f"WHERE forecast_id = '{WD}'",
        )
    }
    assert recorded == {(r.store_id, r.week_number): r.units_sold for r in actuals}
