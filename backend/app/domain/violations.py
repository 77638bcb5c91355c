"""Find the rows already in a database that break a domain rule.

Rows written by other clients (the sqlite3 CLI, psql, an older agent) bypass the
write API, so ``ffdb doctor`` asks the database itself. Sums and joins run in SQL:
the JSON arrays are expanded with ``json_each`` on SQLite and
``jsonb_array_elements`` on PostgreSQL (``_json_elements``). Forecast curves, whose
rules (one entry per week, first maximum) read more clearly in Python, are streamed
in bounded batches through the same pure functions the write API uses. Memory stays
flat whatever the table sizes; only the problems found are kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Float,
    Integer,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import NullType

from backend.app.domain import rules
from backend.app.maintenance import definitions, health
from backend.app.models import (
    ActualSales,
    Allocation,
    Forecast,
    ForecastClusterDistribution,
    HistoricalSales,
    Markdown,
    MarkdownStatusChange,
    Store,
)
from backend.app.schemas.enums import MarkdownStatus
from backend.app.schemas.payloads import PayloadError, validate_weekly_demand_curve
from backend.app.schemas.problems import Problem

__all__ = ["find_rule_violations"]

# Forecast rows fetched per round trip while streaming curves.
STREAM_BATCH_ROWS = 100
# The shape of a JSON column that is not an array, as a rule name.
ALLOCATION_JSON_SHAPE = "allocation_store_allocations_shape"
FORECAST_CURVE_SHAPE = "forecast_curve_shape"
DISTRIBUTION_MISSING = "distribution_percentages"
# What _json_array_type says of text that is not JSON at all (SQLite only).
NOT_JSON = "malformed text"


def _problem(violation: rules.RuleViolation) -> Problem:
    return Problem(violation.rule, violation.table, violation.key, violation.detail)


# --- the two dialects' JSON array functions -----------------------------------------------


def _is_postgresql(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def _json_array_type(connection: Connection, column: Any) -> ColumnElement[str]:
    if _is_postgresql(connection):
        return func.jsonb_typeof(column)
    # SQLite's json_type raises on malformed text (PostgreSQL never stores any).
    return case((func.json_valid(column) == 1, func.json_type(column)), else_=literal(NOT_JSON))


def _json_elements(connection: Connection, column: Any) -> TableValuedAlias:
    """The elements of a JSON array column as a table with one column, ``value``.

    A non-array is read as an empty array (the shape check reports it), because
    PostgreSQL's ``jsonb_array_elements`` raises on anything else.
    """
    if _is_postgresql(connection):
        guarded = case(
            (func.jsonb_typeof(column) == "array", column),
            else_=cast(literal("[]"), JSONB),
        )
        return func.jsonb_array_elements(guarded).table_valued("value").alias("element")
    guarded = case((_json_array_type(connection, column) == "array", column), else_=literal("[]"))
    return func.json_each(guarded).table_valued("value").alias("element")


def _json_field(
    connection: Connection, value: Any, key: str, type_: Any = BigInteger
) -> ColumnElement[Any]:
    """``value[key]`` of a JSON object element, as ``type_``."""
    if _is_postgresql(connection):
        return cast(func.jsonb_extract_path_text(value, key), type_)
    return cast(func.json_extract(value, f"$.{key}"), type_)


# --- forecasts (streamed) ---------------------------------------------------------------


def _forecast_problems(connection: Connection, batch_rows: int) -> Iterator[Problem]:
    query = select(
        Forecast.forecast_id,
        Forecast.forecast_horizon_weeks,
        Forecast.total_season_demand,
        # As stored, parsed per row below: one malformed curve must not stop the rest.
        type_coerce(Forecast.weekly_demand_curve, NullType()),
        Forecast.peak_week,
        Forecast.from_week,
    ).order_by(Forecast.forecast_id)
    # Options on the statement: on the connection they would outlive this query.
    result = connection.execute(query.execution_options(yield_per=batch_rows))
    for forecast_id, horizon, total, stored, peak_week, from_week in result:
        curve: Any
        try:
            curve = json.loads(stored) if isinstance(stored, str | bytes) else stored
        except ValueError as error:
            yield Problem(
                FORECAST_CURVE_SHAPE,
                "forecasts",
                forecast_id,
                f"weekly_demand_curve is not valid JSON ({error})",
            )
            continue
        # Items the rules can read get the rules (a repeated week is a rule, not a
        # shape); anything else, or what the rules accept, is checked for its shape.
        found = (
            rules.forecast_violations(forecast_id, horizon, total, curve, peak_week, from_week)
            if _readable_curve(curve)
            else []
        )
        yield from (_problem(violation) for violation in found)
        if found:
            continue
        try:
            validate_weekly_demand_curve(curve)
        except PayloadError as error:
            yield Problem(FORECAST_CURVE_SHAPE, "forecasts", forecast_id, str(error))


def _readable_curve(curve: Any) -> bool:
    return isinstance(curve, list) and all(
        isinstance(point, dict)
        and type(point.get("week_number")) is int
        and type(point.get("demand_units")) is int
        for point in curve
    )


# --- cluster distributions ----------------------------------------------------------------


def _distribution_problems(connection: Connection) -> Iterator[Problem]:
    shares = (
        select(
            ForecastClusterDistribution.forecast_id,
            func.count().label("clusters"),
            func.sum(cast(ForecastClusterDistribution.allocation_percentage, Float)).label("pct"),
            func.sum(cast(ForecastClusterDistribution.total_units, BigInteger)).label("units"),
        )
        .group_by(ForecastClusterDistribution.forecast_id)
        .subquery()
    )
    percentage = func.coalesce(shares.c.pct, 0.0)
    units = func.coalesce(shares.c.units, 0)
    query = (
        select(
            Forecast.forecast_id, Forecast.total_season_demand, shares.c.clusters, percentage, units
        )
        .outerjoin(shares, shares.c.forecast_id == Forecast.forecast_id)
        .where(
            or_(
                func.abs(percentage - 1.0) > rules.PERCENTAGE_TOLERANCE,
                units != Forecast.total_season_demand,
            )
        )
        .order_by(Forecast.forecast_id)
    )
    for forecast_id, total, clusters, pct, unit_sum in connection.execute(query):
        if not clusters:
            yield Problem(
                DISTRIBUTION_MISSING,
                "forecast_cluster_distribution",
                forecast_id,
                "the forecast has no cluster distribution rows (percentages sum to 0, not 1)",
            )
            continue
        found = rules.distribution_violations(
            forecast_id,
            total,
            # The sums stand for the rows: the rule only looks at the totals.
            [rules.ClusterShare("(all clusters)", float(pct), int(unit_sum))],
        )
        yield from (_problem(violation) for violation in found)


# --- allocations --------------------------------------------------------------------------


def _allocation_problems(connection: Connection) -> Iterator[Problem]:
    shape = _json_array_type(connection, Allocation.store_allocations)
    for allocation_id, kind in connection.execute(
        select(Allocation.allocation_id, shape)
        .where(shape != "array")
        .order_by(Allocation.allocation_id)
    ):
        yield Problem(
            ALLOCATION_JSON_SHAPE,
            "allocations",
            allocation_id,
            f"store_allocations is a JSON {kind}, not an array",
        )

    element = _json_elements(connection, Allocation.store_allocations)
    store_id = _json_field(connection, element.c.value, "store_id", type_=String)
    items = (
        select(
            Allocation.allocation_id.label("allocation_id"),
            store_id.label("store_id"),
            _json_field(connection, element.c.value, "initial").label("initial"),
            _json_field(connection, element.c.value, "holdback").label("holdback"),
        )
        .select_from(Allocation)
        .join(element, true())
        .subquery("items")
    )

    # Unknown stores: an anti-join of the expanded items against stores.
    unknown = (
        select(items.c.allocation_id, items.c.store_id)
        .outerjoin(Store, Store.store_id == items.c.store_id)
        .where(Store.store_id.is_(None))
        .distinct()
        .order_by(items.c.allocation_id, items.c.store_id)
    )
    yield from _grouped(
        connection.execute(unknown),
        rules.ALLOCATION_STORE_UNKNOWN,
        "store_allocations name store(s) that do not exist",
    )

    repeated = (
        select(items.c.allocation_id, items.c.store_id)
        .group_by(items.c.allocation_id, items.c.store_id)
        .having(func.count() > 1)
        .order_by(items.c.allocation_id, items.c.store_id)
    )
    yield from _grouped(
        connection.execute(repeated),
        rules.ALLOCATION_STORE_REPEATED,
        "store_allocations name store(s) more than once",
    )

    sums = (
        select(
            items.c.allocation_id,
            func.coalesce(func.sum(items.c.initial), 0).label("initial"),
            func.coalesce(func.sum(items.c.holdback), 0).label("holdback"),
        )
        .group_by(items.c.allocation_id)
        .subquery("sums")
    )
    initial = func.coalesce(sums.c.initial, 0)
    holdback = func.coalesce(sums.c.holdback, 0)
    totals = (
        select(
            Allocation.allocation_id,
            Allocation.initial_allocation_total,
            Allocation.holdback_total,
            initial,
            holdback,
        )
        .outerjoin(sums, sums.c.allocation_id == Allocation.allocation_id)
        .where(
            or_(
                initial != Allocation.initial_allocation_total,
                holdback != Allocation.holdback_total,
            )
        )
        .order_by(Allocation.allocation_id)
    )
    for (
        allocation_id,
        initial_total,
        holdback_total,
        initial_sum,
        holdback_sum,
    ) in connection.execute(totals):
        if initial_sum != initial_total:
            yield Problem(
                rules.ALLOCATION_INITIAL_TOTAL,
                "allocations",
                allocation_id,
                f"store_allocations initial sum to {initial_sum} "
                f"but initial_allocation_total is {initial_total}",
            )
        if holdback_sum != holdback_total:
            yield Problem(
                rules.ALLOCATION_HOLDBACK_TOTAL,
                "allocations",
                allocation_id,
                f"store_allocations holdback sum to {holdback_sum} "
                f"but holdback_total is {holdback_total}",
            )


def _grouped(rows: Any, rule: str, what: str, limit: int = 10) -> Iterator[Problem]:
    """One problem per allocation, listing its stores (ordered rows of (allocation, store))."""
    current: str | None = None
    stores: list[str] = []
    for allocation_id, store_id in rows:
        if allocation_id != current and current is not None:
            yield Problem(rule, "allocations", current, f"{what}: {_listing(stores, limit)}")
            stores = []
        current = allocation_id
        stores.append(str(store_id))
    if current is not None:
        yield Problem(rule, "allocations", current, f"{what}: {_listing(stores, limit)}")


def _listing(values: list[str], limit: int) -> str:
    more = len(values) - limit
    return ", ".join(values[:limit]) + (f" and {more} more" if more > 0 else "")


# --- markdowns and actual sales -------------------------------------------------------------


def _markdown_problems(connection: Connection) -> Iterator[Problem]:
    expected = Markdown.target_sell_through_pct - Markdown.sell_through_pct
    query = (
        select(
            Markdown.markdown_id,
            Markdown.sell_through_pct,
            Markdown.target_sell_through_pct,
            Markdown.gap_pct,
        )
        .where(func.abs(Markdown.gap_pct - expected) > rules.GAP_TOLERANCE)
        .order_by(Markdown.markdown_id)
    )
    for markdown_id, sell_through, target, gap in connection.execute(query):
        # The database's float arithmetic chose the rows; Python words the message.
        for violation in rules.markdown_violations(markdown_id, sell_through, target, gap):
            yield _problem(violation)


def _actual_sales_problems(connection: Connection) -> Iterator[Problem]:
    outside = (
        select(
            ActualSales.forecast_id,
            ActualSales.store_id,
            ActualSales.week_number,
            Forecast.forecast_horizon_weeks,
        )
        .join(Forecast, Forecast.forecast_id == ActualSales.forecast_id)
        .where(
            or_(
                ActualSales.week_number < 1,
                ActualSales.week_number > Forecast.forecast_horizon_weeks,
            )
        )
        .order_by(ActualSales.forecast_id, ActualSales.store_id, ActualSales.week_number)
    )
    for forecast_id, store_id, week, horizon in connection.execute(outside):
        yield from (
            _problem(violation)
            for violation in rules.actual_sales_violations(forecast_id, horizon, [(store_id, week)])
        )
    orphans = (
        select(ActualSales.forecast_id, ActualSales.store_id, ActualSales.week_number)
        .outerjoin(Store, Store.store_id == ActualSales.store_id)
        .where(and_(Store.store_id.is_(None)))
        .order_by(ActualSales.forecast_id, ActualSales.store_id, ActualSales.week_number)
    )
    for forecast_id, store_id, week in connection.execute(orphans):
        yield Problem(
            rules.ACTUAL_SALES_STORE,
            "actual_sales",
            rules.actual_sales_key(forecast_id, store_id, week),
            f"store {store_id} does not exist",
        )


def _markdown_sell_through_problems(connection: Connection) -> Iterator[Problem]:
    """Each stored markdown against the forecast's sell-through through its week, by the
    one definition (one indexed statement per markdown: markdowns are few)."""
    query = select(
        Markdown.markdown_id,
        Markdown.forecast_id,
        Markdown.week_number,
        Markdown.sell_through_pct,
        Markdown.target_sell_through_pct,
    ).order_by(Markdown.markdown_id)
    for markdown_id, forecast_id, week, pct, target in connection.execute(query).all():
        measured = definitions.sell_through(connection, forecast_id, week, target)
        for violation in rules.markdown_sell_through_violations(markdown_id, pct, measured):
            yield _problem(violation)


def _history_calendar_problems(connection: Connection) -> Iterator[Problem]:
    """(store, category) series whose weeks start on more than one weekday."""
    weekday: ColumnElement[int] = literal_column(
        definitions.weekday_sql(connection.dialect.name, "historical_sales.week_start_date"),
        Integer,
    )
    uses = (
        select(
            HistoricalSales.store_id,
            HistoricalSales.category_id,
            weekday.label("weekday"),
            func.count().label("weeks"),
            func.min(HistoricalSales.week_start_date).label("first"),
        )
        .group_by(HistoricalSales.store_id, HistoricalSales.category_id, weekday)
        .cte("uses")
    )
    other = uses.alias("other")
    mixed = (
        select(uses)
        .where(
            exists().where(
                other.c.store_id == uses.c.store_id,
                other.c.category_id == uses.c.category_id,
                other.c.weekday != uses.c.weekday,
            )
        )
        .order_by(uses.c.store_id, uses.c.category_id, uses.c.weekday)
    )
    series: dict[tuple[str, str], list[rules.WeekdayUse]] = {}
    for store_id, category_id, day, weeks, first in connection.execute(mixed):
        first_day = first if isinstance(first, date) else date.fromisoformat(str(first))
        use = rules.WeekdayUse(definitions.Weekday(int(day)), int(weeks), first_day)
        series.setdefault((store_id, category_id), []).append(use)
    for (store_id, category_id), found in series.items():
        for violation in rules.history_calendar_violations(store_id, category_id, found):
            yield _problem(violation)


def _listed(check: Callable[[], Iterator[Problem]]) -> Callable[[], list[Problem]]:
    return lambda: list(check())


def _approval_problems(connection: Connection) -> Iterator[Problem]:
    """Applied markdowns whose trail has no move to approved (written around the API)."""
    approved = exists().where(
        MarkdownStatusChange.markdown_id == Markdown.markdown_id,
        MarkdownStatusChange.to_status == MarkdownStatus.APPROVED,
    )
    query = (
        select(Markdown.markdown_id)
        .where(Markdown.status == MarkdownStatus.APPLIED, ~approved)
        .order_by(Markdown.markdown_id)
    )
    for markdown_id in connection.execute(query).scalars():
        yield _problem(rules.markdown_applied_unapproved(markdown_id))


def _reforecast_problems(connection: Connection) -> Iterator[Problem]:
    """Re-forecasts that disagree with the forecast they revise (one join)."""
    revised = Forecast.__table__.alias("revised")
    query = (
        select(
            Forecast.forecast_id,
            Forecast.category_id,
            Forecast.season,
            Forecast.forecast_horizon_weeks,
            Forecast.from_week,
            revised.c.forecast_id,
            revised.c.category_id,
            revised.c.season,
            revised.c.forecast_horizon_weeks,
            revised.c.from_week,
        )
        .join(revised, revised.c.forecast_id == Forecast.revises_forecast_id)
        .where(
            or_(
                Forecast.category_id != revised.c.category_id,
                Forecast.season != revised.c.season,
                Forecast.forecast_horizon_weeks != revised.c.forecast_horizon_weeks,
                Forecast.from_week <= revised.c.from_week,
            )
        )
        .order_by(Forecast.forecast_id)
    )
    for forecast_id, category, season, horizon, from_week, *other in connection.execute(query):
        parent = rules.RevisedForecast(*other)
        for violation in rules.reforecast_violations(
            forecast_id, category, season, horizon, from_week, parent
        ):
            yield _problem(violation)


def find_rule_violations(
    connection: Connection, *, batch_rows: int = STREAM_BATCH_ROWS
) -> list[Problem]:
    """Every existing row that breaks a domain rule, with its table and key.

    Read-only; runs in the connection's current transaction (or begins one).
    """
    checks: list[tuple[str, Callable[[], Iterator[Problem]]]] = [
        ("forecast rules", lambda: _forecast_problems(connection, batch_rows)),
        ("distribution rules", lambda: _distribution_problems(connection)),
        ("allocation rules", lambda: _allocation_problems(connection)),
        ("markdown rules", lambda: _markdown_problems(connection)),
        ("markdown sell-through", lambda: _markdown_sell_through_problems(connection)),
        ("history calendars", lambda: _history_calendar_problems(connection)),
        ("actual sales rules", lambda: _actual_sales_problems(connection)),
        ("re-forecasts", lambda: _reforecast_problems(connection)),
        ("approvals", lambda: _approval_problems(connection)),
    ]
    found: list[Problem] = []
    for name, check in checks:
        # One rule that cannot be checked (damage the rules cannot read) does not hide
        # what the others find.
        found.extend(health.run_isolated(connection, name, _listed(check)))
    return found
