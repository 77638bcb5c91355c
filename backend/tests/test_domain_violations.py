"""find_rule_violations: rows written around the write API that break a rule are found,
with their table and key; the demo database has none."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, text

from backend.app.demo.sample_season import generate_sample_season
from backend.app.domain.violations import find_rule_violations
from backend.app.maintenance.definitions import distribution_id
from backend.app.schemas.problems import Problem

WD, MO, AC = "FC-CAT-WD-SS25", "FC-CAT-MO-SS25", "FC-CAT-AC-SS25"


def _json_param(connection: Connection) -> str:
    return "CAST(:value AS jsonb)" if connection.dialect.name == "postgresql" else ":value"


def _curve(connection: Connection, forecast_id: str) -> list[dict[str, Any]]:
    raw = connection.scalar(
        text("SELECT weekly_demand_curve FROM forecasts WHERE forecast_id = :id"),
        {"id": forecast_id},
    )
    return json.loads(raw) if isinstance(raw, str) else list(raw)


def _store_allocations(connection: Connection, allocation_id: str) -> list[dict[str, Any]]:
    raw = connection.scalar(
        text("SELECT store_allocations FROM allocations WHERE allocation_id = :id"),
        {"id": allocation_id},
    )
    return json.loads(raw) if isinstance(raw, str) else list(raw)


def _orphan_actual_sale(engine: Engine) -> None:
    """An actual sale of a store that does not exist: damage only a foreign client can do."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        assert database is not None
        raw = sqlite3.connect(database)
        try:
            guards = [
                name
                for (name,) in raw.execute(
                    "SELECT name FROM sqlite_master "
                    "WHERE type = 'trigger' AND name LIKE 'ffdb_fk_%'"
                )
            ]
            for name in guards:
                raw.execute(f'DROP TRIGGER "{name}"')
            raw.execute(
                "INSERT INTO actual_sales (actual_id, store_id, forecast_id, week_number, "
                f"units_sold) VALUES ('orphan', 'S999', '{WD}', 7, 5)"
            )
            raw.commit()
        finally:
            raw.close()
        return
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(
            text(
                "INSERT INTO actual_sales (actual_id, store_id, forecast_id, week_number, "
                "units_sold) VALUES ('orphan', 'S999', :forecast, 7, 5)"
            ),
            {"forecast": WD},
        )


def _seed_violations(engine: Engine) -> None:
    with engine.begin() as connection:
        json_value = _json_param(connection)

        def execute(sql: str, **params: Any) -> None:
            connection.execute(text(sql), params)

        # forecast_peak_week: the dresses curve rises to week 11; claim week 1.
        execute("UPDATE forecasts SET peak_week = 1 WHERE forecast_id = :id", id=WD)
        # forecast_curve_weeks: week 12 renamed 13 and week 11 renamed 10 (repeated),
        # the sum unchanged.
        curve = _curve(connection, MO)
        curve[-1]["week_number"] = 13
        curve[-2]["week_number"] = 10
        execute(
            f"UPDATE forecasts SET weekly_demand_curve = {json_value} WHERE forecast_id = :id",
            value=json.dumps(curve),
            id=MO,
        )
        # forecast_curve_total (and so distribution_units) for accessories.
        execute(
            "UPDATE forecasts SET total_season_demand = total_season_demand + 100 "
            "WHERE forecast_id = :id",
            id=AC,
        )
        # distribution_percentages for dresses, distribution_units for outerwear.
        execute(
            "UPDATE forecast_cluster_distribution SET allocation_percentage = "
            "allocation_percentage + 0.01 WHERE distribution_id = :id",
            id=distribution_id(WD, "CL-VALUE"),
        )
        execute(
            "UPDATE forecast_cluster_distribution SET total_units = total_units - 5 "
            "WHERE distribution_id = :id",
            id=distribution_id(MO, "CL-PREMIUM"),
        )
        # allocation_store_unknown (dresses) and allocation_store_repeated (outerwear).
        items = _store_allocations(connection, "AL-CAT-WD-SS25")
        items[0]["store_id"] = "S999"
        execute(
            f"UPDATE allocations SET store_allocations = {json_value} WHERE allocation_id = :id",
            value=json.dumps(items),
            id="AL-CAT-WD-SS25",
        )
        items = _store_allocations(connection, "AL-CAT-MO-SS25")
        items[1]["store_id"] = items[0]["store_id"]
        execute(
            f"UPDATE allocations SET store_allocations = {json_value} WHERE allocation_id = :id",
            value=json.dumps(items),
            id="AL-CAT-MO-SS25",
        )
        # allocation_initial_total and allocation_holdback_total (accessories).
        execute(
            "UPDATE allocations SET initial_allocation_total = initial_allocation_total + 1, "
            "holdback_total = holdback_total + 2 WHERE allocation_id = :id",
            id="AL-CAT-AC-SS25",
        )
        # markdown_gap.
        execute(
            "UPDATE markdowns SET gap_pct = gap_pct + 0.01 WHERE markdown_id = :id",
            id="MD-CAT-WD-SS25-W06",
        )
        # markdown_sell_through: outerwear's markdown claims a point more sell-through than
        # its sales and shipments give (its gap moved with it, so markdown_gap holds).
        execute(
            "UPDATE markdowns SET sell_through_pct = sell_through_pct + 0.01, "
            "gap_pct = gap_pct - 0.01 WHERE markdown_id = :id",
            id="MD-CAT-MO-SS25-W06",
        )
        # history_week_calendar: a Tuesday week in S001's Monday-week dresses history.
        execute(
            "INSERT INTO historical_sales (sale_id, store_id, category_id, week_start_date, "
            "units_sold) VALUES ('tuesday', 'S001', 'CAT-WD', :day, 5)",
            day=date(2024, 6, 4),
        )
        # actual_sales_week: a 4-week forecast (consistent in itself) with a week-5 sale.
        execute(
            "INSERT INTO forecasts (forecast_id, category_id, season, forecast_horizon_weeks, "
            "total_season_demand, weekly_demand_curve, peak_week, forecasting_method, "
            f"models_used) VALUES ('FC-SHORT', 'CAT-WD', 'Pre-season', 4, 10, {json_value}, "
            f"2, 'manual', {json_value.replace(':value', ':models')})",
            value=json.dumps(
                [{"week_number": w, "demand_units": u} for w, u in ((1, 2), (2, 4), (3, 3), (4, 1))]
            ),
            models=json.dumps(["manual"]),
        )
        execute(
            "INSERT INTO forecast_cluster_distribution (distribution_id, forecast_id, "
            "cluster_id, allocation_percentage, total_units) "
            "VALUES ('FD:FC-SHORT:CL-VALUE', 'FC-SHORT', 'CL-VALUE', 1.0, 10)"
        )
        execute(
            "INSERT INTO actual_sales (actual_id, store_id, forecast_id, week_number, "
            "units_sold) VALUES ('late', 'S001', 'FC-SHORT', 5, 3)"
        )
    _orphan_actual_sale(engine)


def test_a_clean_demo_database_has_no_violations(engine: Engine) -> None:
    generate_sample_season(engine, seed=3)
    with engine.connect() as connection:
        assert find_rule_violations(connection) == []


def test_every_seeded_violation_is_found_with_table_and_key(engine: Engine) -> None:
    generate_sample_season(engine, seed=42)
    _seed_violations(engine)
    with engine.connect() as connection:
        problems = find_rule_violations(connection, batch_rows=2)
    found = {(problem.check, problem.table, problem.key) for problem in problems}
    assert found == {
        ("forecast_peak_week", "forecasts", WD),
        ("forecast_curve_weeks", "forecasts", MO),
        ("forecast_curve_total", "forecasts", AC),
        ("distribution_percentages", "forecast_cluster_distribution", WD),
        ("distribution_units", "forecast_cluster_distribution", MO),
        ("distribution_units", "forecast_cluster_distribution", AC),
        ("allocation_store_unknown", "allocations", "AL-CAT-WD-SS25"),
        ("allocation_store_repeated", "allocations", "AL-CAT-MO-SS25"),
        ("allocation_initial_total", "allocations", "AL-CAT-AC-SS25"),
        ("allocation_holdback_total", "allocations", "AL-CAT-AC-SS25"),
        ("markdown_gap", "markdowns", "MD-CAT-WD-SS25-W06"),
        ("markdown_sell_through", "markdowns", "MD-CAT-MO-SS25-W06"),
        ("history_week_calendar", "historical_sales", "store S001 category CAT-WD"),
        ("actual_sales_week", "actual_sales", "forecast FC-SHORT store S001 week 5"),
        ("actual_sales_store", "actual_sales", f"forecast {WD} store S999 week 7"),
    }
    details = {problem.check + " " + problem.key: problem.detail for problem in problems}
    assert "S999" in details["allocation_store_unknown AL-CAT-WD-SS25"]
    assert details[f"forecast_curve_weeks {MO}"].endswith(
        "but has no entry for week(s) 11, 12; week(s) 13 outside 1..12; week(s) 10 more than once"
    )
    assert "is 1 but the curve's maximum" in details[f"forecast_peak_week {WD}"]
    assert details["actual_sales_week forecast FC-SHORT store S001 week 5"] == (
        "week 5 is outside the forecast's horizon 1..4 (forecast_horizon_weeks)"
    )
    assert details["history_week_calendar store S001 category CAT-WD"] == (
        "weeks start on Monday (156 week(s) from 2022-02-21) and Tuesday (1 week(s) from "
        "2024-06-04): a series' weeks all start on one weekday"
    )
    assert details["markdown_sell_through MD-CAT-MO-SS25-W06"].startswith("sell_through_pct is ")
    assert (
        "units sold through week 6 / units shipped to stores is"
        in (details["markdown_sell_through MD-CAT-MO-SS25-W06"])
    )
    assert all(isinstance(problem, Problem) for problem in problems)


def test_json_that_is_not_an_array_is_reported_not_fatal(engine: Engine) -> None:
    generate_sample_season(engine, seed=42)
    with engine.begin() as connection:
        value = _json_param(connection)
        connection.execute(
            text(f"UPDATE allocations SET store_allocations = {value} WHERE allocation_id = :id"),
            {"value": json.dumps({"S001": 5}), "id": "AL-CAT-WD-SS25"},
        )
        connection.execute(
            text(f"UPDATE forecasts SET weekly_demand_curve = {value} WHERE forecast_id = :id"),
            {"value": json.dumps([{"week": 1}]), "id": WD},
        )
    with engine.connect() as connection:
        problems = find_rule_violations(connection)
    checks = {(problem.check, problem.key) for problem in problems}
    assert ("allocation_store_allocations_shape", "AL-CAT-WD-SS25") in checks
    assert ("forecast_curve_shape", WD) in checks
    # The broken array sums to nothing, so its totals are reported too.
    assert ("allocation_initial_total", "AL-CAT-WD-SS25") in checks
