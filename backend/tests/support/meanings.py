"""The hand-written meanings cases (``data/meanings/``): twelve stores and a 12-week
season starting Saturday 2025-03-01, shared by the week, calendar and id tests."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app.database.db import make_engine
from backend.app.domain import records
from backend.tests.support.cli import run_ffdb
from backend.tests.support.exports import DATA_DIR

MEANINGS_DIR = DATA_DIR / "meanings"
STORES_FILE: Path = MEANINGS_DIR / "stores.csv"
SEASON_START = date(2025, 3, 1)  # a Saturday, as the system's own scenarios start
SEASON_WEEKS = 12
STORES = tuple(f"S{n:03d}" for n in range(1, 13))  # the ids STORES_FILE holds


def twelve_store_database(
    url: URL, capsys: pytest.CaptureFixture[str], categories: dict[str, str]
) -> Engine:
    """The twelve stores imported through ``ffdb import stores``, and ``categories``
    (id -> name) on the Saturday season; the caller disposes of the engine."""
    imported = run_ffdb(capsys, "import", "stores", str(STORES_FILE), "--database-url", url)
    assert imported.exit_code == 0, imported.stderr
    engine = make_engine(url)
    add_categories(engine, categories)
    return engine


def add_categories(engine: Engine, categories: dict[str, str]) -> None:
    """``categories`` (id -> name) on the Saturday season, committed."""
    with Session(engine) as session:
        for category_id, name in categories.items():
            records.upsert_category(
                session,
                category_id=category_id,
                category_name=name,
                season_start_date=SEASON_START,
                season_end_date=SEASON_START + timedelta(weeks=SEASON_WEEKS, days=-1),
                season_length_weeks=SEASON_WEEKS,
            )
        session.commit()
