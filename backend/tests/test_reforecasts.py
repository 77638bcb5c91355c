"""Re-forecasts on both backends: a re-forecast from week k is linked to the forecast it
revises, which stays unchanged; the curve rules apply to weeks k..N; "the latest
forecast" is the revision; variance can be asked of either, against the actual sales
stored with the original. Expected answers are computed here from the sample's numbers."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from backend.app import queries
from backend.app.domain import records
from backend.app.domain.doctor import domain_rules
from backend.app.domain.records import ActualSalesRow, ClusterShare
from backend.app.domain.rules import DomainRuleError
from backend.app.models import Forecast
from backend.tests.support.samples import (
    SEASON_ACTUALS,
    SEASON_CURVE,
    SEASON_SHIPPED,
    SEASON_WEEKS,
    season_allocation,
)
from backend.tests.support.snapshot import snapshot

FROM_WEEK = 5
REVISED = {5: 260, 6: 240, 7: 150, 8: 90}  # weeks 5..8, after weeks 1..4 sold above plan


def _curve(units: dict[int, int]) -> list[dict[str, int]]:
    return [{"week_number": week, "demand_units": value} for week, value in units.items()]


def _shares(total: int) -> list[ClusterShare]:
    return [
        ClusterShare("C1", 0.6, total * 6 // 10),
        ClusterShare("C2", 0.4, total - total * 6 // 10),
    ]


def _reforecast(session: Session, **overrides: Any) -> Forecast:
    values: dict[str, Any] = {
        "forecast_id": "F1-R5",
        "revises_forecast_id": "F1",
        "from_week": FROM_WEEK,
        "total_season_demand": sum(REVISED.values()),
        "weekly_demand_curve": _curve(REVISED),
        "cluster_distribution": _shares(sum(REVISED.values())),
    }
    values.update(overrides)
    return records.record_reforecast(session, **values)


def _reforecast_of_the_revision(session: Session) -> Forecast:
    """F1-R7: a re-forecast of F1-R5 from week 7."""
    return _reforecast(
        session,
        forecast_id="F1-R7",
        revises_forecast_id="F1-R5",
        from_week=7,
        weekly_demand_curve=_curve({7: 100, 8: 50}),
        total_season_demand=150,
        cluster_distribution=_shares(150),
    )


def test_a_reforecast_is_linked_and_the_original_stays(season: Engine) -> None:
    before = snapshot(season)
    with Session(season) as session:
        revision = _reforecast(session)
        assert (revision.revises_forecast_id, revision.from_week, revision.peak_week) == (
            "F1",
            5,
            5,
        )
        # It keeps the original's category, season and horizon.
        assert (revision.category_id, revision.season, revision.forecast_horizon_weeks) == (
            "WD",
            "Spring 2025",
            SEASON_WEEKS,
        )
        session.commit()
    after = snapshot(season)
    for table, rows in before.items():
        if table not in ("forecasts", "forecast_cluster_distribution"):
            assert after[table] == rows, table
    original = [row for row in after["forecasts"] if row["forecast_id"] == "F1"]
    assert original == [
        row | {"from_week": 1, "revises_forecast_id": None} for row in before["forecasts"]
    ]
    with season.connect() as connection:
        assert domain_rules(connection) == []


@pytest.mark.parametrize(
    ("curve", "message"),
    [
        (
            {week: 100 for week in range(1, SEASON_WEEKS + 1)},
            "weekly_demand_curve must have one entry per week 5..8 (a re-forecast from week 5 "
            "of forecast_horizon_weeks) but has week(s) 1, 2, 3, 4 outside 5..8",
        ),
        (
            {5: 100, 6: 100, 7: 100},
            "but has no entry for week(s) 8",
        ),
    ],
)
def test_the_curve_rules_apply_to_the_weeks_the_revision_covers(
    season: Engine, curve: dict[int, int], message: str
) -> None:
    with Session(season) as session, pytest.raises(DomainRuleError) as refused:
        _reforecast(
            session,
            weekly_demand_curve=_curve(curve),
            total_season_demand=sum(curve.values()),
            cluster_distribution=_shares(sum(curve.values())),
        )
    assert refused.value.rule == "forecast_curve_weeks"
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("overrides", "rule", "message"),
    [
        ({"from_week": 1}, "reforecast_revises", "must start in week 2..8"),
        ({"from_week": 9}, "reforecast_revises", "must start in week 2..8"),
        ({"revises_forecast_id": "NOPE"}, "forecast_exists", "forecast NOPE does not exist"),
        ({"total_season_demand": 1}, "forecast_curve_total", "sums to 740"),
    ],
)
def test_a_reforecast_that_breaks_a_rule_writes_nothing(
    season: Engine, overrides: dict[str, Any], rule: str, message: str
) -> None:
    before = snapshot(season)
    with Session(season) as session:
        with pytest.raises(DomainRuleError) as refused:
            _reforecast(session, **overrides)
        session.rollback()
    assert refused.value.rule == rule
    assert message in str(refused.value)
    assert snapshot(season) == before


def test_a_revision_of_a_revision_starts_later(season: Engine) -> None:
    with Session(season) as session:
        _reforecast(session)
        with pytest.raises(DomainRuleError, match=r"must start in week 6\.\.8"):
            _reforecast(session, forecast_id="F1-R5b", revises_forecast_id="F1-R5")
        _reforecast_of_the_revision(session)
        session.commit()
        assert queries.season_forecast_id(session, "F1-R7") == "F1"
        assert queries.latest_forecast(session, "WD", "Spring 2025").forecast_id == "F1-R7"


def test_latest_forecast_is_the_revision(season: Engine) -> None:
    with Session(season) as session:
        assert queries.latest_forecast(session, "WD", "Spring 2025").forecast_id == "F1"
        _reforecast(session)
        session.commit()
        latest = queries.latest_forecast(session, "WD", "Spring 2025")
    assert latest.forecast_id == "F1-R5"
    assert [(p.week_number, p.demand_units) for p in latest.curve] == list(REVISED.items())


def test_variance_of_either_against_the_originals_actuals(season: Engine) -> None:
    with Session(season) as session:
        _reforecast(session)
        # Actual sales of week 5 arrive, for the season, against the original.
        records.record_actual_sales(session, "F1", [ActualSalesRow("S1", 5, 77)])
        with pytest.raises(ValueError, match="record actual sales against the season's original"):
            records.record_actual_sales(session, "F1-R5", [ActualSalesRow("S1", 6, 1)])
        with pytest.raises(ValueError, match="recorded against the season's original forecast"):
            records.record_markdown(
                session,
                markdown_id="M-R",
                forecast_id="F1-R5",
                week_number=6,
                recommended_markdown_pct=0.1,
            )
        session.commit()
    actuals = {**SEASON_ACTUALS, ("S1", 5): 77}
    with Session(season) as session:
        original = queries.forecast_variance(session, "F1", 6)
        revision = queries.forecast_variance(session, "F1-R5", 6)
        with pytest.raises(queries.InvalidReadArgument, match=r"re-forecast weeks 5\.\.8"):
            queries.forecast_variance(session, "F1-R5", 4)

    def expected(curve: dict[int, int], start: int) -> list[tuple[int, int, int | None]]:
        rows = []
        for week in range(start, 7):
            sold = [units for (_, w), units in actuals.items() if w == week]
            rows.append((week, curve[week], sum(sold) if sold else None))
        return rows

    original_curve = dict(enumerate(SEASON_CURVE, 1))
    assert [(w.week_number, w.forecast_units, w.actual_units) for w in original.weeks] == expected(
        original_curve, 1
    )
    assert [(w.week_number, w.forecast_units, w.actual_units) for w in revision.weeks] == expected(
        REVISED, FROM_WEEK
    )
    assert (revision.from_week, revision.actuals_forecast_id) == (5, "F1")
    # Week 5: 77 sold against 260 planned by the revision, 220 by the original.
    assert revision.cumulative.variance_units == 77 - 260
    assert original.weeks[4].variance_units == 77 - 220
    # Stores are measured against the original's allocation (the revision has none).
    assert revision.allocation_id == "A1"
    assert {s.store_id: s.units_shipped for s in revision.stores} == SEASON_SHIPPED
    sold_through_6 = {
        store: sum(u for (s, w), u in actuals.items() if s == store and w <= 6)
        for store in SEASON_SHIPPED
    }
    assert {s.store_id: s.units_sold for s in revision.stores} == sold_through_6


def test_sell_through_of_a_revision_is_the_seasons(season: Engine) -> None:
    """The revision holds no actual sales or allocation of its own: its sell-through to
    date is the season's, measured as its variance is, and any week 1..N may be asked."""
    with Session(season) as session:
        _reforecast(session)
        session.commit()
    with Session(season) as session:
        original = queries.sell_through_to_date(session, "F1", 4)
        revision = queries.sell_through_to_date(session, "F1-R5", 4)
    sold = sum(units for (_, week), units in SEASON_ACTUALS.items() if week <= 4)
    shipped = sum(SEASON_SHIPPED.values())
    assert (revision.units_sold, revision.units_shipped) == (sold, shipped)
    assert revision.sell_through_pct == pytest.approx(sold / shipped)
    assert (revision.forecast_id, revision.allocation_id) == ("F1-R5", "A1")
    assert revision.model_dump(exclude={"forecast_id"}) == original.model_dump(
        exclude={"forecast_id"}
    )


def test_doctor_finds_a_reforecast_written_around_the_api(season: Engine) -> None:
    with season.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO forecasts (forecast_id, category_id, season, forecast_horizon_weeks,"
                " total_season_demand, weekly_demand_curve, peak_week, models_used,"
                " revises_forecast_id, from_week) VALUES ('BAD', 'WD', 'Autumn 2025', 8, 100,"
                " '[{\"week_number\": 3, \"demand_units\": 100}]', 3, '[]', 'F1', 3)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO forecast_cluster_distribution (distribution_id, forecast_id,"
                " cluster_id, allocation_percentage, total_units)"
                " VALUES ('FD:BAD:C1', 'BAD', 'C1', 1.0, 100)"
            )
        )
    with season.connect() as connection:
        found = sorted((p.check, p.key, p.detail) for p in domain_rules(connection))
    assert found == [
        (
            "forecast_curve_weeks",
            "BAD",
            "weekly_demand_curve must have one entry per week 3..8 (a re-forecast from week 3 "
            "of forecast_horizon_weeks) but has no entry for week(s) 4, 5, 6, 7, 8",
        ),
        (
            "reforecast_revises",
            "BAD",
            "season is 'Autumn 2025' but forecast F1 it revises has 'Spring 2025'",
        ),
    ]


def test_every_read_walks_a_chain_of_revisions_alike(season: Engine) -> None:
    """F1 <- F1-R5 <- F1-R7, the middle one with an allocation of its own: the season's
    forecast, the allocation the stock went out by and what variance is measured on come
    from one walk (``revision_chain``), so they agree; an unknown forecast is NotFound
    by every read."""
    with Session(season) as session:
        _reforecast(session)
        season_allocation(session, "A5", "F1-R5", held={})
        _reforecast_of_the_revision(session)
        session.commit()
    with Session(season) as session:
        assert queries.revision_chain(session, "F1-R7") == ["F1-R7", "F1-R5", "F1"]
        assert queries.season_forecast_id(session, "F1-R7") == "F1"
        assert queries.allocation_of_forecast(session, "F1-R7").allocation_id == "A5"
        variance = queries.forecast_variance(session, "F1-R7", 7)
        assert (variance.actuals_forecast_id, variance.allocation_id) == ("F1", "A5")
        assert queries.sell_through_to_date(session, "F1-R7", 7).allocation_id == "A5"
        # The original keeps its own allocation; the revisions do not change it.
        assert queries.allocation_of_forecast(session, "F1").allocation_id == "A1"
        for read in (
            queries.revision_chain,
            queries.season_forecast_id,
            queries.allocation_of_forecast,
            lambda session, forecast_id: queries.forecast_variance(session, forecast_id, 1),
        ):
            with pytest.raises(queries.NotFound, match="forecast 'NOPE' does not exist"):
                read(session, "NOPE")
