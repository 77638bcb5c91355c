"""The domain rules of the records the agents write: pure functions, no I/O.

(Sell-through is measured by ``definitions.sell_through``; the rule here compares.)

Each ``*_violations`` function returns every way one record breaks a rule, as
``RuleViolation``s whose message names the record, the rule and the values; each
``check_*`` function raises the first of them as a ``DomainRuleError``. The write API
(``records.py``) calls the checks before anything is flushed; ``violations.py`` reuses
the same functions on rows already in a database.

Rules (the names appear in every message):

- ``forecast_curve_weeks``: a forecast's weekly_demand_curve has exactly one entry per
  week from_week..forecast_horizon_weeks (from_week is 1, except for a re-forecast,
  which covers the weeks from the one it starts at).
- ``forecast_curve_total``: the curve's demand_units sum to total_season_demand.
- ``forecast_peak_week``: peak_week is the week of the curve's maximum; on a tie, the
  FIRST (earliest) week with the maximum, so the rule has exactly one right answer.
- ``distribution_percentages``: a forecast's cluster allocation_percentage values sum
  to 1 within ``PERCENTAGE_TOLERANCE``.
- ``distribution_units``: a forecast's cluster total_units sum to total_season_demand.
- ``allocation_store_unknown`` / ``allocation_store_repeated``: store_allocations name
  existing stores, each at most once.
- ``allocation_initial_total`` / ``allocation_holdback_total``: the entries' ``initial``
  sum to initial_allocation_total and their ``holdback`` sum to holdback_total.
- ``markdown_gap``: gap_pct equals target_sell_through_pct - sell_through_pct within
  ``GAP_TOLERANCE``.
- ``markdown_sell_through``: sell_through_pct is the forecast's sell-through through
  the markdown's week (``definitions.sell_through``: units sold / units shipped to the
  stores) within ``SELL_THROUGH_TOLERANCE``; a forecast that shipped nothing has none.
- ``history_week_calendar``: the weeks of one (store, category) series of
  historical_sales all start on one weekday (any weekday), so no two weeks overlap; the
  importer and the write API refuse a batch that breaks it.
- ``actual_sales_week``: actual sales exist only for weeks 1..forecast_horizon_weeks
  of their forecast (``actual_sales_store``: and only for existing stores).
- ``reforecast_revises``: a re-forecast revises an existing forecast of the same
  category, season and horizon, from a week after the first week that forecast covers.
- ``markdown_applied_unapproved``: an applied markdown went through ``approved``: its
  approval trail (markdown_status_changes) records the move to approved.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from backend.app.maintenance.definitions import SellThrough, Weekday, sell_through_gap

PERCENTAGE_TOLERANCE = 1e-6
GAP_TOLERANCE = 1e-9
SELL_THROUGH_TOLERANCE = 1e-4

FORECAST_CURVE_WEEKS = "forecast_curve_weeks"
FORECAST_CURVE_TOTAL = "forecast_curve_total"
FORECAST_PEAK_WEEK = "forecast_peak_week"
DISTRIBUTION_PERCENTAGES = "distribution_percentages"
DISTRIBUTION_UNITS = "distribution_units"
ALLOCATION_STORE_UNKNOWN = "allocation_store_unknown"
ALLOCATION_STORE_REPEATED = "allocation_store_repeated"
ALLOCATION_INITIAL_TOTAL = "allocation_initial_total"
ALLOCATION_HOLDBACK_TOTAL = "allocation_holdback_total"
MARKDOWN_GAP = "markdown_gap"
MARKDOWN_SELL_THROUGH = "markdown_sell_through"
HISTORY_WEEK_CALENDAR = "history_week_calendar"
ACTUAL_SALES_WEEK = "actual_sales_week"
ACTUAL_SALES_STORE = "actual_sales_store"
REFORECAST_REVISES = "reforecast_revises"
MARKDOWN_APPLIED_UNAPPROVED = "markdown_applied_unapproved"

ALL_RULES = (
    FORECAST_CURVE_WEEKS,
    FORECAST_CURVE_TOTAL,
    FORECAST_PEAK_WEEK,
    DISTRIBUTION_PERCENTAGES,
    DISTRIBUTION_UNITS,
    ALLOCATION_STORE_UNKNOWN,
    ALLOCATION_STORE_REPEATED,
    ALLOCATION_INITIAL_TOTAL,
    ALLOCATION_HOLDBACK_TOTAL,
    MARKDOWN_GAP,
    MARKDOWN_SELL_THROUGH,
    HISTORY_WEEK_CALENDAR,
    ACTUAL_SALES_WEEK,
    ACTUAL_SALES_STORE,
    REFORECAST_REVISES,
    MARKDOWN_APPLIED_UNAPPROVED,
)


@dataclass(frozen=True)
class RuleViolation:
    """One broken rule: which record (table and key), which rule, and what is wrong."""

    rule: str
    table: str
    key: str
    detail: str

    @property
    def message(self) -> str:
        return f"{_RECORD_NOUN[self.table]} {self.key}: {self.detail} (rule {self.rule})"


_RECORD_NOUN = {
    "forecasts": "forecast",
    "forecast_cluster_distribution": "forecast",
    "allocations": "allocation",
    "markdowns": "markdown",
    "actual_sales": "actual sales",
    "historical_sales": "historical sales of",
}


class DomainRuleError(ValueError):
    """A record that breaks a domain rule; nothing was written."""

    def __init__(self, violation: RuleViolation) -> None:
        super().__init__(violation.message)
        self.violation = violation

    @property
    def rule(self) -> str:
        return self.violation.rule


def _raise_first(violations: Sequence[RuleViolation]) -> None:
    if violations:
        raise DomainRuleError(violations[0])


@dataclass(frozen=True)
class ClusterShare:
    """One row of a forecast's cluster distribution."""

    cluster_id: str
    allocation_percentage: float
    total_units: int


# --- forecasts ------------------------------------------------------------------------


def curve_from_units(units: Sequence[int]) -> list[dict[str, int]]:
    """The weekly_demand_curve payload for ``units`` of weeks 1, 2, ...."""
    return [{"week_number": week, "demand_units": value} for week, value in enumerate(units, 1)]


def peak_week_of(curve: Sequence[Mapping[str, Any]]) -> int:
    """The week of the curve's maximum demand; the earliest such week on a tie."""
    if not curve:
        raise ValueError("an empty weekly_demand_curve has no peak week")
    ordered = sorted(curve, key=lambda point: int(point["week_number"]))
    best = ordered[0]
    for point in ordered[1:]:
        if int(point["demand_units"]) > int(best["demand_units"]):
            best = point
    return int(best["week_number"])


def forecast_violations(
    forecast_id: str,
    forecast_horizon_weeks: int,
    total_season_demand: int,
    weekly_demand_curve: Sequence[Mapping[str, Any]],
    peak_week: int,
    from_week: int = 1,
) -> list[RuleViolation]:
    """The curve rules; a re-forecast from week k (``from_week``) covers weeks k..N."""

    def broken(rule: str, detail: str) -> RuleViolation:
        return RuleViolation(rule, "forecasts", forecast_id, detail)

    found: list[RuleViolation] = []
    weeks = [int(point["week_number"]) for point in weekly_demand_curve]
    expected = set(range(from_week, forecast_horizon_weeks + 1))
    repeated = sorted(week for week, count in Counter(weeks).items() if count > 1)
    missing = sorted(expected - set(weeks))
    outside = sorted(set(weeks) - expected)
    if repeated or missing or outside:
        covers = (
            "forecast_horizon_weeks"
            if from_week == 1
            else f"a re-forecast from week {from_week} of forecast_horizon_weeks"
        )
        parts = []
        if missing:
            parts.append(f"no entry for week(s) {_listing(missing)}")
        if outside:
            parts.append(
                f"week(s) {_listing(outside)} outside {from_week}..{forecast_horizon_weeks}"
            )
        if repeated:
            parts.append(f"week(s) {_listing(repeated)} more than once")
        found.append(
            broken(
                FORECAST_CURVE_WEEKS,
                f"weekly_demand_curve must have one entry per week "
                f"{from_week}..{forecast_horizon_weeks} ({covers}) but has {'; '.join(parts)}",
            )
        )
    curve_total = sum(int(point["demand_units"]) for point in weekly_demand_curve)
    if curve_total != total_season_demand:
        found.append(
            broken(
                FORECAST_CURVE_TOTAL,
                f"weekly_demand_curve sums to {curve_total} "
                f"but total_season_demand is {total_season_demand}",
            )
        )
    if weekly_demand_curve:
        peak = peak_week_of(weekly_demand_curve)
        if peak != peak_week:
            peak_units = max(int(point["demand_units"]) for point in weekly_demand_curve)
            found.append(
                broken(
                    FORECAST_PEAK_WEEK,
                    f"peak_week is {peak_week} but the curve's maximum ({peak_units} units) "
                    f"is first reached in week {peak}",
                )
            )
    return found


def check_forecast(
    forecast_id: str,
    forecast_horizon_weeks: int,
    total_season_demand: int,
    weekly_demand_curve: Sequence[Mapping[str, Any]],
    peak_week: int,
    from_week: int = 1,
) -> None:
    _raise_first(
        forecast_violations(
            forecast_id,
            forecast_horizon_weeks,
            total_season_demand,
            weekly_demand_curve,
            peak_week,
            from_week,
        )
    )


@dataclass(frozen=True)
class RevisedForecast:
    """What a re-forecast must agree with: the forecast it revises."""

    forecast_id: str
    category_id: str
    season: str
    forecast_horizon_weeks: int
    from_week: int


def reforecast_violations(
    forecast_id: str,
    category_id: str,
    season: str,
    forecast_horizon_weeks: int,
    from_week: int,
    revised: RevisedForecast,
) -> list[RuleViolation]:
    def broken(detail: str) -> RuleViolation:
        return RuleViolation(REFORECAST_REVISES, "forecasts", forecast_id, detail)

    found = []
    for name, mine, theirs in (
        ("category_id", category_id, revised.category_id),
        ("season", season, revised.season),
        ("forecast_horizon_weeks", forecast_horizon_weeks, revised.forecast_horizon_weeks),
    ):
        if mine != theirs:
            found.append(
                broken(
                    f"{name} is {mine!r} but forecast {revised.forecast_id} it revises has "
                    f"{theirs!r}"
                )
            )
    if not revised.from_week < from_week <= forecast_horizon_weeks:
        found.append(
            broken(
                f"a re-forecast from week {from_week} of forecast {revised.forecast_id} "
                f"(which covers weeks {revised.from_week}..{revised.forecast_horizon_weeks}) "
                f"must start in week {revised.from_week + 1}..{forecast_horizon_weeks}"
            )
        )
    return found


def markdown_applied_unapproved(markdown_id: str) -> RuleViolation:
    return RuleViolation(
        MARKDOWN_APPLIED_UNAPPROVED,
        "markdowns",
        markdown_id,
        "status is applied but its approval trail has no move to approved",
    )


def distribution_violations(
    forecast_id: str, total_season_demand: int, shares: Sequence[ClusterShare]
) -> list[RuleViolation]:
    def broken(rule: str, detail: str) -> RuleViolation:
        return RuleViolation(rule, "forecast_cluster_distribution", forecast_id, detail)

    found: list[RuleViolation] = []
    percentage_sum = sum(share.allocation_percentage for share in shares)
    if abs(percentage_sum - 1.0) > PERCENTAGE_TOLERANCE:
        found.append(
            broken(
                DISTRIBUTION_PERCENTAGES,
                f"cluster allocation_percentage values sum to {percentage_sum!r}, "
                f"not 1 (tolerance {PERCENTAGE_TOLERANCE:g})",
            )
        )
    units_sum = sum(share.total_units for share in shares)
    if units_sum != total_season_demand:
        found.append(
            broken(
                DISTRIBUTION_UNITS,
                f"cluster total_units sum to {units_sum} "
                f"but total_season_demand is {total_season_demand}",
            )
        )
    return found


def check_distribution(
    forecast_id: str, total_season_demand: int, shares: Sequence[ClusterShare]
) -> None:
    _raise_first(distribution_violations(forecast_id, total_season_demand, shares))


# --- allocations ----------------------------------------------------------------------


def allocation_violations(
    allocation_id: str,
    store_allocations: Sequence[Mapping[str, Any]],
    initial_allocation_total: int,
    holdback_total: int,
    known_store_ids: Container[str] | None = None,
) -> list[RuleViolation]:
    """The allocation's rules; store existence only when ``known_store_ids`` is given."""

    def broken(rule: str, detail: str) -> RuleViolation:
        return RuleViolation(rule, "allocations", allocation_id, detail)

    found: list[RuleViolation] = []
    store_ids = [str(item["store_id"]) for item in store_allocations]
    if known_store_ids is not None:
        unknown = sorted({store for store in store_ids if store not in known_store_ids})
        if unknown:
            found.append(
                broken(
                    ALLOCATION_STORE_UNKNOWN,
                    f"store_allocations name store(s) that do not exist: {_listing(unknown)}",
                )
            )
    repeated = sorted(store for store, count in Counter(store_ids).items() if count > 1)
    if repeated:
        found.append(
            broken(
                ALLOCATION_STORE_REPEATED,
                f"store_allocations name store(s) more than once: {_listing(repeated)}",
            )
        )
    initial_sum = sum(int(item["initial"]) for item in store_allocations)
    if initial_sum != initial_allocation_total:
        found.append(
            broken(
                ALLOCATION_INITIAL_TOTAL,
                f"store_allocations initial sum to {initial_sum} "
                f"but initial_allocation_total is {initial_allocation_total}",
            )
        )
    holdback_sum = sum(int(item["holdback"]) for item in store_allocations)
    if holdback_sum != holdback_total:
        found.append(
            broken(
                ALLOCATION_HOLDBACK_TOTAL,
                f"store_allocations holdback sum to {holdback_sum} "
                f"but holdback_total is {holdback_total}",
            )
        )
    return found


def check_allocation(
    allocation_id: str,
    store_allocations: Sequence[Mapping[str, Any]],
    initial_allocation_total: int,
    holdback_total: int,
    known_store_ids: Container[str] | None = None,
) -> None:
    _raise_first(
        allocation_violations(
            allocation_id,
            store_allocations,
            initial_allocation_total,
            holdback_total,
            known_store_ids,
        )
    )


# --- markdowns ------------------------------------------------------------------------


def markdown_violations(
    markdown_id: str, sell_through_pct: float, target_sell_through_pct: float, gap_pct: float
) -> list[RuleViolation]:
    expected = sell_through_gap(target_sell_through_pct, sell_through_pct)
    if abs(gap_pct - expected) <= GAP_TOLERANCE:
        return []
    return [
        RuleViolation(
            MARKDOWN_GAP,
            "markdowns",
            markdown_id,
            f"gap_pct is {gap_pct!r} but target_sell_through_pct - sell_through_pct is "
            f"{target_sell_through_pct!r} - {sell_through_pct!r} = {expected!r} "
            f"(tolerance {GAP_TOLERANCE:g})",
        )
    ]


def check_markdown(
    markdown_id: str, sell_through_pct: float, target_sell_through_pct: float, gap_pct: float
) -> None:
    _raise_first(
        markdown_violations(markdown_id, sell_through_pct, target_sell_through_pct, gap_pct)
    )


def markdown_sell_through_violations(
    markdown_id: str, sell_through_pct: float | None, measured: SellThrough
) -> list[RuleViolation]:
    """``sell_through_pct`` (None: to be measured) against the one definition's value."""
    pct = measured.sell_through_pct
    if pct is None:
        detail = (
            f"forecast {measured.forecast_id} has shipped no units to stores (no allocation), "
            f"so its sell-through through week {measured.week} is undefined"
        )
    elif sell_through_pct is not None and abs(sell_through_pct - pct) > SELL_THROUGH_TOLERANCE:
        detail = (
            f"sell_through_pct is {sell_through_pct!r} but units sold through week "
            f"{measured.week} / units shipped to stores is {measured.units_sold} / "
            f"{measured.units_shipped} = {pct!r} (tolerance {SELL_THROUGH_TOLERANCE:g})"
        )
    else:
        return []
    return [RuleViolation(MARKDOWN_SELL_THROUGH, "markdowns", markdown_id, detail)]


def check_markdown_sell_through(
    markdown_id: str, sell_through_pct: float | None, measured: SellThrough
) -> None:
    _raise_first(markdown_sell_through_violations(markdown_id, sell_through_pct, measured))


# --- historical sales ----------------------------------------------------------------


@dataclass(frozen=True)
class WeekdayUse:
    """How many weeks of a series start on ``weekday``, and the first of them."""

    weekday: Weekday
    weeks: int
    first: date


def history_calendar_violations(
    store_id: str, category_id: str, uses: Sequence[WeekdayUse]
) -> list[RuleViolation]:
    if len(uses) <= 1:
        return []
    shown = " and ".join(
        f"{use.weekday.label} ({use.weeks} week(s) from {use.first})"
        for use in sorted(uses, key=lambda use: (-use.weeks, use.first))
    )
    return [
        RuleViolation(
            HISTORY_WEEK_CALENDAR,
            "historical_sales",
            f"store {store_id} category {category_id}",
            f"weeks start on {shown}: a series' weeks all start on one weekday",
        )
    ]


# --- actual sales ---------------------------------------------------------------------


def actual_sales_key(forecast_id: str, store_id: str, week_number: int) -> str:
    """How an actual_sales row is named in messages: its natural key."""
    return f"forecast {forecast_id} store {store_id} week {week_number}"


def actual_sales_violations(
    forecast_id: str,
    forecast_horizon_weeks: int,
    rows: Iterable[tuple[str, int]],
    known_store_ids: Container[str] | None = None,
) -> list[RuleViolation]:
    """``rows`` are ``(store_id, week_number)`` pairs of one forecast's actual sales."""
    found: list[RuleViolation] = []
    for store_id, week_number in rows:
        key = actual_sales_key(forecast_id, store_id, week_number)
        if known_store_ids is not None and store_id not in known_store_ids:
            found.append(
                RuleViolation(
                    ACTUAL_SALES_STORE,
                    "actual_sales",
                    key,
                    f"store {store_id} does not exist",
                )
            )
        if not 1 <= week_number <= forecast_horizon_weeks:
            found.append(
                RuleViolation(
                    ACTUAL_SALES_WEEK,
                    "actual_sales",
                    key,
                    f"week {week_number} is outside the forecast's horizon "
                    f"1..{forecast_horizon_weeks} (forecast_horizon_weeks)",
                )
            )
    return found


def check_actual_sales(
    forecast_id: str,
    forecast_horizon_weeks: int,
    rows: Iterable[tuple[str, int]],
    known_store_ids: Container[str] | None = None,
) -> None:
    _raise_first(
        actual_sales_violations(forecast_id, forecast_horizon_weeks, rows, known_store_ids)
    )


def _listing(values: Sequence[object], limit: int = 10) -> str:
    shown = ", ".join(str(value) for value in values[:limit])
    more = len(values) - limit
    return shown + (f" and {more} more" if more > 0 else "")
