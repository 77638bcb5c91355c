"""``ffdb import historical-sales``: weekly rows, or a daily export summed into weeks.

Rows are parsed in Python (cheap, cached per distinct date) and streamed into a
staging table; everything that needs the database (unknown stores and categories,
duplicate keys, the stored weeks' weekday) is one query each over the staging table;
the move into ``historical_sales`` is one ``INSERT ... SELECT`` on the natural key
(store, category, week), each row with the id ``definitions.historical_sale_id``
gives it (``HS:{store_id}:{category_id}:{week_start_date}``), so a re-import updates
in place and the write API writes the same ids.

Week calendars (``definitions``): weekly rows may start on any weekday, the same one
throughout a file (and ``--week-starts``'s if given): a row on another weekday is a
problem naming its line. Daily rows are summed into weeks that start on
``--week-starts`` (default: the weekday the stored history uses, else Monday). Either
way a (store, category) pair that already has history keeps its weekday.

New categories: a category the database lacks (a name in a daily file, an id in a
weekly one) is created only with the season the user gives (``NewSeason``:
``--season-start YYYY-MM-DD --season-weeks N``); without it the import is refused,
naming the unknown categories and those options. Ids from names:
``definitions.category_id_from_name``.

``--replace``: for every (store, category) pair in the file, rows between that pair's
own first and last week in the file that the file does not contain are deleted.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert, text
from sqlalchemy.exc import IntegrityError

from backend.app.ingest import checks, columns
from backend.app.ingest.direct_copy import copy_plain_history
from backend.app.ingest.fields import (
    identifier,
    iso_date,
    parsed,
    real_number,
    trimmed_name,
    whole_number,
)
from backend.app.ingest.formats import FileKind, Layout
from backend.app.ingest.options import DEFAULT_OPTIONS, ImportOptions
from backend.app.ingest.outcome import ImportResult
from backend.app.ingest.problems import Problem, ProblemLog
from backend.app.ingest.reader import CsvFile
from backend.app.ingest.source import (
    DATE_CACHE_LIMIT,
    ImportSource,
    Readable,
    import_source,
    open_export,
    require_rows,
    width_problem,
)
from backend.app.ingest.transaction import import_transaction
from backend.app.maintenance.bulk_move import (
    HISTORICAL_SALES_MOVE,
    HISTORICAL_SALES_PROVEN,
    StagedRow,
    as_date,
    create_staging,
    delete_uncovered,
    drop_staging,
    load_staging,
    load_staging_batches,
    load_staging_file,
    upsert,
)
from backend.app.maintenance.definitions import (
    DEFAULT_WEEKDAY,
    Weekday,
    category_id_from_name,
    historical_sale_ids,
    history_weekday,
    only_weekday_stored,
    other_weekday_series_sql,
    season_end,
    week_start,
    weekday_of,
)
from backend.app.models.category import Category

WEEKLY_STAGE = "ffdb_stage_sales"
DAILY_STAGE = "ffdb_stage_daily_sales"
WEEKLY_COLUMNS = (
    ("line", "int"),
    ("sale_id", "text"),
    ("week_start_date", "text"),
    ("store_id", "text"),
    ("category_id", "text"),
    ("units_sold", "int"),
)
DAILY_COLUMNS = (
    ("line", "int"),
    ("sale_id", "text"),
    ("day", "text"),
    ("week_start_date", "text"),
    ("store_id", "text"),
    ("category_id", "text"),
    ("category", "text"),
    ("units_sold", "int"),
)
SEASON_OPTIONS = "--season-start YYYY-MM-DD --season-weeks N"


@dataclass(frozen=True)
class NewSeason:
    """The season new categories get: ``weeks`` weeks from ``start`` (any weekday)."""

    start: date
    weeks: int

    def __post_init__(self) -> None:
        if self.weeks < 1:
            raise ValueError(f"--season-weeks {self.weeks}: a season has at least 1 week")


def import_historical_sales(
    engine: Engine,
    file: Readable,
    options: ImportOptions = DEFAULT_OPTIONS,
    *,
    name: str | None = None,
    week_starts: Weekday | None = None,
    season: NewSeason | None = None,
) -> ImportResult:
    source = import_source(file, name)
    log = options.problem_log(source)
    accepted = (FileKind.WEEKLY_SALES, FileKind.DAILY_SALES)
    # A file on disk can be opened twice (a stream, a pipe or Parquet cannot take this path).
    if source.path is not None and source.path.is_file():
        straight = _copied_straight(engine, source, accepted, options, week_starts)
        if straight is not None:
            return straight
    with (
        open_export(source, accepted, log, options.progress) as (csv_file, layout),
        import_transaction(engine, dry_run=options.dry_run, guards_check_keys=True) as connection,
    ):
        result = ImportResult(source.name, layout.kind, "historical_sales", dry_run=options.dry_run)
        checked: frozenset[str] = frozenset()  # the CHECKs the staged rows are proven to pass
        parents: dict[str, set[str]] | None = None  # the staged parents, if gathered
        if layout.kind is FileKind.WEEKLY_SALES:
            calendar = _FileCalendar(log, week_starts)
            gathered: dict[str, set[str]] = {}
            if _stage_plain_weekly(connection, csv_file, layout, calendar, gathered):
                checked = HISTORICAL_SALES_PROVEN
                parents = gathered
            else:
                create_staging(connection, WEEKLY_STAGE, WEEKLY_COLUMNS)
                load_staging(
                    connection,
                    WEEKLY_STAGE,
                    WEEKLY_COLUMNS,
                    _weekly_rows(csv_file, layout, log, calendar),
                )
            require_rows(csv_file, log)
            if season is not None:
                result.created += _create_categories(
                    connection, _unknown_category_ids(connection), season
                )
            if log:
                # Report the database's objections to the other rows as well.
                _check_weekly(connection, log)
            staged = csv_file.rows_read
            weekday = calendar.weekday
        else:
            # No truth tests on weekdays: Monday is 0.
            weekday = week_starts if week_starts is not None else history_weekday(connection)
            if weekday is None:
                weekday = DEFAULT_WEEKDAY
            categories = _CategoryResolver(connection)
            create_staging(connection, DAILY_STAGE, DAILY_COLUMNS)
            load_staging(
                connection,
                DAILY_STAGE,
                DAILY_COLUMNS,
                _daily_rows(csv_file, layout, log, categories, weekday),
            )
            require_rows(csv_file, log)
            result.created += _new_categories(connection, log, categories, season)
            _check_daily(connection, log)
            log.raise_if_any()
            staged = _sum_days_into_weeks(connection)
        result.rows_read = csv_file.rows_read
        log.raise_if_any()
        if weekday is not None:
            _check_stored_weekdays(
                connection, log, weekday, daily=layout.kind is FileKind.DAILY_SALES
            )
            log.raise_if_any()
        _move_or_explain(
            connection,
            log,
            result,
            staged,
            replace=options.replace,
            checked=checked,
            parents=parents,
        )
        drop_staging(connection, WEEKLY_STAGE)
        drop_staging(connection, DAILY_STAGE)
    return result


def _copied_straight(
    engine: Engine,
    source: ImportSource,
    accepted: tuple[FileKind, ...],
    options: ImportOptions,
    week_starts: Weekday | None,
) -> ImportResult | None:
    """On PostgreSQL, a plain weekly file without ``--replace``: binary COPY straight
    into the table (``direct_copy``), as fast as the server's own loader. None when the
    file must take the staged route below (nothing is written then)."""
    if engine.dialect.name != "postgresql" or options.replace:
        return None
    log = options.problem_log(source)
    with open_export(source, accepted, log, options.progress) as (csv_file, layout):
        if layout.kind is not FileKind.WEEKLY_SALES:
            return None
        copied = copy_plain_history(engine, csv_file, layout, week_starts, dry_run=options.dry_run)
    if copied is None:
        return None
    result = ImportResult(source.name, layout.kind, "historical_sales", dry_run=options.dry_run)
    result.rows_read = result.inserted = copied
    return result


# --- Parsing rows -------------------------------------------------------------------------


class _FileCalendar:
    """The weekday a weekly file's weeks start on: ``--week-starts``, else its first row's.

    A row starting a week on any other day is a problem naming its line.
    """

    def __init__(self, log: ProblemLog, week_starts: Weekday | None) -> None:
        self.log = log
        self.weekday = week_starts
        self.first: tuple[int, str] | None = None  # the line that chose the weekday

    def check(self, line: int, week: str, weekday: Weekday) -> bool:
        if self.weekday is None:
            self.weekday, self.first = weekday, (line, week)
            return True
        if weekday == self.weekday:
            return True
        if self.first is None:
            why = f"--week-starts is {self.weekday.name.lower()}"
        else:
            first_line, first_week = self.first
            why = (
                f"line {first_line} ({first_week}) starts this file's weeks on {self.weekday.label}"
            )
        self.log.add(
            line,
            "week_start_date",
            f"a week starting on {weekday.label}, but {why}: a file's weeks all start on one day",
            week,
        )
        return False


def _stage_plain_weekly(
    connection: Connection,
    csv_file: CsvFile,
    layout: Layout,
    calendar: _FileCalendar,
    parents: dict[str, set[str]],
) -> bool:
    """Stage a plain weekly file through Arrow (``columns``: whole columns checked at
    once, ids made per column); False, with nothing staged, if the file holds anything
    the fast path leaves to the row-by-row reader (which then reads it all).
    ``parents`` receives the distinct stores and categories staged, by column."""
    if columns.row_by_row_reason(csv_file) is not None:
        return False
    history = columns.PlainWeeklyHistory(csv_file, layout, calendar.weekday)
    import pyarrow.compute as pc

    def staged() -> Iterator[list[Any]]:
        for block in history:
            # The distinct parents, for the move's guards (``bulk_move.upsert``).
            for column, values in (("store_id", block.stores), ("category_id", block.categories)):
                parents.setdefault(column, set()).update(pc.unique(values).to_pylist())
            yield [
                block.batch.lines(),
                block.sale_ids,
                block.weeks,
                block.stores,
                block.categories,
                block.units,
            ]

    savepoint = connection.begin_nested()
    try:
        if connection.dialect.name == "sqlite":
            load_staging_file(connection, WEEKLY_STAGE, WEEKLY_COLUMNS, staged())
        else:
            create_staging(connection, WEEKLY_STAGE, WEEKLY_COLUMNS)
            load_staging_batches(connection, WEEKLY_STAGE, WEEKLY_COLUMNS, staged())
    except columns.NotPlain:
        savepoint.rollback()
        return False
    savepoint.commit()
    calendar.weekday = history.weekday
    return True


def _weekly_rows(
    csv_file: CsvFile, layout: Layout, log: ProblemLog, calendar: _FileCalendar
) -> Iterator[StagedRow]:
    at = layout.positions
    i_week, i_store, i_category, i_units = (
        at["week_start_date"],
        at["store_id"],
        at["category_id"],
        at["units_sold"],
    )
    width = layout.width
    weeks: dict[str, tuple[str, Weekday]] = {}
    sale_ids = historical_sale_ids()
    for line, fields in csv_file.rows():
        if len(fields) != width:
            width_problem(line, fields, width, log)
            continue
        week_text = fields[i_week]
        known = weeks.get(week_text)
        if known is None:
            day = parsed(log, line, "week_start_date", week_text, iso_date)
            if day is not None:
                known = (day.isoformat(), weekday_of(day))
                if len(weeks) < DATE_CACHE_LIMIT:
                    weeks[week_text] = known
        if known is None:
            week = None
        elif known[1] == calendar.weekday or calendar.check(line, *known):
            week = known[0]
        else:
            week = None
        units_text = fields[i_units]
        # Up to nine digits cannot exceed the INTEGER column: the cheap common case.
        if len(units_text) < 10 and units_text.isdigit() and units_text.isascii():
            units: int | None = int(units_text)
        else:
            units = parsed(log, line, "units_sold", units_text, _units)
        store: str | None = fields[i_store]
        if not store or store[0] in _NEEDS_CLEANING or store[-1] == " ":
            store = parsed(log, line, "store_id", fields[i_store], identifier)
        category: str | None = fields[i_category]
        if not category or category[0] in _NEEDS_CLEANING or category[-1] == " ":
            category = parsed(log, line, "category_id", fields[i_category], identifier)
        sale_id = (
            sale_ids(store, category, week)
            if store is not None and category is not None and week is not None
            else None
        )
        # Rows with a bad field are staged too (as NULL) so the set-based checks still
        # report the row's other problems; nothing is moved when there are problems.
        yield line, sale_id, week, store, category, units


def _units(text: str) -> int:
    return whole_number(text, what="units")


def _quantity(text: str) -> int:
    return whole_number(text, what="quantity")


# Leading characters that send an id through the slower cleaning path.
_NEEDS_CLEANING = frozenset(" \t'")


class _CategoryResolver:
    """Category names of a daily file -> ids: an existing category of the same name,
    else the id derived from the name (existing or to be created). "The same name" is
    ``category_id_from_name``'s (NFKC, case folding, apostrophes, separators): the name
    that would get an existing category's id is that category."""

    def __init__(self, connection: Connection) -> None:
        rows = connection.execute(
            text("SELECT category_id, category_name FROM categories ORDER BY category_id")
        ).all()
        self.ids = {str(row[0]) for row in rows}
        self._by_name: dict[str, str] = {}
        for category_id, name in rows:  # of two stored names alike, the first id wins
            self._by_name.setdefault(category_id_from_name(str(name)), str(category_id))
        self.resolved: dict[str, str] = {}
        # id -> (name as first written in the file, its line)
        self.new: dict[str, tuple[str, int]] = {}

    def __call__(self, name: str, *, line: int) -> str:
        clean = trimmed_name(name)
        derived = category_id_from_name(clean)
        category_id = self._by_name.get(derived)
        if category_id is None:
            category_id = derived
            if category_id not in self.ids:
                self.new.setdefault(category_id, (clean, line))
        self.resolved[name] = category_id
        return category_id


def _daily_rows(
    csv_file: CsvFile,
    layout: Layout,
    log: ProblemLog,
    categories: _CategoryResolver,
    weekday: Weekday,
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
    sale_ids = historical_sale_ids()
    for line, fields in csv_file.rows():
        if width_problem(line, fields, width, log):
            continue
        day_text = fields[i_day]
        day = days.get(day_text)
        if day is None:
            parsed_day = parsed(log, line, "date", day_text, iso_date)
            if parsed_day is not None:
                day = (parsed_day.isoformat(), week_start(parsed_day, weekday).isoformat())
                if len(days) < DATE_CACHE_LIMIT:
                    days[day_text] = day
        units = parsed(log, line, "quantity_sold", fields[i_units], _quantity)
        if i_revenue is not None and fields[i_revenue].strip():
            # Validated, not stored: historical_sales holds units only.
            parsed(log, line, "revenue", fields[i_revenue], real_number)
        store = parsed(log, line, "store_id", fields[i_store], identifier)
        name = fields[i_category]
        category_id = categories.resolved.get(name) or parsed(
            log, line, "category", name, functools.partial(categories, line=line)
        )
        if day is None:
            yield line, None, None, None, store, category_id, name, units
            continue
        sale_id = (
            sale_ids(store, category_id, day[1])
            if store is not None and category_id is not None
            else None
        )
        yield line, sale_id, day[0], day[1], store, category_id, name, units


# --- Categories ---------------------------------------------------------------------------


def _unknown_category_ids(connection: Connection) -> dict[str, tuple[str, int]]:
    """Category ids of a weekly file the database lacks -> (the id as name, first line)."""
    rows = connection.execute(
        text(
            f"SELECT category_id, MIN(line) FROM {WEEKLY_STAGE} s "  # noqa: S608
            "WHERE category_id IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM categories c WHERE c.category_id = s.category_id) "
            "GROUP BY category_id"
        )
    ).all()
    return {str(category_id): (str(category_id), int(line)) for category_id, line in rows}


def _new_categories(
    connection: Connection,
    log: ProblemLog,
    categories: _CategoryResolver,
    season: NewSeason | None,
) -> list[str]:
    """Create the categories a daily file names but the database lacks, with ``season``;
    without a season each is a problem on the line that first names it."""
    if not categories.new:
        return []
    if season is not None:
        return _create_categories(connection, categories.new, season)
    for category_id, (name, line) in categories.new.items():
        log.add(
            line,
            "category",
            f"unknown category (its id would be {category_id!r}): give its season with "
            f"{SEASON_OPTIONS} to create the new categories",
            name,
        )
    return []


def _create_categories(
    connection: Connection, new: dict[str, tuple[str, int]], season: NewSeason
) -> list[str]:
    created = []
    end = season_end(season.start, season.weeks)
    for category_id, (name, _line) in sorted(new.items()):
        connection.execute(
            insert(cast(Table, Category.__table__)).values(
                category_id=category_id,
                category_name=name,
                season_start_date=season.start,
                season_end_date=end,
                season_length_weeks=season.weeks,
            )
        )
        created.append(
            f"category {category_id} ({name!r}, {season.weeks} weeks from {season.start})"
        )
    return created


# --- Set-based checks and moves ------------------------------------------------------------


def _check_weekly(connection: Connection, log: ProblemLog) -> None:
    checks.unknown_references(
        connection, log, WEEKLY_STAGE, "store_id", "stores", "store_id", "store"
    )
    checks.unknown_references(
        connection,
        log,
        WEEKLY_STAGE,
        "category_id",
        "categories",
        "category_id",
        f"category (to create new categories give their season: {SEASON_OPTIONS})",
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


def _check_stored_weekdays(
    connection: Connection, log: ProblemLog, weekday: Weekday, *, daily: bool
) -> None:
    """A (store, category) pair that has history keeps the weekday its weeks start on:
    the staged pairs whose stored first week starts on another day, at their first line."""
    stored = connection.execute(text("SELECT EXISTS (SELECT 1 FROM historical_sales)")).scalar()
    # Usually the stored weeks all start on the file's day: then no pair can differ, and
    # the query per pair (a GROUP BY over every staged row) is not needed.
    if not stored or only_weekday_stored(connection, weekday):
        return
    pairs = (
        f"(SELECT MIN(line) AS line, store_id, category_id FROM {WEEKLY_STAGE} "  # noqa: S608
        "GROUP BY store_id, category_id)"
    )
    other = other_weekday_series_sql(connection.dialect.name, pairs, weekday)
    rows = connection.execute(
        text(
            "SELECT line, store_id, category_id, first_week, COUNT(*) OVER () "  # noqa: S608
            f"FROM ({other}) f ORDER BY line LIMIT :limit"
        ),
        {"limit": log.limit},
    ).all()
    if not rows:
        return
    hint = " (choose the day with --week-starts)" if daily else ""
    found = []
    for line, store_id, category_id, first, _total in rows:
        first_day = first if isinstance(first, date) else date.fromisoformat(str(first))
        found.append(
            Problem(
                int(line),
                "week_start_date",
                f"store {store_id} category {category_id} has weeks starting on "
                f"{weekday_of(first_day).label} (from {first_day}), this file's start on "
                f"{weekday.label}{hint}: a series keeps one weekday",
            )
        )
    log.add_counted(found, int(rows[0][4]))


def _move_or_explain(
    connection: Connection,
    log: ProblemLog,
    result: ImportResult,
    staged: int,
    *,
    replace: bool,
    checked: frozenset[str],
    parents: dict[str, set[str]] | None,
) -> None:
    """The move, with no checks in its way: the foreign keys and the unique key of
    ``historical_sales`` refuse bad rows anyway. Only when they do are the staged rows
    examined, to name every offending line (the savepoint undoes the failed move)."""
    savepoint = connection.begin_nested()
    try:
        _move(connection, log, result, staged, replace=replace, checked=checked, parents=parents)
    except IntegrityError:
        savepoint.rollback()
        _check_weekly(connection, log)
        log.raise_if_any()
        raise
    savepoint.commit()


def _move(
    connection: Connection,
    log: ProblemLog,
    result: ImportResult,
    staged: int,
    *,
    replace: bool,
    checked: frozenset[str],
    parents: dict[str, set[str]] | None,
) -> None:
    if replace:
        # Each (store, category) pair's own first and last week bound what the file
        # replaces: another pair's weeks are not this pair's to delete.
        pairs = "ffdb_stage_sales_pairs"
        create_staging(
            connection,
            pairs,
            (
                ("store_id", "text"),
                ("category_id", "text"),
                ("first_week", "text"),
                ("last_week", "text"),
            ),
        )
        connection.execute(
            text(
                f"INSERT INTO {pairs} SELECT store_id, category_id, "  # noqa: S608
                f"MIN(week_start_date), MAX(week_start_date) FROM {WEEKLY_STAGE} "
                "GROUP BY store_id, category_id"
            )
        )
        scope = (
            f"EXISTS (SELECT 1 FROM {pairs} p WHERE p.store_id = historical_sales.store_id "  # noqa: S608
            "AND p.category_id = historical_sales.category_id AND "
            f"historical_sales.week_start_date BETWEEN {as_date(connection, 'p.first_week')} "
            f"AND {as_date(connection, 'p.last_week')})"
        )
        result.deleted = delete_uncovered(
            connection, WEEKLY_STAGE, HISTORICAL_SALES_MOVE, scope, {}
        )
        drop_staging(connection, pairs)

    def check_duplicates() -> None:
        _check_weekly_duplicates(connection, log)
        log.raise_if_any()

    result.count(
        upsert(
            connection,
            WEEKLY_STAGE,
            HISTORICAL_SALES_MOVE,
            staged,
            check_duplicates=check_duplicates,
            checked=checked,
            parent_values=parents,
        )
    )


def _sum_days_into_weeks(connection: Connection) -> int:
    """Stage one row per (store, category, week); returns how many. The rows of a week
    share its id (a function of the same key), so MIN picks it."""
    create_staging(connection, WEEKLY_STAGE, WEEKLY_COLUMNS)
    return connection.execute(
        text(
            f"INSERT INTO {WEEKLY_STAGE} (line, sale_id, week_start_date, store_id, "  # noqa: S608
            "category_id, units_sold) SELECT MIN(line), MIN(sale_id), week_start_date, "
            f"store_id, category_id, SUM(units_sold) FROM {DAILY_STAGE} "
            "GROUP BY store_id, category_id, week_start_date"
        )
    ).rowcount
