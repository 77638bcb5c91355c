"""All models, imported in one place so Alembic and the mappers see every table."""

from backend.app.models.actual_sales import ActualSales
from backend.app.models.allocation import Allocation
from backend.app.models.category import Category
from backend.app.models.forecast import Forecast
from backend.app.models.forecast_cluster_distribution import ForecastClusterDistribution
from backend.app.models.historical_sales import HistoricalSales
from backend.app.models.markdown import Markdown
from backend.app.models.parameters import SeasonParameters
from backend.app.models.store import Store
from backend.app.models.store_cluster import StoreCluster
from backend.app.models.store_extra_attributes import StoreExtraAttributes
from backend.app.models.workflow_log import WorkflowLog

__all__ = [
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
]
