"""``ffdb import historical-sales``: weekly rows, or a daily export summed into weeks.

Rows are parsed in Python (cheap, cached per distinct date) and streamed into a
staging table; everything that needs the database (unknown stores and categories,
duplicate keys) is one query each over the staging table; the move into
``historical_sales`` is one ``INSERT ... SELECT ... ON CONFLICT`` on the natural key
(store, category, week), with a deterministic ``sale_id`` of
``HS:{store_id}:{category_id}:{week_start_date}`` so a re-import updates in place.

Daily files name categories (``Women's Dresses``); a category missing from the
database is created with id ``womens_dresses`` and a season covering the weeks the
file has for it: it starts on the first Monday, runs as many weeks as the file
spans (at least one) and ends the Sunday after the last week.

``--replace``: for every (store, category) pair in the file, rows between the file's
first and last week that the file does not contain are deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import cast

from sqlalchemy import Connection, Engine, Table, insert, text
from sqlalchemy.exc import IntegrityError

from backend.app.ingest import checks
from backend.app.ingest.fields import FieldError, identifier, iso_date, real_number, whole_number
from backend.app.ingest.formats import FileKind, Layout
from backend.app.ingest.normalize import category_id_from_name
from backend.app.ingest.outcome import ImportResult
from backend.app.ingest.problems import DEFAULT_PROBLEM_LIMIT, ProblemLog
from backend.app.ingest.reader import CsvFile, ProgressCallback
from backend.app.ingest.source import DATE_CACHE_LIMIT, open_export, require_rows, width_problem
from backend.app.ingest.staging import StagedRow, create_staging, drop_staging, load_staging
from backend.app.ingest.transaction import as_date, import_transaction
from backend.app.ingest.upsert import Move, delete_uncovered, upsert
from backend.app.models.category import Category

WEEKLY_STAGE = "ffdb_stage_sales"
DAILY_STAGE = "ffdb_stage_daily_sales"
WEEKLY_COLUMNS = (
    ("line", "int"),
    ("week_start_date", "text"),
    ("store_id", "text"),
    ("category_id", "text"),
    ("units_sold", "int"),
)
DAILY_COLUMNS = (
    ("line", "int"),
    ("day", "text"),
    ("week_start_date", "text"),
    ("store_id", "text"),
    ("category_id", "text"),
    ("category", "text"),
    ("units_sold", "int"),
)


def import_historical_sales(
    engine: Engine,
    path: Path,
    *,
    dry_run: bool = False,
    replace: bool = False,
    progress: ProgressCallback | None = None,
    limit: int = DEFAULT_PROBLEM_LIMIT,
) -> ImportResult:
    log = ProblemLog(str(path), limit)
    accepted = (FileKind.WEEKLY_SALES, FileKind.DAILY_SALES)
    with (
        open_export(path, accepted, log, progress) as (csv_file, layout),
        import_transaction(engine, dry_run=dry_run) as connection,
    ):
        result = ImportResult(str(path), layout.kind, "historical_sales", dry_run=dry_run)
        if layout.kind is FileKind.WEEKLY_SALES:
            create_staging(connection, WEEKLY_STAGE, WEEKLY_COLUMNS)
            load_staging(
                connection, WEEKLY_STAGE, WEEKLY_COLUMNS, _weekly_rows(csv_file, layout, log)
            )
            require_rows(csv_file, log)
            if log:
                # Report the database's objections to the other rows as well.
                _check_weekly(connection, log)
            staged = csv_file.rows_read
        else:
            categories = _CategoryResolver(connection)
            create_staging(connection, DAILY_STAGE, DAILY_COLUMNS)
            load_staging(
                connection,
                DAILY_STAGE,
                DAILY_COLUMNS,
                _daily_rows(csv_file, layout, log, categories),
            )
            require_rows(csv_file, log)
            result.created += _create_categories(connection, categories)
            _check_daily(connection, log)
            log.raise_if_any()
            staged = _sum_days_into_weeks(connection)
        result.rows_read = csv_file.rows_read
        log.raise_if_any()
        _move_or_explain(connection, log, result, staged, replace=replace)
        drop_staging(connection, WEEKLY_STAGE)
        drop_staging(connection, DAILY_STAGE)
    return result


# --- Parsing rows -------------------------------------------------------------------------


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _weekly_rows(csv_file: CsvFile, layout: Layout, log: ProblemLog) -> Iterator[StagedRow]:
    at = layout.positions
    i_week, i_store, i_category, i_units = (
        at["week_start_date"],
        at["store_id"],
        at["category_id"],
        at["units_sold"],
    )
    width = layout.width
    weeks: dict[str, str] = {}
    for line, fields in csv_file.rows():
        if len(fields) != width:
            width_problem(line, fields, width, log)
            continue
        week_text = fields[i_week]
        week = weeks.get(week_text)
        if week is None:
            try:
                day = iso_date(week_text)
                if day.weekday() != 0:
                    raise FieldError(f"not a Monday ({day:%A}): weeks start on Monday")
                week = day.isoformat()
                if len(weeks) < DATE_CACHE_LIMIT:
                    weeks[week_text] = week
            except FieldError as error:
                log.add(line, "week_start_date", str(error), week_text)
                week = None
        units_text = fields[i_units]
        # Up to nine digits cannot exceed the INTEGER column: the cheap common case.
        if len(units_text) < 10 and units_text.isdigit() and units_text.isascii():
            units = int(units_text)
        else:
            try:
                units = whole_number(units_text, what="units")
            except FieldError as error:
                log.add(line, "units_sold", str(error), units_text)
                units = None
        store: str | None = fields[i_store]
        if not store or store[0] in _NEEDS_CLEANING or store[-1] == " ":
            try:
                store = identifier(fields[i_store])
            except FieldError as error:
                log.add(line, "store_id", str(error), fields[i_store])
                store = None
        category: str | None = fields[i_category]
        if not category or category[0] in _NEEDS_CLEANING or category[-1] == " ":
            try:
                category = identifier(fields[i_category])
            except FieldError as error:
                log.add(line, "category_id", str(error), fields[i_category])
                category = None
        # Rows with a bad field are staged too (as NULL) so the set-based checks still
        # report the row's other problems; nothing is moved when there are problems.
        yield line, week, store, category, units


# Leading characters that send an id through the slower cleaning path.
_NEEDS_CLEANING = frozenset(" \t'")


class _CategoryResolver:
    """Category names of a daily file -> ids: an existing category of that name (any
    case), else the id derived from the name (existing or to be created)."""

    def __init__(self, connection: Connection) -> None:
        rows = connection.execute(text("SELECT category_id, category_name FROM categories")).all()
        self.ids = {str(row[0]) for row in rows}
        self._by_name = {str(row[1]).strip().lower(): str(row[0]) for row in rows}
        self.resolved: dict[str, str] = {}
        self.new: dict[str, str] = {}  # id -> name as first written in the file

    def __call__(self, name: str) -> str:
        known = self.resolved.get(name)
        if known is not None:
            return known
        clean = identifier(name)
        category_id = self._by_name.get(clean.lower())
        if category_id is None:
            category_id = category_id_from_name(clean)
            if not category_id:
                raise FieldError("no letters or digits to make a category id from")
            if category_id not in self.ids:
                self.new.setdefault(category_id, clean)
        self.resolved[name] = category_id
        return category_id


def _daily_rows(
    csv_file: CsvFile, layout: Layout, log: ProblemLog, categories: _CategoryResolver
) -> Iterator[StagedRow]:
    at = layout.positions
    i_day, i_store, i_category, i_units = (
        at["date"],
        at["store_id"],
        at["category"],
        at["quantity_sold"],
    )
    i_revenue = at.get("revenue")
    width = layout.width
    days: dict[str, tuple[str, str]] = {}
    for line, fields in csv_file.rows():
        if width_problem(line, fields, width, log):
            continue
        day_text = fields[i_day]
        day = days.get(day_text)
        if day is None:
            try:
                parsed = iso_date(day_text)
                day = (parsed.isoformat(), _monday(parsed).isoformat())
                if len(days) < DATE_CACHE_LIMIT:
                    days[day_text] = day
            except FieldError as error:
                log.add(line, "date", str(error), day_text)
                day = None
        units_text = fields[i_units]
        try:
            units = whole_number(units_text, what="quantity")
        except FieldError as error:
            log.add(line, "quantity_sold", str(error), units_text)
            units = None
        if i_revenue is not None and fields[i_revenue].strip():
            # Validated, not stored: historical_sales holds units only.
            try:
                real_number(fields[i_revenue])
            except FieldError as error:
                log.add(line, "revenue", str(error), fields[i_revenue])
        try:
            store = identifier(fields[i_store])
        except FieldError as error:
            log.add(line, "store_id", str(error), fields[i_store])
            store = None
        name = fields[i_category]
        try:
            category_id = categories(name)
        except FieldError as error:
            log.add(line, "category", str(error), name)
            category_id = None
        if day is None:
            yield line, None, None, store, category_id, name, units
        else:
            yield line, day[0], day[1], store, category_id, name, units


# --- Set-based checks and moves ------------------------------------------------------------


def _check_weekly(connection: Connection, log: ProblemLog) -> None:
    checks.unknown_references(
        connection, log, WEEKLY_STAGE, "store_id", "stores", "store_id", "store"
    )
    checks.unknown_references(
        connection, log, WEEKLY_STAGE, "category_id", "categories", "category_id", "category"
    )
    _check_weekly_duplicates(connection, log)


def _check_weekly_duplicates(connection: Connection, log: ProblemLog) -> None:
    key = ("store_id", "category_id", "week_start_date")
    if checks.has_duplicates(connection, WEEKLY_STAGE, key):
        shown = "store_id || ' ' || category_id || ' ' || week_start_date"
        checks.duplicate_keys(connection, log, WEEKLY_STAGE, key, shown, "store, category and week")


def _check_daily(connection: Connection, log: ProblemLog) -> None:
    checks.unknown_references(
        connection, log, DAILY_STAGE, "store_id", "stores", "store_id", "store"
    )
    key = ("store_id", "category_id", "day")
    if checks.has_duplicates(connection, DAILY_STAGE, key):
        shown = "store_id || ' ' || category || ' ' || day"
        checks.duplicate_keys(connection, log, DAILY_STAGE, key, shown, "store, category and date")


def _create_categories(connection: Connection, categories: _CategoryResolver) -> list[str]:
    """Create the categories the file names but the database lacks; their season spans
    the weeks the file has for them."""
    if not categories.new:
        return []
    spans = connection.execute(
        text(
            f"SELECT category_id, MIN(week_start_date), MAX(week_start_date) "  # noqa: S608
            f"FROM {DAILY_STAGE} WHERE week_start_date IS NOT NULL GROUP BY category_id"
        )
    ).all()
    created = []
    for category_id, first, last in sorted(spans):
        name = categories.new.get(category_id)
        if name is None:
            continue
        start, end_week = date.fromisoformat(first), date.fromisoformat(last)
        weeks = (end_week - start).days // 7 + 1
        connection.execute(
            insert(cast(Table, Category.__table__)).values(
                category_id=category_id,
                category_name=name,
                season_start_date=start,
                season_end_date=start + timedelta(days=7 * weeks - 1),
                season_length_weeks=weeks,
            )
        )
        created.append(f"category {category_id} ({name!r}, {weeks} weeks from {start})")
    return created


SALES_MOVE = Move(
    table="historical_sales",
    id_column="sale_id",
    id_expression="'HS:' || s.store_id || ':' || s.category_id || ':' || s.week_start_date",
    key=("store_id", "category_id", "week_start_date"),
    value="units_sold",
    date_columns=frozenset({"week_start_date"}),
)


def _move_or_explain(
    connection: Connection, log: ProblemLog, result: ImportResult, staged: int, *, replace: bool
) -> None:
    """The move, with no checks in its way: the foreign keys and the unique key of
    ``historical_sales`` refuse bad rows anyway. Only when they do are the staged rows
    examined, to name every offending line (the savepoint undoes the failed move)."""
    savepoint = connection.begin_nested()
    try:
        _move(connection, log, result, staged, replace=replace)
    except IntegrityError:
        savepoint.rollback()
        _check_weekly(connection, log)
        log.raise_if_any()
        raise
    savepoint.commit()


def _move(
    connection: Connection, log: ProblemLog, result: ImportResult, staged: int, *, replace: bool
) -> None:
    if replace:
        first, last = connection.execute(
            text(f"SELECT MIN(week_start_date), MAX(week_start_date) FROM {WEEKLY_STAGE}")  # noqa: S608
        ).one()
        pairs = "ffdb_stage_sales_pairs"
        create_staging(connection, pairs, (("store_id", "text"), ("category_id", "text")))
        connection.execute(
            text(
                f"INSERT INTO {pairs} SELECT DISTINCT store_id, category_id "  # noqa: S608
                f"FROM {WEEKLY_STAGE}"
            )
        )
        scope = (
            f"historical_sales.week_start_date BETWEEN {as_date(connection, ':first')} "  # noqa: S608
            f"AND {as_date(connection, ':last')} AND EXISTS "
            f"(SELECT 1 FROM {pairs} p WHERE p.store_id = historical_sales.store_id "
            "AND p.category_id = historical_sales.category_id)"
        )
        result.deleted = delete_uncovered(
            connection,
            WEEKLY_STAGE,
            SALES_MOVE,
            scope,
            {"first": first, "last": last},
        )
        drop_staging(connection, pairs)

    def check_duplicates() -> None:
        _check_weekly_duplicates(connection, log)
        log.raise_if_any()

    upsert(connection, WEEKLY_STAGE, SALES_MOVE, result, staged, check_duplicates=check_duplicates)


def _sum_days_into_weeks(connection: Connection) -> int:
    """Stage one row per (store, category, Monday week); returns how many."""
    create_staging(connection, WEEKLY_STAGE, WEEKLY_COLUMNS)
    return connection.execute(
        text(
            f"INSERT INTO {WEEKLY_STAGE} (line, week_start_date, store_id, category_id, "  # noqa: S608
            "units_sold) SELECT MIN(line), week_start_date, store_id, category_id, "
            f"SUM(units_sold) FROM {DAILY_STAGE} GROUP BY store_id, category_id, week_start_date"
        )
    ).rowcount
