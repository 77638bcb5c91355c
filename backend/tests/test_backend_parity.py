"""SQLite and PostgreSQL refuse the same rows, the same way, and name what was broken.

Every CHECK, foreign key, unique key and NOT NULL column of the schema is violated
once on each backend (by raw SQL, so nothing in Python stops the row first): each
raises SQLAlchemy's ``IntegrityError`` and the error names the constraint. The
case lists are checked against the models, so a new constraint without a case fails.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import (
    CheckConstraint,
    Engine,
    ForeignKeyConstraint,
    Table,
    UniqueConstraint,
    insert,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from backend.app.database.db import Base
from backend.app.database.errors import constraint_violation, describe_integrity_error
from backend.app.models import (
    Allocation,
    Category,
    Forecast,
    Markdown,
    SeasonParameters,
    Store,
    StoreCluster,
)
from backend.app.models.enums import (
    Archetype,
    ExtractionConfidence,
    FashionTier,
    MarkdownStatus,
    ReplenishmentStrategy,
)
from backend.app.models.keys import key_columns
from backend.tests.support.samples import every_table

Params = dict[str, Any]

# CHECK constraint -> (table, primary key of a populated row, values that break only it)
CHECK_CASES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "ck_categories_season_length_weeks": ("categories", "CAT-DRESS", {"season_length_weeks": 0}),
    "ck_categories_archetype": ("categories", "CAT-DRESS", {"archetype": "fashion_retail"}),
    "ck_categories_season_dates": (
        "categories",
        "CAT-DRESS",
        {"season_end_date": date(2024, 3, 1)},
    ),
    "ck_store_clusters_fashion_tier": ("store_clusters", "CL-PREM", {"fashion_tier": "premium"}),
    "ck_workflow_logs_status": ("workflow_logs", "W-1", {"status": "DONE"}),
    "ck_workflow_logs_duration_seconds": ("workflow_logs", "W-1", {"duration_seconds": -0.5}),
    "ck_forecasts_total_demand": ("forecasts", "F-1", {"total_season_demand": -1}),
    "ck_forecasts_peak_week": ("forecasts", "F-1", {"peak_week": 13}),
    # horizon < 1 always breaks peak_week <= horizon too: both rules refuse this row
    "ck_forecasts_forecast_horizon_weeks": ("forecasts", "F-1", {"forecast_horizon_weeks": 0}),
    "ck_season_parameters_extraction_confidence": (
        "season_parameters",
        "P-1",
        {"extraction_confidence": "LOW"},
    ),
    "ck_season_parameters_markdown_checkpoint_week": (
        "season_parameters",
        "P-1",
        {"markdown_checkpoint_week": 13},
    ),
    "ck_season_parameters_season_dates": (
        "season_parameters",
        "P-1",
        {"season_end_date": date(2024, 2, 1)},
    ),
    "ck_season_parameters_markdown_threshold": (
        "season_parameters",
        "P-1",
        {"markdown_threshold": 1.01},
    ),
    "ck_season_parameters_dc_holdback_percentage": (
        "season_parameters",
        "P-1",
        {"dc_holdback_percentage": -0.01},
    ),
    "ck_season_parameters_replenishment_strategy": (
        "season_parameters",
        "P-1",
        {"replenishment_strategy": "biweekly"},
    ),
    "ck_season_parameters_forecast_horizon_weeks": (
        "season_parameters",
        "P-1",
        {"forecast_horizon_weeks": 53},
    ),
    "ck_stores_avg_weekly_sales": ("stores", "S01", {"avg_weekly_sales_12mo": -0.01}),
    "ck_stores_store_size_sqft": ("stores", "S01", {"store_size_sqft": 0}),
    "ck_stores_store_format": ("stores", "S01", {"store_format": "mall"}),
    "ck_stores_median_income": ("stores", "S01", {"median_income": -1}),
    "ck_stores_region": ("stores", "S01", {"region": "EAST"}),
    "ck_stores_location_tier": ("stores", "S01", {"location_tier": "D"}),
    "ck_actual_sales_week_number": ("actual_sales", "AS-S01-1", {"week_number": 13}),
    "ck_actual_sales_units_sold": ("actual_sales", "AS-S01-1", {"units_sold": -1}),
    "ck_allocations_initial_allocation": ("allocations", "A-1", {"initial_allocation_total": -1}),
    "ck_allocations_manufacturing_qty": ("allocations", "A-1", {"manufacturing_qty": -1}),
    "ck_allocations_holdback": ("allocations", "A-1", {"holdback_total": -1}),
    "ck_allocations_safety_stock_percentage": (
        "allocations",
        "A-1",
        {"safety_stock_percentage": 1.5},
    ),
    "ck_forecast_cluster_distribution_allocation_pct": (
        "forecast_cluster_distribution",
        "D-1",
        {"allocation_percentage": 1.000001},
    ),
    "ck_forecast_cluster_distribution_total_units": (
        "forecast_cluster_distribution",
        "D-1",
        {"total_units": -1},
    ),
    "ck_historical_sales_units_sold": ("historical_sales", "H-S01-00", {"units_sold": -1}),
    "ck_markdowns_status": ("markdowns", "M-1", {"status": "PENDING"}),
    "ck_markdowns_week_number": ("markdowns", "M-1", {"week_number": 0}),
    "ck_markdowns_sell_through": ("markdowns", "M-1", {"sell_through_pct": 1.2}),
    "ck_markdowns_markdown_pct": ("markdowns", "M-1", {"recommended_markdown_pct": 0.41}),
    "ck_markdowns_target_sell_through": ("markdowns", "M-1", {"target_sell_through_pct": -0.1}),
    # The orchestrator's records (revision 0003).
    "ck_forecasts_from_week": ("forecasts", "F-0-REVISION", {"from_week": 13}),
    "ck_forecasts_revision_from_week": ("forecasts", "F-0-REVISION", {"from_week": 1}),
    "ck_forecasts_revises_another": (
        "forecasts",
        "F-0-REVISION",
        {"revises_forecast_id": "F-0-REVISION"},
    ),
    "ck_workflows_status": ("workflows", "wf-2024-03", {"status": "FAILED"}),
    "ck_workflows_progress": ("workflows", "wf-2024-03", {"progress": 1.5}),
    "ck_workflows_finished_at": ("workflows", "wf-2024-03", {"finished_at": None}),
    "ck_workflows_failed_has_error": ("workflows", "wf-2024-03", {"error_message": None}),
    "ck_workflows_completed_progress": ("workflows", "wf-2024-03", {"status": "completed"}),
    "ck_workflows_completed_forecast": (
        "workflows",
        "wf-2024-03",
        {"status": "completed", "progress": 1, "forecast_id": None},
    ),
    "ck_workflows_workflow_id_length": ("workflows", "wf-2024-03", {"workflow_id": "w" * 129}),
    "ck_workflows_season_length": ("workflows", "wf-2024-03", {"season": ""}),
    "ck_workflows_current_agent_length": ("workflows", "wf-2024-03", {"current_agent": ""}),
    "ck_markdown_status_changes_from_status": (
        "markdown_status_changes",
        "MS:M-1:approved",
        {"from_status": "PENDING"},
    ),
    "ck_markdown_status_changes_to_status": (
        "markdown_status_changes",
        "MS:M-1:approved",
        {"to_status": "done"},
    ),
    "ck_markdown_status_changes_moves": (
        "markdown_status_changes",
        "MS:M-1:approved",
        {"to_status": "pending"},
    ),
    "ck_markdown_status_changes_change_id_length": (
        "markdown_status_changes",
        "MS:M-1:approved",
        {"change_id": ""},
    ),
    "ck_markdown_status_changes_actor_length": (
        "markdown_status_changes",
        "MS:M-1:approved",
        {"actor": "a" * 129},
    ),
}
# Length bounds of foreign-key columns: SQLite's guard triggers name the missing parent
# before the CHECK is reached, so test_schema_constraints proves them with a parent of
# the same key.
KEY_LENGTHS_PROVEN_ELSEWHERE = {
    "ck_forecasts_revises_forecast_id_length",
    "ck_workflows_category_id_length",
    "ck_workflows_parameter_id_length",
    "ck_workflows_forecast_id_length",
    "ck_workflows_allocation_id_length",
    "ck_markdown_status_changes_markdown_id_length",
}
# A row that breaks two rules may be refused by either: the backends check in different orders.
ALSO_BROKEN = {
    "ck_forecasts_forecast_horizon_weeks": {"ck_forecasts_peak_week"},
    # An unknown status is not a finished one, and the run has finished_at.
    "ck_workflows_status": {"ck_workflows_finished_at"},
}


def constraints_of(kind: type) -> dict[str, tuple[Table, Any]]:
    return {
        str(constraint.name): (table, constraint)
        for table in Base.metadata.sorted_tables
        for constraint in table.constraints
        if type(constraint) is kind
    }


def primary_key_name(table: Table) -> str:
    return table.primary_key.columns.values()[0].name


def raw_update(table: Table, key: str, values: dict[str, Any]) -> tuple[Executable, Params]:
    """UPDATE by plain SQL: no enum or payload validation in Python gets in the way."""
    assignments = ", ".join(f'"{column}" = :{column}' for column in values)
    statement = text(
        f'UPDATE "{table.name}" SET {assignments} WHERE "{primary_key_name(table)}" = :key'
    )
    return statement, {**values, "key": key}


@pytest.fixture
def populated(engine: Engine) -> Engine:
    every_table().write(engine)
    return engine


def refused(engine: Engine, statement: Executable, params: Params | None = None) -> IntegrityError:
    """Run ``statement`` in a transaction that must fail with IntegrityError."""
    with pytest.raises(IntegrityError) as failure, engine.begin() as connection:
        connection.execute(statement, params)
    assert type(failure.value) is IntegrityError  # the same class on both backends
    return failure.value


def test_every_check_constraint_has_a_case() -> None:
    # The key length CHECKs of models/keys.py (ck_<table>_<column>_length) are cased in
    # test_schema_constraints.py and test_key_lengths.py: a too-long key of a populated
    # row is also a changed foreign key, which SQLite's guards name first.
    key_lengths = {
        f"ck_{table.name}_{column.name}_length"
        for table in Base.metadata.sorted_tables
        for column in key_columns(table)
    }
    cased = set(CHECK_CASES) | KEY_LENGTHS_PROVEN_ELSEWHERE | key_lengths
    assert cased == set(constraints_of(CheckConstraint))


def test_check_violations_name_the_constraint(populated: Engine, subtests: pytest.Subtests) -> None:
    for constraint, (table_name, key, values) in sorted(CHECK_CASES.items()):
        with subtests.test(constraint):
            table = Base.metadata.tables[table_name]
            error = refused(populated, *raw_update(table, key, values))

            acceptable = {constraint} | ALSO_BROKEN.get(constraint, set())
            named = [name for name in acceptable if name in str(error.orig)]
            assert named, f"{error.orig} names none of {acceptable}"
            described = describe_integrity_error(error)
            assert described == f"check constraint {named[0]} violated on {table_name}"


FOREIGN_KEYS = sorted(constraints_of(ForeignKeyConstraint))


def test_orphan_references_name_the_foreign_key(
    populated: Engine, subtests: pytest.Subtests
) -> None:
    for constraint in FOREIGN_KEYS:
        with subtests.test(constraint):
            table, fk = constraints_of(ForeignKeyConstraint)[constraint]
            column = fk.columns.values()[0].name
            parent = fk.referred_table.name
            with populated.connect() as connection:
                key = connection.execute(
                    select(table.primary_key.columns.values()[0]).where(
                        table.c[column].is_not(None)
                    )
                ).scalar()
            assert key is not None, f"populate() leaves {table.name}.{column} empty"

            error = refused(populated, *raw_update(table, key, {column: "no-such"}))

            message = str(error.orig)
            if populated.dialect.name == "postgresql":
                assert constraint in message
            else:  # our ffdb_fk_* trigger
                assert f"{table.name}.{column} -> {parent}." in message
            assert describe_integrity_error(error).startswith(
                f"foreign key constraint {constraint} violated on {table.name}: "
            )


def test_deleting_a_referenced_parent_names_the_foreign_key(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(StoreCluster(cluster_id="C1", cluster_name="c", fashion_tier=FashionTier.VALUE))
        session.flush()
        session.add(
            Store(
                store_id="S1",
                store_name="s",
                cluster_id="C1",
                store_size_sqft=1,
                location_tier="A",
                median_income=1,
                store_format="MALL",
                region="WEST",
                avg_weekly_sales_12mo=1.0,
            )
        )
        session.commit()

    error = refused(engine, text("DELETE FROM store_clusters"))

    assert describe_integrity_error(error).startswith(
        "foreign key constraint fk_stores_cluster_id_store_clusters violated on stores: "
    )
    assert "still referenced" in str(error.orig)


UNIQUE_KEYS = sorted(constraints_of(UniqueConstraint))


def test_duplicate_natural_keys_name_the_unique_constraint(
    populated: Engine, subtests: pytest.Subtests
) -> None:
    for constraint in UNIQUE_KEYS:
        with subtests.test(constraint):
            table, unique = constraints_of(UniqueConstraint)[constraint]
            with populated.connect() as connection:
                row = connection.execute(select(table).limit(1)).mappings().one()
            duplicate = {**row, primary_key_name(table): "a-new-primary-key"}

            error = refused(populated, insert(table), duplicate)

            violation = constraint_violation(error)
            assert violation is not None
            assert (violation.kind, violation.table, violation.constraint) == (
                "unique",
                table.name,
                constraint,
            )
            if populated.dialect.name == "postgresql":
                assert constraint in str(error.orig)
            else:  # SQLite names the columns; the description maps them to the constraint
                assert str(error.orig) == "UNIQUE constraint failed: " + ", ".join(
                    f"{table.name}.{column.name}" for column in unique.columns
                )
            columns = ", ".join(column.name for column in unique.columns)
            assert columns in describe_integrity_error(error)


def test_duplicate_primary_key_names_it(populated: Engine) -> None:
    row = {"cluster_id": "CL-PREM", "cluster_name": "again", "fashion_tier": "VALUE"}
    error = refused(populated, insert(StoreCluster), row)
    assert describe_integrity_error(error).startswith(
        "unique constraint pk_store_clusters violated on store_clusters"
    )


REQUIRED_COLUMNS = sorted(
    (table.name, column.name)
    for table in Base.metadata.sorted_tables
    for column in table.columns
    if not column.nullable and not column.primary_key
)


def test_nulls_in_required_columns_name_the_column(
    populated: Engine, subtests: pytest.Subtests
) -> None:
    for table_name, column in REQUIRED_COLUMNS:
        with subtests.test(f"{table_name}.{column}"):
            table = Base.metadata.tables[table_name]
            with populated.connect() as connection:
                key = connection.execute(
                    select(table.primary_key.columns.values()[0]).limit(1)
                ).scalar()

            error = refused(populated, *raw_update(table, key, {column: None}))

            assert column in str(error.orig) and table_name in str(error.orig)
            assert describe_integrity_error(error) == (
                f"not null constraint violated on {table_name}: {table_name}.{column} is NULL"
            )


# --- server defaults and created_at ---------------------------------------------------


def test_server_defaults_fill_raw_inserts_alike(engine: Engine) -> None:
    """Raw SQL that leaves out defaulted columns reads back the same values on both."""
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO categories (category_id, category_name, season_start_date, "
                "season_end_date, season_length_weeks) "
                "VALUES ('C', 'c', '2024-03-01', '2024-05-24', 12)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO forecasts (forecast_id, category_id, season, forecast_horizon_weeks,"
                " total_season_demand, weekly_demand_curve, peak_week, models_used) "
                "VALUES ('F', 'C', 'S24', 12, 10, '[]', 1, '[]')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO allocations (allocation_id, forecast_id, manufacturing_qty, "
                "initial_allocation_total, holdback_total, store_allocations) "
                "VALUES ('A', 'F', 1, 1, 0, '[]')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO markdowns (markdown_id, forecast_id, week_number, "
                "sell_through_pct, gap_pct, recommended_markdown_pct) "
                "VALUES ('M', 'F', 6, 0.5, 0.1, 0.1)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO season_parameters (parameter_id, forecast_horizon_weeks, "
                "season_start_date, season_end_date, replenishment_strategy, "
                "dc_holdback_percentage) VALUES ('P', 12, '2024-03-01', '2024-05-24', "
                "'weekly', 0.4)"
            )
        )
    after = datetime.now(UTC) + timedelta(seconds=1)

    with Session(engine) as session:
        category = session.get_one(Category, "C")
        forecast = session.get_one(Forecast, "F")
        allocation = session.get_one(Allocation, "A")
        markdown = session.get_one(Markdown, "M")
        parameters = session.get_one(SeasonParameters, "P")
    assert category.archetype is Archetype.FASHION_RETAIL
    assert forecast.forecasting_method == "ensemble_prophet_arima"
    assert allocation.safety_stock_percentage == 0.2
    assert (markdown.target_sell_through_pct, markdown.elasticity_coefficient) == (0.6, 2.0)
    assert markdown.status is MarkdownStatus.PENDING
    assert parameters.extraction_confidence is ExtractionConfidence.MEDIUM
    assert parameters.replenishment_strategy is ReplenishmentStrategy.WEEKLY
    for row in (category, forecast, allocation, markdown, parameters):
        assert row.created_at is not None
        assert row.created_at.tzinfo is UTC  # aware UTC, read back the same on both
        assert before <= row.created_at <= after  # the server's now(), in UTC


def test_a_message_without_names_is_passed_through_as_one_line() -> None:
    """SQLite's own FK check (guards missing) names nothing: say what the driver said."""
    import sqlite3

    error = IntegrityError(
        "DELETE ...", {}, sqlite3.IntegrityError("FOREIGN KEY constraint failed")
    )
    assert constraint_violation(error) is None
    assert describe_integrity_error(error) == "FOREIGN KEY constraint failed"
