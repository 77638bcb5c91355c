"""The agents' read paths: one module per family, each read a function with typed results.

Every function takes a ``Session`` and returns read models from
``backend.app.schemas.read_models``; none writes. Unknown keys and arguments out of
range raise ``ReadError`` subclasses with a message naming the key and value.
"""

from backend.app.queries.allocations import (
    allocation_of_forecast,
    allocation_with_stores,
    latest_allocation_id,
)
from backend.app.queries.categories import categories
from backend.app.queries.errors import InvalidReadArgument, NotFound, ReadError
from backend.app.queries.forecasts import (
    forecast_by_id,
    forecasts_of_category,
    latest_forecast,
    revision_chain,
    season_forecast_id,
)
from backend.app.queries.history import weekly_history
from backend.app.queries.markdowns import markdowns_of_forecast
from backend.app.queries.sell_through import sell_through_to_date
from backend.app.queries.stores import clusters_with_store_counts, stores_of_cluster
from backend.app.queries.variance import forecast_variance
from backend.app.queries.workflow import workflow_status, workflow_trail, workflows_of_category

__all__ = [
    "InvalidReadArgument",
    "NotFound",
    "ReadError",
    "allocation_of_forecast",
    "allocation_with_stores",
    "categories",
    "clusters_with_store_counts",
    "forecast_by_id",
    "forecast_variance",
    "forecasts_of_category",
    "latest_allocation_id",
    "latest_forecast",
    "markdowns_of_forecast",
    "revision_chain",
    "season_forecast_id",
    "sell_through_to_date",
    "stores_of_cluster",
    "weekly_history",
    "workflow_status",
    "workflow_trail",
    "workflows_of_category",
]
