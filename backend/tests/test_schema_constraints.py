"""Every CHECK, enum, unique key, server default and index of the schema, on both backends.

The cases are checked against the metadata: a CHECK, enum column or server default
added to a model without a case here fails ``test_every_*_has_a_case``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import CheckConstraint, Engine, UniqueConstraint, inspect, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from backend.app import models
from backend.app.models import metadata
from backend.tests.support.rows import VALID_ROWS, SampleRows, insert_row, valid_row
from backend.tests.support.schema import STORY_INDEXES, foreign_keys, primary_key


def _above(value: float) -> float:
    return math.nextafter(value, math.inf)


def _below(value: float) -> float:
    return math.nextafter(value, -math.inf)


@dataclass(frozen=True)
class CheckCase:
    constraint: str
    table: str
    ok: dict[str, Any]
    bad: dict[str, Any]
    # Constraints the bad row cannot help violating as well (the database names one).
    also: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        bad = ",".join(f"{k}={v!r}" for k, v in self.bad.items())
        return f"{self.constraint}[{bad}]"


def _range(
    constraint: str, table: str, column: str, low: float, high: float | None, step: float | None
) -> list[CheckCase]:
    """Cases at both ends of ``low <= column <= high``; ``step`` None means floats."""

    def past_low() -> float:
        return low - step if step is not None else _below(low)

    def past_high(limit: float) -> float:
        return limit + step if step is not None else _above(limit)

    cases = [CheckCase(constraint, table, {column: low}, {column: past_low()})]
    if high is not None:
        cases.append(CheckCase(constraint, table, {column: high}, {column: past_high(high)}))
    return cases


START = date(2025, 3, 1)
DATES_OK = {"season_start_date": START, "season_end_date": START + timedelta(days=1)}
DATES_BAD = {"season_start_date": START, "season_end_date": START}

CHECK_CASES: list[CheckCase] = [
    CheckCase("ck_categories_season_dates", "categories", DATES_OK, DATES_BAD),
    *_range("ck_categories_season_length_weeks", "categories", "season_length_weeks", 1, None, 1),
    *_range(
        "ck_workflow_logs_duration_seconds", "workflow_logs", "duration_seconds", 0, None, None
    ),
    *_range("ck_forecasts_total_demand", "forecasts", "total_season_demand", 0, None, 1),
    CheckCase(
        "ck_forecasts_forecast_horizon_weeks",
        "forecasts",
        {"forecast_horizon_weeks": 1, "peak_week": 1},
        {"forecast_horizon_weeks": 0, "peak_week": 1},
        # peak_week <= forecast_horizon_weeks breaks too: no row violates only this one.
        also=("ck_forecasts_peak_week",),
    ),
    CheckCase("ck_forecasts_peak_week", "forecasts", {"peak_week": 1}, {"peak_week": 0}),
    CheckCase(
        "ck_forecasts_peak_week",
        "forecasts",
        {"forecast_horizon_weeks": 12, "peak_week": 12},
        {"forecast_horizon_weeks": 12, "peak_week": 13},
    ),
    *_range(
        "ck_season_parameters_forecast_horizon_weeks",
        "season_parameters",
        "forecast_horizon_weeks",
        1,
        52,
        1,
    ),
    CheckCase("ck_season_parameters_season_dates", "season_parameters", DATES_OK, DATES_BAD),
    *_range(
        "ck_season_parameters_dc_holdback_percentage",
        "season_parameters",
        "dc_holdback_percentage",
        0,
        1,
        None,
    ),
    *_range(
        "ck_season_parameters_markdown_checkpoint_week",
        "season_parameters",
        "markdown_checkpoint_week",
        1,
        12,
        1,
    ),
    *_range(
        "ck_season_parameters_markdown_threshold",
        "season_parameters",
        "markdown_threshold",
        0,
        1,
        None,
    ),
    *_range("ck_stores_store_size_sqft", "stores", "store_size_sqft", 1, None, 1),
    *_range("ck_stores_median_income", "stores", "median_income", 0, None, 1),
    *_range("ck_stores_avg_weekly_sales", "stores", "avg_weekly_sales_12mo", 0, None, None),
    *_range("ck_actual_sales_units_sold", "actual_sales", "units_sold", 0, None, 1),
    *_range("ck_actual_sales_week_number", "actual_sales", "week_number", 1, 12, 1),
    *_range("ck_allocations_manufacturing_qty", "allocations", "manufacturing_qty", 0, None, 1),
    *_range(
        "ck_allocations_initial_allocation", "allocations", "initial_allocation_total", 0, None, 1
    ),
    *_range("ck_allocations_holdback", "allocations", "holdback_total", 0, None, 1),
    *_range(
        "ck_allocations_safety_stock_percentage",
        "allocations",
        "safety_stock_percentage",
        0,
        1,
        None,
    ),
    *_range(
        "ck_forecast_cluster_distribution_allocation_pct",
        "forecast_cluster_distribution",
        "allocation_percentage",
        0,
        1,
        None,
    ),
    *_range(
        "ck_forecast_cluster_distribution_total_units",
        "forecast_cluster_distribution",
        "total_units",
        0,
        None,
        1,
    ),
    *_range("ck_historical_sales_units_sold", "historical_sales", "units_sold", 0, None, 1),
    *_range("ck_markdowns_week_number", "markdowns", "week_number", 1, 12, 1),
    *_range("ck_markdowns_sell_through", "markdowns", "sell_through_pct", 0, 1, None),
    *_range("ck_markdowns_target_sell_through", "markdowns", "target_sell_through_pct", 0, 1, None),
    # The story caps a markdown at 40%.
    *_range("ck_markdowns_markdown_pct", "markdowns", "recommended_markdown_pct", 0, 0.40, None),
    # --- the orchestrator's records (revision 0003) ---
    CheckCase(
        "ck_forecasts_from_week",
        "forecasts",
        {"from_week": 12, "revises_forecast_id": "F1", "forecast_id": "F2"},
        {"from_week": 13, "revises_forecast_id": "F1", "forecast_id": "F2"},
    ),
    CheckCase(
        "ck_forecasts_revision_from_week",
        "forecasts",
        {"from_week": 2, "revises_forecast_id": "F1", "forecast_id": "F2"},
        {"from_week": 1, "revises_forecast_id": "F1", "forecast_id": "F2"},
    ),
    CheckCase("ck_forecasts_revision_from_week", "forecasts", {"from_week": 1}, {"from_week": 2}),
    CheckCase(
        "ck_forecasts_revises_another",
        "forecasts",
        {"forecast_id": "F2", "revises_forecast_id": "F1", "from_week": 2},
        {"forecast_id": "F2", "revises_forecast_id": "F2", "from_week": 2},
        # PostgreSQL checks the foreign key at the end of the statement, when the row
        # exists: only the CHECK refuses it. SQLite's guard trigger refuses it first.
        also=("forecasts.revises_forecast_id -> forecasts.forecast_id (no such forecasts row)",),
    ),
    *_range("ck_workflows_progress", "workflows", "progress", 0, 1, None),
    CheckCase(
        "ck_workflows_finished_at",
        "workflows",
        {"status": "cancelled", "finished_at": datetime(2025, 4, 7, tzinfo=UTC)},
        {"status": "cancelled", "finished_at": None},
    ),
    CheckCase(
        "ck_workflows_finished_at",
        "workflows",
        {"status": "running", "finished_at": None},
        {"status": "running", "finished_at": datetime(2025, 4, 7, tzinfo=UTC)},
    ),
    CheckCase(
        "ck_workflows_failed_has_error",
        "workflows",
        {
            "status": "failed",
            "error_message": "boom",
            "finished_at": datetime(2025, 4, 7, tzinfo=UTC),
        },
        {
            "status": "failed",
            "error_message": None,
            "finished_at": datetime(2025, 4, 7, tzinfo=UTC),
        },
    ),
    CheckCase(
        "ck_workflows_completed_progress",
        "workflows",
        {
            "status": "completed",
            "progress": 1.0,
            "produces_forecast": False,
            "finished_at": datetime(2025, 4, 7, tzinfo=UTC),
        },
        {
            "status": "completed",
            "progress": 0.5,
            "produces_forecast": False,
            "finished_at": datetime(2025, 4, 7, tzinfo=UTC),
        },
    ),
    CheckCase(
        "ck_workflows_completed_forecast",
        "workflows",
        {
            "status": "completed",
            "progress": 1.0,
            "forecast_id": "F1",
            "finished_at": datetime(2025, 4, 7, tzinfo=UTC),
        },
        {
            "status": "completed",
            "progress": 1.0,
            "forecast_id": None,
            "finished_at": datetime(2025, 4, 7, tzinfo=UTC),
        },
    ),
    CheckCase(
        "ck_markdown_status_changes_moves",
        "markdown_status_changes",
        {"from_status": "pending", "to_status": "rejected"},
        {"from_status": "pending", "to_status": "pending"},
    ),
]


@dataclass(frozen=True)
class KeyLengthCase:
    """A string key bounded to 1..KEY_MAX_LENGTH characters by a named CHECK."""

    table: str
    column: str

    @property
    def constraint(self) -> str:
        return f"ck_{self.table}_{self.column}_length"

    @property
    def parent(self) -> tuple[str, str] | None:
        column = metadata.tables[self.table].c[self.column]
        for key in column.foreign_keys:
            return key.column.table.name, key.column.name
        return None


KEY_LENGTH_CASES = [
    KeyLengthCase(table.name, column.name)
    for table in metadata.sorted_tables
    for column in table.columns
    if any(
        isinstance(c, CheckConstraint) and c.name == f"ck_{table.name}_{column.name}_length"
        for c in table.constraints
    )
]


# Nullable columns under a CHECK: NULL means "not given" and must pass.
NULL_PASSES = [
    ("workflow_logs", "duration_seconds"),
    ("workflows", "current_agent"),
    ("workflows", "parameter_id"),
    ("workflows", "forecast_id"),
    ("workflows", "allocation_id"),
    ("forecasts", "revises_forecast_id"),
    ("season_parameters", "markdown_checkpoint_week"),
    ("season_parameters", "markdown_threshold"),
]


@dataclass(frozen=True)
class EnumColumn:
    table: str
    column: str
    values: tuple[str, ...]
    constraint: str


def enum_columns() -> list[EnumColumn]:
    found = []
    for t in metadata.sorted_tables:
        for column in t.columns:
            if isinstance(column.type, sa.Enum):
                found.append(
                    EnumColumn(
                        t.name,
                        column.name,
                        tuple(column.type.enums),
                        f"ck_{t.name}_{column.type.name}",
                    )
                )
    return found


ENUM_COLUMNS = enum_columns()

# The exact strings the story's CHECKs list.
STORY_ENUM_VALUES = {
    ("categories", "archetype"): ("FASHION_RETAIL", "STABLE_CATALOG", "CONTINUOUS"),
    ("store_clusters", "fashion_tier"): ("PREMIUM", "MAINSTREAM", "VALUE"),
    ("stores", "location_tier"): ("A", "B", "C"),
    ("stores", "store_format"): ("MALL", "STANDALONE", "SHOPPING_CENTER", "OUTLET"),
    ("stores", "region"): ("NORTHEAST", "SOUTHEAST", "MIDWEST", "WEST"),
    # "rejected" is this layer's addition (a planner's "no"; README, lifecycles).
    ("markdowns", "status"): ("pending", "approved", "applied", "rejected"),
    ("markdown_status_changes", "from_status"): ("pending", "approved", "applied", "rejected"),
    ("markdown_status_changes", "to_status"): ("pending", "approved", "applied", "rejected"),
    ("workflows", "status"): (
        "pending",
        "running",
        "awaiting_approval",
        "completed",
        "failed",
        "cancelled",
    ),
    ("workflow_logs", "status"): ("started", "completed", "failed"),
    ("season_parameters", "replenishment_strategy"): ("none", "weekly", "bi-weekly"),
    ("season_parameters", "extraction_confidence"): ("low", "medium", "high"),
}


# Enum columns that a CHECK requires to differ from another column of the row.
DIFFERENT_FROM = {
    ("markdown_status_changes", "from_status"): "to_status",
    ("markdown_status_changes", "to_status"): "from_status",
}


def _status_consistent(table: str, column: str, value: str) -> dict[str, Any]:
    """What a workflows row in status ``value`` must also hold by its CHECKs."""
    if (table, column) != ("workflows", "status"):
        return {}
    finished = value in ("completed", "failed", "cancelled")
    return {
        "finished_at": datetime(2025, 4, 7, tzinfo=UTC) if finished else None,
        "error_message": "stopped",
        "progress": 1.0,
        "produces_forecast": False,
    }


def metadata_checks() -> set[str]:
    return {
        str(c.name)
        for t in metadata.sorted_tables
        for c in t.constraints
        if isinstance(c, CheckConstraint)
    }


# --- the table-driven cases share one database at head per backend (``shared_engine``) --
# Each case works inside a transaction it rolls back, so the cases cannot see each other.


def _error(engine: Engine, table_name: str, values: dict[str, Any]) -> str:
    """The database's refusal of ``values`` (after seeding the rows it needs), as text."""
    with engine.connect() as connection:
        SampleRows().add_valid(*_parents(table_name, values)).write(connection)
        with pytest.raises(IntegrityError) as refused:
            insert_row(connection, table_name, values)
        connection.rollback()
    return str(refused.value)


def _accepts(engine: Engine, table_name: str, values: dict[str, Any]) -> None:
    with engine.connect() as connection:
        SampleRows().add_valid(*_parents(table_name, values)).write(connection)
        insert_row(connection, table_name, values)
        connection.rollback()


def _parents(table_name: str, values: dict[str, Any] | None = None) -> list[str]:
    """The tables ``values`` (a row of ``table_name``) needs rows in first. A table's
    own valid row is written first only for a row that references it (a revision)."""
    table = metadata.tables[table_name]
    parents = []
    for fk in table.foreign_keys:
        if fk.column.table is not table:
            parents.append(fk.column.table.name)
        elif values is not None and values.get(fk.parent.name) is not None:
            own_key = primary_key(table_name)
            if values.get(own_key) != VALID_ROWS[table_name][own_key]:
                parents.append(table_name)
    return parents


# --- CHECK constraints -------------------------------------------------------------------


def test_every_check_has_a_case() -> None:
    covered = {case.constraint for case in CHECK_CASES} | {e.constraint for e in ENUM_COLUMNS}
    covered |= {case.constraint for case in KEY_LENGTH_CASES}
    assert metadata_checks() == covered


def test_every_new_string_key_is_bounded() -> None:
    from backend.app.maintenance.definitions import KEY_MAX_LENGTH as DEFINED_MAX
    from backend.app.models.keys import KEY_MAX_LENGTH

    assert KEY_MAX_LENGTH == DEFINED_MAX
    bounded = {(case.table, case.column) for case in KEY_LENGTH_CASES}
    assert bounded >= {
        ("workflows", "workflow_id"),
        ("workflows", "category_id"),
        ("workflows", "parameter_id"),
        ("workflows", "forecast_id"),
        ("workflows", "allocation_id"),
        ("markdown_status_changes", "change_id"),
        ("markdown_status_changes", "markdown_id"),
        ("markdown_status_changes", "actor"),
        ("forecasts", "revises_forecast_id"),
    }


@pytest.mark.parametrize("case", KEY_LENGTH_CASES, ids=lambda case: case.constraint)
def test_key_of_128_characters_passes_and_129_or_none_is_refused(
    shared_engine: Engine, case: KeyLengthCase
) -> None:
    from backend.app.models.keys import KEY_MAX_LENGTH

    _key_values_hold(
        shared_engine,
        case,
        [("k" * KEY_MAX_LENGTH, True), ("k" * (KEY_MAX_LENGTH + 1), False), ("", False)],
    )


# Edge whitespace of several kinds (models/keys.py KEY_EDGE_WHITESPACE) is refused; the
# same characters inside a key, and characters that are not whitespace, are kept.
EDGE_VALUES = [
    (" k", False),
    ("k ", False),
    ("\tk", False),
    ("k\r\n", False),
    ("\u00a0k", False),
    ("k\u3000", False),
    ("k k\tk", True),
    ("\u200bk\ufeff", True),
]


@pytest.mark.parametrize("case", KEY_LENGTH_CASES, ids=lambda case: case.constraint)
def test_key_with_edge_whitespace_is_refused_and_inner_whitespace_kept(
    shared_engine: Engine, case: KeyLengthCase
) -> None:
    _key_values_hold(shared_engine, case, EDGE_VALUES)


def _key_values_hold(
    shared_engine: Engine, case: KeyLengthCase, values: Sequence[tuple[str, bool]]
) -> None:
    """Each value of ``case``'s column is stored when ``accepted``, else refused by its
    key CHECK (named in the error)."""
    extra: dict[str, Any] = {}
    if (case.table, case.column) == ("forecasts", "revises_forecast_id"):
        extra = {"forecast_id": "F-revision", "from_week": 2}
    for value, accepted in values:
        with shared_engine.connect() as connection:
            SampleRows().add_valid(*_parents(case.table)).write(connection)
            parent_bounded = False
            if case.parent is not None:
                # A parent with the same key, so only the length can refuse the row
                # (SQLite's guard triggers would name the foreign key first). Where the
                # parent's own key is bounded too, the parent cannot exist at all.
                parent_table, parent_key = case.parent
                try:
                    with connection.begin_nested():
                        rows = SampleRows().add(parent_table, **{parent_key: value})
                        insert_row(connection, parent_table, rows)
                except IntegrityError as error:
                    assert f"ck_{parent_table}_{parent_key}_length" in str(error), str(error)
                    parent_bounded = True
            row = valid_row(case.table, **{case.column: value}, **extra)
            if accepted:
                insert_row(connection, case.table, row)
            else:
                with pytest.raises(IntegrityError) as refused:
                    insert_row(connection, case.table, row)
                if not parent_bounded:
                    assert case.constraint in str(refused.value), (value, str(refused.value))
            connection.rollback()


def test_the_database_has_every_check_of_the_models(shared_engine: Engine) -> None:
    inspector = inspect(shared_engine)
    in_database = {
        str(check["name"])
        for name in metadata.tables
        for check in inspector.get_check_constraints(name)
    }
    assert in_database == metadata_checks()


@pytest.mark.parametrize("case", CHECK_CASES, ids=lambda case: case.id)
def test_check_boundary_passes_and_one_step_past_is_refused(
    shared_engine: Engine, case: CheckCase
) -> None:
    _accepts(shared_engine, case.table, valid_row(case.table, **case.ok))
    message = _error(shared_engine, case.table, valid_row(case.table, **case.bad))
    named = [name for name in (case.constraint, *case.also) if name in message]
    assert named, f"{case.constraint} not named in: {message}"


@pytest.mark.parametrize(("table_name", "column"), NULL_PASSES)
def test_null_passes_an_optional_checked_column(
    shared_engine: Engine, table_name: str, column: str
) -> None:
    _accepts(shared_engine, table_name, valid_row(table_name, **{column: None}))


# --- enums -------------------------------------------------------------------------------


def test_every_enum_column_has_the_story_values() -> None:
    assert {(e.table, e.column): e.values for e in ENUM_COLUMNS} == STORY_ENUM_VALUES


@pytest.mark.parametrize("enum", ENUM_COLUMNS, ids=lambda e: f"{e.table}.{e.column}")
def test_enum_stores_the_exact_story_strings(shared_engine: Engine, enum: EnumColumn) -> None:
    key = primary_key(enum.table)
    with shared_engine.connect() as connection:
        SampleRows().add_valid(*_parents(enum.table)).write(connection)
        for index, value in enumerate(enum.values):
            fields = {key: f"{VALID_ROWS[enum.table][key]}-{index}", enum.column: value}
            fields.update(_status_consistent(enum.table, enum.column, value))
            companion = DIFFERENT_FROM.get((enum.table, enum.column))
            if companion is not None:  # a status change moves to another status
                fields[companion] = next(other for other in enum.values if other != value)
            insert_row(connection, enum.table, valid_row(enum.table, **fields))
        stored = connection.execute(
            sa.select(sa.cast(metadata.tables[enum.table].c[enum.column], sa.String))
        ).scalars()
        assert sorted(stored) == sorted(enum.values)
        connection.rollback()


@pytest.mark.parametrize("enum", ENUM_COLUMNS, ids=lambda e: f"{e.table}.{e.column}")
def test_database_refuses_an_unknown_enum_value(shared_engine: Engine, enum: EnumColumn) -> None:
    near_miss = enum.values[-1].swapcase() if enum.values[-1].isalpha() else "biweekly"
    for unknown in ("unknown", near_miss, ""):
        message = _error(shared_engine, enum.table, valid_row(enum.table, **{enum.column: unknown}))
        assert enum.constraint in message, message


MODEL_BY_TABLE = {
    mapper.local_table.name: mapper.class_ for mapper in models.Category.registry.mappers
}


@pytest.mark.parametrize("enum", ENUM_COLUMNS, ids=lambda e: f"{e.table}.{e.column}")
def test_orm_refuses_an_unknown_enum_value_before_sql(session: Session, enum: EnumColumn) -> None:
    model = MODEL_BY_TABLE[enum.table]
    session.add(model(**valid_row(enum.table, **{enum.column: "unknown"})))
    with pytest.raises(StatementError) as refused:
        session.flush()
    assert isinstance(refused.value.orig, LookupError)
    assert "'unknown' is not among the defined enum values" in str(refused.value)
    session.rollback()


# --- unique natural keys -----------------------------------------------------------------

NATURAL_KEYS = {
    "historical_sales": ("store_id", "category_id", "week_start_date"),
    "actual_sales": ("forecast_id", "store_id", "week_number"),
    "forecast_cluster_distribution": ("forecast_id", "cluster_id"),
}


def test_the_natural_keys_are_the_only_unique_constraints() -> None:
    declared = {
        t.name: tuple(c.name for c in constraint.columns)
        for t in metadata.sorted_tables
        for constraint in t.constraints
        if isinstance(constraint, UniqueConstraint)
    }
    assert declared == NATURAL_KEYS


@pytest.mark.parametrize("table_name", sorted(NATURAL_KEYS))
def test_a_duplicate_natural_key_is_refused(shared_engine: Engine, table_name: str) -> None:
    key = primary_key(table_name)
    with shared_engine.connect() as connection:
        SampleRows().add_valid(table_name).write(connection)
        duplicate = valid_row(table_name, **{key: "another-id"})
        with pytest.raises(IntegrityError) as refused:
            insert_row(connection, table_name, duplicate)
        connection.rollback()
    message = str(refused.value)
    columns = NATURAL_KEYS[table_name]
    if shared_engine.dialect.name == "postgresql":
        assert f"uq_{table_name}_{'_'.join(columns)}" in message
    else:
        assert (
            "UNIQUE constraint failed: " + ", ".join(f"{table_name}.{c}" for c in columns)
            in message
        )


# --- indexes and column order --------------------------------------------------------------


def test_every_foreign_key_column_leads_an_index_or_unique_key(shared_engine: Engine) -> None:
    inspector = inspect(shared_engine)
    unindexed = []
    for fk in foreign_keys():
        child = fk.parent.name
        column = fk.elements[0].parent.name
        leading = {ix["column_names"][0] for ix in inspector.get_indexes(child)}
        leading |= {uq["column_names"][0] for uq in inspector.get_unique_constraints(child)}
        leading |= set(inspector.get_pk_constraint(child)["constrained_columns"][:1])
        if column not in leading:
            unindexed.append(f"{child}.{column}")
    assert unindexed == []


def test_the_story_indexes_exist(shared_engine: Engine) -> None:
    inspector = inspect(shared_engine)
    names = {ix["name"] for t in metadata.tables for ix in inspector.get_indexes(t)}
    assert names >= STORY_INDEXES


STORES_COLUMNS = [
    "store_id",
    "store_name",
    "cluster_id",
    "store_size_sqft",
    "location_tier",
    "median_income",
    "store_format",
    "region",
    "avg_weekly_sales_12mo",
    "created_at",
]


def test_stores_has_exactly_the_story_columns_in_order(shared_engine: Engine) -> None:
    assert [c["name"] for c in inspect(shared_engine).get_columns("stores")] == STORES_COLUMNS
    assert [c.name for c in metadata.tables["stores"].columns] == STORES_COLUMNS


# --- server defaults ---------------------------------------------------------------------

# What a raw INSERT that leaves the column out must store, as the story gives it.
STORY_DEFAULTS: dict[tuple[str, str], Any] = {
    ("categories", "archetype"): "FASHION_RETAIL",
    ("forecasts", "forecasting_method"): "ensemble_prophet_arima",
    ("allocations", "safety_stock_percentage"): 0.20,
    ("markdowns", "target_sell_through_pct"): 0.60,
    ("markdowns", "elasticity_coefficient"): 2.0,
    ("markdowns", "status"): "pending",
    ("season_parameters", "extraction_confidence"): "medium",
    ("forecasts", "from_week"): 1,
    ("workflows", "status"): "pending",
    ("workflows", "progress"): 0.0,
    ("workflows", "produces_forecast"): True,
}


def test_every_server_default_has_a_case() -> None:
    defaulted = {
        (t.name, c.name)
        for t in metadata.sorted_tables
        for c in t.columns
        if c.server_default is not None and c.name not in ("created_at", "updated_at")
    }
    assert defaulted == set(STORY_DEFAULTS)
    with_created_at = {t.name for t in metadata.sorted_tables if "created_at" in t.c}
    assert with_created_at == set(metadata.tables)


# Raw SQL, as another client would write it: literals only, defaulted columns left out.
RAW_INSERTS = [
    "INSERT INTO categories (category_id, category_name, season_start_date, season_end_date,"
    " season_length_weeks) VALUES ('CAT1', 'Dresses', '2025-03-01', '2025-05-23', 12)",
    "INSERT INTO store_clusters (cluster_id, cluster_name, fashion_tier)"
    " VALUES ('CL1', 'Fashion_Forward', 'PREMIUM')",
    "INSERT INTO season_parameters (parameter_id, forecast_horizon_weeks, season_start_date,"
    " season_end_date, replenishment_strategy, dc_holdback_percentage)"
    " VALUES ('P1', 12, '2025-03-01', '2025-05-23', 'bi-weekly', 0.45)",
    "INSERT INTO forecasts (forecast_id, category_id, season, forecast_horizon_weeks,"
    " total_season_demand, weekly_demand_curve, peak_week, models_used)"
    " VALUES ('F1', 'CAT1', 'Spring 2025', 12, 8000,"
    ' \'[{"week_number": 1, "demand_units": 500}]\', 3, \'["prophet", "arima"]\')',
    "INSERT INTO allocations (allocation_id, forecast_id, manufacturing_qty,"
    " initial_allocation_total, holdback_total, store_allocations)"
    ' VALUES (\'A1\', \'F1\', 9600, 5280, 4320, \'[{"store_id": "S01", "initial": 176,'
    ' "holdback": 142}]\')',
    "INSERT INTO workflows (workflow_id, category_id, season) VALUES ('W1', 'CAT1', 'Spring 2025')",
    "INSERT INTO markdowns (markdown_id, forecast_id, week_number, sell_through_pct, gap_pct,"
    " recommended_markdown_pct) VALUES ('M1', 'F1', 6, 0.5, 0.1, 0.2)",
]


def test_raw_sql_inserts_get_the_story_defaults(engine: Engine) -> None:
    with engine.begin() as connection:
        for statement in RAW_INSERTS:
            connection.execute(text(statement))
    with engine.connect() as connection:
        for (table_name, column), expected in STORY_DEFAULTS.items():
            stored = connection.execute(text(f"SELECT {column} FROM {table_name}")).scalar_one()
            if isinstance(expected, float):
                assert stored == pytest.approx(expected), (table_name, column)
            else:
                assert stored == expected, (table_name, column)
    now = datetime.now(UTC)
    with Session(engine) as session:
        for model in (models.Category, models.Forecast, models.Allocation, models.Markdown):
            created = session.scalars(sa.select(model.created_at)).one()
            assert created is not None and created.tzinfo is not None
            # The server's clock, not a constant or local time mislabelled as UTC.
            assert abs(created - now) < timedelta(minutes=5), (model.__name__, created)


def test_orm_objects_get_the_same_defaults(session: Session) -> None:
    tables = {t for t, _ in STORY_DEFAULTS}
    objects = {}
    for t in metadata.sorted_tables:
        if t.name in tables:
            omitted = {c for (table_name, c) in STORY_DEFAULTS if table_name == t.name}
            fields = {k: v for k, v in VALID_ROWS[t.name].items() if k not in omitted}
            objects[t.name] = MODEL_BY_TABLE[t.name](**fields)
            session.add(objects[t.name])
            session.flush()
    session.commit()
    for (table_name, column), expected in STORY_DEFAULTS.items():
        assert getattr(objects[table_name], column) == expected, (table_name, column)
