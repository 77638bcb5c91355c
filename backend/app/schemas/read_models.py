"""Typed results of the agents' reads (``backend/app/queries/``).

Frozen pydantic models: an agent gets attributes it can rely on and a ``model_dump``
it can hand to an LLM or print as JSON, never a raw row.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict

from backend.app.schemas.enums import (
    Archetype,
    FashionTier,
    LocationTier,
    MarkdownStatus,
    Region,
    StoreFormat,
    WorkflowRunStatus,
    WorkflowStatus,
)


class ReadModel(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    @classmethod
    def from_source(cls, source: object, **computed: Any) -> Self:
        """The read model of ``source`` (a model row): each field from the attribute of
        the same name, except those given in ``computed``; validated like any input."""
        values = {name: getattr(source, name) for name in cls.model_fields if name not in computed}
        return cls.model_validate({**values, **computed})


class CommandOutput(ReadModel):
    """A read a command prints as one JSON object: ``JSON_KEYS``, in that order."""

    JSON_KEYS: ClassVar[tuple[str, ...]] = ()

    def to_json_object(self) -> dict[str, object]:
        dumped = self.model_dump(mode="json", include=set(self.JSON_KEYS))
        return {key: dumped[key] for key in self.JSON_KEYS}


Item = TypeVar("Item", bound="ReadModel")


class Page(ReadModel, Generic[Item]):
    """One page of a list read, in key order. ``next_after`` is the key to pass as
    ``after`` for the next page (None: this is the last page); paging by key, not by
    offset, so rows added meanwhile neither repeat nor go missing."""

    items: list[Item]
    next_after: str | None


# --- categories ---------------------------------------------------------------------------


class CategoryRead(ReadModel):
    category_id: str
    category_name: str
    season_start_date: date
    season_end_date: date
    season_length_weeks: int
    archetype: Archetype
    description: str | None
    created_at: datetime | None


# --- stores and clusters ------------------------------------------------------------------


class StoreAttributes(ReadModel):
    store_id: str
    store_name: str
    cluster_id: str
    store_size_sqft: int
    location_tier: LocationTier
    median_income: int
    store_format: StoreFormat
    region: Region
    avg_weekly_sales_12mo: float


class ClusterStoreCount(ReadModel):
    cluster_id: str
    cluster_name: str
    fashion_tier: FashionTier
    store_count: int


# --- historical sales ---------------------------------------------------------------------


class WeeklyUnits(ReadModel):
    week_start_date: date
    units_sold: int


class HistorySeries(ReadModel):
    """Units sold per week of a category; ``store_id``/``cluster_id`` say whose (None: all)."""

    category_id: str
    store_id: str | None
    cluster_id: str | None
    weeks: list[WeeklyUnits]


# --- forecasts ----------------------------------------------------------------------------


class CurvePoint(ReadModel):
    week_number: int
    demand_units: int


class ClusterShare(ReadModel):
    cluster_id: str
    cluster_name: str
    allocation_percentage: float
    total_units: int


class ForecastWithCurve(ReadModel):
    forecast_id: str
    category_id: str
    season: str
    forecast_horizon_weeks: int
    total_season_demand: int
    peak_week: int
    forecasting_method: str
    models_used: list[str]
    prophet_forecast: int | None
    arima_forecast: int | None
    created_at: datetime | None
    curve: list[CurvePoint]
    distribution: list[ClusterShare]


class ClusterDistribution(ReadModel):
    """A cluster's share of a forecast, with how many stores the cluster has now."""

    cluster_id: str
    cluster_name: str
    allocation_percentage: float
    total_units: int
    store_count: int


class ForecastDetail(CommandOutput):
    """A forecast by id. A re-forecast covers weeks ``from_week``..horizon and revises
    ``revises_forecast_id``; ``revised_by`` lists the re-forecasts of this one."""

    forecast_id: str
    category_id: str
    season: str
    forecast_horizon_weeks: int
    from_week: int
    revises_forecast_id: str | None
    revised_by: list[str]
    total_season_demand: int
    peak_week: int
    forecasting_method: str
    models_used: list[str]
    prophet_forecast: int | None
    arima_forecast: int | None
    created_at: datetime | None
    curve: list[CurvePoint]
    distribution: list[ClusterDistribution]

    JSON_KEYS: ClassVar[tuple[str, ...]] = (
        "forecast_id",
        "category_id",
        "season",
        "forecast_horizon_weeks",
        "from_week",
        "revises_forecast_id",
        "revised_by",
        "total_season_demand",
        "peak_week",
        "forecasting_method",
        "models_used",
        "prophet_forecast",
        "arima_forecast",
        "created_at",
        "curve",
        "distribution",
    )


class ForecastSummary(ReadModel):
    """A forecast in a list (no curve): enough to pick one and read it by id."""

    forecast_id: str
    category_id: str
    season: str
    forecast_horizon_weeks: int
    from_week: int
    revises_forecast_id: str | None
    total_season_demand: int
    peak_week: int
    created_at: datetime | None


# --- allocations --------------------------------------------------------------------------


class AllocatedStore(ReadModel):
    """One entry of an allocation's split; store attributes are None if the store is unknown."""

    store_id: str
    initial: int
    holdback: int
    store_name: str | None
    cluster_id: str | None
    location_tier: LocationTier | None
    store_format: StoreFormat | None
    region: Region | None
    store_size_sqft: int | None


class AllocationWithStores(ReadModel):
    allocation_id: str
    forecast_id: str
    manufacturing_qty: int
    safety_stock_percentage: float
    initial_allocation_total: int
    holdback_total: int
    created_at: datetime | None
    stores: list[AllocatedStore]


# --- markdowns -----------------------------------------------------------------------------


class MarkdownStatusMove(ReadModel):
    """One move on a markdown's approval trail: who moved it, from what, to what, when."""

    change_id: str
    from_status: MarkdownStatus
    to_status: MarkdownStatus
    actor: str
    changed_at: datetime
    note: str | None


class MarkdownWithTrail(ReadModel):
    markdown_id: str
    forecast_id: str
    week_number: int
    sell_through_pct: float
    target_sell_through_pct: float
    gap_pct: float
    recommended_markdown_pct: float
    elasticity_coefficient: float
    expected_demand_lift_pct: float | None
    status: MarkdownStatus
    reasoning: str | None
    created_at: datetime | None
    trail: list[MarkdownStatusMove]


# --- variance and sell-through ------------------------------------------------------------


class WeekVariance(ReadModel):
    """One season week. Missing is not zero: a week without any actual sales has
    ``actual_units``, ``variance_units`` and ``variance_pct`` None; ``partial`` says that
    some stores of the allocation have no row that week."""

    week_number: int
    forecast_units: int
    actual_units: int | None
    variance_units: int | None
    variance_pct: float | None
    stores_reported: int
    partial: bool


class CumulativeVariance(ReadModel):
    """Totals over the ``weeks_reported`` weeks that have actual sales (partial ones too)."""

    weeks_reported: int
    weeks_partial: int
    forecast_units: int
    actual_units: int
    variance_units: int
    variance_pct: float | None


class StoreSellThrough(ReadModel):
    """Units a store sold through the week against the units shipped to it (if any)."""

    store_id: str
    units_sold: int
    units_shipped: int | None
    sell_through_pct: float | None


class VarianceReport(CommandOutput):
    forecast_id: str
    week: int
    # A re-forecast's variance covers its weeks from_week..week, against the actual
    # sales stored with the season's original forecast (``actuals_forecast_id``).
    from_week: int = 1
    actuals_forecast_id: str | None = None
    # The latest allocation of the forecast the store figures are measured against.
    allocation_id: str | None
    # Stores the allocation ships to: a week with fewer of them reporting is partial.
    stores_allocated: int | None
    weeks: list[WeekVariance]
    cumulative: CumulativeVariance
    stores: list[StoreSellThrough]

    # The keys of ``ffdb variance --format json``, in order.
    JSON_KEYS: ClassVar[tuple[str, ...]] = (
        "forecast_id",
        "week",
        "stores_allocated",
        "weeks",
        "cumulative",
        "stores",
    )


class SellThroughToDate(CommandOutput):
    """The input of a markdown decision at ``week``: units sold in weeks 1..week over the
    units shipped to the stores (``backend.app.maintenance.definitions.sell_through``)."""

    forecast_id: str
    week: int
    allocation_id: str
    units_sold: int
    units_shipped: int
    sell_through_pct: float | None
    target_sell_through_pct: float
    # target - sell-through, as a markdown row records it; positive means behind target.
    gap_pct: float | None

    # The keys of ``ffdb sell-through --format json``, in order.
    JSON_KEYS: ClassVar[tuple[str, ...]] = (
        "forecast_id",
        "week",
        "units_sold",
        "units_shipped",
        "sell_through_pct",
        "target_sell_through_pct",
        "gap_pct",
    )


# --- workflow logs ------------------------------------------------------------------------


class WorkflowStep(ReadModel):
    log_id: str
    agent_name: str
    action: str
    status: WorkflowStatus
    duration_seconds: float | None
    error_message: str | None
    created_at: datetime | None


class WorkflowTrail(ReadModel):
    workflow_id: str
    steps: list[WorkflowStep]
    # Sum of the steps' durations; steps without one count as 0 and are not guessed.
    total_duration_seconds: float
    steps_without_duration: int


class WorkflowStepDetail(WorkflowStep):
    """A step with what the agent was given and what it produced."""

    input_data: dict[str, Any] | None
    output_data: dict[str, Any] | None


class WorkflowSummary(ReadModel):
    """A workflow run in a list (no steps)."""

    workflow_id: str
    category_id: str
    season: str
    status: WorkflowRunStatus
    current_agent: str | None
    progress: float
    forecast_id: str | None
    created_at: datetime | None
    finished_at: datetime | None


class WorkflowDetail(CommandOutput):
    """A workflow run: its status and outputs, and its steps in order with durations."""

    workflow_id: str
    category_id: str
    season: str
    status: WorkflowRunStatus
    current_agent: str | None
    progress: float
    error_message: str | None
    produces_forecast: bool
    parameter_id: str | None
    forecast_id: str | None
    allocation_id: str | None
    created_at: datetime | None
    updated_at: datetime | None
    finished_at: datetime | None
    # finished_at (or updated_at while unfinished) - created_at.
    elapsed_seconds: float | None
    steps: list[WorkflowStepDetail]
    total_duration_seconds: float
    steps_without_duration: int

    JSON_KEYS: ClassVar[tuple[str, ...]] = (
        "workflow_id",
        "category_id",
        "season",
        "status",
        "current_agent",
        "progress",
        "error_message",
        "produces_forecast",
        "parameter_id",
        "forecast_id",
        "allocation_id",
        "created_at",
        "updated_at",
        "finished_at",
        "elapsed_seconds",
        "steps",
        "total_duration_seconds",
        "steps_without_duration",
    )
