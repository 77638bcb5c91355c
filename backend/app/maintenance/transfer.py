"""Copy a whole database to another one: SQLite to PostgreSQL, and back.

The step every user of this layer takes one day is moving an embedded SQLite file to
a PostgreSQL server. ``transfer`` copies every table of the source into a target
that was migrated to the same revision:

- parents before children (the models' foreign-key order), so every row lands on a
  target that enforces its foreign keys as it goes;
- streaming: the source is read ``batch_size`` rows at a time (a server-side cursor
  on PostgreSQL, SQLite's own step-wise cursor), so memory stays flat whatever the
  size; on a PostgreSQL target each batch goes in through ``COPY``, elsewhere through
  one ``executemany`` per batch;
- in ONE transaction on the target: any failure (a constraint, a lost connection, an
  interrupt) rolls everything back and leaves the target exactly as it was;
- from one consistent snapshot of the source (a single read transaction).

Values go through the models' column types both ways, so JSON payloads, dates,
timezone-aware ``created_at`` and floats arrive exactly as they left. The target's
own ``alembic_version`` is not touched: both ends are already at the same revision.
Every primary key is a string, so there are no sequences to move forward afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlalchemy import Connection, Engine, Table, delete, exists, insert, or_, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from backend.app.database.db import read_only, redacted, sqlite_file
from backend.app.database.errors import describe_integrity_error
from backend.app.maintenance.schema_version import (
    SchemaOutOfDate,
    current_revision,
    require_current,
)
from backend.app.maintenance.stats import row_counts
from backend.app.models import copy_order, tables_in_dependency_order

DEFAULT_BATCH_SIZE = 5_000
LoadMethod = Literal["auto", "copy", "insert"]
Batch = Sequence[Sequence[Any]]


class TransferError(RuntimeError):
    """The transfer cannot start or could not finish; the target is unchanged."""


class TargetNotEmpty(TransferError):
    def __init__(self, populated: dict[str, int]) -> None:
        self.populated = populated
        listed = ", ".join(
            f"{table} ({rows} row{'' if rows == 1 else 's'})" for table, rows in populated.items()
        )
        super().__init__(
            f"the target already has rows in {listed}; transfer only into an empty "
            "database, or pass --force to replace the target's rows"
        )


class TargetRevisionMismatch(TransferError):
    pass


class TableCopyFailed(TransferError):
    """A row of ``table`` was refused (a constraint, a value, the connection); rolled back."""

    def __init__(self, table: str, error: Exception) -> None:
        self.table = table
        super().__init__(f"copying {table} failed: {_reason(error)}")


def _reason(error: Exception) -> str:
    if isinstance(error, IntegrityError):
        return describe_integrity_error(error)
    original = error.orig if isinstance(error, StatementError) else error
    lines = str(original).strip().splitlines()
    reason = lines[0] if lines else type(original).__name__
    # PostgreSQL's COPY says where: "COPY stores, line 3, column store_size_sqft: ..."
    context = getattr(getattr(original, "diag", None), "context", None)
    if context and context.startswith("COPY "):
        reason += f" ({context.splitlines()[0]})"
    return reason


class TransferProgress(Protocol):
    """What ``transfer`` reports while it works (the CLI draws a progress bar from it)."""

    def table_started(self, table: str, total_rows: int) -> None: ...

    def rows_copied(self, table: str, rows: int) -> None: ...

    def table_finished(self, table: str, rows: int) -> None: ...


class _Silent:
    def table_started(self, table: str, total_rows: int) -> None:
        pass

    def rows_copied(self, table: str, rows: int) -> None:
        pass

    def table_finished(self, table: str, rows: int) -> None:
        pass


@dataclass(frozen=True)
class TableCopy:
    table: str
    rows: int


@dataclass(frozen=True)
class TransferReport:
    revision: str
    tables: tuple[TableCopy, ...]
    emptied: tuple[TableCopy, ...]  # rows the target held before --force replaced them
    method: Literal["copy", "insert"]

    @property
    def total_rows(self) -> int:
        return sum(table.rows for table in self.tables)


def _resolve_method(method: LoadMethod, target: Connection) -> Literal["copy", "insert"]:
    if method == "auto":
        return "copy" if target.dialect.name == "postgresql" else "insert"
    if method == "copy" and target.dialect.name != "postgresql":
        raise TransferError("COPY needs a PostgreSQL target")
    return method


@contextmanager
def _source_snapshot(source: Engine) -> Iterator[Connection]:
    """One read transaction on the source: every table is read from the same snapshot."""
    engine: Engine
    if source.dialect.name == "postgresql":
        engine = source.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
    else:
        engine = read_only(source)  # DEFERRED: a reader never takes SQLite's write lock
    with engine.connect() as connection, connection.begin():
        yield connection


def _empty(target: Connection, table: Table) -> None:
    """Delete every row of ``table``. Rows that reference rows of the same table (a
    re-forecast) go before the rows they reference: SQLite's guard triggers check each
    deleted row at once, not at the end of the statement."""
    self_keys = [fk for fk in table.foreign_keys if fk.column.table is table]
    if not self_keys:
        target.execute(delete(table))
        return
    other = table.alias("referencing")
    referenced = or_(
        *(exists().where(other.c[fk.parent.name] == table.c[fk.column.name]) for fk in self_keys)
    )
    while target.execute(delete(table).where(~referenced)).rowcount:
        pass
    target.execute(delete(table))  # rows left only reference each other in a cycle


def _batches(source: Connection, table: Table, batch_size: int) -> Generator[Batch, None, None]:
    """The table's rows in primary-key order (parents first in a table whose rows
    reference each other), ``batch_size`` at a time, never all at once."""
    query = select(table).order_by(*copy_order(table))
    result = source.execution_options(stream_results=True, yield_per=batch_size).execute(query)
    try:
        yield from result.partitions()
    finally:
        result.close()


def _insert_batches(
    target: Connection, table: Table, batches: Iterator[Batch], copied: Callable[[int], None]
) -> int:
    statement = insert(table)
    names = [column.name for column in table.columns]
    total = 0
    for batch in batches:
        target.execute(statement, [dict(zip(names, row, strict=True)) for row in batch])
        total += len(batch)
        copied(len(batch))
    return total


def _copy_batches(
    target: Connection, table: Table, batches: Iterator[Batch], copied: Callable[[int], None]
) -> int:
    """PostgreSQL's COPY FROM STDIN, fed row by row through psycopg 3, values bound by our types."""
    dialect = target.dialect
    processors = [
        column.type.dialect_impl(dialect).bind_processor(dialect) for column in table.columns
    ]
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(column.name) for column in table.columns)
    # Identifiers come from our own schema, quoted by the dialect; no input reaches this SQL.
    sql = f"COPY {quote(table.name)} ({columns}) FROM STDIN"
    cursor = target.connection.driver_connection.cursor()  # type: ignore[union-attr]
    total = 0
    driver_error = target.dialect.loaded_dbapi.Error
    try:
        # One COPY per table; psycopg sends what is written in bounded chunks.
        with cursor.copy(sql) as copy:
            for batch in batches:
                for row in batch:
                    copy.write_row(
                        [
                            value if process is None else process(value)
                            for process, value in zip(processors, row, strict=True)
                        ]
                    )
                total += len(batch)
                copied(len(batch))
    except driver_error as error:
        # The raw cursor bypasses SQLAlchemy: wrap the driver's error as SQLAlchemy
        # would (IntegrityError for a constraint), so callers see one exception family.
        raise DBAPIError.instance(
            sql, None, error, driver_error, hide_parameters=True, dialect=target.dialect
        ) from error
    finally:
        cursor.close()
    return total


def check_target(source_revision: str, target: Connection) -> None:
    found = current_revision(target)
    if found != source_revision:
        state = f"is at revision {found}" if found else "has no schema (never migrated)"
        raise TargetRevisionMismatch(
            f"the target {state}, the source is at {source_revision}: run "
            f"`ffdb upgrade --database-url {redacted(target.engine.url)}` first"
        )


def transfer(
    source: Engine,
    target: Engine,
    *,
    force: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    method: LoadMethod = "auto",
    progress: TransferProgress | None = None,
) -> TransferReport:
    """Copy every row of ``source`` into ``target``, all or nothing.

    The source must be at the code's head revision and the target at the same one.
    The target must be empty unless ``force``: then its rows are deleted first,
    inside the same transaction, so a failed copy keeps them.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if _same_database(source.url, target.url):
        raise TransferError("the source and the target are the same database")
    report = progress or _Silent()
    tables = tables_in_dependency_order()
    with _source_snapshot(source) as reader, target.begin() as writer:
        try:
            require_current(reader)
        except SchemaOutOfDate as error:
            raise TransferError(
                f"the source {error}".replace(
                    "`ffdb upgrade`", f"`ffdb upgrade --database-url {redacted(source.url)}`"
                )
            ) from None
        revision = current_revision(reader)
        assert revision is not None  # require_current refused an unmigrated source
        check_target(revision, writer)
        load = _resolve_method(method, writer)

        populated = {name: rows for name, rows in row_counts(writer, tables).items() if rows}
        if populated and not force:
            raise TargetNotEmpty(populated)
        for table in reversed(tables):  # children before the parents they reference
            if table.name in populated:
                _empty(writer, table)

        expected = row_counts(reader, tables)
        copies = []
        for table in tables:
            report.table_started(table.name, expected[table.name])
            batches = _batches(reader, table, batch_size)

            def copied(rows: int, name: str = table.name) -> None:
                report.rows_copied(name, rows)

            loader = _copy_batches if load == "copy" else _insert_batches
            # closing(): a failed copy closes the source cursor now, while the reader's
            # connection is open, not later when the generator is garbage-collected.
            with closing(batches):
                try:
                    rows = loader(writer, table, batches, copied)
                except (StatementError, ValueError, TypeError) as error:
                    # StatementError covers the driver's errors; ValueError and TypeError
                    # a source value our column types refuse (a JSON payload of the wrong
                    # shape).
                    raise TableCopyFailed(table.name, error) from error
            copies.append(TableCopy(table.name, rows))
            report.table_finished(table.name, rows)

        landed = row_counts(writer, tables)
        short = {name: rows for name, rows in landed.items() if rows != expected[name]}
        if short:  # pragma: no cover - a guard against a silently partial copy
            raise TransferError(f"row counts differ after the copy: {short}; rolled back")
    return TransferReport(
        revision=revision,
        tables=tuple(copies),
        emptied=tuple(TableCopy(name, rows) for name, rows in populated.items()),
        method=load,
    )


def _same_database(source: URL, target: URL) -> bool:
    if source.get_backend_name() != target.get_backend_name():
        return False
    if source.get_backend_name() == "sqlite":

        def where(url: URL) -> str:
            path = sqlite_file(url)
            return f":memory:{id(url)}" if path is None else str(path.resolve())

        return where(source) == where(target)
    keys = ("host", "port", "database")
    return all(getattr(source, key) == getattr(target, key) for key in keys)
