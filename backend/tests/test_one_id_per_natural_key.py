"""Whichever path writes a row (import, write API, demo), its id is the same function of its
natural key, and a second write of the key updates the row; on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app.database.db import make_engine
from backend.app.domain import records
from backend.app.domain.records import ActualSalesRow, HistoricalSalesRow
from backend.app.maintenance.definitions import (
    actual_sales_id,
    cluster_id_for_tier,
    distribution_id,
    historical_sale_id,
)
from backend.app.schemas.enums import FashionTier
from backend.tests.support.cli import run_ffdb
from backend.tests.support.databases import READS, DatabaseCache
from backend.tests.support.exports import write_file as write
from backend.tests.support.meanings import MEANINGS_DIR
from backend.tests.support.snapshot import snapshot
from backend.tests.support.sql import query_rows

DATA = MEANINGS_DIR
WD = "FC-CAT-WD-SS25"


@pytest.fixture
def demo(database_cache: DatabaseCache, tmp_path: Path) -> Iterator[URL]:
    """A copy of the demo season (seed 42) that the test may change."""
    with database_cache.copy(READS, tmp_path / "demo.db") as url:
        yield url


def test_the_demo_writes_every_id_from_its_natural_key(demo: URL) -> None:
    actuals = query_rows(
        demo,
        "SELECT actual_id, forecast_id, store_id, week_number FROM actual_sales "
        "WHERE forecast_id LIKE 'FC-%'",
    )
    assert actuals and all(row[0] == actual_sales_id(*row[1:]) for row in actuals)  # type: ignore[arg-type]
    history = query_rows(
        demo,
        "SELECT sale_id, store_id, category_id, week_start_date FROM historical_sales "
        "WHERE sale_id NOT LIKE 'EDGE%'",
    )
    assert history and all(
        sale_id == historical_sale_id(store, category, str(week))  # type: ignore[arg-type]
        for sale_id, store, category, week in history
    )
    shares = query_rows(
        demo,
        "SELECT distribution_id, forecast_id, cluster_id FROM forecast_cluster_distribution "
        "WHERE forecast_id LIKE 'FC-%'",
    )
    assert shares and all(row[0] == distribution_id(*row[1:]) for row in shares)  # type: ignore[arg-type]
    clusters = query_rows(
        demo, "SELECT cluster_id, fashion_tier FROM store_clusters WHERE cluster_id LIKE 'CL-%'"
    )
    assert {cluster for cluster, _ in clusters} == {
        cluster_id_for_tier(tier) for tier in FashionTier
    }


def test_imported_and_written_actuals_share_ids_and_update_in_place(
    demo: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    week_1 = dict(
        query_rows(
            demo,
            f"SELECT store_id, units_sold FROM actual_sales WHERE forecast_id = '{WD}' "
            "AND week_number = 1",
        )
    )
    same = write(
        tmp_path / "week1.csv",
        "store_id,week_number,units_sold\n"
        + "".join(f"{store},1,{units}\n" for store, units in sorted(week_1.items())),
    )
    args = ("import", "actuals", str(same), "--forecast-id", WD)
    outcome = run_ffdb(capsys, *args, "--database-url", demo)
    assert outcome.exit_code == 0, outcome.stderr
    assert "0 inserted, 0 updated, 50 unchanged" in outcome.stdout
    changed = write(tmp_path / "changed.csv", same.read_text().replace("S001,1,", "S001,1,9"))
    assert (
        run_ffdb(
            capsys, "import", "actuals", str(changed), "--forecast-id", WD, "--database-url", demo
        ).exit_code
        != 0
    )
    outcome = run_ffdb(
        capsys,
        "import",
        "actuals",
        str(changed),
        "--forecast-id",
        WD,
        "--replace",
        "--database-url",
        demo,
    )
    assert "0 inserted, 1 updated, 49 unchanged" in outcome.stdout
    assert query_rows(
        demo,
        f"SELECT actual_id FROM actual_sales WHERE forecast_id = '{WD}' "
        "AND store_id = 'S001' AND week_number = 1",
    ) == [(actual_sales_id(WD, "S001", 1),)]

    # The write API over an imported week: an update, not an IntegrityError.
    engine = make_engine(demo)
    try:
        with Session(engine) as session:
            records.record_actual_sales(session, WD, [ActualSalesRow("S001", 1, 5)])
            session.commit()
    finally:
        engine.dispose()
    assert query_rows(
        demo,
        f"SELECT actual_id, units_sold FROM actual_sales WHERE forecast_id = '{WD}' "
        "AND store_id = 'S001' AND week_number = 1",
    ) == [(actual_sales_id(WD, "S001", 1), 5)]


def test_imported_history_over_written_history_is_unchanged(
    migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run_ffdb(
            capsys, "import", "stores", str(DATA / "stores.csv"), "--database-url", migrated_url
        ).exit_code
        == 0
    )
    engine = make_engine(migrated_url)
    try:
        with Session(engine) as session:
            records.upsert_category(
                session,
                category_id="womens_dresses",
                category_name="Women's Dresses",
                season_start_date=date(2025, 3, 1),
                season_end_date=date(2025, 5, 23),
                season_length_weeks=12,
            )
            records.record_historical_sales(
                session,
                [HistoricalSalesRow("S001", "womens_dresses", date(2024, 2, 4), 43)],
            )
            session.commit()
        before = snapshot(engine)
    finally:
        engine.dispose()
    file = write(
        tmp_path / "w.csv",
        "week_start_date,store_id,category_id,units_sold\n2024-02-04,S001,womens_dresses,43\n",
    )
    outcome = run_ffdb(
        capsys, "import", "historical-sales", str(file), "--database-url", migrated_url
    )
    assert "0 inserted, 0 updated, 1 unchanged" in outcome.stdout
    engine = make_engine(migrated_url)
    try:
        assert snapshot(engine) == before
    finally:
        engine.dispose()


def test_the_importer_and_the_demo_use_one_cluster_per_tier(
    demo: URL, migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    # Into the demo's database: its clusters are the importer's, none is created.
    outcome = run_ffdb(capsys, "import", "stores", str(DATA / "stores.csv"), "--database-url", demo)
    assert outcome.exit_code == 0, outcome.stderr
    assert "created" not in outcome.stdout
    tiers = query_rows(
        demo,
        "SELECT s.cluster_id, c.fashion_tier FROM stores s JOIN store_clusters c "
        "USING (cluster_id) WHERE s.store_id IN ('S001', 'S002', 'S003')",
    )
    assert all(cluster == cluster_id_for_tier(tier) for cluster, tier in tiers)  # type: ignore[arg-type]
    # A database an earlier importer gave CL_PREMIUM keeps using it for that tier.
    engine: Engine = make_engine(migrated_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO store_clusters (cluster_id, cluster_name, fashion_tier) "
                    "VALUES ('CL_PREMIUM', 'Premium', 'PREMIUM')"
                )
            )
    finally:
        engine.dispose()
    outcome = run_ffdb(
        capsys, "import", "stores", str(DATA / "stores.csv"), "--database-url", migrated_url
    )
    assert "created cluster CL-MAINSTREAM, cluster CL-VALUE" in outcome.stdout
    assert {
        row[0] for row in query_rows(migrated_url, "SELECT cluster_id FROM store_clusters")
    } == {
        "CL_PREMIUM",
        "CL-MAINSTREAM",
        "CL-VALUE",
    }
