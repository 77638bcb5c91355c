"""PostgreSQL foreign keys set aside for a bulk load: what the tests watch."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

_DEFINITIONS = (
    "SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
    "WHERE conrelid = 'historical_sales'::regclass AND contype = 'f' ORDER BY conname"
)


def history_foreign_keys(engine: Engine) -> list[tuple[Any, ...]]:
    """historical_sales' foreign keys: (name, definition, validated)."""
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(_DEFINITIONS))]


def watch_set_aside(monkeypatch: pytest.MonkeyPatch, module: Any) -> list[bool]:
    """Whether each ``foreign_keys_set_aside`` that ``module`` calls set the keys aside;
    the lock wait shortened so a held table gives up quickly."""
    from backend.app.maintenance import bulk_move

    monkeypatch.setattr(bulk_move, "LOCK_WAIT_MS", 200)
    answers: list[bool] = []
    real = bulk_move.foreign_keys_set_aside

    @contextlib.contextmanager
    def watched(execute: Any, table: str) -> Iterator[bool]:
        with real(execute, table) as answer:
            answers.append(answer)
            yield answer

    monkeypatch.setattr(module, "foreign_keys_set_aside", watched)
    return answers


@contextlib.contextmanager
def table_held(engine: Engine, held: bool) -> Iterator[None]:
    """A reader's transaction holding historical_sales (if ``held``) for the block."""
    with contextlib.ExitStack() as stack:
        if held:
            reader = stack.enter_context(engine.connect())
            reader.execute(text("SELECT count(*) FROM historical_sales"))
        yield
