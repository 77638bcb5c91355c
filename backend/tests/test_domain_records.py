"""The write API: valid records are stored; each broken rule is refused, naming the
rule and the values, and nothing is written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from backend.app.domain import records
from backend.app.domain.records import ActualSalesRow, ClusterShare, HistoricalSalesRow
from backend.app.domain.rules import DomainRuleError, curve_from_units
from backend.app.models import (
    ActualSales,
    Allocation,
    Forecast,
    ForecastClusterDistribution,
    HistoricalSales,
    Markdown,
    Store,
    WorkflowLog,
)
from backend.app.models.enums import (
    FashionTier,
    LocationTier,
    Region,
    ReplenishmentStrategy,
    StoreFormat,
    WorkflowStatus,
)

CURVE = [100, 300, 200, 300]  # a tie: weeks 2 and 4; the first maximum is week 2
TOTAL = sum(CURVE)


@pytest.fixture
def master(engine: Engine) -> Engine:
    """Two clusters, three stores and a category, written through the API."""
    with Session(engine) as session:
        records.upsert_store_cluster(
            session, cluster_id="C1", cluster_name="Premium", fashion_tier=FashionTier.PREMIUM
        )
        records.upsert_store_cluster(
            session, cluster_id="C2", cluster_name="Value", fashion_tier=FashionTier.VALUE
        )
        for store_id, cluster_id in (("S1", "C1"), ("S2", "C1"), ("S3", "C2")):
            records.upsert_store(
                session,
                store_id=store_id,
                store_name=f"Store {store_id}",
                cluster_id=cluster_id,
                store_size_sqft=10_000,
                location_tier=LocationTier.A,
                median_income=90_000,
                store_format=StoreFormat.MALL,
                region=Region.WEST,
                avg_weekly_sales_12mo=800.0,
            )
        records.upsert_category(
            session,
            category_id="WD",
            category_name="Women's Dresses",
            season_start_date=date(2025, 2, 17),
            season_end_date=date(2025, 3, 16),
            season_length_weeks=4,
        )
        session.commit()
    return engine


def _forecast(session: Session, **overrides: Any) -> Forecast:
    values: dict[str, Any] = {
        "forecast_id": "F1",
        "category_id": "WD",
        "season": "Spring 2025",
        "forecast_horizon_weeks": 4,
        "total_season_demand": TOTAL,
        "weekly_demand_curve": curve_from_units(CURVE),
        "cluster_distribution": [ClusterShare("C1", 0.7, 630), ClusterShare("C2", 0.3, 270)],
    }
    values.update(overrides)
    return records.record_forecast(session, **values)


def _allocation(session: Session, **overrides: Any) -> Allocation:
    values: dict[str, Any] = {
        "allocation_id": "A1",
        "forecast_id": "F1",
        "manufacturing_qty": 1080,
        "initial_allocation_total": 700,
        "holdback_total": 380,
        "store_allocations": [
            {"store_id": "S1", "initial": 300, "holdback": 160},
            {"store_id": "S2", "initial": 250, "holdback": 140},
            {"store_id": "S3", "initial": 150, "holdback": 80},
        ],
    }
    values.update(overrides)
    return records.record_allocation(session, **values)


def _count(engine: Engine, model: type[Any]) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_valid_records_are_stored_and_read_back(master: Engine) -> None:
    with Session(master) as session:
        forecast = _forecast(session)
        assert forecast.peak_week == 2  # the first of the two maxima
        _allocation(session)
        written = records.record_actual_sales(
            session, "F1", [ActualSalesRow("S1", 1, 40), ActualSalesRow("S2", 1, 35)]
        )
        # Sell-through measured from the rows: 75 sold through week 2 / 700 shipped.
        markdown = records.record_markdown(
            session,
            markdown_id="M1",
            forecast_id="F1",
            week_number=2,
            recommended_markdown_pct=0.3,
        )
        records.log_workflow_step(
            session,
            log_id="L1",
            workflow_id="W1",
            agent_name="demand_agent",
            action="forecast",
            status=WorkflowStatus.COMPLETED,
            input_data={"category_id": "WD"},
            output_data={"forecast_id": "F1"},
            duration_seconds=1.5,
        )
        assert markdown.sell_through_pct == 75 / 700
        assert markdown.gap_pct == pytest.approx(0.6 - 75 / 700)
        session.commit()
    assert written == 2
    with Session(master) as session:
        stored = session.get(Forecast, "F1")
        assert stored is not None
        assert [point["demand_units"] for point in stored.weekly_demand_curve] == CURVE
        shares = session.scalars(
            select(ForecastClusterDistribution).order_by(ForecastClusterDistribution.cluster_id)
        ).all()
        assert [(share.cluster_id, share.total_units) for share in shares] == [
            ("C1", 630),
            ("C2", 270),
        ]
        allocation = session.get(Allocation, "A1")
        assert allocation is not None and len(allocation.store_allocations) == 3
        log = session.get(WorkflowLog, "L1")
        assert log is not None and log.output_data == {"forecast_id": "F1"}


def test_actual_sales_are_upserted_on_forecast_store_and_week(master: Engine) -> None:
    with Session(master) as session:
        _forecast(session)
        records.record_actual_sales(session, "F1", [ActualSalesRow("S1", 1, 40)])
        records.record_actual_sales(
            session, "F1", [ActualSalesRow("S1", 1, 55), ActualSalesRow("S1", 2, 60)]
        )
        session.commit()
    with Session(master) as session:
        rows = session.execute(
            select(ActualSales.week_number, ActualSales.units_sold).order_by(
                ActualSales.week_number
            )
        ).all()
    assert [tuple(row) for row in rows] == [(1, 55), (2, 60)]


def test_master_data_upserts_update_in_place(master: Engine) -> None:
    with Session(master) as session:
        records.upsert_store_cluster(
            session, cluster_id="C1", cluster_name="Premium Urban", fashion_tier="PREMIUM"
        )
        records.upsert_season_parameters(
            session,
            parameter_id="P1",
            category_id="WD",
            forecast_horizon_weeks=4,
            season_start_date=date(2025, 2, 17),
            season_end_date=date(2025, 3, 16),
            replenishment_strategy=ReplenishmentStrategy.WEEKLY,
            dc_holdback_percentage=0.35,
            markdown_checkpoint_week=3,
        )
        records.upsert_season_parameters(
            session,
            parameter_id="P1",
            category_id="WD",
            forecast_horizon_weeks=4,
            season_start_date=date(2025, 2, 17),
            season_end_date=date(2025, 3, 16),
            replenishment_strategy=ReplenishmentStrategy.BI_WEEKLY,
            dc_holdback_percentage=0.25,
        )
        session.commit()
    with Session(master) as session:
        from backend.app.models import SeasonParameters, StoreCluster

        cluster = session.get(StoreCluster, "C1")
        parameters = session.get(SeasonParameters, "P1")
        assert cluster is not None and cluster.cluster_name == "Premium Urban"
        assert parameters is not None and parameters.dc_holdback_percentage == 0.25
        assert parameters.replenishment_strategy == ReplenishmentStrategy.BI_WEEKLY


Refusal = Callable[[Session], object]

REFUSALS: list[tuple[str, Refusal, str]] = [
    (
        "forecast_curve_weeks",
        lambda s: _forecast(
            s,
            forecast_horizon_weeks=5,
            weekly_demand_curve=curve_from_units(CURVE),
        ),
        r"forecast F1: weekly_demand_curve must have one entry per week 1\.\.5 "
        r"\(forecast_horizon_weeks\) but has no entry for week\(s\) 5 "
        r"\(rule forecast_curve_weeks\)",
    ),
    (
        "forecast_curve_total",
        lambda s: _forecast(s, total_season_demand=1000),
        r"forecast F1: weekly_demand_curve sums to 900 but total_season_demand is 1000 "
        r"\(rule forecast_curve_total\)",
    ),
    (
        "forecast_peak_week",
        lambda s: _forecast(s, peak_week=4),
        r"forecast F1: peak_week is 4 but the curve's maximum \(300 units\) is first reached "
        r"in week 2 \(rule forecast_peak_week\)",
    ),
    (
        "distribution_percentages",
        lambda s: _forecast(
            s, cluster_distribution=[ClusterShare("C1", 0.7, 630), ClusterShare("C2", 0.31, 270)]
        ),
        r"forecast F1: cluster allocation_percentage values sum to 1\.01, not 1 "
        r"\(tolerance 1e-06\) \(rule distribution_percentages\)",
    ),
    (
        "distribution_units",
        lambda s: _forecast(
            s, cluster_distribution=[ClusterShare("C1", 0.7, 630), ClusterShare("C2", 0.3, 260)]
        ),
        r"forecast F1: cluster total_units sum to 890 but total_season_demand is 900 "
        r"\(rule distribution_units\)",
    ),
    (
        "allocation_store_unknown",
        lambda s: (
            _forecast(s),
            _allocation(
                s,
                store_allocations=[
                    {"store_id": "S1", "initial": 400, "holdback": 200},
                    {"store_id": "S9", "initial": 300, "holdback": 180},
                ],
            ),
        ),
        r"allocation A1: store_allocations name store\(s\) that do not exist: S9 "
        r"\(rule allocation_store_unknown\)",
    ),
    (
        "allocation_store_repeated",
        lambda s: (
            _forecast(s),
            _allocation(
                s,
                store_allocations=[
                    {"store_id": "S1", "initial": 400, "holdback": 200},
                    {"store_id": "S1", "initial": 300, "holdback": 180},
                ],
            ),
        ),
        r"allocation A1: store_allocations name store\(s\) more than once: S1 "
        r"\(rule allocation_store_repeated\)",
    ),
    (
        "allocation_initial_total",
        lambda s: (_forecast(s), _allocation(s, initial_allocation_total=701)),
        r"allocation A1: store_allocations initial sum to 700 but initial_allocation_total "
        r"is 701 \(rule allocation_initial_total\)",
    ),
    (
        "allocation_holdback_total",
        lambda s: (_forecast(s), _allocation(s, holdback_total=300)),
        r"allocation A1: store_allocations holdback sum to 380 but holdback_total is 300 "
        r"\(rule allocation_holdback_total\)",
    ),
    (
        "markdown_gap",
        lambda s: (
            _forecast(s),
            _allocation(s),
            records.record_actual_sales(s, "F1", [ActualSalesRow("S1", 1, 315)]),
            records.record_markdown(
                s,
                markdown_id="M1",
                forecast_id="F1",
                week_number=2,
                sell_through_pct=0.45,
                target_sell_through_pct=0.6,
                gap_pct=0.2,
                recommended_markdown_pct=0.3,
            ),
        ),
        r"markdown M1: gap_pct is 0\.2 but target_sell_through_pct - sell_through_pct is "
        r"0\.6 - 0\.45 = 0\.1499\d* \(tolerance 1e-09\) \(rule markdown_gap\)",
    ),
    (
        "markdown_sell_through",
        lambda s: (
            _forecast(s),
            _allocation(s),
            records.record_actual_sales(s, "F1", [ActualSalesRow("S1", 1, 280)]),
            records.record_markdown(
                s,
                markdown_id="M1",
                forecast_id="F1",
                week_number=2,
                sell_through_pct=0.45,
                recommended_markdown_pct=0.3,
            ),
        ),
        r"markdown M1: sell_through_pct is 0\.45 but units sold through week 2 / units shipped "
        r"to stores is 280 / 700 = 0\.4 \(tolerance 0\.0001\) \(rule markdown_sell_through\)",
    ),
    (
        "markdown_sell_through",
        lambda s: (
            _forecast(s),
            records.record_markdown(
                s, markdown_id="M1", forecast_id="F1", week_number=2, recommended_markdown_pct=0.1
            ),
        ),
        r"markdown M1: forecast F1 has shipped no units to stores \(no allocation\), so its "
        r"sell-through through week 2 is undefined \(rule markdown_sell_through\)",
    ),
    (
        "actual_sales_week",
        lambda s: (
            _forecast(s),
            records.record_actual_sales(
                s, "F1", [ActualSalesRow("S1", 4, 10), ActualSalesRow("S2", 5, 10)]
            ),
        ),
        r"actual sales forecast F1 store S2 week 5: week 5 is outside the forecast's horizon "
        r"1\.\.4 \(forecast_horizon_weeks\) \(rule actual_sales_week\)",
    ),
    (
        "actual_sales_store",
        lambda s: (
            _forecast(s),
            records.record_actual_sales(s, "F1", [ActualSalesRow("S404", 1, 10)]),
        ),
        r"actual sales forecast F1 store S404 week 1: store S404 does not exist "
        r"\(rule actual_sales_store\)",
    ),
]


@pytest.mark.parametrize(
    ("rule", "write", "message"), REFUSALS, ids=[rule for rule, _, _ in REFUSALS]
)
def test_a_broken_rule_is_refused_and_nothing_is_written(
    master: Engine, rule: str, write: Refusal, message: str
) -> None:
    tables = (Forecast, ForecastClusterDistribution, Allocation, Markdown, ActualSales)
    with Session(master) as session:
        with pytest.raises(DomainRuleError, match=message) as raised:
            write(session)
        assert raised.value.rule == rule
        # Whatever came before the refused call was flushed; the refused call added nothing.
        assert not session.new
        session.commit()
    counts = {model.__tablename__: _count(master, model) for model in tables}
    if rule.startswith(("forecast_", "distribution_")):
        assert counts == dict.fromkeys(counts, 0)
    elif rule.startswith("markdown_"):
        # The forecast (and allocation and sales) written before the markdown are there.
        assert counts["forecasts"] == 1 and counts["markdowns"] == 0
    else:
        # Only the valid forecast written before the refused record is there.
        assert counts["forecasts"] == 1
        assert counts["allocations"] == counts["markdowns"] == counts["actual_sales"] == 0


def test_references_are_named_before_the_database_refuses_them(master: Engine) -> None:
    with Session(master) as session:
        with pytest.raises(DomainRuleError, match="forecast F1: category XX does not exist"):
            _forecast(session, category_id="XX")
        with pytest.raises(DomainRuleError, match=r"store cluster\(s\) C9 do not exist"):
            _forecast(
                session,
                cluster_distribution=[ClusterShare("C1", 0.7, 630), ClusterShare("C9", 0.3, 270)],
            )
        with pytest.raises(DomainRuleError, match="allocation A1: forecast F404 does not exist"):
            _allocation(session, forecast_id="F404")
        with pytest.raises(DomainRuleError, match="forecast F404 does not exist"):
            records.record_actual_sales(session, "F404", [ActualSalesRow("S1", 1, 1)])


def test_a_failed_bulk_history_write_leaves_nothing(master: Engine) -> None:
    rows = [
        HistoricalSalesRow("S1", "WD", date(2024, 1, 1) + timedelta(weeks=week), 10)
        for week in range(records.BULK_BATCH_ROWS // 1000)
    ]
    with Session(master) as session:
        assert records.record_historical_sales(session, rows) == len(rows)
        bad = [HistoricalSalesRow("S2", "WD", date(2024, 2, 5), 3)] * (
            records.BULK_BATCH_ROWS + 1
        ) + [HistoricalSalesRow("S77", "WD", date(2024, 2, 5), 3)]
        with pytest.raises(ValueError, match="S2/WD/2024-02-05: given more than once in one call"):
            records.record_historical_sales(session, bad)
        with pytest.raises(ValueError, match="store S77 does not exist"):
            records.record_historical_sales(
                session, [HistoricalSalesRow("S77", "WD", date(2024, 3, 4), 3)]
            )
        session.commit()
    assert _count(master, HistoricalSales) == len(rows)


def test_a_key_repeated_in_a_later_batch_is_refused_by_name(
    master: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows are checked in batches but moved as one set: a key given again in another
    batch is named, not left to the unique index."""
    monkeypatch.setattr(records, "BULK_BATCH_ROWS", 2)
    weeks = [date(2024, 1, 1) + timedelta(weeks=week) for week in range(3)]
    rows = [HistoricalSalesRow("S1", "WD", week, 10) for week in weeks]
    with Session(master) as session:
        with pytest.raises(ValueError, match="S1/WD/2024-01-01: given more than once in one call"):
            records.record_historical_sales(session, [*rows, rows[0]])
        session.commit()
    assert _count(master, HistoricalSales) == 0


def test_shapes_and_ranges_are_refused_before_the_database_sees_them(master: Engine) -> None:
    from backend.app.schemas.payloads import PayloadError

    with Session(master) as session:
        with pytest.raises(PayloadError, match=r"weekly_demand_curve\[1\]\.demand_units"):
            _forecast(
                session,
                weekly_demand_curve=[
                    {"week_number": 1, "demand_units": 1},
                    {"week_number": 2, "demand_units": -1},
                ],
            )
        _forecast(session)
        _allocation(session)
        with pytest.raises(ValueError, match=r"markdown M1: week_number 5 is outside .* 1\.\.4"):
            records.record_markdown(
                session,
                markdown_id="M1",
                forecast_id="F1",
                week_number=5,
                sell_through_pct=0.5,
                recommended_markdown_pct=0.2,
            )
        with pytest.raises(ValueError, match=r"recommended_markdown_pct 0\.5 is outside 0\.\.0\.4"):
            records.record_markdown(
                session,
                markdown_id="M1",
                forecast_id="F1",
                week_number=2,
                recommended_markdown_pct=0.5,
            )
        assert not session.new


def test_a_repeated_week_is_reported_as_the_curve_rule(master: Engine) -> None:
    curve = [*curve_from_units([100, 300, 200]), {"week_number": 3, "demand_units": 300}]
    with Session(master) as session:
        with pytest.raises(DomainRuleError, match=r"week\(s\) 4.*week\(s\) 3 more than once"):
            _forecast(session, weekly_demand_curve=curve)
        assert not session.new


# (what is refused, the call): each writer names the table, column and value of a key
# the schema's key rule (models/keys.py) would refuse, before the database sees it.
_STORE = {
    "store_name": "Store",
    "store_size_sqft": 10_000,
    "location_tier": LocationTier.A,
    "median_income": 90_000,
    "store_format": StoreFormat.MALL,
    "region": Region.WEST,
    "avg_weekly_sales_12mo": 800.0,
}
_SEASON = {
    "forecast_horizon_weeks": 4,
    "season_start_date": date(2025, 2, 17),
    "season_end_date": date(2025, 3, 16),
    "replenishment_strategy": ReplenishmentStrategy.WEEKLY,
    "dc_holdback_percentage": 0.3,
}
_WEEK = date(2024, 1, 1)
BAD_KEY_WRITES: list[tuple[str, Callable[[Session], object]]] = [
    (
        "store_clusters.cluster_id = ' C3'",
        lambda s: records.upsert_store_cluster(
            s, cluster_id=" C3", cluster_name="X", fashion_tier=FashionTier.VALUE
        ),
    ),
    (
        "categories.category_id = 'WD\\n'",
        lambda s: records.upsert_category(
            s,
            category_id="WD\n",
            category_name="Dresses",
            season_start_date=date(2025, 2, 17),
            season_end_date=date(2025, 3, 16),
            season_length_weeks=4,
        ),
    ),
    (
        "stores.store_id = 'S9\\t'",
        lambda s: records.upsert_store(s, store_id="S9\t", cluster_id="C1", **_STORE),
    ),
    (
        "stores.cluster_id = 'C1 '",
        lambda s: records.upsert_store(s, store_id="S9", cluster_id="C1 ", **_STORE),
    ),
    (
        "store_extra_attributes.store_id = '\\xa0S1'",
        lambda s: records.upsert_store_extra_attributes(s, store_id="\u00a0S1", attributes={}),
    ),
    (
        "season_parameters.parameter_id = 'P1\\r'",
        lambda s: records.upsert_season_parameters(s, parameter_id="P1\r", **_SEASON),
    ),
    (
        "season_parameters.category_id = ' WD'",
        lambda s: records.upsert_season_parameters(
            s, parameter_id="P1", category_id=" WD", **_SEASON
        ),
    ),
    ("forecasts.forecast_id = ' F2'", lambda s: _forecast(s, forecast_id=" F2")),
    ("forecasts.category_id = 'WD '", lambda s: _forecast(s, category_id="WD ")),
    (
        "forecast_cluster_distribution.cluster_id = 'C2\\u3000'",
        lambda s: _forecast(
            s,
            cluster_distribution=[ClusterShare("C1", 0.7, 630), ClusterShare("C2\u3000", 0.3, 270)],
        ),
    ),
    ("allocations.allocation_id = ' A1'", lambda s: _allocation(s, allocation_id=" A1")),
    ("allocations.forecast_id = 'F1 '", lambda s: _allocation(s, forecast_id="F1 ")),
    (
        "markdowns.markdown_id = 'M1 '",
        lambda s: records.record_markdown(
            s, markdown_id="M1 ", forecast_id="F1", week_number=2, recommended_markdown_pct=0.2
        ),
    ),
    (
        "actual_sales.forecast_id = '\\tF1'",
        lambda s: records.record_actual_sales(s, "\tF1", [ActualSalesRow("S1", 1, 1)]),
    ),
    (
        "actual_sales.store_id = 'S1\\n'",
        lambda s: records.record_actual_sales(s, "F1", [ActualSalesRow("S1\n", 1, 1)]),
    ),
    (
        "historical_sales.store_id = ' S1'",
        lambda s: records.record_historical_sales(s, [HistoricalSalesRow(" S1", "WD", _WEEK, 1)]),
    ),
    (
        "historical_sales.category_id = 'WD\\r\\n'",
        lambda s: records.record_historical_sales(
            s, [HistoricalSalesRow("S1", "WD\r\n", _WEEK, 1)]
        ),
    ),
    (
        "workflow_logs.log_id = 'L1 '",
        lambda s: records.log_workflow_step(
            s,
            workflow_id="wf",
            agent_name="demand",
            action="forecast",
            status=WorkflowStatus.COMPLETED,
            log_id="L1 ",
        ),
    ),
]


@pytest.mark.parametrize(("named", "write"), BAD_KEY_WRITES, ids=[n for n, _ in BAD_KEY_WRITES])
def test_a_key_with_edge_whitespace_is_refused_by_name_before_the_database(
    master: Engine, named: str, write: Callable[[Session], object]
) -> None:
    with Session(master) as session:
        _forecast(session)  # F1 exists: only the key can be what is refused
        session.commit()
        with pytest.raises(records.InvalidKey) as refused:
            write(session)
        assert str(refused.value) == (
            f"{named}: begins or ends with whitespace, which a key may not "
            "(it would not survive a trim)"
        )
        assert not session.new and not session.dirty


def test_a_key_too_long_or_empty_is_refused_by_name_before_the_database(master: Engine) -> None:
    with Session(master) as session:
        for key, problem in (("S" * 129, "129 characters"), ("", "0 characters")):
            with pytest.raises(
                records.InvalidKey,
                match=f"stores.store_id = '{key[:80]}.*{problem}, a key has 1 to 128",
            ):
                records.upsert_store(session, store_id=key, cluster_id="C1", **_STORE)
        # Inner whitespace and other Unicode are keys like any other.
        records.upsert_store(session, store_id="S 1\u00a0\U0001f642", cluster_id="C1", **_STORE)
        session.commit()
    with Session(master) as session:
        assert session.get(Store, "S 1\u00a0\U0001f642") is not None
