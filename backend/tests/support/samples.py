"""The sample datasets the tests write, each built with the one builder (``SampleRows``).

- ``every_table``: rows in all tables with what a copy could bend: JSON, NULLs,
  unicode, awkward floats, aware timestamps in another zone (transfer, parity).
- ``small_season``: a few consistent rows in each table (the ``ffdb`` command tests).
- ``read_edge_cases``: what the demo season lacks for the read tests; with the demo,
  ``reads_database``; ``add_filler`` adds production-like volume in SQL (query plans).
- ``first_revision``: rows for the schema of the first migration, written by
  ``populate_at_first_revision`` (upgrade tests).
- ``writers_parents``, ``import_parents``, ``exports_season``: the parent rows that
  concurrent writers, bulk imports and the fixture exports need.

The databases built from them once per session are in ``databases.py``.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta, timezone

from sqlalchemy import Engine, MetaData, pool, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app.database.db import make_engine
from backend.app.demo.sample_season import generate_sample_season
from backend.app.domain import records
from backend.app.domain.records import ActualSalesRow, ClusterShare
from backend.app.domain.rules import curve_from_units
from backend.app.models.enums import (
    Archetype,
    ExtractionConfidence,
    FashionTier,
    LocationTier,
    MarkdownStatus,
    Region,
    ReplenishmentStrategy,
    StoreFormat,
    WorkflowStatus,
)
from backend.tests.support import exports, workers
from backend.tests.support.backends import chain, migrate
from backend.tests.support.rows import SampleRows
from backend.tests.support.snapshot import Snapshot, snapshot

EASTERN = timezone(timedelta(hours=-5))
HISTORY_WEEKS = 26  # historical_sales rows per store in every_table: several batches of 7


def every_table() -> SampleRows:
    """Rows in all tables: JSON, NULLs, unicode, awkward floats, aware timestamps."""
    rows = SampleRows()
    stamped = datetime(2024, 3, 10, 9, 30, 15, 123456, tzinfo=EASTERN)
    rows.add(
        "categories",
        category_id="CAT-DRESS",
        category_name="Robes d'été — «légères» ✨",
        season_start_date=date(2024, 3, 1),
        season_end_date=date(2024, 5, 24),
        season_length_weeks=12,
        archetype=Archetype.FASHION_RETAIL,
        description="Sommerkleider: Größe XS\u2013XL, 夏のドレス",
        created_at=stamped,
    )
    rows.add(
        "categories",
        category_id="CAT-SOCKS",
        category_name="Socks",
        season_start_date=date(2024, 1, 1),
        season_end_date=date(2024, 12, 31),
        season_length_weeks=52,
        archetype=Archetype.CONTINUOUS,
        description=None,  # created_at left to the server default
    )
    rows.add(
        "store_clusters",
        cluster_id="CL-PREM",
        cluster_name="Premium flagships",
        fashion_tier=FashionTier.PREMIUM,
        description="Städte mit hoher Kaufkraft",
        created_at=stamped + timedelta(microseconds=1),
    )
    rows.add("store_clusters", cluster_id="CL-VAL", cluster_name="Value", fashion_tier="VALUE")
    stores = [
        rows.add(
            "stores",
            store_id=f"S{number:02d}",
            store_name=f"Store n°{number} \u2013 Zürich",
            cluster_id="CL-PREM" if number % 2 else "CL-VAL",
            store_size_sqft=4_000 + number,
            location_tier=[LocationTier.A, LocationTier.B, LocationTier.C][number % 3],
            median_income=55_000 + number * 1_000,
            store_format=StoreFormat.MALL if number % 2 else StoreFormat.OUTLET,
            region=Region.WEST,
            avg_weekly_sales_12mo=[0.1 + 0.2, 1e-12, 12345.678901234567][number % 3],
        )
        for number in range(1, 4)
    ]
    rows.add(
        "store_extra_attributes",
        store_id="S01",
        attributes={"foot_traffic": 2800, "competitor_density": 6.2, "mall_location": True},
        source_file="store_attributes.csv",
    )
    rows.add(
        "season_parameters",
        parameter_id="P-1",
        category_id="CAT-DRESS",
        forecast_horizon_weeks=12,
        season_start_date=date(2024, 3, 1),
        season_end_date=date(2024, 5, 24),
        replenishment_strategy=ReplenishmentStrategy.BI_WEEKLY,
        dc_holdback_percentage=0.45,
        markdown_checkpoint_week=6,
        markdown_threshold=0.6,
        extraction_confidence=ExtractionConfidence.HIGH,
        extraction_reasoning="« 45 % en réserve » says the brief",
    )
    rows.add(
        "season_parameters",
        parameter_id="P-2",
        category_id=None,
        forecast_horizon_weeks=52,
        season_start_date=date(2024, 1, 1),
        season_end_date=date(2024, 12, 31),
        replenishment_strategy=ReplenishmentStrategy.NONE,
        dc_holdback_percentage=0.0,
        markdown_checkpoint_week=None,
        markdown_threshold=None,
        extraction_reasoning=None,
    )
    rows.add(
        "forecasts",
        forecast_id="F-1",
        category_id="CAT-DRESS",
        season="Spring 2024",
        forecast_horizon_weeks=12,
        total_season_demand=8_000,
        weekly_demand_curve=[
            {"week_number": week, "demand_units": 500 + week * 37} for week in range(1, 13)
        ],
        peak_week=5,
        models_used=["prophet", "arima", "modèle-maison"],
        prophet_forecast=8_100,
        arima_forecast=None,
    )
    rows.add(
        "forecast_cluster_distribution",
        distribution_id="D-1",
        forecast_id="F-1",
        cluster_id="CL-PREM",
        allocation_percentage=1 / 3,
        total_units=2_667,
    )
    rows.add(
        "forecast_cluster_distribution",
        distribution_id="D-2",
        forecast_id="F-1",
        cluster_id="CL-VAL",
        allocation_percentage=2 / 3,
        total_units=5_333,
        created_at=datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    )
    rows.add(
        "allocations",
        allocation_id="A-1",
        forecast_id="F-1",
        manufacturing_qty=9_600,
        initial_allocation_total=4_400,
        holdback_total=3_600,
        store_allocations=[
            {"store_id": store["store_id"], "initial": 176 * n, "holdback": 142 * n}
            for n, store in enumerate(stores, start=1)
        ],
    )
    rows.add(
        "markdowns",
        markdown_id="M-1",
        forecast_id="F-1",
        week_number=6,
        sell_through_pct=0.4199999999999999,
        gap_pct=0.18000000000000005,
        recommended_markdown_pct=0.36,
        expected_demand_lift_pct=None,
        status=MarkdownStatus.APPROVED,
        reasoning="Remise de 36 % — sell-through 42 %",
    )
    rows.add(
        "workflow_logs",
        log_id="W-1",
        workflow_id="wf-2024-03",
        agent_name="demand_agent",
        action="forecast",
        input_data={
            "category": "CAT-DRESS",
            "weeks": [1, 2, 3],
            "nested": {"ratio": 0.1 + 0.2, "ok": True, "none": None, "ünï": "☃"},
        },
        output_data=None,
        duration_seconds=0.123456789,
        status=WorkflowStatus.COMPLETED,
        error_message=None,
        created_at=stamped,
    )
    rows.add(
        "workflow_logs",
        log_id="W-2",
        workflow_id="wf-2024-03",
        agent_name="inventory_agent",
        action="allocate",
        input_data=None,
        output_data={"error": {"code": 42, "lines": ["a", "b"]}, "empty": {}},
        duration_seconds=None,
        status=WorkflowStatus.FAILED,
        error_message="Fehler: 'holdback' > 100 %",
    )
    # A re-forecast whose id sorts before the forecast it revises: copies must still
    # write the revised forecast first.
    rows.add(
        "forecasts",
        forecast_id="F-0-REVISION",
        category_id="CAT-DRESS",
        season="Spring 2024",
        forecast_horizon_weeks=12,
        total_season_demand=sum(480 + week * 41 for week in range(7, 13)),
        weekly_demand_curve=[
            {"week_number": week, "demand_units": 480 + week * 41} for week in range(7, 13)
        ],
        peak_week=12,
        models_used=["prophet"],
        revises_forecast_id="F-1",
        from_week=7,
        created_at=stamped,
    )
    rows.add(
        "workflows",
        workflow_id="wf-2024-03",
        category_id="CAT-DRESS",
        season="Spring 2024",
        parameter_id="P-1",
        forecast_id="F-1",
        allocation_id="A-1",
        produces_forecast=True,
        status="failed",
        current_agent="inventory_agent",
        progress=0.5,
        error_message="Fehler: 'holdback' > 100 %",
        created_at=stamped,
        updated_at=stamped + timedelta(seconds=1.5),
        finished_at=stamped + timedelta(seconds=1.5),
    )
    rows.add(
        "markdown_status_changes",
        change_id="MS:M-1:approved",
        markdown_id="M-1",
        from_status="pending",
        to_status="approved",
        actor="Zoë — planificatrice",
        changed_at=stamped + timedelta(days=40),
        note="« d'accord » ✓",
    )
    first_week = date(2023, 9, 4)
    for store in stores:
        store_id = store["store_id"]
        for week in range(HISTORY_WEEKS):
            rows.add(
                "historical_sales",
                sale_id=f"H-{store_id}-{week:02d}",
                store_id=store_id,
                category_id="CAT-DRESS",
                week_start_date=first_week + timedelta(weeks=week),
                units_sold=(week * 7 + len(store_id)) % 90,
            )
    for store in stores:
        for week in range(1, 5):
            rows.add(
                "actual_sales",
                actual_id=f"AS-{store['store_id']}-{week}",
                store_id=store["store_id"],
                forecast_id="F-1",
                week_number=week,
                units_sold=0 if week == 1 else 40 + week,
            )
    return rows


def small_season() -> SampleRows:
    """A few consistent rows in each table: clusters C1 (S1, S2) and C2 (S3, S4)."""
    rows = SampleRows()
    rows.add("store_clusters", cluster_id="C1", cluster_name="Premium", fashion_tier="PREMIUM")
    rows.add("store_clusters", cluster_id="C2", cluster_name="Value", fashion_tier="VALUE")
    rows.add(
        "categories",
        category_id="CAT1",
        category_name="Dresses",
        season_start_date=date(2025, 3, 3),
        season_end_date=date(2025, 5, 26),
        season_length_weeks=12,
    )
    for n in range(1, 5):
        rows.add(
            "stores",
            store_id=f"S{n}",
            store_name=f"Store {n}",
            cluster_id="C1" if n < 3 else "C2",
            store_size_sqft=8000 + n,
            location_tier="A",
            median_income=60000,
            store_format="MALL",
            region="WEST",
            avg_weekly_sales_12mo=1000.0,
        )
    rows.add(
        "store_extra_attributes",
        store_id="S1",
        attributes={"foot_traffic": 2800, "mall_location": True},
        source_file="store_attributes.csv",
    )
    rows.add(
        "season_parameters",
        parameter_id="P1",
        category_id="CAT1",
        forecast_horizon_weeks=12,
        season_start_date=date(2025, 3, 3),
        season_end_date=date(2025, 5, 26),
        replenishment_strategy="weekly",
        dc_holdback_percentage=0.45,
        markdown_checkpoint_week=6,
        markdown_threshold=0.6,
    )
    rows.add(
        "forecasts",
        forecast_id="F1",
        category_id="CAT1",
        season="Spring 2025",
        forecast_horizon_weeks=12,
        total_season_demand=1200,
        weekly_demand_curve=[{"week_number": w, "demand_units": 100} for w in range(1, 13)],
        peak_week=1,  # a flat curve peaks first in week 1 (rule forecast_peak_week)
        models_used=["prophet", "arima"],
    )
    for distribution_id, cluster_id, share, units in (
        ("D1", "C1", 0.6, 720),
        ("D2", "C2", 0.4, 480),
    ):
        rows.add(
            "forecast_cluster_distribution",
            distribution_id=distribution_id,
            forecast_id="F1",
            cluster_id=cluster_id,
            allocation_percentage=share,
            total_units=units,
        )
    rows.add(
        "allocations",
        allocation_id="A1",
        forecast_id="F1",
        manufacturing_qty=1440,
        initial_allocation_total=792,
        holdback_total=648,
        store_allocations=[
            {"store_id": f"S{n}", "initial": 198, "holdback": 162} for n in range(1, 5)
        ],
    )
    rows.add(
        "markdowns",
        markdown_id="M1",
        forecast_id="F1",
        week_number=6,
        # Sell-through through week 6: 120 units sold / 792 shipped to stores.
        sell_through_pct=120 / 792,
        gap_pct=0.6 - 120 / 792,
        recommended_markdown_pct=0.2,
    )
    rows.add(
        "workflow_logs",
        log_id="L1",
        workflow_id="W1",
        agent_name="demand",
        action="forecast",
        input_data={"category_id": "CAT1"},
        output_data={"forecast_id": "F1"},
        duration_seconds=1.5,
        status="completed",
    )
    for n in range(1, 5):
        for w in range(3):
            rows.add(
                "historical_sales",
                sale_id=f"H{n}{w}",
                store_id=f"S{n}",
                category_id="CAT1",
                week_start_date=date(2024, 3, 4 + 7 * w),
                units_sold=20 + w,
            )
    for n in range(1, 5):
        for w in range(1, 3):
            rows.add(
                "actual_sales",
                actual_id=f"AS{n}{w}",
                store_id=f"S{n}",
                forecast_id="F1",
                week_number=w,
                units_sold=15,
            )
    return rows


READS_SEASON = "Spring 2025"
READS_T0 = datetime(2025, 2, 1, 9, 0, tzinfo=UTC)


def read_edge_cases(seed: int = 7) -> SampleRows:
    """What the demo season does not cover, independent of any other data:

    a cluster without stores, a forecast week with zero forecast units, a store with
    sales but no allocation entry, an allocated store without sales, two allocations
    of one forecast (the newer one counts), two forecasts of one category and season
    with the same created_at (the greater id wins), and a workflow whose steps share
    a created_at.
    """
    rng = random.Random(seed)
    rows = SampleRows()
    rows.add(
        "store_clusters", cluster_id="EDGE_EMPTY", cluster_name="No stores", fashion_tier="VALUE"
    )
    rows.add("store_clusters", cluster_id="EDGE_C", cluster_name="Edge", fashion_tier="PREMIUM")
    stores = [f"EDGE_S{i}" for i in range(1, 5)]
    for index, store_id in enumerate(stores):
        rows.add(
            "stores",
            store_id=store_id,
            store_name=f"Edge store {index}",
            cluster_id="EDGE_C",
            store_size_sqft=1000 + 100 * index,
            location_tier="B",
            median_income=50_000 + index,
            store_format="MALL",
            region="WEST",
            avg_weekly_sales_12mo=10.5 * (index + 1),
        )
    rows.add(
        "categories",
        category_id="EDGE_CAT",
        category_name="Edge category",
        season_start_date=date(2025, 2, 17),
        season_end_date=date(2025, 5, 11),
        season_length_weeks=12,
    )
    for store_id in stores:
        for week in range(8):
            rows.add(
                "historical_sales",
                sale_id=f"EDGE_H_{store_id}_{week}",
                store_id=store_id,
                category_id="EDGE_CAT",
                week_start_date=date(2024, 1, 1) + timedelta(weeks=week),
                units_sold=rng.randint(0, 30),
            )
    curve = [{"week_number": w, "demand_units": 0 if w == 2 else 10 * w} for w in range(1, 7)]
    for forecast_id in ("EDGE_F1", "EDGE_F2"):
        rows.add(
            "forecasts",
            forecast_id=forecast_id,
            category_id="EDGE_CAT",
            season=READS_SEASON,
            forecast_horizon_weeks=6,
            total_season_demand=sum(p["demand_units"] for p in curve),
            weekly_demand_curve=curve,
            peak_week=6,
            models_used=["prophet"],
            created_at=READS_T0,
        )
    rows.add(
        "forecast_cluster_distribution",
        distribution_id="EDGE_D1",
        forecast_id="EDGE_F2",
        cluster_id="EDGE_C",
        allocation_percentage=1.0,
        total_units=190,
    )
    for allocation_id, created, initial in (
        ("EDGE_A_OLD", READS_T0, 1),
        ("EDGE_A_NEW", READS_T0 + timedelta(hours=1), 40),
    ):
        split = [
            {"store_id": "EDGE_S1", "initial": initial, "holdback": 5},
            {"store_id": "EDGE_S2", "initial": initial + 10, "holdback": 5},
            {"store_id": "EDGE_S3", "initial": 0, "holdback": 5},
        ]
        rows.add(
            "allocations",
            allocation_id=allocation_id,
            forecast_id="EDGE_F2",
            manufacturing_qty=sum(i["initial"] + i["holdback"] for i in split),
            initial_allocation_total=sum(i["initial"] for i in split),
            holdback_total=15,
            store_allocations=split,
            created_at=created,
        )
    # EDGE_S4 sells without an allocation entry; EDGE_S3 has one with 0 initial units.
    for store_id in ("EDGE_S1", "EDGE_S2", "EDGE_S4"):
        for week in range(1, 5):
            rows.add(
                "actual_sales",
                actual_id=f"EDGE_AS_{store_id}_{week}",
                store_id=store_id,
                forecast_id="EDGE_F2",
                week_number=week,
                units_sold=rng.randint(0, 12),
            )
    for index, (agent, seconds) in enumerate(
        [("orchestrator", None), ("demand", 2.5), ("inventory", 1.25), ("pricing", 0.5)]
    ):
        rows.add(
            "workflow_logs",
            log_id=f"EDGE_L{9 - index}",
            workflow_id="EDGE_WF",
            agent_name=agent,
            action="run",
            duration_seconds=seconds,
            status="completed",
            # The last two share a timestamp: log_id orders them.
            created_at=READS_T0 + timedelta(seconds=min(index, 2)),
        )
    return rows


def reads_database(engine: Engine) -> None:
    """The read tests' data: the demo season (seed 42), then ``read_edge_cases``."""
    generate_sample_season(engine, seed=42)
    read_edge_cases().write(engine)


# add_filler: other categories' history beside the demo's, and other forecasts' actuals.
FILLED_CATEGORY = "CAT-WD"  # the demo category whose weeks the filler history repeats
FILLER_CATEGORIES = 12  # x 50 stores x 156 weeks = 93,600 historical_sales rows
FILLER_FORECASTS = 100  # x 50 stores x 12 weeks = 60,000 actual_sales rows
FILLER_CURVE = json.dumps([{"week_number": w, "demand_units": 10} for w in range(1, 13)])


def add_filler(engine: Engine) -> None:
    """Rows of other categories and forecasts, generated in the database, then ANALYZE."""
    json_value = "CAST(:{} AS JSONB)" if engine.dialect.name == "postgresql" else ":{}"
    numbers = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count) "
    with engine.begin() as connection:
        connection.execute(
            text(
                numbers + "INSERT INTO categories (category_id, category_name, "
                "season_start_date, season_end_date, season_length_weeks) "
                "SELECT 'FILL_C' || i, 'Filler', '2025-02-17', '2025-05-11', 12 FROM n"
            ),
            {"count": FILLER_CATEGORIES},
        )
        connection.execute(
            text(
                "INSERT INTO historical_sales (sale_id, store_id, category_id, "
                "week_start_date, units_sold) "
                "SELECT 'FILL_H_' || c.category_id || '_' || s.store_id || '_' || "
                "d.week_start_date, s.store_id, c.category_id, d.week_start_date, 7 "
                "FROM categories c CROSS JOIN stores s CROSS JOIN "
                "(SELECT DISTINCT week_start_date FROM historical_sales "
                " WHERE category_id = :category) d "
                "WHERE c.category_id LIKE 'FILL_C%' AND s.store_id LIKE 'S%'"
            ),
            {"category": FILLED_CATEGORY},
        )
        connection.execute(
            text(
                numbers + "INSERT INTO forecasts (forecast_id, category_id, season, "
                "forecast_horizon_weeks, total_season_demand, weekly_demand_curve, peak_week, "
                "models_used) SELECT 'FILL_F' || i, 'FILL_C1', 'Filler', 12, 120, "
                f"{json_value.format('curve')}, 1, {json_value.format('models')} FROM n"
            ),
            {"count": FILLER_FORECASTS, "curve": FILLER_CURVE, "models": '["prophet"]'},
        )
        connection.execute(
            text(
                "WITH RECURSIVE w(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM w WHERE i < 12) "
                "INSERT INTO actual_sales (actual_id, store_id, forecast_id, week_number, "
                "units_sold) SELECT 'FILL_A_' || f.forecast_id || '_' || s.store_id || '_' "
                "|| w.i, s.store_id, f.forecast_id, w.i, 5 "
                "FROM forecasts f CROSS JOIN stores s CROSS JOIN w "
                "WHERE f.forecast_id LIKE 'FILL_F%' AND s.store_id LIKE 'S%'"
            )
        )
        connection.exec_driver_sql("ANALYZE")


def first_revision() -> SampleRows:
    """Rows for every table of the first revision: the story's schema. The values
    exercise what a migration could mangle: unicode, NULLs, nested JSON, big integers,
    dates, floats."""
    rows = SampleRows()
    rows.add(
        "categories",
        category_id="CAT-1",
        category_name="Women's Dresses \u2013 \u00e9t\u00e9",
        season_start_date=date(2026, 3, 2),
        season_end_date=date(2026, 5, 25),
        season_length_weeks=12,
        archetype="FASHION_RETAIL",
        description=None,
    )
    rows.add("store_clusters", cluster_id="CL-1", cluster_name="Premium", fashion_tier="PREMIUM")
    rows.add("store_clusters", cluster_id="CL-2", cluster_name="Value", fashion_tier="VALUE")
    for number in range(1, 4):
        rows.add(
            "stores",
            store_id=f"S{number:02d}",
            store_name=f"Store {number} \U0001f6cd",
            cluster_id="CL-1" if number % 2 else "CL-2",
            store_size_sqft=4000 + number,
            location_tier="A",
            median_income=55000 + number,
            store_format="MALL",
            region="WEST",
            avg_weekly_sales_12mo=1234.5 + number,
        )
    rows.add(
        "season_parameters",
        parameter_id="P-1",
        category_id="CAT-1",
        forecast_horizon_weeks=12,
        season_start_date=date(2026, 3, 2),
        season_end_date=date(2026, 5, 25),
        replenishment_strategy="bi-weekly",
        dc_holdback_percentage=0.45,
        markdown_checkpoint_week=6,
        markdown_threshold=None,
        extraction_confidence="high",
        extraction_reasoning="from the planner's brief",
    )
    rows.add(
        "forecasts",
        forecast_id="F-1",
        category_id="CAT-1",
        season="Spring 2026",
        forecast_horizon_weeks=12,
        total_season_demand=8000,
        weekly_demand_curve=[
            {"week_number": week, "demand_units": 500 + week} for week in range(1, 13)
        ],
        peak_week=4,
        forecasting_method="ensemble_prophet_arima",
        models_used=["prophet", "arima"],
        prophet_forecast=8100,
        arima_forecast=None,
    )
    rows.add(
        "forecast_cluster_distribution",
        distribution_id="D-1",
        forecast_id="F-1",
        cluster_id="CL-1",
        allocation_percentage=0.6,
        total_units=4800,
    )
    rows.add(
        "allocations",
        allocation_id="A-1",
        forecast_id="F-1",
        manufacturing_qty=9600,
        safety_stock_percentage=0.2,
        initial_allocation_total=4400,
        holdback_total=3600,
        store_allocations=[
            {"store_id": "S01", "initial": 176, "holdback": 142},
            {"store_id": "S02", "initial": 0, "holdback": 0},
        ],
    )
    rows.add(
        "markdowns",
        markdown_id="M-1",
        forecast_id="F-1",
        week_number=6,
        sell_through_pct=0.41,
        target_sell_through_pct=0.6,
        gap_pct=0.19,
        recommended_markdown_pct=0.095,
        elasticity_coefficient=2.0,
        status="pending",
    )
    for week in range(1, 6):
        rows.add(
            "historical_sales",
            sale_id=f"H-{week}",
            store_id="S01",
            category_id="CAT-1",
            week_start_date=date(2025, 3, 3 + 7 * (week - 1)) if week < 5 else date(2025, 4, 7),
            units_sold=week * 10,
        )
    for week in range(1, 4):
        rows.add(
            "actual_sales",
            actual_id=f"AS-{week}",
            store_id="S02",
            forecast_id="F-1",
            week_number=week,
            units_sold=week * 3,
        )
    rows.add(
        "workflow_logs",
        log_id="L-1",
        workflow_id="wf-1",
        agent_name="demand",
        action="forecast",
        input_data={"nested": {"list": [1, 2.5, None, True, "\u2603"]}, "big": 2**62},
        output_data=None,
        duration_seconds=1.25,
        status="completed",
        error_message=None,
    )
    rows.add(
        "workflow_logs",
        log_id="L-2",
        workflow_id="wf-1",
        agent_name="inventory",
        action="allocate",
        input_data=None,
        output_data={"errors": [], "note": 'line1\nline2 "quoted"'},
        duration_seconds=None,
        status="failed",
        error_message="timeout",
    )
    return rows


def populate_at_first_revision(url: URL) -> Snapshot:
    """Migrate the empty database at ``url`` to the first revision, write
    ``first_revision`` through that revision's own (reflected) tables, and return the
    database's snapshot."""
    migrate(url, chain()[0])
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        schema = MetaData()
        with engine.begin() as connection:
            schema.reflect(connection)
            first_revision().write(connection, schema)
        return snapshot(engine)
    finally:
        engine.dispose()


def writers_parents(writers: int) -> SampleRows:
    """What the concurrent writers' actual_sales need: a category, a cluster, the
    stores, and one forecast per writer."""
    rows = SampleRows()
    rows.add("categories", category_id="CAT-R", season_length_weeks=workers.WEEKS)
    rows.add("store_clusters", cluster_id="CL-R")
    for number in range(workers.STORES):
        rows.add("stores", store_id=f"S{number:02d}", cluster_id="CL-R")
    for writer in range(writers):
        rows.add(
            "forecasts",
            forecast_id=workers.forecast_id(writer),
            category_id="CAT-R",
            forecast_horizon_weeks=workers.WEEKS,
            total_season_demand=100 * workers.WEEKS,
            weekly_demand_curve=[
                {"week_number": week, "demand_units": 100} for week in range(1, workers.WEEKS + 1)
            ],
            peak_week=1,
        )
    return rows


def import_parents(stores: int, categories: int) -> SampleRows:
    """Stores S000.. in one cluster and categories CAT0..: what a weekly import needs."""
    rows = SampleRows()
    rows.add("store_clusters", cluster_id="CL")
    for number in range(categories):
        rows.add("categories", category_id=f"CAT{number}", category_name=f"Category {number}")
    for number in range(stores):
        rows.add("stores", store_id=f"S{number:03d}", cluster_id="CL")
    return rows


def exports_season() -> SampleRows:
    """The category whose season the fixture exports' actuals belong to, and a forecast
    on it to import them against."""
    rows = SampleRows()
    rows.add(
        "categories",
        category_id=exports.CATEGORY_ID,
        category_name="Women's Dresses",
        season_start_date=exports.SEASON_START,
        season_end_date=exports.SEASON_END,
        season_length_weeks=exports.SEASON_WEEKS,
    )
    rows.add(
        "forecasts",
        forecast_id=exports.FORECAST_ID,
        category_id=exports.CATEGORY_ID,
        forecast_horizon_weeks=exports.SEASON_WEEKS,
        weekly_demand_curve=[],
        peak_week=1,
        models_used=["prophet"],
    )
    return rows


# --- an orchestrated season, through the write API -----------------------------------------

SEASON_WEEKS = 8
SEASON_CURVE = [100, 150, 200, 250, 220, 180, 120, 80]  # peak week 4
SEASON_SHIPPED = {"S1": 400, "S2": 300, "S3": 200}  # initial units per store
SEASON_HELD = {"S1": 178, "S2": 133, "S3": 89}  # holdback units per store (400 in all)
# Units sold per (store, week) for weeks 1..4: S3 misses week 4 (missing is not zero).
SEASON_ACTUALS = {
    ("S1", 1): 40,
    ("S2", 1): 35,
    ("S3", 1): 20,
    ("S1", 2): 60,
    ("S2", 2): 50,
    ("S3", 2): 30,
    ("S1", 3): 70,
    ("S2", 3): 65,
    ("S3", 3): 45,
    ("S1", 4): 90,
    ("S2", 4): 80,
}


def season_allocation(
    session: Session, allocation_id: str, forecast_id: str, *, held: dict[str, int] = SEASON_HELD
) -> None:
    """An allocation shipping ``SEASON_SHIPPED`` to the stores, holding ``held`` back."""
    records.record_allocation(
        session,
        allocation_id=allocation_id,
        forecast_id=forecast_id,
        manufacturing_qty=1_300,
        initial_allocation_total=sum(SEASON_SHIPPED.values()),
        holdback_total=sum(held.get(store, 0) for store in SEASON_SHIPPED),
        store_allocations=[
            {"store_id": store, "initial": units, "holdback": held.get(store, 0)}
            for store, units in SEASON_SHIPPED.items()
        ],
    )


def orchestrated_season(session: Session) -> None:
    """Clusters C1 (stores S1, S2), C2 (S3) and C3 (no stores); category WD with an
    8-week season, parameters P1, forecast F1 (curve SEASON_CURVE, split over C1..C3),
    allocation A1 (SEASON_SHIPPED), actual sales SEASON_ACTUALS and markdown M1 at week
    4, pending. Written through the write API; the caller commits."""
    for cluster_id, tier in (
        ("C1", FashionTier.PREMIUM),
        ("C2", FashionTier.MAINSTREAM),
        ("C3", FashionTier.VALUE),
    ):
        records.upsert_store_cluster(
            session, cluster_id=cluster_id, cluster_name=f"Cluster {cluster_id}", fashion_tier=tier
        )
    for store_id, cluster_id in (("S1", "C1"), ("S2", "C1"), ("S3", "C2")):
        records.upsert_store(
            session,
            store_id=store_id,
            store_name=f"Store {store_id}",
            cluster_id=cluster_id,
            store_size_sqft=9_000,
            location_tier=LocationTier.A,
            median_income=70_000,
            store_format=StoreFormat.MALL,
            region=Region.WEST,
            avg_weekly_sales_12mo=500.0,
        )
    start = date(2025, 2, 17)
    records.upsert_category(
        session,
        category_id="WD",
        category_name="Women's Dresses",
        season_start_date=start,
        season_end_date=start + timedelta(weeks=SEASON_WEEKS, days=-1),
        season_length_weeks=SEASON_WEEKS,
    )
    records.upsert_season_parameters(
        session,
        parameter_id="P1",
        category_id="WD",
        forecast_horizon_weeks=SEASON_WEEKS,
        season_start_date=start,
        season_end_date=start + timedelta(weeks=SEASON_WEEKS, days=-1),
        replenishment_strategy=ReplenishmentStrategy.WEEKLY,
        dc_holdback_percentage=0.3,
        markdown_checkpoint_week=4,
        markdown_threshold=0.6,
    )
    total = sum(SEASON_CURVE)
    records.record_forecast(
        session,
        forecast_id="F1",
        category_id="WD",
        season="Spring 2025",
        forecast_horizon_weeks=SEASON_WEEKS,
        total_season_demand=total,
        weekly_demand_curve=curve_from_units(SEASON_CURVE),
        cluster_distribution=[
            ClusterShare("C1", 0.5, total // 2),
            ClusterShare("C2", 0.3, total * 3 // 10),
            ClusterShare("C3", 0.2, total - total // 2 - total * 3 // 10),
        ],
    )
    season_allocation(session, "A1", "F1")
    records.record_actual_sales(
        session,
        "F1",
        [ActualSalesRow(store, week, units) for (store, week), units in SEASON_ACTUALS.items()],
    )
    records.record_markdown(
        session, markdown_id="M1", forecast_id="F1", week_number=4, recommended_markdown_pct=0.1
    )
    session.flush()
