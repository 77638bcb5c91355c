"""The example FastAPI app (``examples/forecast_api``) through TestClient, on both backends.

The app gets its sessions from the story's ``get_db`` reading ``DATABASE_URL``, exactly
as it would in production: the test points ``DATABASE_URL`` at its own database and
lets ``db.py`` build the default engine on first use.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app.database import db as database
from backend.app.database.db import make_engine
from backend.app.demo.sample_season import generate_sample_season
from backend.app.models import Forecast
from backend.tests.support.expected_reads import expected_variance
from backend.tests.support.snapshot import snapshot
from examples.forecast_api.main import app


@pytest.fixture
def client(migrated_url: URL, monkeypatch) -> Iterator[TestClient]:
    """The app on a database holding the demo season (actuals through week 6)."""
    engine = make_engine(migrated_url)
    generate_sample_season(engine, seed=42)
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", migrated_url.render_as_string(hide_password=False))
    monkeypatch.setattr(database, "_default_engine", None)
    monkeypatch.setattr(database, "_default_sessions", None)
    try:
        with TestClient(app) as test_client:
            yield test_client
    finally:
        made: Engine | None = database._default_engine
        if made is not None:
            made.dispose()


FORECAST_ID = "FC-CAT-WD-SS25"
STORES = [f"S{n:03d}" for n in range(1, 51)]
WEEK_7 = "store_id,week_number,units_sold\n" + "".join(
    f"{store},7,{n}\n" for n, store in enumerate(STORES, start=1)
)


def test_upload_actuals_then_read_the_variance(client: TestClient, migrated_url: URL) -> None:
    answer = client.post(
        f"/forecasts/{FORECAST_ID}/actuals",
        files={"file": ("week7.csv", WEEK_7.encode(), "text/csv")},
    )
    assert answer.status_code == 200, answer.text
    rows = len(STORES)
    assert answer.json() == {
        "file": "week7.csv",
        "kind": "weekly actuals",
        "rows_read": rows,
        "inserted": rows,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
    }
    engine = make_engine(migrated_url)
    try:
        with Session(engine) as session:
            forecast = session.get(Forecast, FORECAST_ID)
            assert forecast is not None
            expected = expected_variance(session, forecast, 9)
    finally:
        engine.dispose()
    answer = client.get(f"/forecasts/{FORECAST_ID}/variance", params={"week": 9})
    assert answer.status_code == 200, answer.text
    got = answer.json()
    actuals = [w["actual_units"] for w in got["weeks"]]
    assert actuals == [w["actual_units"] for w in expected["weeks"]]
    assert actuals[6] == sum(range(1, 51)) and actuals[7:] == [None, None]
    assert got["cumulative"]["actual_units"] == expected["cumulative"]["actual_units"]


def test_a_refused_upload_lists_its_problems_and_writes_nothing(
    client: TestClient, migrated_url: URL
) -> None:
    before = snapshot(migrated_url)
    bad = "store_id,week_number,units_sold\nS001,8,5\nS404,8,-2\nS002,8,x\n"
    answer = client.post(
        f"/forecasts/{FORECAST_ID}/actuals",
        params={"allow_partial": True},
        files={"file": ("bad.csv", bad.encode(), "text/csv")},
    )
    assert answer.status_code == 422
    body = answer.json()
    assert body["file"] == "bad.csv"
    assert body["total"] == len(body["problems"]) >= 3
    problems = {(p["line"], p["column"]): p for p in body["problems"]}
    assert problems[3, "units_sold"]["value"] == "-2"
    assert problems[3, "store_id"]["message"].startswith("unknown store")
    assert problems[4, "units_sold"]["value"] == "x"
    assert snapshot(migrated_url) == before


def test_parquet_history_upload_and_errors(client: TestClient) -> None:
    sink = io.BytesIO()
    pq.write_table(
        pa.table(
            {
                "week_start_date": pa.array(["2030-01-07", "2030-01-07"]),
                "store_id": ["S001", "S002"],
                "category_id": ["CAT-WD", "CAT-WD"],
                "units_sold": pa.array([4, 9], pa.int64()),
            }
        ),
        sink,
    )
    answer = client.post(
        "/historical-sales", files={"file": ("h.parquet", sink.getvalue(), "application/x")}
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["kind"], answer.json()["inserted"]) == ("weekly historical-sales", 2)

    assert client.get("/forecasts/NOPE/variance", params={"week": 1}).status_code == 404
    assert client.get(f"/forecasts/{FORECAST_ID}/variance", params={"week": 99}).status_code == 422
    missing = client.post("/forecasts/NOPE/actuals", files={"file": ("w.csv", WEEK_7.encode())})
    assert missing.status_code == 404


def test_sessions_come_from_get_db(client: TestClient, migrated_url: URL) -> None:
    """Requests really went through the default engine that get_db builds from DATABASE_URL."""
    assert client.get(f"/forecasts/{FORECAST_ID}/variance", params={"week": 1}).status_code == 200
    made = database._default_engine
    assert made is not None
    assert made.url.render_as_string(hide_password=False) == migrated_url.render_as_string(
        hide_password=False
    )
    with made.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM stores")).scalar() == len(STORES)
