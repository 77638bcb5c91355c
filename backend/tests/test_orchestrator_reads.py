"""The reads the API serves, on both backends, against answers computed here from the
raw rows (plain ``select(Model)``): categories and a category's forecasts page by page,
a forecast by id with store counts, an allocation by forecast, markdowns with their
approval trail, a workflow with its steps; and ``ffdb workflow``."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from backend.app import queries
from backend.app.domain import approvals, records, workflows
from backend.app.domain.records import ClusterShare
from backend.app.models import (
    Category,
    Forecast,
    ForecastClusterDistribution,
    Store,
    StoreCluster,
    Workflow,
    WorkflowLog,
)
from backend.tests.support.cli import run_ffdb
from backend.tests.support.samples import SEASON_HELD, SEASON_SHIPPED, orchestrated_season

T0 = datetime(2025, 2, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def season(engine: Engine) -> Iterator[Engine]:
    """The orchestrated season, a re-forecast of F1 from week 5, more categories and
    forecasts to page through, a decided markdown and a workflow run with steps."""
    with Session(engine) as session:
        orchestrated_season(session)
        records.record_reforecast(
            session,
            forecast_id="F1-R5",
            revises_forecast_id="F1",
            from_week=5,
            total_season_demand=400,
            weekly_demand_curve=[{"week_number": w, "demand_units": 100} for w in range(5, 9)],
            cluster_distribution=[ClusterShare("C1", 1.0, 400)],
        )
        for name in ("Zeta", "Alpha", "Mid", "Beta"):
            records.upsert_category(
                session,
                category_id=f"CAT-{name.upper()}",
                category_name=name,
                season_start_date=date(2025, 2, 17),
                season_end_date=date(2025, 4, 13),
                season_length_weeks=8,
            )
        for number in range(5):
            records.record_forecast(
                session,
                forecast_id=f"F-EXTRA-{number}",
                category_id="WD",
                season="Autumn 2025",
                forecast_horizon_weeks=2,
                total_season_demand=10,
                weekly_demand_curve=[
                    {"week_number": 1, "demand_units": 4},
                    {"week_number": 2, "demand_units": 6},
                ],
                cluster_distribution=[ClusterShare("C2", 1.0, 10)],
            )
        records.record_markdown(
            session, markdown_id="M0", forecast_id="F1", week_number=2, recommended_markdown_pct=0
        )
        approvals.approve_markdown(session, "M1", actor="ana", at=T0 + timedelta(days=30))
        approvals.apply_markdown(session, "M1", actor="bob", at=T0 + timedelta(days=31))
        approvals.reject_markdown(session, "M0", actor="ana", at=T0 + timedelta(days=30))
        workflows.start_workflow(
            session, workflow_id="W1", category_id="WD", season="Spring 2025", at=T0
        )
        workflows.run(session, "W1", at=T0)
        for number, (agent, seconds) in enumerate(
            (("demand_agent", 2.5), ("inventory_agent", None), ("pricing_agent", 1.25)), 1
        ):
            workflows.record_step(
                session,
                "W1",
                agent_name=agent,
                action="act",
                input_data={"n": number},
                output_data={"done": number},
                duration_seconds=seconds,
                progress=number / 4,
                log_id=f"W1-{4 - number}",  # ids in the opposite order: time decides
                at=T0 + timedelta(minutes=number),
            )
        workflows.record_outputs(session, "W1", forecast_id="F1", allocation_id="A1")
        workflows.complete(session, "W1", at=T0 + timedelta(minutes=10))
        session.commit()
    yield engine


def test_step_durations_add_up_without_binary_noise(season: Engine) -> None:
    """0.1 + 0.2 is 0.30000000000000004 in floats; the run's total reads as a planner
    adds it up (to the microsecond, the timestamps' precision)."""
    with Session(season) as session:
        workflows.start_workflow(
            session, workflow_id="W-SUM", category_id="WD", season="Spring 2025", at=T0
        )
        workflows.run(session, "W-SUM", at=T0)
        for number, seconds in enumerate((0.1, 0.2), 1):
            workflows.record_step(
                session,
                "W-SUM",
                agent_name="demand_agent",
                action="act",
                duration_seconds=seconds,
                at=T0 + timedelta(minutes=number),
            )
        session.commit()
        assert queries.workflow_status(session, "W-SUM").total_duration_seconds == 0.3
        assert queries.workflow_trail(session, "W-SUM").total_duration_seconds == 0.3


def _all_pages(read: object, **options: object) -> tuple[list[str], int]:
    """Every key over all pages of ``read`` (a list read), and how many pages it took."""
    keys: list[str] = []
    after = None
    pages = 0
    while True:
        page = read(after=after, **options)  # type: ignore[operator]
        pages += 1
        keys.extend(item.model_dump()[next(iter(item.model_dump()))] for item in page.items)
        if page.next_after is None:
            return keys, pages
        assert page.next_after == keys[-1]
        after = page.next_after


def test_categories_page_by_key(season: Engine) -> None:
    with Session(season) as session:
        expected = sorted(c.category_id for c in session.scalars(select(Category)))
        keys, pages = _all_pages(lambda **o: queries.categories(session, **o), limit=2)
        assert keys == expected
        assert pages == 3  # 5 categories, 2 a page
        first = queries.categories(session, limit=2)
        # A category added before the cursor does not shift the next page (keyset).
        records.upsert_category(
            session,
            category_id="CAT-AAA",
            category_name="Added",
            season_start_date=date(2025, 2, 17),
            season_end_date=date(2025, 4, 13),
            season_length_weeks=8,
        )
        second = queries.categories(session, after=first.next_after, limit=2)
        assert [c.category_id for c in second.items] == expected[2:4]
        row = session.get(Category, "WD")
        assert row is not None
        read = queries.categories(session, after="CAT-ZETA", limit=5).items[0]
        assert read.model_dump() == {
            "category_id": "WD",
            "category_name": row.category_name,
            "season_start_date": row.season_start_date,
            "season_end_date": row.season_end_date,
            "season_length_weeks": row.season_length_weeks,
            "archetype": row.archetype,
            "description": row.description,
            "created_at": row.created_at,
        }
        with pytest.raises(queries.InvalidReadArgument, match="limit 0 is outside"):
            queries.categories(session, limit=0)


def test_forecasts_of_a_category_page_by_key(season: Engine) -> None:
    with Session(season) as session:
        expected = sorted(
            f.forecast_id for f in session.scalars(select(Forecast)) if f.category_id == "WD"
        )
        keys, pages = _all_pages(
            lambda **o: queries.forecasts_of_category(session, "WD", **o), limit=3
        )
        assert keys == expected  # the 5 extras, F1 and its re-forecast
        assert pages == 3
        page = queries.forecasts_of_category(session, "WD", after="F-EXTRA-4")
        assert [(f.forecast_id, f.from_week, f.revises_forecast_id) for f in page.items] == [
            ("F1", 1, None),
            ("F1-R5", 5, "F1"),
        ]
        assert queries.forecasts_of_category(session, "CAT-ALPHA").items == []
        with pytest.raises(queries.NotFound, match="category 'NOPE' does not exist"):
            queries.forecasts_of_category(session, "NOPE")


def test_forecast_by_id_with_curve_and_store_counts(season: Engine) -> None:
    with Session(season) as session:
        stores = Counter(store.cluster_id for store in session.scalars(select(Store)))
        names = {c.cluster_id: c.cluster_name for c in session.scalars(select(StoreCluster))}
        for forecast in session.scalars(select(Forecast)).all():
            got = queries.forecast_by_id(session, forecast.forecast_id)
            shares = sorted(
                (
                    share
                    for share in session.scalars(select(ForecastClusterDistribution))
                    if share.forecast_id == forecast.forecast_id
                ),
                key=lambda share: share.cluster_id,
            )
            assert [d.model_dump() for d in got.distribution] == [
                {
                    "cluster_id": share.cluster_id,
                    "cluster_name": names[share.cluster_id],
                    "allocation_percentage": share.allocation_percentage,
                    "total_units": share.total_units,
                    "store_count": stores.get(share.cluster_id, 0),
                }
                for share in shares
            ]
            assert [p.model_dump() for p in got.curve] == sorted(
                forecast.weekly_demand_curve, key=lambda p: p["week_number"]
            )
            assert (got.from_week, got.revises_forecast_id) == (
                forecast.from_week,
                forecast.revises_forecast_id,
            )
        f1 = queries.forecast_by_id(session, "F1")
        # C3 has no stores: its count is 0, not missing.
        assert [(d.cluster_id, d.store_count) for d in f1.distribution] == [
            ("C1", 2),
            ("C2", 1),
            ("C3", 0),
        ]
        assert f1.revised_by == ["F1-R5"]
        json.dumps(f1.to_json_object())  # JSON-ready
        with pytest.raises(queries.NotFound, match="forecast 'NOPE' does not exist"):
            queries.forecast_by_id(session, "NOPE")


def test_allocation_by_forecast_follows_a_reforecast_to_its_original(season: Engine) -> None:
    with Session(season) as session:
        for forecast_id in ("F1", "F1-R5"):
            got = queries.allocation_of_forecast(session, forecast_id)
            assert got.allocation_id == "A1"
            assert [(s.store_id, s.initial, s.holdback) for s in got.stores] == [
                (store, SEASON_SHIPPED[store], SEASON_HELD[store])
                for store in sorted(SEASON_SHIPPED)
            ]
        with pytest.raises(queries.NotFound, match="forecast 'F-EXTRA-0' has no allocation"):
            queries.allocation_of_forecast(session, "F-EXTRA-0")


def test_markdowns_of_a_forecast_with_their_trail(season: Engine) -> None:
    with Session(season) as session:
        got = queries.markdowns_of_forecast(session, "F1")
    assert [(m.markdown_id, m.week_number, m.status) for m in got] == [
        ("M0", 2, "rejected"),
        ("M1", 4, "applied"),
    ]
    assert [
        [(t.from_status, t.to_status, t.actor, t.changed_at) for t in m.trail] for m in got
    ] == [
        [("pending", "rejected", "ana", T0 + timedelta(days=30))],
        [
            ("pending", "approved", "ana", T0 + timedelta(days=30)),
            ("approved", "applied", "bob", T0 + timedelta(days=31)),
        ],
    ]
    with Session(season) as session:
        assert queries.markdowns_of_forecast(session, "F1-R5") == []


def test_workflow_with_steps_durations_and_outputs(season: Engine) -> None:
    with Session(season) as session:
        got = queries.workflow_status(session, "W1")
        logs = sorted(
            (log for log in session.scalars(select(WorkflowLog)) if log.workflow_id == "W1"),
            key=lambda log: (log.created_at, log.log_id),
        )
    assert [s.log_id for s in got.steps] == [log.log_id for log in logs] == ["W1-3", "W1-2", "W1-1"]
    assert [s.output_data for s in got.steps] == [{"done": 1}, {"done": 2}, {"done": 3}]
    assert got.total_duration_seconds == 2.5 + 1.25
    assert got.steps_without_duration == 1
    assert (got.status, got.progress, got.current_agent) == ("completed", 1.0, None)
    assert (got.forecast_id, got.allocation_id, got.parameter_id) == ("F1", "A1", None)
    assert got.finished_at == T0 + timedelta(minutes=10)
    assert got.elapsed_seconds == 600.0
    with Session(season) as session, pytest.raises(queries.NotFound, match="workflow 'NOPE'"):
        queries.workflow_status(session, "NOPE")


def test_workflows_of_a_category_page_by_key(season: Engine) -> None:
    with Session(season) as session:
        for number in range(4):
            workflows.start_workflow(
                session, workflow_id=f"W0-{number}", category_id="WD", season="Autumn 2025"
            )
        workflows.start_workflow(
            session, workflow_id="W-OTHER", category_id="CAT-BETA", season="Autumn 2025"
        )
        session.commit()
        expected = sorted(
            w.workflow_id for w in session.scalars(select(Workflow)) if w.category_id == "WD"
        )
        keys, pages = _all_pages(
            lambda **o: queries.workflows_of_category(session, "WD", **o), limit=2
        )
        assert keys == expected == ["W0-0", "W0-1", "W0-2", "W0-3", "W1"]
        assert pages == 3
        last = queries.workflows_of_category(session, "WD", after="W0-3").items
        assert [(w.workflow_id, w.status, w.progress, w.forecast_id) for w in last] == [
            ("W1", "completed", 1.0, "F1")
        ]
        with pytest.raises(queries.NotFound, match="category 'NOPE' does not exist"):
            queries.workflows_of_category(session, "NOPE")


def test_ffdb_workflow_prints_the_run_as_a_table_or_json(
    season: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    url = season.url
    table = run_ffdb(capsys, "workflow", "W1", "--database-url", url)
    assert table.exit_code == 0, table.output
    assert "Workflow W1 (WD, Spring 2025): completed, 100%" in " ".join(table.stdout.split())
    for agent in ("demand_agent.act", "inventory_agent.act", "pricing_agent.act"):
        assert agent in table.stdout
    result = run_ffdb(capsys, "workflow", "W1", "--format", "json", "--database-url", url)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    with Session(season) as session:
        assert printed == queries.workflow_status(session, "W1").to_json_object() | {
            "created_at": printed["created_at"]
        }
    assert printed["finished_at"] == "2025-02-10T09:10:00Z"
    assert [step["log_id"] for step in printed["steps"]] == ["W1-3", "W1-2", "W1-1"]
    missing = run_ffdb(capsys, "workflow", "NOPE", "--database-url", url)
    assert missing.exit_code == 1
    assert missing.output.strip().endswith("workflow 'NOPE' does not exist")
