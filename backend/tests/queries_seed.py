"""The read tests' data: the demo season plus edge cases written with the ORM.

The edge cases cover what the demo season does not: a cluster without stores, a forecast week
with zero forecast units, a store with sales but no allocation entry, an allocated
store without sales, two allocations of one forecast (the newer one counts), two
forecasts of one category and season with the same created_at (the greater id wins),
and a workflow whose steps share a created_at.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from backend.app.demo.sample_season import generate_sample_season
from backend.app.models import (
    ActualSales,
    Allocation,
    Category,
    Forecast,
    ForecastClusterDistribution,
    HistoricalSales,
    Store,
    StoreCluster,
    WorkflowLog,
)
from backend.app.models.enums import (
    FashionTier,
    LocationTier,
    Region,
    StoreFormat,
    WorkflowStatus,
)

SEASON = "Spring 2025"
T0 = datetime(2025, 2, 1, 9, 0, tzinfo=UTC)


def seed_edge_cases(session: Session, seed: int = 7) -> None:
    """Rows with the edge cases above; independent of any other data in the database."""
    rng = random.Random(seed)
    session.add_all(
        [
            StoreCluster(
                cluster_id="EDGE_EMPTY", cluster_name="No stores", fashion_tier=FashionTier.VALUE
            ),
            StoreCluster(
                cluster_id="EDGE_C", cluster_name="Edge", fashion_tier=FashionTier.PREMIUM
            ),
        ]
    )
    stores = [f"EDGE_S{i}" for i in range(1, 5)]
    for index, store_id in enumerate(stores):
        session.add(
            Store(
                store_id=store_id,
                store_name=f"Edge store {index}",
                cluster_id="EDGE_C",
                store_size_sqft=1000 + 100 * index,
                location_tier=LocationTier.B,
                median_income=50_000 + index,
                store_format=StoreFormat.MALL,
                region=Region.WEST,
                avg_weekly_sales_12mo=10.5 * (index + 1),
            )
        )
    session.add(
        Category(
            category_id="EDGE_CAT",
            category_name="Edge category",
            season_start_date=date(2025, 2, 17),
            season_end_date=date(2025, 5, 11),
            season_length_weeks=12,
        )
    )
    session.flush()
    for store_id in stores:
        for week in range(8):
            session.add(
                HistoricalSales(
                    sale_id=f"EDGE_H_{store_id}_{week}",
                    store_id=store_id,
                    category_id="EDGE_CAT",
                    week_start_date=date(2024, 1, 1) + timedelta(weeks=week),
                    units_sold=rng.randint(0, 30),
                )
            )
    curve = [{"week_number": w, "demand_units": 0 if w == 2 else 10 * w} for w in range(1, 7)]
    for forecast_id in ("EDGE_F1", "EDGE_F2"):
        session.add(
            Forecast(
                forecast_id=forecast_id,
                category_id="EDGE_CAT",
                season=SEASON,
                forecast_horizon_weeks=6,
                total_season_demand=sum(p["demand_units"] for p in curve),
                weekly_demand_curve=curve,
                peak_week=6,
                models_used=["prophet"],
                created_at=T0,
            )
        )
    session.flush()
    session.add(
        ForecastClusterDistribution(
            distribution_id="EDGE_D1",
            forecast_id="EDGE_F2",
            cluster_id="EDGE_C",
            allocation_percentage=1.0,
            total_units=190,
        )
    )
    for allocation_id, created, initial in (
        ("EDGE_A_OLD", T0, 1),
        ("EDGE_A_NEW", T0 + timedelta(hours=1), 40),
    ):
        split = [
            {"store_id": "EDGE_S1", "initial": initial, "holdback": 5},
            {"store_id": "EDGE_S2", "initial": initial + 10, "holdback": 5},
            {"store_id": "EDGE_S3", "initial": 0, "holdback": 5},
        ]
        session.add(
            Allocation(
                allocation_id=allocation_id,
                forecast_id="EDGE_F2",
                manufacturing_qty=sum(i["initial"] + i["holdback"] for i in split),
                initial_allocation_total=sum(i["initial"] for i in split),
                holdback_total=15,
                store_allocations=split,
                created_at=created,
            )
        )
    # EDGE_S4 sells without an allocation entry; EDGE_S3 has one with 0 initial units.
    for store_id in ("EDGE_S1", "EDGE_S2", "EDGE_S4"):
        for week in range(1, 5):
            session.add(
                ActualSales(
                    actual_id=f"EDGE_AS_{store_id}_{week}",
                    store_id=store_id,
                    forecast_id="EDGE_F2",
                    week_number=week,
                    units_sold=rng.randint(0, 12),
                )
            )
    for index, (agent, seconds) in enumerate(
        [("orchestrator", None), ("demand", 2.5), ("inventory", 1.25), ("pricing", 0.5)]
    ):
        session.add(
            WorkflowLog(
                log_id=f"EDGE_L{9 - index}",
                workflow_id="EDGE_WF",
                agent_name=agent,
                action="run",
                duration_seconds=seconds,
                status=WorkflowStatus.COMPLETED,
                # The last two share a timestamp: log_id orders them.
                created_at=T0 + timedelta(seconds=min(index, 2)),
            )
        )
    session.flush()


def seed_reads_database(engine: Engine) -> None:
    """The read tests' data: the demo season (seed 42), then the edge cases above."""
    generate_sample_season(engine, seed=42)
    with Session(engine) as session:
        seed_edge_cases(session)
        session.commit()
