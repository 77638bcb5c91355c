"""All models, imported in one place: ``metadata`` holds every table of the schema.

Import ``metadata`` or ``tables_in_dependency_order`` from here instead of importing
the package for its side effect of registering tables.
"""

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
from backend.app.models.parameters import SeasonParameters
from backend.app.models.store import Store
from backend.app.models.store_cluster import StoreCluster
from backend.app.models.store_extra_attributes import StoreExtraAttributes
from backend.app.models.workflow_log import WorkflowLog

metadata: MetaData = Base.metadata
# After every model is imported: each string key column gets its length CHECK.
add_key_length_checks(metadata)


def tables_in_dependency_order() -> list[Table]:
    """Every table, parents before children (the order to create, copy or count in)."""
    return list(metadata.sorted_tables)


__all__ = [
    "KEY_MAX_LENGTH",
    "ActualSales",
    "Allocation",
    "Category",
    "Forecast",
    "ForecastClusterDistribution",
    "HistoricalSales",
    "Markdown",
    "SeasonParameters",
    "Store",
    "StoreCluster",
    "StoreExtraAttributes",
    "WorkflowLog",
    "metadata",
    "tables_in_dependency_order",
]
