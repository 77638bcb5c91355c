"""What the story's schema is made of, read from the models: tables, keys, indexes."""

from __future__ import annotations

from sqlalchemy import ForeignKeyConstraint

from backend.app.models import metadata as MODELS

STORY_TABLES = {
    "categories",
    "store_clusters",
    "stores",
    "season_parameters",
    "forecasts",
    "forecast_cluster_distribution",
    "allocations",
    "markdowns",
    "historical_sales",
    "actual_sales",
    "workflow_logs",
}
# Tables beyond the story's eleven, each for a reason the README gives.
EXTENSION_TABLES = {
    "store_extra_attributes",  # retailer store columns `stores` has no place for
    "workflows",  # the orchestrator's runs, whose steps are workflow_logs rows
    "markdown_status_changes",  # the approval trail of each markdown
}
# The performance indexes the story names.
STORY_INDEXES = {
    "idx_historical_sales_store_category",
    "idx_historical_sales_date",
    "idx_actual_sales_forecast_week",
    "idx_workflow_logs_workflow",
}


def foreign_keys() -> list[ForeignKeyConstraint]:
    """Every foreign key the models declare, in a stable order."""
    keys = [
        constraint
        for table in MODELS.sorted_tables
        for constraint in table.constraints
        if isinstance(constraint, ForeignKeyConstraint)
    ]
    return sorted(keys, key=lambda fk: str(fk.name))


def fk_columns(fk: ForeignKeyConstraint) -> tuple[str, str, str, str]:
    """(child table, child column, parent table, parent column) of a one-column key."""
    assert len(fk.elements) == 1, "the schema has one-column foreign keys only"
    element = fk.elements[0]
    return (
        fk.parent.name if fk.parent is not None else "",
        element.parent.name,
        element.column.table.name,
        element.column.name,
    )


def primary_key(table: str) -> str:
    """The name of ``table``'s one primary-key column."""
    (column,) = MODELS.tables[table].primary_key.columns
    return column.name


def ancestors(table: str) -> list[str]:
    """The tables a row of ``table`` needs first, parents before children."""
    needed: set[str] = set()

    def visit(current: str) -> None:
        for key in MODELS.tables[current].foreign_keys:
            parent = key.column.table.name
            if parent not in needed:
                needed.add(parent)
                visit(parent)

    visit(table)
    return [t.name for t in MODELS.sorted_tables if t.name in needed]
