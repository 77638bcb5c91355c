"""Code the reliability tests run in child processes (spawned: importable by name).

Kept out of the test modules so a spawned child imports only what it needs. The parent
rows the writers need are ``samples.writers_parents``.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Engine

from backend.app.database.db import make_engine, session_scope
from backend.app.maintenance.schema_version import alembic_config, script_directory
from backend.app.models import ActualSales, WorkflowLog
from backend.app.models.enums import WorkflowStatus

LOGS_PER_WRITER = 500
SALES_PER_WRITER = 50
LOGS_PER_TRANSACTION = 5
STORES = 5  # 5 stores x 12 weeks = 60 (store, week) slots per forecast, 50 used
WEEKS = 12


def forecast_id(writer: int) -> str:
    return f"F-{writer:02d}"


def log_id(writer: int, number: int) -> str:
    return f"log-{writer:02d}-{number:04d}"


def actual_id(writer: int, number: int) -> str:
    return f"act-{writer:02d}-{number:03d}"


def write_rows(url: str, writer: int, start: Barrier, results: Any) -> None:
    """One agent: short transactions (5 log rows, or one sale), all writers started at once.

    Every error is caught, described and sent back: the test fails on any of them.
    """
    errors: list[str] = []
    engine = make_engine(url)
    try:
        start.wait(timeout=120)
        every = LOGS_PER_WRITER // SALES_PER_WRITER
        for first in range(0, LOGS_PER_WRITER, LOGS_PER_TRANSACTION):
            numbers = range(first, min(first + LOGS_PER_TRANSACTION, LOGS_PER_WRITER))
            _write(engine, errors, [_log(writer, number) for number in numbers])
            for number in numbers:
                if number % every == 0:
                    _write(engine, errors, [_sale(writer, number // every)])
    except Exception as error:  # the barrier, the engine: anything at all
        errors.append(f"{type(error).__name__}: {error}")
    finally:
        engine.dispose()
        results.put((writer, errors))


def _write(engine: Engine, errors: list[str], rows: list[Any]) -> None:
    try:
        with session_scope(engine) as session:
            session.add_all(rows)
    except Exception as error:
        errors.append(f"{type(error).__name__}: {str(error).splitlines()[0]}")


def _log(writer: int, number: int) -> WorkflowLog:
    return WorkflowLog(
        log_id=log_id(writer, number),
        workflow_id=f"wf-{writer:02d}",
        agent_name=f"agent-{writer:02d}",
        action="forecast",
        input_data={"writer": writer, "number": number},
        output_data={"units": number * 3},
        duration_seconds=0.01,
        status=WorkflowStatus.COMPLETED,
        created_at=datetime.now(UTC),
    )


def _sale(writer: int, number: int) -> ActualSales:
    return ActualSales(
        actual_id=actual_id(writer, number),
        store_id=f"S{number // WEEKS:02d}",
        forecast_id=forecast_id(writer),
        week_number=number % WEEKS + 1,
        units_sold=number,
    )


# --- crash mid-migration ------------------------------------------------------------------


def run_upgrade(url: str, script_location: str, revision: str) -> None:
    """``alembic upgrade`` with another script directory, in a process the test may kill."""
    config = alembic_config(url)
    config.set_main_option("script_location", script_location)
    command.upgrade(config, revision)


def run_upgrade_when_told(url: str, ready: Event) -> None:
    """``upgrade head`` of our own chain; ``ready`` is set once imports are done."""
    config = alembic_config(url)
    script_directory()  # load the revisions now, not inside the measured window
    ready.set()
    command.upgrade(config, "head")


def signal_and_wait(marker: str, seconds: float) -> None:
    """Called by the test-only slow revision: tell the test we are mid-migration, then wait."""
    Path(marker).write_text(str(os.getpid()))
    time.sleep(seconds)
