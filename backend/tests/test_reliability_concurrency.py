"""Many agents writing at once: every committed row is there, and nobody sees an error.

Each writer is its own process (spawned, as separate agents would be), committing small
transactions (five log rows, or one sale) so that the writers contend for the database
all the time.
"""

from __future__ import annotations

import multiprocessing
import queue

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app.models import ActualSales, WorkflowLog
from backend.tests.support import workers
from backend.tests.support.samples import writers_parents

WRITERS = {"sqlite": 8, "postgresql": 16}
# Generous: a writer that needs this long is stuck, and the test says so.
RESULT_TIMEOUT_SECONDS = 600


def _run_writers(url: URL, writers: int) -> dict[int, list[str]]:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(writers)
    results = context.Queue()
    processes = [
        context.Process(
            target=workers.write_rows,
            args=(url.render_as_string(hide_password=False), writer, start, results),
            name=f"writer-{writer}",
        )
        for writer in range(writers)
    ]
    for process in processes:
        process.start()
    errors: dict[int, list[str]] = {}
    try:
        for _ in processes:
            writer, writer_errors = results.get(timeout=RESULT_TIMEOUT_SECONDS)
            errors[writer] = writer_errors
    except queue.Empty:
        pytest.fail(f"only {len(errors)} of {writers} writers reported back")
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
    exit_codes = {process.name: process.exitcode for process in processes}
    assert set(exit_codes.values()) == {0}, exit_codes
    return errors


@pytest.mark.slow
def test_concurrent_writers_lose_nothing_and_see_no_errors(
    backend_name: str, migrated_url: URL, engine: Engine
) -> None:
    writers = WRITERS[backend_name]
    writers_parents(writers).write(engine)

    errors = _run_writers(migrated_url, writers)

    assert sorted(errors) == list(range(writers))
    seen = {writer: found for writer, found in errors.items() if found}
    assert seen == {}, f"writers saw errors: {seen}"

    expected_logs = {
        workers.log_id(writer, number)
        for writer in range(writers)
        for number in range(workers.LOGS_PER_WRITER)
    }
    expected_sales = {
        workers.actual_id(writer, number)
        for writer in range(writers)
        for number in range(workers.SALES_PER_WRITER)
    }
    with Session(engine) as session:
        log_ids = list(session.scalars(select(WorkflowLog.log_id)))
        sale_ids = list(session.scalars(select(ActualSales.actual_id)))
    assert len(log_ids) == writers * workers.LOGS_PER_WRITER
    assert set(log_ids) == expected_logs
    assert len(sale_ids) == writers * workers.SALES_PER_WRITER
    assert set(sale_ids) == expected_sales
    print(
        f"{backend_name}: {writers} writers wrote "
        f"{len(expected_logs)} workflow_logs + {len(expected_sales)} actual_sales rows; "
        f"found {len(log_ids)} + {len(sale_ids)}"
    )
