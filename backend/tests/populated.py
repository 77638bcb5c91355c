"""A populated database: rows in all 11 tables with JSON, NULLs, unicode, awkward floats."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from sqlalchemy.orm import Session

from backend.app.models import (
    ActualSales,
    Allocation,
    Category,
    Forecast,
    ForecastClusterDistribution,
    HistoricalSales,
    Markdown,
    SeasonParameters,
    Store,
    StoreCluster,
    WorkflowLog,
)
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

EASTERN = timezone(timedelta(hours=-5))
HISTORY_WEEKS = 26  # historical_sales rows per store: several batches at batch_size=7


def populate(session: Session) -> None:
    """Rows in all 11 tables: JSON, NULLs, unicode, awkward floats, aware timestamps."""
    stamped = datetime(2024, 3, 10, 9, 30, 15, 123456, tzinfo=EASTERN)
    session.add_all(
        [
            Category(
                category_id="CAT-DRESS",
                category_name="Robes d'été — «légères» ✨",
                season_start_date=date(2024, 3, 1),
                season_end_date=date(2024, 5, 24),
                season_length_weeks=12,
                archetype=Archetype.FASHION_RETAIL,
                description="Sommerkleider: Größe XS\u2013XL, 夏のドレス",
                created_at=stamped,
            ),
            Category(
                category_id="CAT-SOCKS",
                category_name="Socks",
                season_start_date=date(2024, 1, 1),
                season_end_date=date(2024, 12, 31),
                season_length_weeks=52,
                archetype=Archetype.CONTINUOUS,
                description=None,  # created_at left to the server default
            ),
            StoreCluster(
                cluster_id="CL-PREM",
                cluster_name="Premium flagships",
                fashion_tier=FashionTier.PREMIUM,
                description="Städte mit hoher Kaufkraft",
                created_at=stamped + timedelta(microseconds=1),
            ),
            StoreCluster(cluster_id="CL-VAL", cluster_name="Value", fashion_tier=FashionTier.VALUE),
        ]
    )
    session.flush()
    stores = [
        Store(
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
    session.add_all(stores)
    session.add_all(
        [
            SeasonParameters(
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
            ),
            SeasonParameters(
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
            ),
            Forecast(
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
            ),
        ]
    )
    session.flush()
    session.add_all(
        [
            ForecastClusterDistribution(
                distribution_id="D-1",
                forecast_id="F-1",
                cluster_id="CL-PREM",
                allocation_percentage=1 / 3,
                total_units=2_667,
            ),
            ForecastClusterDistribution(
                distribution_id="D-2",
                forecast_id="F-1",
                cluster_id="CL-VAL",
                allocation_percentage=2 / 3,
                total_units=5_333,
                created_at=datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            ),
            Allocation(
                allocation_id="A-1",
                forecast_id="F-1",
                manufacturing_qty=9_600,
                initial_allocation_total=4_400,
                holdback_total=3_600,
                store_allocations=[
                    {"store_id": store.store_id, "initial": 176 * n, "holdback": 142 * n}
                    for n, store in enumerate(stores, start=1)
                ],
            ),
            Markdown(
                markdown_id="M-1",
                forecast_id="F-1",
                week_number=6,
                sell_through_pct=0.4199999999999999,
                gap_pct=0.18000000000000005,
                recommended_markdown_pct=0.36,
                expected_demand_lift_pct=None,
                status=MarkdownStatus.APPROVED,
                reasoning="Remise de 36 % — sell-through 42 %",
            ),
            WorkflowLog(
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
            ),
            WorkflowLog(
                log_id="W-2",
                workflow_id="wf-2024-03",
                agent_name="inventory_agent",
                action="allocate",
                input_data=None,
                output_data={"error": {"code": 42, "lines": ["a", "b"]}, "empty": {}},
                duration_seconds=None,
                status=WorkflowStatus.FAILED,
                error_message="Fehler: 'holdback' > 100 %",
            ),
        ]
    )
    first_week = date(2023, 9, 4)
    session.add_all(
        HistoricalSales(
            sale_id=f"H-{store.store_id}-{week:02d}",
            store_id=store.store_id,
            category_id="CAT-DRESS",
            week_start_date=first_week + timedelta(weeks=week),
            units_sold=(week * 7 + len(store.store_id)) % 90,
        )
        for store in stores
        for week in range(HISTORY_WEEKS)
    )
    session.add_all(
        ActualSales(
            actual_id=f"AS-{store.store_id}-{week}",
            store_id=store.store_id,
            forecast_id="F-1",
            week_number=week,
            units_sold=0 if week == 1 else 40 + week,
        )
        for store in stores
        for week in range(1, 5)
    )
    session.commit()
