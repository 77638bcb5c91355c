"""Charts: ``ffdb variance --plot`` and the demo's charts draw what the reads say.

The SVG is read back (its text, the named series and their coordinates) and compared
with the numbers computed from the raw rows (``expected_reads``), on both backends.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app.charts.variance import ChartError, plot_forecast_variance
from backend.app.database.db import make_engine
from backend.app.demo.charts import DOCS_CHART, write_docs_chart
from backend.app.models import Forecast
from backend.app.queries import forecast_variance
from backend.tests.support.cli import run_ffdb
from backend.tests.support.expected_reads import expected_variance

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def db(reads_url: URL):
    engine = make_engine(reads_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def _svg(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def _group(root: ET.Element, gid: str) -> ET.Element | None:
    return next((g for g in root.iter(f"{SVG}g") if g.get("id") == gid), None)


def _points(root: ET.Element, gid: str) -> list[tuple[float, float]]:
    group = _group(root, gid)
    assert group is not None, gid
    path = group.find(f"{SVG}path")
    assert path is not None
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.get("d", ""))]
    return list(zip(numbers[::2], numbers[1::2], strict=True))


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def _linear(values: list[float], ys: list[float]) -> bool:
    """Whether screen heights are one straight-line function of the values."""
    (v0, y0), (v1, y1) = (values[0], ys[0]), (values[-1], ys[-1])
    slope = (y1 - y0) / (v1 - v0)
    return all(abs(y0 + slope * (v - v0) - y) < 0.01 for v, y in zip(values, ys, strict=True))


def test_svg_shows_the_curve_actuals_cumulative_and_checkpoint(db: Session, tmp_path: Path) -> None:
    forecast = db.get(Forecast, "FC-CAT-WD-SS25")
    assert forecast is not None
    expected = expected_variance(db, forecast, 9)
    reported = [w for w in expected["weeks"] if w["actual_units"] is not None]
    curve = sorted(forecast.weekly_demand_curve, key=lambda p: p["week_number"])

    chart = plot_forecast_variance(db, "FC-CAT-WD-SS25", 9, tmp_path / "wd.svg")

    assert chart.forecast_units == [p["demand_units"] for p in curve]
    assert chart.actual_weeks == [w["week_number"] for w in reported]
    assert chart.actual_units == [w["actual_units"] for w in reported]
    planned = actual = 0
    for week, pct in zip(reported, chart.cumulative_variance_pct, strict=True):
        planned += week["forecast_units"]
        actual += week["actual_units"]
        assert pct == pytest.approx((actual - planned) / planned)
    assert chart.checkpoint_week == 6  # the demo's season parameters

    root = _svg(chart.path)
    texts = _texts(root)
    assert any("Women's Dresses (FC-CAT-WD-SS25)" in text for text in texts)
    assert "markdown checkpoint (week 6)" in texts
    # The curve: one vertex per season week, heights proportional to the units.
    points = _points(root, "forecast-curve")
    assert len(points) == len(curve)
    assert _linear([float(u) for u in chart.forecast_units], [y for _, y in points])
    # A bar for each reported week only: weeks 7..9 have no actuals, and no bar.
    bars = {g.get("id") for g in root.iter(f"{SVG}g") if g.get("id", "").startswith("actual-")}
    assert bars == {f"actual-units-{w}" for w in chart.actual_weeks}
    assert len(_points(root, "cumulative-variance")) == len(reported)
    checkpoint = _points(root, "markdown-checkpoint")
    assert checkpoint[0][0] == pytest.approx(points[5][0])  # drawn at week 6's x


def test_a_report_already_read_is_drawn_without_reading_it_again(
    db: Session, tmp_path: Path
) -> None:
    """``ffdb variance --plot`` prints the report and draws it: the chart is made from
    that one report (no actual_sales read again) and is the chart of the forecast."""
    report = forecast_variance(db, "FC-CAT-WD-SS25", 9)
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        given = plot_forecast_variance(db, "FC-CAT-WD-SS25", 9, tmp_path / "a.svg", report=report)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert statements and not [s for s in statements if "actual_sales" in s]
    read = plot_forecast_variance(db, "FC-CAT-WD-SS25", 9, tmp_path / "b.svg")
    assert {**vars(given), "path": None} == {**vars(read), "path": None}
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()
    with pytest.raises(ValueError, match="through week 9, not FC-CAT-WD-SS25 through week 8"):
        plot_forecast_variance(db, "FC-CAT-WD-SS25", 8, tmp_path / "c.svg", report=report)


def test_a_season_without_checkpoint_or_actuals_draws_no_such_marks(
    db: Session, tmp_path: Path
) -> None:
    chart = plot_forecast_variance(db, "EDGE_F1", 6, tmp_path / "edge.svg")
    assert (chart.checkpoint_week, chart.actual_weeks) == (None, [])
    root = _svg(chart.path)
    assert _group(root, "markdown-checkpoint") is None
    assert not [g for g in root.iter(f"{SVG}g") if g.get("id", "").startswith("actual-units-")]
    assert len(_points(root, "forecast-curve")) == 6


def test_png_by_extension_and_other_types_refused(db: Session, tmp_path: Path) -> None:
    chart = plot_forecast_variance(db, "FC-CAT-MO-SS25", 6, tmp_path / "mo.PNG")
    header = chart.path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    assert width > height > 300
    with pytest.raises(ChartError, match=r"\.png or \.svg, not \.pdf"):
        plot_forecast_variance(db, "FC-CAT-MO-SS25", 6, tmp_path / "mo.pdf")


def test_cli_variance_plot(reads_url: URL, tmp_path: Path, capsys) -> None:
    output = tmp_path / "ac.svg"
    outcome = run_ffdb(
        capsys, "variance", "FC-CAT-AC-SS25", "--week", "6", "--plot", output,
        "--database-url", reads_url,
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    assert f"chart written to {output}" in outcome.stderr
    assert len(_points(_svg(output), "forecast-curve")) == 12
    refused = run_ffdb(
        capsys, "variance", "FC-CAT-AC-SS25", "--week", "6", "--plot", tmp_path / "ac.gif",
        "--database-url", reads_url,
    )  # fmt: skip
    assert refused.exit_code == 1
    assert "a chart is written as .png or .svg, not .gif" in refused.stderr
    assert not (tmp_path / "ac.gif").exists()


def test_demo_writes_one_chart_per_category(
    empty_database_url: URL, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may land in the current folder unasked
    sqlite = empty_database_url.get_backend_name() == "sqlite"
    # SQLite: beside the database file, named after it (test.db); PostgreSQL: --charts.
    charts = tmp_path / "charts"
    if not sqlite:  # no file to draw beside: only when asked, never in the current folder
        plain = run_ffdb(capsys, "demo", "--database-url", empty_database_url)
        assert plain.exit_code == 0, plain.output
        assert "Charts: give --charts DIR to draw one per category." in plain.stdout
        assert not list(tmp_path.rglob("*.png"))
    extra = () if sqlite else ("--charts", str(charts))
    outcome = run_ffdb(capsys, "demo", "--database-url", empty_database_url, *extra)
    assert outcome.exit_code == 0, outcome.output
    lines = outcome.stdout.splitlines()
    start = lines.index("Forecast against actuals, one chart per category:")
    paths = [Path(line.strip()) for line in lines[start + 1 : start + 4]]
    prefix = "test" if sqlite else "demo"
    assert [p.name for p in paths] == [
        f"{prefix}-FC-CAT-{category}-SS25.png" for category in ("WD", "MO", "AC")
    ]
    folder = Path(str(empty_database_url.database)).parent if sqlite else charts
    for path in paths:
        assert path.parent.resolve() == folder.resolve()
        assert path.read_bytes()[:4] == b"\x89PNG"


def test_the_readme_chart_generator_runs_and_matches_the_committed_chart(tmp_path: Path) -> None:
    chart = write_docs_chart(tmp_path / "docs.svg")
    assert (chart.forecast_id, chart.through_week) == ("FC-CAT-WD-SS25", 9)
    assert chart.actual_weeks == [1, 2, 3, 4, 5, 6] and chart.checkpoint_week == 6
    fresh = _svg(chart.path)
    committed_path = Path(__file__).resolve().parents[2] / DOCS_CHART
    committed = _svg(committed_path)  # `make docs-chart` writes it
    assert _texts(fresh) == _texts(committed)
    for gid in ("forecast-curve", "cumulative-variance", "markdown-checkpoint"):
        assert _points(fresh, gid) == _points(committed, gid), gid
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert f"]({DOCS_CHART})" in readme
