"""A deterministic, realistic sample season in every one of the 11 tables.

``generate_sample_season(engine_or_session, seed)`` writes, through the write API
(``backend.app.domain.records``) so that every domain rule holds:

- 3 store clusters, one per fashion tier, and 50 stores (S001..S050) whose seven
  attributes follow their tier (premium stores are larger, in richer areas, sell more);
- 3 categories, all with the season that starts on Monday 2025-02-17 (the retailer
  fixture ``normal_season`` starts that day) and lasts 12 weeks, and their season
  parameters (35% DC holdback, markdown checkpoint week 6, target sell-through 60%);
- 156 weeks (3 years) of weekly history per store and category, ending the week
  before the season: base demand x yearly seasonality x growth x noise;
- per category a 12-week forecast computed from that history (see ``_forecast``), its
  cluster distribution (each cluster's share of the same weeks in past years), an
  allocation across all 50 stores, actual sales for weeks 1..6 and the markdown
  decision at the checkpoint week (see ``_markdown``);
- per category one orchestrator run (``workflows``) through the write API
  (``domain.workflows``): started, each agent step logged (workflow_logs), paused
  awaiting the planner's approval of the markdown, approved (markdown_status_changes),
  resumed and completed.

Same seed, same rows: every value comes from ``random.Random(seed)`` in a fixed order
and every key is derived, never random, so two runs differ only in ``created_at``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from backend.app.database.base import Base
from backend.app.database.db import session_scope
from backend.app.domain import approvals, records, workflows
from backend.app.domain.records import ActualSalesRow, ClusterShare, HistoricalSalesRow
from backend.app.domain.rules import curve_from_units
from backend.app.maintenance import definitions
from backend.app.maintenance.definitions import cluster_id_for_tier, season_end, season_week_days
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
from backend.app.models.markdown import MAX_MARKDOWN_PCT

__all__ = [
    "ACTUAL_WEEKS",
    "CHECKPOINT_WEEK",
    "DC_HOLDBACK_PERCENTAGE",
    "DEMO_WORKFLOW_PREFIX",
    "ELASTICITY",
    "HISTORY_WEEKS",
    "HORIZON_WEEKS",
    "SAFETY_STOCK_PERCENTAGE",
    "SEASON",
    "SEASON_START",
    "TARGET_SELL_THROUGH",
    "DemoSummary",
    "NotEmptyError",
    "ProgressCallback",
    "apportion",
    "generate_sample_season",
    "recommended_markdown",
]

SEASON = "Spring 2025"
SEASON_START = date(2025, 2, 17)  # a Monday: week 1 of the retailer fixture normal_season
HORIZON_WEEKS = 12
SEASON_END = season_end(SEASON_START, HORIZON_WEEKS)
HISTORY_WEEKS = 156
ACTUAL_WEEKS = 6
CHECKPOINT_WEEK = 6
SAFETY_STOCK_PERCENTAGE = 0.20
DC_HOLDBACK_PERCENTAGE = 0.35
TARGET_SELL_THROUGH = 0.60
ELASTICITY = 2.0
YEARLY_GROWTH = 0.04
FORECASTING_METHOD = "seasonal_average_yoy_growth"
# Every demo run's workflow_id starts with this, followed by the seed and the category.
DEMO_WORKFLOW_PREFIX = "WF-SS25-DEMO-"
MODELS_USED = ("seasonal_average_3y", "yoy_growth")
# When the checkpoint week's actual sales are in: 9:00 on the day after its last day.
CHECKPOINT_AT = datetime.combine(
    season_week_days(CHECKPOINT_WEEK, SEASON_START)[1] + timedelta(days=1), time(9), UTC
)
# Who approves the demo's markdowns.
PLANNER = "planner@demo.example"
# The steps of each category's run, in order: (agent, action).
STEPS = (
    ("orchestrator", "extract_season_parameters"),
    ("demand_agent", "forecast_demand"),
    ("inventory_agent", "allocate_inventory"),
    ("orchestrator", "record_actual_sales"),
    ("pricing_agent", "recommend_markdown"),
    ("orchestrator", "resume_after_approval"),
)

# (completed, total, what is being written): called as the generator goes.
ProgressCallback = Callable[[int, int, str], None]


@dataclass(frozen=True)
class _ClusterSpec:
    cluster_id: str
    name: str
    tier: FashionTier
    stores: int
    description: str
    locations: tuple[tuple[LocationTier, float], ...]
    income: tuple[int, int]
    size_sqft: tuple[int, int]
    formats: tuple[StoreFormat, ...]
    base_units: tuple[int, int]  # weekly units, all categories


CLUSTERS = (
    _ClusterSpec(
        cluster_id_for_tier(FashionTier.PREMIUM),
        "Premium Urban",
        FashionTier.PREMIUM,
        12,
        "Flagship and mall stores in affluent urban areas; trend-led assortment.",
        ((LocationTier.A, 0.85), (LocationTier.B, 0.15)),
        (110_000, 165_000),
        (11_000, 16_000),
        (StoreFormat.MALL, StoreFormat.STANDALONE),
        (850, 1_150),
    ),
    _ClusterSpec(
        cluster_id_for_tier(FashionTier.MAINSTREAM),
        "Mainstream Suburban",
        FashionTier.MAINSTREAM,
        23,
        "Suburban mall and shopping-centre stores; core assortment.",
        ((LocationTier.A, 0.15), (LocationTier.B, 0.70), (LocationTier.C, 0.15)),
        (65_000, 105_000),
        (8_000, 12_500),
        (StoreFormat.MALL, StoreFormat.SHOPPING_CENTER, StoreFormat.STANDALONE),
        (550, 850),
    ),
    _ClusterSpec(
        cluster_id_for_tier(FashionTier.VALUE),
        "Value Outlets",
        FashionTier.VALUE,
        15,
        "Outlet and shopping-centre stores; price-led, clearance channel.",
        ((LocationTier.B, 0.30), (LocationTier.C, 0.70)),
        (35_000, 62_000),
        (6_000, 10_000),
        (StoreFormat.OUTLET, StoreFormat.SHOPPING_CENTER),
        (330, 550),
    ),
)


@dataclass(frozen=True)
class _CategorySpec:
    category_id: str
    name: str
    share: float  # of a store's weekly units
    peak_week_of_year: int  # ISO week of the yearly sales peak
    amplitude: float  # seasonal swing around the mean
    actuals_factor: float  # how this season's actual demand compares with the forecast
    description: str


CATEGORIES = (
    _CategorySpec(
        "CAT-WD",
        "Women's Dresses",
        0.38,
        21,
        0.45,
        0.92,
        "Spring/summer dresses; demand builds towards May (a cold February starts slowly).",
    ),
    _CategorySpec(
        "CAT-MO",
        "Men's Outerwear",
        0.22,
        46,
        0.60,
        0.90,
        "Jackets and coats; a winter peak, fading through spring (a warm spring sells less).",
    ),
    _CategorySpec(
        "CAT-AC",
        "Accessories",
        0.40,
        50,
        0.25,
        1.04,
        "Bags, scarves and jewellery; a gifting peak in December, steady otherwise.",
    ),
)

_CITIES: tuple[tuple[str, Region], ...] = tuple(
    (city, region)
    for region, names in (
        (
            Region.NORTHEAST,
            "Boston Providence Hartford Albany Buffalo Pittsburgh Philadelphia Newark "
            "Portland Burlington Syracuse Rochester Worcester",
        ),
        (
            Region.SOUTHEAST,
            "Atlanta Miami Orlando Tampa Charlotte Raleigh Nashville Memphis Richmond "
            "Charleston Savannah Jacksonville Birmingham",
        ),
        (
            Region.MIDWEST,
            "Chicago Detroit Columbus Cleveland Indianapolis Milwaukee Minneapolis "
            "Omaha Madison Cincinnati Louisville Kansas Wichita",
        ),
        (
            Region.WEST,
            "Seattle Denver Phoenix Sacramento Oakland Fresno Boise Spokane Tucson "
            "Reno Eugene Tacoma Pasadena",
        ),
    )
    for city in names.split()
)

_FORMAT_LABEL = {
    StoreFormat.MALL: "Mall",
    StoreFormat.STANDALONE: "High Street",
    StoreFormat.SHOPPING_CENTER: "Shopping Centre",
    StoreFormat.OUTLET: "Outlet",
}


@dataclass(frozen=True)
class DemoSummary:
    """What the demo wrote: its keys (stable across seeds) and its row counts."""

    seed: int
    season: str
    season_start: date
    workflow_ids: dict[str, str]  # category_id -> workflow_id (one run per category)
    cluster_ids: tuple[str, ...]
    store_ids: tuple[str, ...]
    category_ids: tuple[str, ...]
    parameter_ids: dict[str, str]  # category_id -> parameter_id
    forecast_ids: dict[str, str]  # category_id -> forecast_id
    allocation_ids: dict[str, str]  # category_id -> allocation_id
    markdown_ids: dict[str, str]  # category_id -> markdown_id
    actual_weeks: int  # actual sales exist for weeks 1..actual_weeks
    checkpoint_week: int
    row_counts: dict[str, int]  # table -> rows written


class NotEmptyError(RuntimeError):
    """The demo refuses to mix its rows into a database that already has data."""


@dataclass
class _Store:
    store_id: str
    name: str
    cluster: _ClusterSpec
    location: LocationTier
    income: int
    size_sqft: int
    store_format: StoreFormat
    region: Region
    base_units: float


def apportion(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` into integers that sum to it exactly.

    Largest remainder: floor every share, then give the units left over to the
    largest fractional parts (earlier positions first on a tie), so the result is
    deterministic and never off by one.
    """
    weight_sum = sum(weights)
    if total < 0 or weight_sum <= 0:
        raise ValueError(f"cannot apportion {total} over weights summing to {weight_sum}")
    exact = [total * weight / weight_sum for weight in weights]
    shares = [math.floor(value) for value in exact]
    left = total - sum(shares)
    order = sorted(range(len(weights)), key=lambda index: (-(exact[index] - shares[index]), index))
    for index in order[:left]:
        shares[index] += 1
    return shares


def recommended_markdown(gap_pct: float, elasticity: float = ELASTICITY) -> float:
    """The markdown for a sell-through gap: ``min(max(gap, 0) * elasticity, 0.40)``.

    No markdown when sell-through is on or above target; the cap is the schema's 40%.
    """
    return round(min(max(gap_pct, 0.0) * elasticity, MAX_MARKDOWN_PCT), 4)


def _week_start(history_index: int) -> date:
    """History week 0 is 156 weeks before the season; week 155 the week before it."""
    return SEASON_START - timedelta(weeks=HISTORY_WEEKS - history_index)


def _seasonality(category: _CategorySpec, day: date) -> float:
    week_of_year = day.isocalendar().week
    return 1 + category.amplitude * math.cos(
        2 * math.pi * (week_of_year - category.peak_week_of_year) / 52
    )


class _Generator:
    def __init__(self, session: Session, seed: int, progress: ProgressCallback | None) -> None:
        self.session = session
        self.seed = seed
        self.rng = random.Random(seed)  # noqa: S311 - reproducible sample data, not secrets
        self.progress = progress
        self.done = 0
        # The runs' own clock, so the same seed gives the same rows: each run starts the
        # Monday before the season, its steps take their durations, the actual sales
        # arrive at the checkpoint and the planner decides an hour after the markdown.
        self.clock = datetime.combine(SEASON_START - timedelta(weeks=1), time(9), UTC)
        self.workflow_ids: dict[str, str] = {}
        self.log_steps: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        stores = sum(cluster.stores for cluster in CLUSTERS)
        # forecast and its clusters, allocation, actuals, markdown; the run, its six
        # steps and the approval.
        per_category = 1 + len(CLUSTERS) + 1 + stores * ACTUAL_WEEKS + 1 + 1 + len(STEPS) + 1
        self.total = (
            len(CLUSTERS)
            + stores * 2  # the stores and their extra attributes
            + len(CATEGORIES) * (1 + 1 + stores * HISTORY_WEEKS + per_category)
        )

    # --- bookkeeping ------------------------------------------------------------------

    def _advance(self, rows: int, what: str) -> None:
        self.done += rows
        if self.progress is not None:
            self.progress(min(self.done, self.total), self.total, what)

    def _count(self, table: str, rows: int = 1) -> None:
        self.counts[table] = self.counts.get(table, 0) + rows

    def _log(
        self,
        category: _CategorySpec,
        agent: str,
        action: str,
        input_data: dict[str, Any],
        output_data: dict[str, Any],
        seconds: tuple[float, float],
    ) -> None:
        """One agent step of the category's run; progress is the share of steps done."""
        workflow_id = self.workflow_ids[category.category_id]
        step = self.log_steps[workflow_id] = self.log_steps[workflow_id] + 1
        assert STEPS[step - 1] == (agent, action), (step, agent, action)
        duration = round(self.rng.uniform(*seconds), 3)
        if (agent, action) == ("orchestrator", "record_actual_sales"):
            self.clock = max(self.clock, CHECKPOINT_AT)
        self.clock += timedelta(seconds=duration)
        workflows.record_step(
            self.session,
            workflow_id,
            log_id=f"{workflow_id}-{step:02d}",
            agent_name=agent,
            action=action,
            status=WorkflowStatus.COMPLETED,
            input_data=input_data,
            output_data=output_data,
            duration_seconds=duration,
            at=self.clock,
            # The last step is the run's completion (progress 1 when it completes).
            progress=round(step / (len(STEPS) + 1), 4),
        )
        self._count("workflow_logs")
        self._advance(1, f"{category.name}: {agent}.{action}")

    def _start_run(self, category: _CategorySpec) -> str:
        workflow_id = f"{DEMO_WORKFLOW_PREFIX}{self.seed}-{category.category_id}"
        self.clock = datetime.combine(SEASON_START - timedelta(weeks=1), time(9), UTC)
        workflows.start_workflow(
            self.session,
            workflow_id=workflow_id,
            category_id=category.category_id,
            season=SEASON,
            at=self.clock,
        )
        workflows.run(self.session, workflow_id, at=self.clock)
        self.workflow_ids[category.category_id] = workflow_id
        self.log_steps[workflow_id] = 0
        self._count("workflows")
        self._advance(1, f"{category.name}: workflow started")
        return workflow_id

    def _approve_and_complete(self, category: _CategorySpec, markdown_id: str) -> None:
        """The run waits for the planner, who approves the markdown; then it completes."""
        workflow_id = self.workflow_ids[category.category_id]
        workflows.await_approval(self.session, workflow_id, at=self.clock)
        self.clock += timedelta(hours=1)
        approval = approvals.approve_markdown(
            self.session,
            markdown_id,
            actor=PLANNER,
            at=self.clock,
            note="Approved as recommended.",
        )
        self._count("markdown_status_changes")
        self._advance(1, f"{category.name}: markdown approved")
        workflows.resume(self.session, workflow_id, at=self.clock)
        self._log(
            category,
            "orchestrator",
            "resume_after_approval",
            {"markdown_id": markdown_id},
            {
                "markdown_id": markdown_id,
                "status": str(approval.to_status),
                "approved_by": approval.actor,
            },
            (0.05, 0.3),
        )
        workflows.complete(self.session, workflow_id, at=self.clock)

    # --- master data ------------------------------------------------------------------

    def _stores(self) -> list[_Store]:
        tiers = [cluster for cluster in CLUSTERS for _ in range(cluster.stores)]
        self.rng.shuffle(tiers)
        cities = list(_CITIES)
        self.rng.shuffle(cities)
        stores = []
        for number, (cluster, (city, region)) in enumerate(zip(tiers, cities, strict=False), 1):
            locations, weights = zip(*cluster.locations, strict=True)
            location = self.rng.choices(locations, weights)[0]
            store_format = self.rng.choice(cluster.formats)
            size = round(self.rng.uniform(*cluster.size_sqft), -2)
            base = (
                self.rng.uniform(*cluster.base_units) * (size / sum(cluster.size_sqft) * 2) ** 0.5
            )
            stores.append(
                _Store(
                    store_id=f"S{number:03d}",
                    name=f"{city} {_FORMAT_LABEL[store_format]}",
                    cluster=cluster,
                    location=location,
                    income=int(round(self.rng.uniform(*cluster.income), -3)),
                    size_sqft=int(size),
                    store_format=store_format,
                    region=region,
                    base_units=base,
                )
            )
        return stores

    def _store_extras(self, stores: list[_Store]) -> None:
        """The retailer columns ``stores`` has no place for, as an import would keep them.

        Drawn from a random stream of their own, so adding them changed no other figure.
        """
        rng = random.Random(f"{self.seed}-store-extras")  # noqa: S311 - sample data
        for store in stores:
            mall = store.store_format is StoreFormat.MALL
            records.upsert_store_extra_attributes(
                self.session,
                store_id=store.store_id,
                attributes={
                    "foot_traffic": int(store.size_sqft * rng.uniform(0.15, 0.25)),
                    "competitor_density": round(rng.uniform(2.0, 8.0), 1),
                    "online_penetration": round(rng.uniform(0.25, 0.55), 2),
                    "population_density": int(rng.uniform(4_000, 16_000)),
                    "mall_location": mall,
                },
                source_file="ffdb demo",
            )
        self._count("store_extra_attributes", len(stores))
        self._advance(len(stores), "store extra attributes")

    def _history(self, stores: list[_Store]) -> dict[tuple[str, str], list[int]]:
        """Units per (store, category) for history weeks 0..155."""
        history: dict[tuple[str, str], list[int]] = {}
        for store in stores:
            for category in CATEGORIES:
                series = []
                for index in range(HISTORY_WEEKS):
                    day = _week_start(index)
                    years_before_season = (HISTORY_WEEKS - index) / 52
                    trend = (1 + YEARLY_GROWTH) ** -years_before_season
                    noise = max(0.3, self.rng.gauss(1.0, 0.08))
                    mean = store.base_units * category.share * _seasonality(category, day)
                    series.append(max(0, round(mean * trend * noise)))
                history[(store.store_id, category.category_id)] = series
        return history

    # --- the season -------------------------------------------------------------------

    @staticmethod
    def _same_weeks_in_past_years(week: int) -> list[int]:
        """History indexes of season week ``week`` one, two and three years (52 weeks) back."""
        return [HISTORY_WEEKS + (week - 1) - 52 * years for years in (1, 2, 3)]

    def _forecast(
        self,
        category: _CategorySpec,
        stores: list[_Store],
        history: dict[tuple[str, str], list[int]],
    ) -> list[int]:
        """Weekly demand: the same week in each of the last 3 years, grown to this year, averaged.

        Growth is the ratio of the last 52 weeks' units to the 52 weeks before them.
        """
        series = [history[(store.store_id, category.category_id)] for store in stores]
        last_year = sum(sum(units[-52:]) for units in series)
        year_before = sum(sum(units[-104:-52]) for units in series)
        growth = last_year / year_before
        curve = []
        for week in range(1, HORIZON_WEEKS + 1):
            grown = [
                sum(units[index] for units in series) * growth**years
                for years, index in enumerate(self._same_weeks_in_past_years(week), 1)
            ]
            curve.append(round(sum(grown) / len(grown)))
        return curve

    def _season_weights(
        self,
        category: _CategorySpec,
        stores: list[_Store],
        history: dict[tuple[str, str], list[int]],
    ) -> list[int]:
        """Each store's units in the season's weeks of past years: its share of the season."""
        indexes = [
            index
            for week in range(1, HORIZON_WEEKS + 1)
            for index in self._same_weeks_in_past_years(week)
        ]
        return [
            sum(history[(store.store_id, category.category_id)][index] for index in indexes)
            for store in stores
        ]

    def _markdown(self, category: _CategorySpec, forecast_id: str) -> None:
        """Sell-through at the checkpoint by the one definition
        (``definitions.sell_through``: units sold in weeks 1..N / units shipped to the
        stores); gap = target - sell-through; markdown = min(max(gap, 0) x elasticity,
        40%); expected demand lift = markdown x elasticity."""
        measured = definitions.sell_through(
            self.session, forecast_id, CHECKPOINT_WEEK, TARGET_SELL_THROUGH
        )
        sell_through, gap = measured.sell_through_pct, measured.gap_pct
        assert sell_through is not None and gap is not None  # the allocation shipped units
        markdown = recommended_markdown(gap)
        markdown_id = f"MD-{category.category_id}-SS25-W{CHECKPOINT_WEEK:02d}"
        if markdown > 0:
            reasoning = (
                f"Sell-through {sell_through:.1%} after week {CHECKPOINT_WEEK} is "
                f"{gap:.1%} below the {TARGET_SELL_THROUGH:.0%} target; "
                f"{gap:.3f} x elasticity {ELASTICITY:g} = {markdown:.1%} markdown"
                + (" (capped)" if markdown == MAX_MARKDOWN_PCT else "")
                + "."
            )
        else:
            reasoning = (
                f"Sell-through {sell_through:.1%} after week {CHECKPOINT_WEEK} meets the "
                f"{TARGET_SELL_THROUGH:.0%} target: no markdown."
            )
        records.record_markdown(
            self.session,
            markdown_id=markdown_id,
            forecast_id=forecast_id,
            week_number=CHECKPOINT_WEEK,
            sell_through_pct=sell_through,
            target_sell_through_pct=TARGET_SELL_THROUGH,
            gap_pct=gap,
            recommended_markdown_pct=markdown,
            elasticity_coefficient=ELASTICITY,
            expected_demand_lift_pct=round(markdown * ELASTICITY, 4),
            status=MarkdownStatus.PENDING,
            reasoning=reasoning,
        )
        self._count("markdowns")
        self._advance(1, f"{category.name}: markdown decision")
        self._log(
            category,
            "pricing_agent",
            "recommend_markdown",
            {
                "forecast_id": forecast_id,
                "week_number": CHECKPOINT_WEEK,
                "target_sell_through_pct": TARGET_SELL_THROUGH,
                "elasticity_coefficient": ELASTICITY,
            },
            {
                "markdown_id": markdown_id,
                "units_sold": measured.units_sold,
                "units_shipped": measured.units_shipped,
                "sell_through_pct": round(sell_through, 4),
                "gap_pct": round(gap, 4),
                "recommended_markdown_pct": markdown,
            },
            (0.2, 1.5),
        )

    def _category_season(
        self,
        category: _CategorySpec,
        stores: list[_Store],
        history: dict[tuple[str, str], list[int]],
        summary: dict[str, dict[str, str]],
    ) -> None:
        curve = self._forecast(category, stores, history)
        total = sum(curve)
        weights = self._season_weights(category, stores, history)
        cluster_weights = [
            sum(w for store, w in zip(stores, weights, strict=True) if store.cluster is cluster)
            for cluster in CLUSTERS
        ]
        cluster_units = apportion(total, cluster_weights)
        weight_sum = sum(cluster_weights)
        forecast_id = f"FC-{category.category_id}-SS25"
        forecast = records.record_forecast(
            self.session,
            forecast_id=forecast_id,
            category_id=category.category_id,
            season=SEASON,
            forecast_horizon_weeks=HORIZON_WEEKS,
            total_season_demand=total,
            weekly_demand_curve=curve_from_units(curve),
            cluster_distribution=[
                ClusterShare(cluster.cluster_id, weight / weight_sum, units)
                for cluster, weight, units in zip(
                    CLUSTERS, cluster_weights, cluster_units, strict=True
                )
            ],
            forecasting_method=FORECASTING_METHOD,
            models_used=MODELS_USED,
        )
        summary["forecast_ids"][category.category_id] = forecast_id
        workflows.record_outputs(
            self.session,
            self.workflow_ids[category.category_id],
            forecast_id=forecast_id,
            at=self.clock,
        )
        self._count("forecasts")
        self._count("forecast_cluster_distribution", len(CLUSTERS))
        self._advance(1 + len(CLUSTERS), f"{category.name}: forecast")
        self._log(
            category,
            "demand_agent",
            "forecast_demand",
            {
                "category_id": category.category_id,
                "season": SEASON,
                "history_weeks": HISTORY_WEEKS,
                "forecast_horizon_weeks": HORIZON_WEEKS,
                "method": FORECASTING_METHOD,
            },
            {
                "forecast_id": forecast_id,
                "total_season_demand": total,
                "peak_week": forecast.peak_week,
                "cluster_units": {
                    cluster.cluster_id: units
                    for cluster, units in zip(CLUSTERS, cluster_units, strict=True)
                },
            },
            (1.5, 6.0),
        )

        manufacturing = round(total * (1 + SAFETY_STOCK_PERCENTAGE))
        holdback_total = round(manufacturing * DC_HOLDBACK_PERCENTAGE)
        initial_total = manufacturing - holdback_total
        initial = apportion(initial_total, weights)
        holdback = apportion(holdback_total, weights)
        allocation_id = f"AL-{category.category_id}-SS25"
        records.record_allocation(
            self.session,
            allocation_id=allocation_id,
            forecast_id=forecast_id,
            manufacturing_qty=manufacturing,
            safety_stock_percentage=SAFETY_STOCK_PERCENTAGE,
            initial_allocation_total=initial_total,
            holdback_total=holdback_total,
            store_allocations=[
                {"store_id": store.store_id, "initial": first, "holdback": held}
                for store, first, held in zip(stores, initial, holdback, strict=True)
            ],
        )
        summary["allocation_ids"][category.category_id] = allocation_id
        workflows.record_outputs(
            self.session,
            self.workflow_ids[category.category_id],
            allocation_id=allocation_id,
            at=self.clock,
        )
        self._count("allocations")
        self._advance(1, f"{category.name}: allocation")
        self._log(
            category,
            "inventory_agent",
            "allocate_inventory",
            {
                "forecast_id": forecast_id,
                "safety_stock_percentage": SAFETY_STOCK_PERCENTAGE,
                "dc_holdback_percentage": DC_HOLDBACK_PERCENTAGE,
            },
            {
                "allocation_id": allocation_id,
                "manufacturing_qty": manufacturing,
                "initial_allocation_total": initial_total,
                "holdback_total": holdback_total,
                "stores": len(stores),
            },
            (0.5, 2.5),
        )

        weight_total = sum(weights)
        actuals = [
            ActualSalesRow(
                store.store_id,
                week,
                max(
                    0,
                    round(
                        curve[week - 1]
                        * weight
                        / weight_total
                        * category.actuals_factor
                        * self.rng.gauss(1.0, 0.12)
                    ),
                ),
            )
            for week in range(1, ACTUAL_WEEKS + 1)
            for store, weight in zip(stores, weights, strict=True)
        ]
        written = records.record_actual_sales(self.session, forecast_id, actuals)
        self._count("actual_sales", written)
        self._advance(written, f"{category.name}: actual sales weeks 1-{ACTUAL_WEEKS}")
        sold = sum(row.units_sold for row in actuals)
        self._log(
            category,
            "orchestrator",
            "record_actual_sales",
            {"forecast_id": forecast_id, "weeks": list(range(1, ACTUAL_WEEKS + 1))},
            {"rows": written, "units_sold": sold},
            (0.1, 0.8),
        )
        self._markdown(category, forecast_id)
        markdown_id = f"MD-{category.category_id}-SS25-W{CHECKPOINT_WEEK:02d}"
        summary["markdown_ids"][category.category_id] = markdown_id
        self._approve_and_complete(category, markdown_id)

    def run(self) -> DemoSummary:
        stores = self._stores()
        history = self._history(stores)
        for cluster in CLUSTERS:
            records.upsert_store_cluster(
                self.session,
                cluster_id=cluster.cluster_id,
                cluster_name=cluster.name,
                fashion_tier=cluster.tier,
                description=cluster.description,
            )
        self._count("store_clusters", len(CLUSTERS))
        self._advance(len(CLUSTERS), "store clusters")
        for store in stores:
            last_year = [
                sum(
                    history[(store.store_id, category.category_id)][index]
                    for category in CATEGORIES
                )
                for index in range(HISTORY_WEEKS - 52, HISTORY_WEEKS)
            ]
            records.upsert_store(
                self.session,
                store_id=store.store_id,
                store_name=store.name,
                cluster_id=store.cluster.cluster_id,
                store_size_sqft=store.size_sqft,
                location_tier=store.location,
                median_income=store.income,
                store_format=store.store_format,
                region=store.region,
                avg_weekly_sales_12mo=round(sum(last_year) / len(last_year), 1),
            )
        self._count("stores", len(stores))
        self._advance(len(stores), "stores")
        self._store_extras(stores)

        summary: dict[str, dict[str, str]] = {
            "parameter_ids": {},
            "forecast_ids": {},
            "allocation_ids": {},
            "markdown_ids": {},
        }
        for category in CATEGORIES:
            records.upsert_category(
                self.session,
                category_id=category.category_id,
                category_name=category.name,
                season_start_date=SEASON_START,
                season_end_date=SEASON_END,
                season_length_weeks=HORIZON_WEEKS,
                archetype=Archetype.FASHION_RETAIL,
                description=category.description,
            )
            self._start_run(category)
            self._log(
                category,
                "orchestrator",
                "extract_season_parameters",
                {
                    "season": SEASON,
                    "brief": "12-week spring season from 2025-02-17, weekly replenishment, "
                    "35% held at the DC, markdown review after week 6 against a 60% target.",
                },
                {
                    "forecast_horizon_weeks": HORIZON_WEEKS,
                    "season_start_date": SEASON_START.isoformat(),
                    "season_end_date": SEASON_END.isoformat(),
                    "dc_holdback_percentage": DC_HOLDBACK_PERCENTAGE,
                    "markdown_checkpoint_week": CHECKPOINT_WEEK,
                    "markdown_threshold": TARGET_SELL_THROUGH,
                },
                (0.8, 3.0),
            )
            parameter_id = f"SP-{category.category_id}-SS25"
            records.upsert_season_parameters(
                self.session,
                parameter_id=parameter_id,
                category_id=category.category_id,
                forecast_horizon_weeks=HORIZON_WEEKS,
                season_start_date=SEASON_START,
                season_end_date=SEASON_END,
                replenishment_strategy=ReplenishmentStrategy.WEEKLY,
                dc_holdback_percentage=DC_HOLDBACK_PERCENTAGE,
                markdown_checkpoint_week=CHECKPOINT_WEEK,
                markdown_threshold=TARGET_SELL_THROUGH,
                extraction_confidence=ExtractionConfidence.HIGH,
                extraction_reasoning="Stated explicitly in the season brief.",
            )
            workflows.record_outputs(
                self.session,
                self.workflow_ids[category.category_id],
                parameter_id=parameter_id,
                at=self.clock,
            )
            summary["parameter_ids"][category.category_id] = parameter_id
            self._count("categories")
            self._count("season_parameters")
            self._advance(2, f"{category.name}: category and season parameters")
        for category in CATEGORIES:
            rows = (
                HistoricalSalesRow(
                    store.store_id,
                    category.category_id,
                    _week_start(index),
                    history[(store.store_id, category.category_id)][index],
                )
                for store in stores
                for index in range(HISTORY_WEEKS)
            )
            written = records.record_historical_sales(
                self.session, _reporting(rows, self, category)
            )
            self._count("historical_sales", written)
        for category in CATEGORIES:
            self._category_season(category, stores, history, summary)
        self.session.flush()
        return DemoSummary(
            seed=self.seed,
            season=SEASON,
            season_start=SEASON_START,
            workflow_ids=dict(self.workflow_ids),
            cluster_ids=tuple(cluster.cluster_id for cluster in CLUSTERS),
            store_ids=tuple(sorted(store.store_id for store in stores)),
            category_ids=tuple(category.category_id for category in CATEGORIES),
            parameter_ids=summary["parameter_ids"],
            forecast_ids=summary["forecast_ids"],
            allocation_ids=summary["allocation_ids"],
            markdown_ids=summary["markdown_ids"],
            actual_weeks=ACTUAL_WEEKS,
            checkpoint_week=CHECKPOINT_WEEK,
            row_counts=dict(sorted(self.counts.items())),
        )


def _reporting(
    rows: Any, generator: _Generator, category: _CategorySpec, every: int = 1_000
) -> Any:
    """Pass rows through, advancing the progress bar every ``every`` rows."""
    pending = 0
    for row in rows:
        yield row
        pending += 1
        if pending == every:
            generator._advance(pending, f"{category.name}: weekly history")
            pending = 0
    if pending:
        generator._advance(pending, f"{category.name}: weekly history")


def _require_empty(session: Session) -> None:
    for table in Base.metadata.sorted_tables:
        rows = session.scalar(select(func.count()).select_from(table))
        if rows:
            raise NotEmptyError(
                f"the demo needs an empty database but {table.name} has {rows} row(s): "
                "use `ffdb demo`, which starts from a fresh database"
            )


def generate_sample_season(
    target: Engine | Session, seed: int = 42, *, progress: ProgressCallback | None = None
) -> DemoSummary:
    """Fill an empty database at head with the sample season for ``seed``.

    Given an ``Engine``, writes in one transaction and commits. Given a ``Session``,
    writes and flushes in the caller's transaction; the caller commits.
    """
    if isinstance(target, Engine):
        with session_scope(target) as session:
            return generate_sample_season(session, seed, progress=progress)
    _require_empty(target)
    return _Generator(target, seed, progress).run()
