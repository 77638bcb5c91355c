"""Shared by the ingest tests: running ``ffdb``, seeding a database, snapshotting it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from backend.app.cli.main import main
from backend.app.models import metadata

FIXTURES = Path("fixtures") / "retail-exports"
SEASON_START = "2025-02-17"  # week 1 of the normal_season actuals files
FORECAST_ID = "F_WD_2025"
CATEGORY_ID = "womens_dresses"


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def ffdb(capsys: pytest.CaptureFixture[str], url: URL | str, *args: str) -> Outcome:
    """Run ``ffdb ARGS --database-url URL`` through its error boundary."""
    rendered = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
    capsys.readouterr()
    try:
        main([*args, "--database-url", rendered])
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order: the database's full contents."""
    contents = {}
    with engine.connect() as connection:
        for name, table in sorted(metadata.tables.items()):
            order = ", ".join(str(i + 1) for i in range(len(table.columns)))
            rows = connection.execute(text(f"SELECT * FROM {name} ORDER BY {order}")).all()
            contents[name] = [tuple(row) for row in rows]
    return contents


def seed_season(engine: Engine) -> None:
    """The category whose season the fixture actuals belong to, and a forecast on it."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO categories (category_id, category_name, season_start_date, "
                "season_end_date, season_length_weeks) VALUES "
                "(:id, 'Women''s Dresses', :start, '2025-05-11', 12)"
            ),
            {"id": CATEGORY_ID, "start": _date(SEASON_START)},
        )
        connection.execute(
            text(
                "INSERT INTO forecasts (forecast_id, category_id, season, forecast_horizon_weeks, "
                "total_season_demand, weekly_demand_curve, peak_week, models_used) VALUES "
                "(:id, :category, 'Spring 2025', 12, 8000, '[]', 1, '[\"prophet\"]')"
            ),
            {"id": FORECAST_ID, "category": CATEGORY_ID},
        )


def _date(value: str) -> Any:
    from datetime import date

    return date.fromisoformat(value)


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path
