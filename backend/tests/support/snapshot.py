"""The one snapshot: every row of every table a database holds, to compare before/after."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, pool
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine
from backend.app.models import metadata as MODELS

Snapshot = dict[str, list[dict[str, Any]]]


def snapshot(
    bind: Engine | Connection | URL | str | Path, *, without: Collection[str] = ()
) -> Snapshot:
    """Every row of every table in the database (``alembic_version`` aside), in primary-key
    order, each row a dict of column values; ``without`` names columns to leave out.
    ``bind``: a connection, an engine, a database URL, or the path of a SQLite file.

    Columns the models know are read with the models' types, so SQLite and PostgreSQL
    give equal values (aware UTC timestamps, parsed JSON); enums are read as plain
    strings, so a row that breaks its CHECK can still be shown. Tables and columns the
    models do not know (an older or newer revision) come as the driver returns them.
    """
    if isinstance(bind, Path):
        bind = f"sqlite:///{bind}"
    if isinstance(bind, URL | str):
        engine = make_engine(bind, poolclass=pool.NullPool)
        try:
            return snapshot(engine, without=without)
        finally:
            engine.dispose()
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            return snapshot(connection, without=without)
    inspector = sa.inspect(bind)
    columns = {table: found for (_, table), found in inspector.get_multi_columns().items()}
    keys = {table: pk for (_, table), pk in inspector.get_multi_pk_constraint().items()}
    contents: Snapshot = {}
    for name in sorted(set(columns) - {"alembic_version"}):
        model = MODELS.tables.get(name)
        names = [column["name"] for column in columns[name] if column["name"] not in without]
        table = sa.table(name, *(sa.column(column, _read_type(model, column)) for column in names))
        order = keys[name]["constrained_columns"] or names
        rows = bind.execute(sa.select(table).order_by(*(sa.column(c) for c in order)))
        contents[name] = [dict(row) for row in rows.mappings()]
    return contents


def _read_type(model: sa.Table | None, column: str) -> Any:
    if model is None or column not in model.c:
        return sa.types.NULLTYPE
    known = model.c[column].type
    return sa.String() if isinstance(known, sa.Enum) else known


def assert_kept(before: Snapshot, after: Snapshot, where: str) -> None:
    """Every table, row and column value in ``before`` is still in ``after``."""
    for table, rows in before.items():
        assert table in after, f"{where}: table {table} is gone"
        columns = list(rows[0]) if rows else []
        kept = [{column: row.get(column) for column in columns} for row in after[table]]
        assert kept == rows, f"{where}: rows of {table} changed"
