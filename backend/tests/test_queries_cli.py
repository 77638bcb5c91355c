"""``ffdb variance`` as a user runs it, through the CLI's error boundary, on both backends."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app.cli.main import main
from backend.app.database.db import make_engine
from backend.app.models import Forecast
from backend.tests.support.expected_reads import expected_variance, rounded

DEMO_FORECAST = "FC-CAT-WD-SS25"


def run(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


def test_variance_json_is_one_object_with_the_independent_answer(
    reads_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    url = reads_url.render_as_string(hide_password=False)
    code = run(
        ["variance", DEMO_FORECAST, "--week", "4", "--format", "json", "--database-url", url]
    )
    out = capsys.readouterr().out
    assert code == 0
    document = json.loads(out)  # the whole of stdout is one JSON document
    assert list(document) == [
        "forecast_id",
        "week",
        "stores_allocated",
        "weeks",
        "cumulative",
        "stores",
    ]
    assert list(document["weeks"][0]) == [
        "week_number",
        "forecast_units",
        "actual_units",
        "variance_units",
        "variance_pct",
        "stores_reported",
        "partial",
    ]
    assert list(document["cumulative"]) == [
        "weeks_reported",
        "weeks_partial",
        "forecast_units",
        "actual_units",
        "variance_units",
        "variance_pct",
    ]
    assert list(document["stores"][0]) == [
        "store_id",
        "units_sold",
        "units_shipped",
        "sell_through_pct",
    ]
    engine = make_engine(reads_url)
    try:
        with Session(engine) as session:
            forecast = session.scalars(
                select(Forecast).where(Forecast.forecast_id == DEMO_FORECAST)
            ).one()
            expected = expected_variance(session, forecast, 4)
    finally:
        engine.dispose()
    assert rounded(document) == rounded(expected)


def test_variance_table_shows_weeks_cumulative_and_stores(
    reads_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    url = reads_url.render_as_string(hide_password=False)
    assert run(["variance", "EDGE_F2", "--week", "3", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert "Forecast EDGE_F2: variance through week 3" in out
    assert "Cumulative" in out
    # Week 2 forecasts 0 units: its percentage is shown as '-', not a division error.
    week_two = next(line for line in out.splitlines() if line.strip("│ ").startswith("2 "))
    cells = [cell.strip() for cell in week_two.strip("│ ").split("│")]
    assert cells[0] == "2" and cells[4] == "-"
    for store_id in ("EDGE_S1", "EDGE_S2", "EDGE_S3", "EDGE_S4"):
        assert store_id in out


@pytest.mark.parametrize(
    ("forecast_id", "week", "message"),
    [
        ("NOPE", "1", "error: forecast 'NOPE' does not exist"),
        ("EDGE_F2", "0", "error: week 0 is outside forecast 'EDGE_F2''s horizon 1..6"),
        ("EDGE_F2", "7", "error: week 7 is outside forecast 'EDGE_F2''s horizon 1..6"),
    ],
)
def test_variance_errors_are_one_line_and_a_nonzero_exit(
    reads_url: URL,
    capsys: pytest.CaptureFixture[str],
    forecast_id: str,
    week: str,
    message: str,
) -> None:
    url = reads_url.render_as_string(hide_password=False)
    code = run(["variance", forecast_id, "--week", week, "--format", "json", "--database-url", url])
    captured = capsys.readouterr()
    assert code != 0
    assert captured.out == ""
    assert captured.err.strip().splitlines() == [message]
