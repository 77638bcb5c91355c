"""One sell-through for every path, and missing actuals that are not zero, on both backends.

The read database holds the demo season (seed 42: actual sales for weeks 1..6 and a
markdown decision at week 6 per category) and the read tests' edge cases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app.database.db import make_engine
from backend.app.domain import records
from backend.app.domain.rules import DomainRuleError
from backend.app.maintenance import definitions
from backend.app.models import Allocation, Markdown
from backend.tests.support.cli import Result, run_ffdb
from backend.tests.support.databases import READS, DatabaseCache

WD = "FC-CAT-WD-SS25"
CATEGORIES = ("CAT-WD", "CAT-MO", "CAT-AC")


def _json(outcome: Result) -> Any:
    assert outcome.exit_code == 0, outcome.stderr
    return json.loads(outcome.stdout)


@pytest.fixture
def writable_url(database_cache: DatabaseCache, tmp_path: Path) -> Iterator[URL]:
    """A copy of the read database that a test may change."""
    with database_cache.copy(READS, tmp_path / "writable.db") as url:
        yield url


# --- one sell-through ---------------------------------------------------------------------


def test_every_demo_markdown_agrees_with_ffdb_sell_through(
    reads_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(reads_url)
    try:
        with Session(engine) as session:
            markdowns = {
                m.forecast_id: m
                for m in session.scalars(select(Markdown).where(Markdown.markdown_id.like("MD-%")))
            }
            shipped = {
                a.forecast_id: sum(item["initial"] for item in a.store_allocations)
                for a in session.scalars(select(Allocation))
            }
    finally:
        engine.dispose()
    assert sorted(markdowns) == sorted(f"FC-{category}-SS25" for category in CATEGORIES)
    for forecast_id, markdown in markdowns.items():
        week = str(markdown.week_number)
        measured = _json(
            run_ffdb(
                capsys,
                "sell-through",
                forecast_id,
                "--week",
                week,
                "--format",
                "json",
                "--database-url",
                reads_url,
            )
        )
        assert list(measured) == [
            "forecast_id",
            "week",
            "units_sold",
            "units_shipped",
            "sell_through_pct",
            "target_sell_through_pct",
            "gap_pct",
        ]
        assert measured["units_shipped"] == shipped[forecast_id]  # units shipped to stores
        assert measured["sell_through_pct"] == pytest.approx(
            measured["units_sold"] / measured["units_shipped"]
        )
        assert abs(measured["sell_through_pct"] - markdown.sell_through_pct) <= 1e-4
        assert abs(measured["gap_pct"] - markdown.gap_pct) <= 1e-4
        # Both say the same thing about the target: ahead or behind.
        assert (measured["gap_pct"] > 0) == (markdown.gap_pct > 0)


def test_sell_through_table_and_its_refusals(
    reads_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    table = run_ffdb(
        capsys, "sell-through", WD, "--week", "6", "--target", "0.5", "--database-url", reads_url
    )
    assert table.exit_code == 0, table.stderr
    assert "Forecast FC-CAT-WD-SS25: sell-through through week 6" in table.stdout
    assert "50.0%" in table.stdout  # the target given
    for args, message in (
        (("NOPE", "--week", "1"), "error: forecast 'NOPE' does not exist"),
        (("EDGE_F1", "--week", "1"), "error: forecast 'EDGE_F1' has no allocation to measure"),
        ((WD, "--week", "13"), "error: week 13 is outside forecast 'FC-CAT-WD-SS25''s horizon"),
    ):
        outcome = run_ffdb(capsys, "sell-through", *args, "--database-url", reads_url)
        assert outcome.exit_code != 0 and outcome.stderr.startswith(message), outcome.stderr


def test_the_markdown_write_rule_measures_with_the_same_definition(writable_url: URL) -> None:
    engine = make_engine(writable_url)
    try:
        with Session(engine) as session:
            measured = definitions.sell_through(session, WD, 4)
            markdown = records.record_markdown(
                session,
                markdown_id="MD-WD-W04",
                forecast_id=WD,
                week_number=4,
                recommended_markdown_pct=0.1,
            )
            assert markdown.sell_through_pct == measured.sell_through_pct
            assert markdown.gap_pct == measured.gap_pct
            with pytest.raises(DomainRuleError) as refused:
                records.record_markdown(
                    session,
                    markdown_id="MD-WD-W05",
                    forecast_id=WD,
                    week_number=5,
                    sell_through_pct=0.9,
                    recommended_markdown_pct=0.0,
                )
            assert refused.value.rule == "markdown_sell_through"
            session.rollback()
    finally:
        engine.dispose()


# --- missing is not zero ------------------------------------------------------------------


def test_weeks_without_actuals_are_null_and_left_out_of_the_cumulative(
    reads_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    """Actuals loaded through week 6, variance asked through week 9 (the issue's case)."""
    through_6 = _json(
        run_ffdb(
            capsys, "variance", WD, "--week", "6", "--format", "json", "--database-url", reads_url
        )
    )
    through_9 = _json(
        run_ffdb(
            capsys, "variance", WD, "--week", "9", "--format", "json", "--database-url", reads_url
        )
    )
    assert through_9["weeks"][:6] == through_6["weeks"]
    for week in through_9["weeks"][6:]:
        assert week["actual_units"] is None
        assert week["variance_units"] is None and week["variance_pct"] is None
        assert week["stores_reported"] == 0 and week["partial"] is False
    assert through_9["cumulative"] == through_6["cumulative"]
    cumulative = through_9["cumulative"]
    assert cumulative["weeks_reported"] == 6 and cumulative["weeks_partial"] == 0
    reported = through_9["weeks"][:6]
    assert cumulative["forecast_units"] == sum(w["forecast_units"] for w in reported)
    assert cumulative["actual_units"] == sum(w["actual_units"] for w in reported)
    assert abs(cumulative["variance_pct"]) < 0.2  # no false alarm from weeks not yet loaded
    assert all(w["stores_reported"] == 50 for w in reported)
    assert (
        '"actual_units": null'
        in run_ffdb(
            capsys, "variance", WD, "--week", "9", "--format", "json", "--database-url", reads_url
        ).stdout
    )

    table = run_ffdb(capsys, "variance", WD, "--week", "9", "--database-url", reads_url)
    assert table.exit_code == 0, table.stderr
    rows = [
        [cell.strip() for cell in line.strip("│ ").split("│")]
        for line in table.stdout.splitlines()
        if line.startswith("│")
    ]
    by_week = {row[0]: row for row in rows if row[0].isdigit()}
    assert [by_week[str(week)][2:6] for week in (7, 8, 9)] == [["-", "-", "-", "-"]] * 3
    assert by_week["6"][5] == "50/50"
    cumulative_row = next(row for row in rows if row[0] == "Cumulative")
    assert cumulative_row[5] == "6 weeks"


def test_a_week_where_allocated_stores_have_no_row_is_partial(
    writable_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(writable_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "DELETE FROM actual_sales WHERE forecast_id = :forecast "
                    "AND store_id IN ('S007', 'S008') AND week_number = 3"
                ),
                {"forecast": WD},
            )
    finally:
        engine.dispose()
    report = _json(
        run_ffdb(
            capsys,
            "variance",
            WD,
            "--week",
            "6",
            "--format",
            "json",
            "--database-url",
            writable_url,
        )
    )
    assert report["stores_allocated"] == 50
    week_3 = report["weeks"][2]
    assert (week_3["stores_reported"], week_3["partial"]) == (48, True)
    assert week_3["actual_units"] is not None
    assert [w["partial"] for w in report["weeks"]] == [False, False, True, False, False, False]
    assert report["cumulative"]["weeks_partial"] == 1
    table = run_ffdb(capsys, "variance", WD, "--week", "6", "--database-url", writable_url)
    assert "48/50 (partial)" in table.stdout
