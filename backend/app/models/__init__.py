"""All models, imported in one place: ``metadata`` holds every table of the schema.

Import ``metadata`` or ``tables_in_dependency_order`` from here instead of importing
the package for its side effect of registering tables.
"""

from typing import Any

from sqlalchemy import MetaData, Table

from backend.app.database.base import Base
from backend.app.models.actual_sales import ActualSales
from backend.app.models.allocation import Allocation
from backend.app.models.category import Category
from backend.app.models.forecast import Forecast
from backend.app.models.forecast_cluster_distribution import ForecastClusterDistribution
from backend.app.models.historical_sales import HistoricalSales
from backend.app.models.keys import KEY_MAX_LENGTH, add_key_length_checks
from backend.app.models.markdown import Markdown
from backend.app.models.markdown_status_change import MarkdownStatusChange
from backend.app.models.parameters import SeasonParameters
from backend.app.models.store import Store
from backend.app.models.store_cluster import StoreCluster
from backend.app.models.store_extra_attributes import StoreExtraAttributes
from backend.app.models.workflow import Workflow
from backend.app.models.workflow_log import WorkflowLog

metadata: MetaData = Base.metadata
# After every model is imported: each string key column gets its length CHECK.
add_key_length_checks(metadata)


def tables_in_dependency_order() -> list[Table]:
    """Every table, parents before children (the order to create, copy or count in)."""
    return list(metadata.sorted_tables)


# Tables whose rows reference rows of the same table: the columns to copy them in so
# that a referenced row always comes first (a revision's from_week is later than the
# from_week of the forecast it revises).
_SELF_REFERENCE_ORDER = {"forecasts": ("from_week", "forecast_id")}


def copy_order(table: Table) -> list[Any]:
    """The columns to read ``table`` in when copying it row by row: the primary key,
    unless rows reference rows of the same table (then parents first)."""
    names = _SELF_REFERENCE_ORDER.get(table.name)
    if names is None:
        return list(table.primary_key.columns)
    return [table.c[name] for name in names]


__all__ = [
    "KEY_MAX_LENGTH",
    "ActualSales",
    "Allocation",
    "Category",
    "Forecast",
    "ForecastClusterDistribution",
    "HistoricalSales",
    "Markdown",
    "MarkdownStatusChange",
    "SeasonParameters",
    "Store",
    "StoreCluster",
    "StoreExtraAttributes",
    "Workflow",
    "WorkflowLog",
    "copy_order",
    "metadata",
    "tables_in_dependency_order",
]
