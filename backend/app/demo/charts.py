"""The demo's pictures: one forecast-against-actuals chart per category of the season."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from backend.app.charts.variance import plot_forecast_variance
from backend.app.demo.sample_season import DemoSummary


def write_demo_charts(
    engine: Engine, summary: DemoSummary, folder: Path, prefix: str
) -> list[Path]:
    """``<prefix>-<forecast_id>.png`` in ``folder`` for each category's forecast, through
    the weeks that have actuals; returns the paths in category order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    with Session(engine) as session:
        for category_id in summary.category_ids:
            forecast_id = summary.forecast_ids[category_id]
            path = folder / f"{prefix}-{forecast_id}.png"
            plot_forecast_variance(session, forecast_id, summary.actual_weeks, path)
            paths.append(path)
    return paths
