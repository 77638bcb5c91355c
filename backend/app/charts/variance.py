"""The planner's picture of a forecast against its actuals, drawn with matplotlib.

Top panel: the forecast's weekly demand curve over its whole season, the actual units
of the weeks reported through week N (a week without actuals has no bar: missing is
not zero), and the markdown checkpoint week when the season names one. Bottom panel:
the cumulative variance (actual - forecast over the weeks reported so far, in % of the
forecast). The numbers are ``queries.frames.forecast_actuals_frame``'s, made from one
variance report (the one ``ffdb variance`` prints, passed in when it has been read), so
the chart shows exactly what ``ffdb variance`` prints.

The file type follows the extension (``.png`` or ``.svg``). SVG keeps its text as text
and names the drawn series by id (``forecast-curve``, ``actual-units``,
``cumulative-variance``, ``markdown-checkpoint``), so tools and tests can read them.
matplotlib is imported here, with the non-interactive Agg backend, on first use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from backend.app.queries.forecasts import forecast_curve
from backend.app.queries.frames import variance_frame
from backend.app.queries.season import forecast_season
from backend.app.queries.variance import forecast_variance
from backend.app.schemas.read_models import VarianceReport

CHART_SUFFIXES = (".png", ".svg")
# Stable element ids in the SVG.
FORECAST_ID = "forecast-curve"
ACTUALS_ID = "actual-units"
CUMULATIVE_ID = "cumulative-variance"
CHECKPOINT_ID = "markdown-checkpoint"


class ChartError(ValueError):
    """The chart cannot be written as asked (a file type other than PNG or SVG)."""


@dataclass(frozen=True)
class VarianceChart:
    """What was drawn, value for value: the chart's data without reading the picture."""

    path: Path
    forecast_id: str
    title: str
    through_week: int
    weeks: list[int]  # 1..horizon: the forecast curve's weeks
    forecast_units: list[int]
    actual_weeks: list[int]  # the weeks with actuals, through ``through_week``
    actual_units: list[int]
    cumulative_variance_pct: list[float | None]  # per actual week; None if forecast is 0
    checkpoint_week: int | None


def chart_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in CHART_SUFFIXES:
        raise ChartError(
            f"{path}: a chart is written as {' or '.join(CHART_SUFFIXES)}, not {suffix or '(none)'}"
        )
    return suffix[1:]


def plot_forecast_variance(
    session: Session,
    forecast_id: str,
    week: int,
    path: Path,
    *,
    report: VarianceReport | None = None,
) -> VarianceChart:
    """Write the chart of ``forecast_id`` with actuals through ``week`` to ``path``.
    ``report`` is ``forecast_variance(session, forecast_id, week)`` when the caller has
    already read it (``ffdb variance --plot`` prints it too): it is not read again."""
    import pandas as pd

    image_format = chart_format(path)
    if report is None:
        report = forecast_variance(session, forecast_id, week)
    elif (report.forecast_id, report.week) != (forecast_id, week):
        raise ValueError(
            f"the report is of {report.forecast_id} through week {report.week}, "
            f"not {forecast_id} through week {week}"
        )
    season = forecast_season(session, forecast_id)
    # The whole season's curve; actuals only through the week asked for.
    curve = forecast_curve(session, forecast_id)
    through = variance_frame(report, season.season_start_date)
    reported = through[through["actual_units"].notna()]
    chart = VarianceChart(
        path=path,
        forecast_id=forecast_id,
        title=f"{season.category_name} ({forecast_id}): forecast against actuals "
        f"through week {week}",
        through_week=week,
        weeks=[point.week_number for point in curve],
        forecast_units=[point.demand_units for point in curve],
        actual_weeks=[int(w) for w in reported["week_number"]],
        actual_units=[int(u) for u in reported["actual_units"]],
        cumulative_variance_pct=[
            None if pd.isna(v) else float(v) for v in reported["cumulative_variance_pct"]
        ],
        checkpoint_week=season.markdown_checkpoint_week,
    )
    _draw(chart, image_format)
    return chart


def _draw(chart: VarianceChart, image_format: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # SVG text stays text; ids are salted the same way each time.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "ffdb", "font.size": 9}):
        figure, (top, bottom) = plt.subplots(
            2, 1, figsize=(8, 5.5), sharex=True, height_ratios=(3, 1.4), layout="constrained"
        )
        try:
            _draw_units(top, chart)
            _draw_cumulative(bottom, chart)
            figure.suptitle(chart.title, fontsize=10)
            # No creation date in the file: the same data draws the same file.
            metadata = {"Date": None} if image_format == "svg" else {}
            figure.savefig(chart.path, format=image_format, dpi=120, metadata=metadata)
        finally:
            plt.close(figure)


def _draw_units(axes: object, chart: VarianceChart) -> None:
    from matplotlib.axes import Axes
    from matplotlib.ticker import StrMethodFormatter

    assert isinstance(axes, Axes)
    bars = axes.bar(
        chart.actual_weeks,
        chart.actual_units,
        width=0.6,
        color="#4c9be8",
        label=f"actual units ({len(chart.actual_weeks)} of weeks 1..{chart.through_week} reported)",
    )
    for week, bar in zip(chart.actual_weeks, bars.patches, strict=True):
        bar.set_gid(f"{ACTUALS_ID}-{week}")
    (curve,) = axes.plot(
        chart.weeks,
        chart.forecast_units,
        marker="o",
        color="#1f2d3d",
        linewidth=2,
        label="forecast units",
    )
    curve.set_gid(FORECAST_ID)
    if chart.checkpoint_week is not None:
        line = axes.axvline(
            chart.checkpoint_week,
            color="#d9534f",
            linestyle="--",
            label=f"markdown checkpoint (week {chart.checkpoint_week})",
        )
        line.set_gid(CHECKPOINT_ID)
    axes.set_ylabel("units per week")
    axes.set_ylim(bottom=0)
    axes.grid(axis="y", alpha=0.3)
    axes.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axes.legend(loc="lower right", frameon=True, framealpha=0.9)


def _draw_cumulative(axes: object, chart: VarianceChart) -> None:
    from matplotlib.axes import Axes
    from matplotlib.ticker import PercentFormatter

    assert isinstance(axes, Axes)
    values = [math.nan if v is None else 100 * v for v in chart.cumulative_variance_pct]
    (line,) = axes.plot(
        chart.actual_weeks, values, marker="s", color="#7a4fb5", label="cumulative variance"
    )
    line.set_gid(CUMULATIVE_ID)
    axes.axhline(0, color="#888888", linewidth=0.8)
    if chart.checkpoint_week is not None:
        axes.axvline(chart.checkpoint_week, color="#d9534f", linestyle="--")
    axes.yaxis.set_major_formatter(PercentFormatter(decimals=1))
    axes.set_ylabel("cumulative variance")
    axes.set_xlabel("season week")
    axes.set_xticks(chart.weeks)
    axes.grid(axis="y", alpha=0.3)
