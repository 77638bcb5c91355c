"""The demo's pictures: one forecast-against-actuals chart per category of the season."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from backend.app.charts.variance import VarianceChart, plot_forecast_variance
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


DOCS_CHART = Path("docs/img/variance-FC-CAT-WD-SS25.svg")
DOCS_FORECAST = "FC-CAT-WD-SS25"
DOCS_WEEK = 9  # actuals through week 6: weeks 7..9 show as missing, not as zeros


def write_docs_chart(path: Path = DOCS_CHART, seed: int = 42) -> VarianceChart:
    """The README's chart: the demo season (``seed``) in a throwaway SQLite database,
    its Women's Dresses forecast against actuals through week 9, drawn to ``path``."""
    from backend.app.database.db import make_engine
    from backend.app.demo.sample_season import generate_sample_season
    from backend.app.maintenance import migrate

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ffdb-docs-") as folder:
        url = f"sqlite:///{Path(folder) / 'docs.db'}"
        migrate.upgrade(url, "head")
        engine = make_engine(url)
        try:
            generate_sample_season(engine, seed)
            with Session(engine) as session:
                return plot_forecast_variance(session, DOCS_FORECAST, DOCS_WEEK, path)
        finally:
            engine.dispose()


if __name__ == "__main__":  # make docs-chart
    print(write_docs_chart(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS_CHART).path)
