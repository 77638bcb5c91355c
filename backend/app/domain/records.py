"""The write API for the records the agents produce, so that no agent writes SQL.

Every function takes the caller's ``Session``, checks the domain rules
(``rules.py``) and the references it can name clearly, and only then adds and
flushes. A rule broken raises ``DomainRuleError`` before anything reaches the
session, so nothing is written; committing is the caller's unit of work
(``session_scope``).

Master data (clusters, stores, categories, season parameters) is upserted on its
primary key; actual and historical sales are upserted on their natural keys (forecast,
store, week) and (store, category, week), with the ids ``definitions`` derives from
those keys, exactly as ``ffdb import`` does: whichever path writes a row, its id is the
same and a second write of the same key updates it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from backend.app.database.base import Base
from backend.app.domain import allocation_split, rules, sales_columns, status_moves
from backend.app.domain.rules import ClusterShare, DomainRuleError, RuleViolation
from backend.app.maintenance import bulk_move, definitions
from backend.app.maintenance.definitions import (
    Weekday,
    actual_sales_id,
    distribution_id,
    historical_sale_ids,
    weekday_of,
)
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
    StoreExtraAttributes,
    WorkflowLog,
)
from backend.app.models.allocation import DEFAULT_SAFETY_STOCK_PERCENTAGE
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
from backend.app.models.forecast import DEFAULT_FORECASTING_METHOD
from backend.app.models.keys import key_problem
from backend.app.models.markdown import (
    DEFAULT_ELASTICITY,
    DEFAULT_TARGET_SELL_THROUGH,
    MAX_MARKDOWN_PCT,
)
from backend.app.schemas import lifecycles
from backend.app.schemas.payloads import (
    plain_store_allocations,
    validate_store_allocations,
    validate_weekly_demand_curve,
)

__all__ = [
    "ActualSalesRow",
    "ClusterShare",
    "DomainRuleError",
    "HistoricalSalesRow",
    "InvalidKey",
    "log_workflow_step",
    "record_actual_sales",
    "record_allocation",
    "record_forecast",
    "record_historical_sales",
    "record_markdown",
    "record_reforecast",
    "upsert_category",
    "upsert_season_parameters",
    "upsert_store",
    "upsert_store_cluster",
]

# Rows per executemany batch: bounded memory for bound parameters on both backends.
BULK_BATCH_ROWS = 5_000

ModelT = TypeVar("ModelT", bound=Base)


@dataclass(frozen=True)
class ActualSalesRow:
    store_id: str
    week_number: int
    units_sold: int


@dataclass(frozen=True)
class HistoricalSalesRow:
    store_id: str
    category_id: str
    week_start_date: date
    units_sold: int


def _shape_or_rule(
    validate: Callable[[Any], None],
    items: list[dict[str, Any]],
    key_field: str,
    integer_fields: Sequence[str],
    check_rules: Callable[[], None],
) -> None:
    """Validate a JSON payload's shape, except that a repeated ``key_field`` (a week, a
    store) in otherwise well-formed items is a domain rule and is reported as one."""
    keys = [item.get(key_field) for item in items]
    repeated = len(set(map(repr, keys))) < len(keys)
    readable = all(all(type(item.get(field)) is int for field in integer_fields) for item in items)
    if repeated and readable:
        check_rules()
    validate(items)


class InvalidKey(ValueError):
    """A key the schema's key rule (models/keys.py) refuses; nothing was written."""


def _check_keys(model: type[Base], **keys: str | None) -> None:
    """Refuse, before the database does, a key its CHECK would refuse (empty, too long,
    edge whitespace), naming the table, the column and the value."""
    for column, value in keys.items():
        problem = None if value is None else key_problem(value)
        if value is not None and problem is not None:
            shown = repr(value) if len(value) <= 80 else f"{value[:80]!r}..."
            raise InvalidKey(f"{model.__tablename__}.{column} = {shown}: {problem}")


def _reference_error(table: str, key: str, rule: str, detail: str) -> DomainRuleError:
    return DomainRuleError(RuleViolation(rule, table, key, detail))


def _upsert(session: Session, model: type[ModelT], key: str, values: Mapping[str, Any]) -> ModelT:
    row = session.get(model, key)
    if row is None:
        row = model(**values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    session.flush()
    return row


# --- master data ----------------------------------------------------------------------


def upsert_store_cluster(
    session: Session,
    *,
    cluster_id: str,
    cluster_name: str,
    fashion_tier: FashionTier,
    description: str | None = None,
) -> StoreCluster:
    _check_keys(StoreCluster, cluster_id=cluster_id)
    return _upsert(
        session,
        StoreCluster,
        cluster_id,
        {
            "cluster_id": cluster_id,
            "cluster_name": cluster_name,
            "fashion_tier": FashionTier(fashion_tier),
            "description": description,
        },
    )


def upsert_category(
    session: Session,
    *,
    category_id: str,
    category_name: str,
    season_start_date: date,
    season_end_date: date,
    season_length_weeks: int,
    archetype: Archetype = Archetype.FASHION_RETAIL,
    description: str | None = None,
) -> Category:
    _check_keys(Category, category_id=category_id)
    return _upsert(
        session,
        Category,
        category_id,
        {
            "category_id": category_id,
            "category_name": category_name,
            "season_start_date": season_start_date,
            "season_end_date": season_end_date,
            "season_length_weeks": season_length_weeks,
            "archetype": Archetype(archetype),
            "description": description,
        },
    )


def upsert_store(
    session: Session,
    *,
    store_id: str,
    store_name: str,
    cluster_id: str,
    store_size_sqft: int,
    location_tier: LocationTier,
    median_income: int,
    store_format: StoreFormat,
    region: Region,
    avg_weekly_sales_12mo: float,
) -> Store:
    _check_keys(Store, store_id=store_id, cluster_id=cluster_id)
    if session.get(StoreCluster, cluster_id) is None:
        raise ValueError(f"store {store_id}: store cluster {cluster_id} does not exist")
    return _upsert(
        session,
        Store,
        store_id,
        {
            "store_id": store_id,
            "store_name": store_name,
            "cluster_id": cluster_id,
            "store_size_sqft": store_size_sqft,
            "location_tier": LocationTier(location_tier),
            "median_income": median_income,
            "store_format": StoreFormat(store_format),
            "region": Region(region),
            "avg_weekly_sales_12mo": avg_weekly_sales_12mo,
        },
    )


def upsert_store_extra_attributes(
    session: Session,
    *,
    store_id: str,
    attributes: Mapping[str, Any],
    source_file: str | None = None,
) -> StoreExtraAttributes:
    """The retailer attributes ``stores`` has no column for (foot traffic, ...), as JSON."""
    _check_keys(StoreExtraAttributes, store_id=store_id)
    if session.get(Store, store_id) is None:
        raise ValueError(f"store {store_id}: no such store for its extra attributes")
    return _upsert(
        session,
        StoreExtraAttributes,
        store_id,
        {"store_id": store_id, "attributes": dict(attributes), "source_file": source_file},
    )


def upsert_season_parameters(
    session: Session,
    *,
    parameter_id: str,
    forecast_horizon_weeks: int,
    season_start_date: date,
    season_end_date: date,
    replenishment_strategy: ReplenishmentStrategy,
    dc_holdback_percentage: float,
    category_id: str | None = None,
    markdown_checkpoint_week: int | None = None,
    markdown_threshold: float | None = None,
    extraction_confidence: ExtractionConfidence = ExtractionConfidence.MEDIUM,
    extraction_reasoning: str | None = None,
) -> SeasonParameters:
    _check_keys(SeasonParameters, parameter_id=parameter_id, category_id=category_id)
    if category_id is not None and session.get(Category, category_id) is None:
        raise ValueError(f"season parameters {parameter_id}: category {category_id} does not exist")
    if markdown_checkpoint_week is not None and not (
        1 <= markdown_checkpoint_week <= forecast_horizon_weeks
    ):
        raise ValueError(
            f"season parameters {parameter_id}: markdown_checkpoint_week "
            f"{markdown_checkpoint_week} is outside 1..{forecast_horizon_weeks}"
        )
    return _upsert(
        session,
        SeasonParameters,
        parameter_id,
        {
            "parameter_id": parameter_id,
            "category_id": category_id,
            "forecast_horizon_weeks": forecast_horizon_weeks,
            "season_start_date": season_start_date,
            "season_end_date": season_end_date,
            "replenishment_strategy": ReplenishmentStrategy(replenishment_strategy),
            "dc_holdback_percentage": dc_holdback_percentage,
            "markdown_checkpoint_week": markdown_checkpoint_week,
            "markdown_threshold": markdown_threshold,
            "extraction_confidence": ExtractionConfidence(extraction_confidence),
            "extraction_reasoning": extraction_reasoning,
        },
    )


# --- forecasts ------------------------------------------------------------------------


def record_forecast(
    session: Session,
    *,
    forecast_id: str,
    category_id: str,
    season: str,
    forecast_horizon_weeks: int,
    total_season_demand: int,
    weekly_demand_curve: Sequence[Mapping[str, Any]],
    cluster_distribution: Sequence[ClusterShare],
    peak_week: int | None = None,
    forecasting_method: str = DEFAULT_FORECASTING_METHOD,
    models_used: Sequence[str] = (),
    prophet_forecast: int | None = None,
    arima_forecast: int | None = None,
) -> Forecast:
    """A forecast and its cluster distribution, in one call.

    ``peak_week`` defaults to the curve's (first) maximum; when given it is checked.
    """
    return _write_forecast(
        session,
        _ForecastValues(
            forecast_id=forecast_id,
            category_id=category_id,
            season=season,
            forecast_horizon_weeks=forecast_horizon_weeks,
            total_season_demand=total_season_demand,
            weekly_demand_curve=[dict(point) for point in weekly_demand_curve],
            peak_week=peak_week,
            forecasting_method=forecasting_method,
            models_used=list(models_used),
            prophet_forecast=prophet_forecast,
            arima_forecast=arima_forecast,
        ),
        cluster_distribution,
    )


def record_reforecast(
    session: Session,
    *,
    forecast_id: str,
    revises_forecast_id: str,
    from_week: int,
    total_season_demand: int,
    weekly_demand_curve: Sequence[Mapping[str, Any]],
    cluster_distribution: Sequence[ClusterShare],
    peak_week: int | None = None,
    forecasting_method: str = DEFAULT_FORECASTING_METHOD,
    models_used: Sequence[str] = (),
    prophet_forecast: int | None = None,
    arima_forecast: int | None = None,
) -> Forecast:
    """A re-forecast of weeks ``from_week``..N of forecast ``revises_forecast_id``.

    The revision keeps the revised forecast's category, season and horizon; its curve
    has one entry per week from_week..N and ``total_season_demand`` is the demand of
    those weeks (rule ``forecast_curve_weeks``, ``forecast_curve_total``). The forecast
    it revises stays as it was: its actual sales and markdowns stay with it.
    """
    revised = _forecast_or_error(session, "forecasts", forecast_id, revises_forecast_id)
    _raise_first_of(
        rules.reforecast_violations(
            forecast_id,
            revised.category_id,
            revised.season,
            revised.forecast_horizon_weeks,
            from_week,
            _revised(revised),
        )
    )
    return _write_forecast(
        session,
        _ForecastValues(
            forecast_id=forecast_id,
            category_id=revised.category_id,
            season=revised.season,
            forecast_horizon_weeks=revised.forecast_horizon_weeks,
            total_season_demand=total_season_demand,
            weekly_demand_curve=[dict(point) for point in weekly_demand_curve],
            peak_week=peak_week,
            forecasting_method=forecasting_method,
            models_used=list(models_used),
            prophet_forecast=prophet_forecast,
            arima_forecast=arima_forecast,
            from_week=from_week,
            revises_forecast_id=revises_forecast_id,
        ),
        cluster_distribution,
    )


def _revised(forecast: Forecast) -> rules.RevisedForecast:
    return rules.RevisedForecast(
        forecast.forecast_id,
        forecast.category_id,
        forecast.season,
        forecast.forecast_horizon_weeks,
        forecast.from_week,
    )


def _raise_first_of(violations: Sequence[RuleViolation]) -> None:
    if violations:
        raise DomainRuleError(violations[0])


@dataclass
class _ForecastValues:
    forecast_id: str
    category_id: str
    season: str
    forecast_horizon_weeks: int
    total_season_demand: int
    weekly_demand_curve: list[dict[str, Any]]
    peak_week: int | None
    forecasting_method: str
    models_used: list[str]
    prophet_forecast: int | None
    arima_forecast: int | None
    from_week: int = 1
    revises_forecast_id: str | None = None


def _write_forecast(
    session: Session, values: _ForecastValues, cluster_distribution: Sequence[ClusterShare]
) -> Forecast:
    forecast_id = values.forecast_id
    _check_keys(
        Forecast,
        forecast_id=forecast_id,
        category_id=values.category_id,
        revises_forecast_id=values.revises_forecast_id,
    )
    for share in cluster_distribution:
        _check_keys(ForecastClusterDistribution, cluster_id=share.cluster_id)
    curve = values.weekly_demand_curve
    horizon, total, from_week = (
        values.forecast_horizon_weeks,
        values.total_season_demand,
        values.from_week,
    )
    peak_week = values.peak_week
    # The payload's shape first (PayloadError names the item), so the rules read clean
    # data; a repeated week is a rule, though, and is reported as one.
    _shape_or_rule(
        validate_weekly_demand_curve,
        curve,
        "week_number",
        ("week_number", "demand_units"),
        lambda: rules.check_forecast(forecast_id, horizon, total, curve, peak_week or 0, from_week),
    )
    if peak_week is None and curve:
        peak_week = rules.peak_week_of(curve)
    rules.check_forecast(forecast_id, horizon, total, curve, peak_week or 0, from_week)
    rules.check_distribution(forecast_id, total, cluster_distribution)
    if session.get(Category, values.category_id) is None:
        raise _reference_error(
            "forecasts",
            forecast_id,
            "forecast_category",
            f"category {values.category_id} does not exist",
        )
    cluster_ids = [share.cluster_id for share in cluster_distribution]
    repeated = sorted({c for c in cluster_ids if cluster_ids.count(c) > 1})
    if repeated:
        raise _reference_error(
            "forecast_cluster_distribution",
            forecast_id,
            "distribution_cluster_repeated",
            f"cluster(s) {', '.join(repeated)} appear more than once",
        )
    known = set(
        session.scalars(
            select(StoreCluster.cluster_id).where(StoreCluster.cluster_id.in_(cluster_ids))
        )
    )
    unknown = sorted(set(cluster_ids) - known)
    if unknown:
        raise _reference_error(
            "forecast_cluster_distribution",
            forecast_id,
            "distribution_cluster_unknown",
            f"store cluster(s) {', '.join(unknown)} do not exist",
        )
    forecast = Forecast(
        forecast_id=forecast_id,
        category_id=values.category_id,
        season=values.season,
        forecast_horizon_weeks=horizon,
        total_season_demand=total,
        weekly_demand_curve=curve,
        peak_week=peak_week,
        forecasting_method=values.forecasting_method,
        models_used=values.models_used,
        prophet_forecast=values.prophet_forecast,
        arima_forecast=values.arima_forecast,
        from_week=from_week,
        revises_forecast_id=values.revises_forecast_id,
    )
    session.add(forecast)
    session.add_all(
        ForecastClusterDistribution(
            distribution_id=distribution_id(forecast_id, share.cluster_id),
            forecast_id=forecast_id,
            cluster_id=share.cluster_id,
            allocation_percentage=share.allocation_percentage,
            total_units=share.total_units,
        )
        for share in cluster_distribution
    )
    session.flush()
    return forecast


def _forecast_or_error(session: Session, table: str, key: str, forecast_id: str) -> Forecast:
    forecast = session.get(Forecast, forecast_id)
    if forecast is None:
        raise _reference_error(
            table, key, "forecast_exists", f"forecast {forecast_id} does not exist"
        )
    return forecast


def _existing_store_ids(session: Session, store_ids: Iterable[str]) -> set[str]:
    wanted = sorted(set(store_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), 1_000):
        chunk = wanted[start : start + 1_000]
        found.update(session.scalars(select(Store.store_id).where(Store.store_id.in_(chunk))))
    return found


# --- allocations ----------------------------------------------------------------------


def record_allocation(
    session: Session,
    *,
    allocation_id: str,
    forecast_id: str,
    manufacturing_qty: int,
    initial_allocation_total: int,
    holdback_total: int,
    store_allocations: Sequence[Mapping[str, Any]],
    safety_stock_percentage: float = DEFAULT_SAFETY_STOCK_PERCENTAGE,
) -> Allocation:
    """An allocation of a forecast; each store_allocations item is
    ``{"store_id": ..., "initial": units shipped, "holdback": units kept at the DC}``."""
    _check_keys(Allocation, allocation_id=allocation_id, forecast_id=forecast_id)
    items: list[dict[str, Any]]
    store_ids = plain_store_allocations(store_allocations)
    if store_ids is not None:
        # A plain split (valid, each store once): its stores looked up as one set. A new
        # list (another row's tracked list would be shared), its items not copied here:
        # the column copies each into its own tracked dict.
        items = cast(list[dict[str, Any]], list(store_allocations))  # plain: all dicts
        known = allocation_split.found_stores(session, store_ids)
    else:
        items = [dict(item) for item in store_allocations]
        _shape_or_rule(
            validate_store_allocations,
            items,
            "store_id",
            ("initial", "holdback"),
            lambda: rules.check_allocation(
                allocation_id, items, initial_allocation_total, holdback_total
            ),
        )
        known = _existing_store_ids(session, (str(item["store_id"]) for item in items))
    rules.check_allocation(allocation_id, items, initial_allocation_total, holdback_total, known)
    _forecast_or_error(session, "allocations", allocation_id, forecast_id)
    allocation = Allocation(
        allocation_id=allocation_id,
        forecast_id=forecast_id,
        manufacturing_qty=manufacturing_qty,
        safety_stock_percentage=safety_stock_percentage,
        initial_allocation_total=initial_allocation_total,
        holdback_total=holdback_total,
        store_allocations=items,
    )
    session.add(allocation)
    session.flush()
    return allocation


# --- markdowns ------------------------------------------------------------------------


def record_markdown(
    session: Session,
    *,
    markdown_id: str,
    forecast_id: str,
    week_number: int,
    recommended_markdown_pct: float,
    sell_through_pct: float | None = None,
    target_sell_through_pct: float = DEFAULT_TARGET_SELL_THROUGH,
    gap_pct: float | None = None,
    elasticity_coefficient: float = DEFAULT_ELASTICITY,
    expected_demand_lift_pct: float | None = None,
    status: MarkdownStatus = MarkdownStatus.PENDING,
    reasoning: str | None = None,
) -> Markdown:
    """A markdown recommendation at ``week_number``, recorded ``pending``.

    Recording the same ``markdown_id`` again while it is pending replaces the
    recommendation (an agent re-running its step); once a planner has decided on it
    (``approvals``) it is refused. Decisions are made only through ``approvals``, so
    ``status`` other than pending is refused: each decision needs who and when.

    ``sell_through_pct`` is the forecast's sell-through through that week by the one
    definition (``definitions.sell_through``: units sold / units shipped to the
    stores): measured from the stored rows when omitted, checked against them when
    given (rule ``markdown_sell_through``). ``gap_pct`` is computed when omitted and
    checked when given (rule ``markdown_gap``).
    """
    _check_keys(Markdown, markdown_id=markdown_id, forecast_id=forecast_id)
    if MarkdownStatus(status) is not lifecycles.MARKDOWN_INITIAL:
        raise ValueError(
            f"markdown {markdown_id}: recorded as {MarkdownStatus(status)}, but a markdown is "
            f"recorded {lifecycles.MARKDOWN_INITIAL} and decided through "
            "backend.app.domain.approvals (who and when are recorded)"
        )
    existing = session.get(Markdown, markdown_id)
    if existing is not None:
        if existing.status is not lifecycles.MARKDOWN_INITIAL:
            raise ValueError(
                f"markdown {markdown_id} is already {existing.status}: a decided markdown "
                "cannot be recorded again; record a new markdown id for a new recommendation"
            )
        if existing.forecast_id != forecast_id:
            raise ValueError(
                f"markdown {markdown_id} belongs to forecast {existing.forecast_id}, "
                f"not {forecast_id}: record a new markdown id"
            )
    forecast = _forecast_or_error(session, "markdowns", markdown_id, forecast_id)
    if forecast.revises_forecast_id is not None:
        raise ValueError(
            f"markdown {markdown_id}: forecast {forecast_id} is a re-forecast of "
            f"{forecast.revises_forecast_id}; markdowns, like actual sales, are recorded "
            "against the season's original forecast"
        )
    if not 1 <= week_number <= forecast.forecast_horizon_weeks:
        raise ValueError(
            f"markdown {markdown_id}: week_number {week_number} is outside forecast "
            f"{forecast_id}'s horizon 1..{forecast.forecast_horizon_weeks}"
        )
    measured = definitions.sell_through(session, forecast_id, week_number, target_sell_through_pct)
    rules.check_markdown_sell_through(markdown_id, sell_through_pct, measured)
    if sell_through_pct is None:
        sell_through_pct = measured.sell_through_pct
        assert sell_through_pct is not None  # the rule refuses an undefined sell-through
    if gap_pct is None:
        gap_pct = definitions.sell_through_gap(target_sell_through_pct, sell_through_pct)
    rules.check_markdown(markdown_id, sell_through_pct, target_sell_through_pct, gap_pct)
    for name, value, upper in (
        ("sell_through_pct", sell_through_pct, 1.0),
        ("target_sell_through_pct", target_sell_through_pct, 1.0),
        ("recommended_markdown_pct", recommended_markdown_pct, MAX_MARKDOWN_PCT),
    ):
        if not 0 <= value <= upper:
            raise ValueError(f"markdown {markdown_id}: {name} {value!r} is outside 0..{upper:g}")
    values = {
        "markdown_id": markdown_id,
        "forecast_id": forecast_id,
        "week_number": week_number,
        "sell_through_pct": sell_through_pct,
        "target_sell_through_pct": target_sell_through_pct,
        "gap_pct": gap_pct,
        "recommended_markdown_pct": recommended_markdown_pct,
        "elasticity_coefficient": elasticity_coefficient,
        "expected_demand_lift_pct": expected_demand_lift_pct,
        "status": lifecycles.MARKDOWN_INITIAL,
        "reasoning": reasoning,
    }
    if existing is None:
        markdown = Markdown(**values)
        session.add(markdown)
        session.flush()
        return markdown
    # Compare-and-set: a decision another writer committed meanwhile is not overwritten.
    if not status_moves.compare_and_set(
        session,
        existing,
        lifecycles.MARKDOWN_INITIAL,
        {name: value for name, value in values.items() if name != "markdown_id"},
    ):
        raise ValueError(
            f"markdown {markdown_id} was decided by another writer meanwhile: "
            "a decided markdown cannot be recorded again"
        )
    return existing


# --- sales ----------------------------------------------------------------------------


def record_actual_sales(session: Session, forecast_id: str, rows: Iterable[ActualSalesRow]) -> int:
    """Upsert a forecast's actual sales on (forecast, store, week); returns the row count.

    Every row is checked (store exists, week inside the forecast's horizon, units not
    negative) before any is written. Actual sales belong to the season's original
    forecast; a re-forecast is measured against them (``queries.forecast_variance``).
    A large call is checked and moved as whole columns (``sales_columns``); one that
    breaks a rule is checked again row by row here, which names the row.
    """
    _check_keys(ActualSales, forecast_id=forecast_id)
    forecast = _forecast_or_error(session, "actual_sales", f"forecast {forecast_id}", forecast_id)
    if forecast.revises_forecast_id is not None:
        raise ValueError(
            f"actual sales of forecast {forecast_id}: it is a re-forecast of "
            f"{forecast.revises_forecast_id}; record actual sales against the season's "
            "original forecast"
        )
    materialized = list(rows)
    moved = sales_columns.stage_actual_sales(
        session,
        forecast_id,
        forecast.forecast_horizon_weeks,
        [row.store_id for row in materialized],
        [row.week_number for row in materialized],
        [row.units_sold for row in materialized],
    )
    if moved is not None:
        return moved
    # Row by row: a small call, or one the column checks refused, named here.
    for store_id in dict.fromkeys(row.store_id for row in materialized):  # once per store
        _check_keys(ActualSales, store_id=store_id)
    known = _existing_store_ids(session, (row.store_id for row in materialized))
    rules.check_actual_sales(
        forecast_id,
        forecast.forecast_horizon_weeks,
        ((row.store_id, row.week_number) for row in materialized),
        known,
    )
    seen: set[tuple[str, int]] = set()
    for row in materialized:
        key = rules.actual_sales_key(forecast_id, row.store_id, row.week_number)
        if row.units_sold < 0:
            raise ValueError(f"actual sales {key}: units_sold {row.units_sold} is negative")
        if (row.store_id, row.week_number) in seen:
            raise ValueError(f"actual sales {key}: given more than once in one call")
        seen.add((row.store_id, row.week_number))
    staged = [
        (
            actual_sales_id(forecast_id, row.store_id, row.week_number),
            forecast_id,
            row.store_id,
            row.week_number,
            row.units_sold,
        )
        for row in materialized
    ]
    # A savepoint: a database error takes the whole call back.
    with session.begin_nested():
        session.flush()
        bulk_move.stage_and_upsert(
            session.connection(),
            sales_columns.ACTUALS_STAGE,
            sales_columns.ACTUALS_COLUMNS,
            staged,
            bulk_move.ACTUAL_SALES_MOVE,
        )
    return len(staged)


def record_historical_sales(session: Session, rows: Iterable[HistoricalSalesRow]) -> int:
    """Upsert weekly history on (store, category, week); returns the row count.

    The importer's rules, checked in batches before anything is written: stores and
    categories exist; units are not negative; a key appears at most once per call; one
    call's weeks all start on one weekday, and a (store, category) pair that already has
    history keeps the weekday its weeks start on. Then the rows are moved as one set; a
    database error takes the whole call back (a savepoint). A large call is checked and
    moved as whole columns (``sales_columns``); one that breaks a rule is checked again
    row by row here, which names the row.
    """
    materialized = rows if isinstance(rows, list) else list(rows)
    moved = sales_columns.stage_historical_sales(
        session,
        [row.store_id for row in materialized],
        [row.category_id for row in materialized],
        [row.week_start_date for row in materialized],
        [row.units_sold for row in materialized],
    )
    if moved is not None:
        return moved
    # Row by row: a small call, or one the column checks refused, named here.
    staged: list[bulk_move.StagedRow] = []
    seen: set[tuple[str, str, date]] = set()  # every key of the call, not just the batch's
    known_stores: set[str] = set()
    known_categories: set[str] = set()
    checked_pairs: set[tuple[str, str]] = set()
    first: HistoricalSalesRow | None = None  # the row whose weekday the call's weeks keep
    batch: dict[tuple[str, str, date], dict[str, Any]] = {}

    def flush_batch() -> None:
        if not batch:
            return
        rows = list(batch.values())
        stores = {row["store_id"] for row in rows} - known_stores
        known_stores.update(_existing_store_ids(session, stores))
        categories = {row["category_id"] for row in rows} - known_categories
        known_categories.update(
            session.scalars(
                select(Category.category_id).where(Category.category_id.in_(sorted(categories)))
            )
        )
        for row in rows:
            if row["store_id"] not in known_stores:
                raise ValueError(
                    f"historical sales {row['sale_id']}: store {row['store_id']} does not exist"
                )
            if row["category_id"] not in known_categories:
                raise ValueError(
                    f"historical sales {row['sale_id']}: "
                    f"category {row['category_id']} does not exist"
                )
        assert first is not None
        _check_stored_weekdays(session, {key[:2] for key in batch} - checked_pairs, first)
        checked_pairs.update(key[:2] for key in batch)
        staged.extend(
            (
                row["sale_id"],
                row["week_start_date"].isoformat(),
                row["store_id"],
                row["category_id"],
                row["units_sold"],
            )
            for row in rows
        )
        batch.clear()

    sale_id = historical_sale_ids()  # the importer's id maker: parts shared by rows made once
    first_weekday: Weekday | None = None
    checked_keys: set[tuple[str, str]] = set()

    def append(row: HistoricalSalesRow) -> None:
        nonlocal first, first_weekday

        def name() -> str:  # built only for an error
            return f"historical sales {row.store_id}/{row.category_id}/{row.week_start_date}"

        if (row.store_id, row.category_id) not in checked_keys:  # once per series
            _check_keys(HistoricalSales, store_id=row.store_id, category_id=row.category_id)
            checked_keys.add((row.store_id, row.category_id))
        if row.units_sold < 0:
            raise ValueError(f"{name()}: units_sold {row.units_sold} is negative")
        weekday = weekday_of(row.week_start_date)
        if first is None:
            first, first_weekday = row, weekday
        elif weekday != first_weekday:
            raise ValueError(
                f"{name()}: a week starting on {weekday.label}, but "
                f"{first.week_start_date} starts this call's weeks on "
                f"{weekday_of(first.week_start_date).label}: one call's weeks all start on one day"
            )
        key = (row.store_id, row.category_id, row.week_start_date)
        if key in seen:
            raise ValueError(f"{name()}: given more than once in one call")
        seen.add(key)
        batch[key] = {
            "sale_id": sale_id(*key),
            "store_id": row.store_id,
            "category_id": row.category_id,
            "week_start_date": row.week_start_date,
            "units_sold": row.units_sold,
        }
        if len(batch) >= BULK_BATCH_ROWS:
            flush_batch()

    # Checked batch by batch, then moved as one set, as the importer moves a file.
    # A savepoint: a database error takes the whole call back.
    with session.begin_nested():
        for row in materialized:
            append(row)
        flush_batch()
        session.flush()
        bulk_move.stage_and_upsert(
            session.connection(),
            sales_columns.HISTORY_STAGE,
            sales_columns.HISTORY_COLUMNS,
            staged,
            bulk_move.HISTORICAL_SALES_MOVE,
        )
    return len(staged)


def _check_stored_weekdays(
    session: Session, pairs: set[tuple[str, str]], first: HistoricalSalesRow
) -> None:
    """Pairs that already have history must keep the weekday their weeks start on."""
    weekday: Weekday = weekday_of(first.week_start_date)
    pending = sorted(pairs)
    for start in range(0, len(pending), 500):
        chunk = pending[start : start + 500]
        listed = " UNION ALL ".join(
            f"SELECT :s{i} AS store_id, :c{i} AS category_id" for i in range(len(chunk))
        )
        other = definitions.other_weekday_series_sql(
            definitions.dialect_name(session), f"({listed})", weekday
        )
        stored = session.execute(
            text(f"SELECT store_id, category_id, first_week FROM ({other}) f"),  # noqa: S608
            {f"{k}{i}": v for i, pair in enumerate(chunk) for k, v in zip("sc", pair, strict=True)},
        ).all()
        for store_id, category_id, first_week in stored:
            first_day = (
                first_week if isinstance(first_week, date) else date.fromisoformat(str(first_week))
            )
            raise ValueError(
                f"historical sales {store_id}/{category_id}: its stored weeks start on "
                f"{weekday_of(first_day).label} (from {first_day}), these on "
                f"{weekday.label}: a (store, category) series keeps one weekday"
            )


# --- workflow logs --------------------------------------------------------------------


def log_workflow_step(
    session: Session,
    *,
    workflow_id: str,
    agent_name: str,
    action: str,
    status: WorkflowStatus,
    input_data: Mapping[str, Any] | None = None,
    output_data: Mapping[str, Any] | None = None,
    duration_seconds: float | None = None,
    error_message: str | None = None,
    log_id: str | None = None,
    created_at: datetime | None = None,
) -> WorkflowLog:
    """One agent step of a workflow run; ``log_id`` defaults to a new UUID and
    ``created_at`` to the database's clock (``workflows.record_step`` also moves the run)."""
    if duration_seconds is not None and duration_seconds < 0:
        raise ValueError(
            f"workflow {workflow_id} {agent_name}.{action}: duration_seconds "
            f"{duration_seconds} is negative"
        )
    _check_keys(WorkflowLog, log_id=log_id)
    status = WorkflowStatus(status)
    if status is WorkflowStatus.FAILED and not error_message:
        raise ValueError(
            f"workflow {workflow_id} {agent_name}.{action}: a failed step needs an error_message"
        )
    log = WorkflowLog(
        log_id=log_id or str(uuid.uuid4()),
        workflow_id=workflow_id,
        agent_name=agent_name,
        action=action,
        input_data=dict(input_data) if input_data is not None else None,
        output_data=dict(output_data) if output_data is not None else None,
        duration_seconds=duration_seconds,
        status=status,
        error_message=error_message,
    )
    if created_at is not None:
        log.created_at = created_at
    session.add(log)
    session.flush()
    return log
