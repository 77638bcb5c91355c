"""``ffdb import actuals``: a season week's sales against a forecast.

Accepts a daily file (``date,store_id,quantity_sold``: one week, days summed per
store) or weekly rows (``store_id,week_number,units_sold``). Weeks are the forecast's
season weeks (``definitions.season_week``: week N is the 7 days from the category's
``season_start_date + 7*(N-1)``, whatever weekday that is) within the forecast's
horizon. A daily file holds one season week: ``--week N`` if given (a date in another
week is a problem naming the week it falls in), else the week of its first date.

Complete weeks: a daily file in which a store lacks some of the week's 7 days, or any
file in which stores of the forecast's latest allocation have no row for a week, is
refused, naming the stores and days (the first 10, then a count), unless
``allow_partial``.

Deliberate corrections: rows go to ``actual_sales`` keyed by (forecast, store, week),
each with the id ``definitions.actual_sales_id`` gives it. Re-importing identical data
changes nothing; a row already loaded with another value is a problem naming its line
unless ``replace``, which also deletes rows of the forecast in the file's week(s) whose
store the file does not contain.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, column, exists, func, select, table, text
from sqlalchemy.exc import IntegrityError

from backend.app.ingest import checks, columns
from backend.app.ingest.fields import FieldError, identifier, iso_date, parsed, whole_number
from backend.app.ingest.formats import FileKind, Layout
from backend.app.ingest.options import DEFAULT_OPTIONS, ImportOptions
from backend.app.ingest.outcome import ImportResult
from backend.app.ingest.problems import Problem, ProblemLog
from backend.app.ingest.reader import CsvFile
from backend.app.ingest.source import (
    DATE_CACHE_LIMIT,
    Readable,
    import_source,
    open_export,
    require_rows,
    width_problem,
)
from backend.app.ingest.transaction import import_transaction
from backend.app.maintenance.bulk_move import (
    ACTUAL_SALES_MOVE,
    ACTUAL_SALES_PROVEN,
    StagedRow,
    StagingRefused,
    actuals_stored,
    create_staging,
    delete_uncovered,
    drop_staging,
    load_staging,
    load_staging_batches,
    load_staging_file,
    upsert,
)
from backend.app.maintenance.definitions import (
    ACTUAL_SALES_KIND,
    actual_sales_ids,
    allocated_stores_query,
    describe_week,
    latest_allocation_id,
    natural_id_column,
    season_week,
    season_week_days,
    text_column,
)
from backend.app.models.keys import key_rule_holds

FIRST_WEEK, LAST_WEEK = 1, 12  # actual_sales' CHECK on week_number
SHOWN = 10  # stores (or rows) a completeness problem names before "and N more"
WEEKLY_STAGE = "ffdb_stage_actuals"
WEEKLY_KEY = ("store_id", "week_number")  # of a file (its forecast is the one given)
DAILY_STAGE = "ffdb_stage_daily_actuals"
WEEKLY_COLUMNS = (
    ("line", "int"),
    ("actual_id", "text"),
    ("forecast_id", "text"),
    ("store_id", "text"),
    ("week_number", "int"),
    ("units_sold", "int"),
)
DAILY_COLUMNS = (
    ("line", "int"),
    ("actual_id", "text"),
    ("day", "text"),
    ("week_number", "int"),
    ("store_id", "text"),
    ("units_sold", "int"),
)
# The foreign keys of actual_sales whose parents the import has found before its move.
ACTUALS_PARENTS_FOUND = frozenset({"store_id", "forecast_id"})
PARTIAL_HINT = "give --allow-partial to load a partial week"


class UnknownForecast(LookupError):
    """``--forecast-id`` names no forecast."""


@dataclass(frozen=True)
class _Season:
    """What the file is checked against: the forecast's season and its allocation."""

    forecast_id: str
    start: date
    last_week: int  # the forecast's horizon, within actual_sales' 1..12
    allocation_id: str | None

    def week_of(self, day: date) -> int:
        return season_week(day, self.start)

    def describe(self, week: int) -> str:
        return describe_week(week, self.start)


def import_actuals(
    engine: Engine,
    file: Readable,
    forecast_id: str,
    options: ImportOptions = DEFAULT_OPTIONS,
    *,
    name: str | None = None,
    week: int | None = None,
    allow_partial: bool = False,
) -> ImportResult:
    source = import_source(file, name)
    log = options.problem_log(source)
    accepted = (FileKind.DAILY_ACTUALS, FileKind.WEEKLY_ACTUALS)
    if week is not None and not FIRST_WEEK <= week <= LAST_WEEK:
        raise ValueError(f"--week {week}: a season week is {FIRST_WEEK}..{LAST_WEEK}")
    with (
        open_export(source, accepted, log, options.progress) as (csv_file, layout),
        import_transaction(engine, dry_run=options.dry_run, guards_check_keys=True) as connection,
    ):
        season = _season(connection, forecast_id)
        if week is not None and week > season.last_week:
            raise ValueError(
                f"--week {week} is outside forecast {forecast_id!r}'s weeks 1..{season.last_week}"
            )
        result = ImportResult(source.name, layout.kind, "actual_sales", dry_run=options.dry_run)
        checked: frozenset[str] = frozenset()  # the CHECKs the staged rows are proven to pass
        # A forecast's first actuals meet no stored key (its id is part of the key).
        first_actuals = not actuals_stored(connection, forecast_id)
        # On SQLite's bulk route a file's repeated keys are refused by the staging file's
        # own unique key or, for a forecast's first actuals, left to actual_sales' unique
        # index on the plain insert (``_refuse_repeated_keys`` then names the lines).
        repeats_left = False
        if layout.kind is FileKind.WEEKLY_ACTUALS:
            stores = _stage_plain_weekly(
                connection, csv_file, layout, season, week, unique=not first_actuals
            )
            if stores is not None:
                checked = ACTUAL_SALES_PROVEN  # weeks within the forecast's, at most 12
            else:
                create_staging(connection, WEEKLY_STAGE, WEEKLY_COLUMNS)
                rows = _weekly_rows(csv_file, layout, log, season, week)
                load_staging(connection, WEEKLY_STAGE, WEEKLY_COLUMNS, rows)
            require_rows(csv_file, log)
            refused = stores is not None and connection.dialect.name == "sqlite"
            repeats_left = refused and first_actuals
            _check(
                connection,
                log,
                WEEKLY_STAGE,
                WEEKLY_KEY,
                "store and week",
                unique=refused,
                stores=stores,
            )
            staged = csv_file.rows_read
        else:
            create_staging(connection, DAILY_STAGE, DAILY_COLUMNS)
            daily = _daily_rows(csv_file, layout, log, season, week)
            load_staging(connection, DAILY_STAGE, DAILY_COLUMNS, daily)
            require_rows(csv_file, log)
            _check(connection, log, DAILY_STAGE, ("store_id", "day"), "store and date")
            log.raise_if_any()
            staged = _sum_days(connection, forecast_id)
        result.rows_read = csv_file.rows_read
        log.raise_if_any()
        # The file is readable: is it a complete week, and does it change loaded rows?
        if not allow_partial:
            if layout.kind is FileKind.DAILY_ACTUALS:
                _check_days(connection, log, season)
            _check_stores(connection, log, season)
        if not options.replace:
            _check_changes(connection, log, forecast_id)
        if repeats_left and log:
            # The row-by-row route stops at repeated keys before these checks.
            _refuse_repeated_keys(connection, log)
        log.raise_if_any()
        try:
            _move(
                connection,
                forecast_id,
                result,
                staged,
                replace=options.replace,
                checked=checked,
                none_stored=first_actuals,
            )
        except IntegrityError:
            if repeats_left:
                # Stores and the forecast were found, CHECKs proven: the unique index
                # refused a key the file repeats.
                _refuse_repeated_keys(connection, log)
            raise
        drop_staging(connection, WEEKLY_STAGE)
        drop_staging(connection, DAILY_STAGE)
    return result


def _season(connection: Connection, forecast_id: str) -> _Season:
    row = connection.execute(
        text(
            "SELECT c.season_start_date, f.forecast_horizon_weeks FROM forecasts f "
            "JOIN categories c ON c.category_id = f.category_id "
            "WHERE f.forecast_id = :forecast_id"
        ),
        {"forecast_id": forecast_id},
    ).one_or_none()
    if row is None:
        raise UnknownForecast(f"--forecast-id {forecast_id!r}: no such forecast")
    start = row[0] if isinstance(row[0], date) else date.fromisoformat(str(row[0]))
    return _Season(
        forecast_id=forecast_id,
        start=start,
        last_week=min(int(row[1]), LAST_WEEK),
        allocation_id=latest_allocation_id(connection, forecast_id),
    )


# --- Parsing rows -------------------------------------------------------------------------


def _units(text: str) -> int:
    return whole_number(text, what="units")


def _quantity(text: str) -> int:
    return whole_number(text, what="quantity")


def _stage_plain_weekly(
    connection: Connection,
    csv_file: CsvFile,
    layout: Layout,
    season: _Season,
    week: int | None,
    *,
    unique: bool,
) -> set[str] | None:
    """Stage a plain weekly file through Arrow (``columns``); its distinct stores, or
    None, with nothing staged, if it holds anything the fast path leaves to the
    row-by-row reader. ``unique``: on SQLite the staging file refuses a repeated key
    (the file then goes row by row, which names the lines); without it the caller
    leaves repeated keys to actual_sales' own unique index."""
    if columns.row_by_row_reason(csv_file) is not None:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    # For the unknown-store check (``checks.unknown_references``): the distinct stores,
    # instead of a scan of every staged row for them.
    distinct = columns.DistinctValues()

    def staged() -> Iterator[list[Any]]:
        for batch in columns.batches(csv_file, layout, ("store_id", "week_number", "units_sold")):
            stores = columns.plain_ids(batch.columns["store_id"], distinct)
            numbers = columns.small_whole_numbers(batch.columns["week_number"])
            low, high = pc.min_max(numbers).values()
            if low.as_py() < FIRST_WEEK or high.as_py() > season.last_week:
                raise columns.NotPlain("a week outside the forecast's weeks")
            if week is not None and (low.as_py() != week or high.as_py() != week):
                raise columns.NotPlain("a week other than --week")
            units = columns.small_whole_numbers(batch.columns["units_sold"])
            forecasts = text_column(season.forecast_id, stores)
            ids = natural_id_column(
                ACTUAL_SALES_KIND, forecasts, stores, pc.cast(numbers, pa.string())
            )
            if not (key_rule_holds(ids) and key_rule_holds(pc.unique(forecasts))):
                raise columns.NotPlain("an id the key rule refuses")  # never: said, not assumed
            yield [batch.lines(), ids, forecasts, stores, numbers, units]

    savepoint = connection.begin_nested()
    try:
        if connection.dialect.name == "sqlite":
            # Week first: files come a week at a time, so the key index grows at its end.
            key = ("week_number", "store_id") if unique else ()
            load_staging_file(connection, WEEKLY_STAGE, WEEKLY_COLUMNS, staged(), unique=key)
        else:
            create_staging(connection, WEEKLY_STAGE, WEEKLY_COLUMNS)
            load_staging_batches(connection, WEEKLY_STAGE, WEEKLY_COLUMNS, staged())
    except (columns.NotPlain, StagingRefused):
        savepoint.rollback()
        return None
    savepoint.commit()
    return distinct.values()


def _weekly_rows(
    csv_file: CsvFile, layout: Layout, log: ProblemLog, season: _Season, week: int | None
) -> Iterator[StagedRow]:
    at = layout.positions
    i_store, i_week, i_units = at["store_id"], at["week_number"], at["units_sold"]
    last = season.last_week
    actual_ids = actual_sales_ids()

    def season_week_number(text: str) -> int:
        number = whole_number(text, minimum=None)
        if not FIRST_WEEK <= number <= last:
            raise FieldError(f"outside forecast {season.forecast_id}'s weeks 1..{last}")
        if week is not None and number != week:
            raise FieldError(f"week {number}, but --week is {week}")
        return number

    for line, fields in csv_file.rows():
        if width_problem(line, fields, layout.width, log):
            continue
        store = parsed(log, line, "store_id", fields[i_store], identifier)
        number = parsed(log, line, "week_number", fields[i_week], season_week_number)
        units = parsed(log, line, "units_sold", fields[i_units], _units)
        actual_id = (
            actual_ids(season.forecast_id, store, number)
            if store is not None and number is not None
            else None
        )
        # A bad field is staged as NULL, so the set-based checks report the row's others.
        yield line, actual_id, season.forecast_id, store, number, units


def _daily_rows(
    csv_file: CsvFile, layout: Layout, log: ProblemLog, season: _Season, week: int | None
) -> Iterator[StagedRow]:
    """Each line's date and season week; a file's lines all fall in one week, ``week``
    if given, else the first date's."""
    at = layout.positions
    i_day, i_store, i_units = at["date"], at["store_id"], at["quantity_sold"]
    days: dict[str, tuple[str, int]] = {}
    actual_ids = actual_sales_ids()
    chosen_by: tuple[int, str] | None = None  # the line whose date chose the week

    def in_season(text: str) -> tuple[str, int]:
        day = iso_date(text)
        number = season.week_of(day)
        if number < FIRST_WEEK:
            raise FieldError(f"before the forecast's season, which starts {season.start}")
        if week is None and number > season.last_week:
            raise FieldError(
                f"in {season.describe(number)}, after forecast {season.forecast_id}'s "
                f"last week {season.last_week}"
            )
        return day.isoformat(), number

    for line, fields in csv_file.rows():
        if width_problem(line, fields, layout.width, log):
            continue
        day_text = fields[i_day]
        day = days.get(day_text)
        if day is None:
            day = parsed(log, line, "date", day_text, in_season)
            if day is not None and len(days) < DATE_CACHE_LIMIT:
                days[day_text] = day
        if day is not None:
            if week is None:
                week, chosen_by = day[1], (line, day[0])
            if day[1] != week:
                log.add(line, "date", _other_week(season, day[1], week, chosen_by), day_text)
                day = None
        store = parsed(log, line, "store_id", fields[i_store], identifier)
        units = parsed(log, line, "quantity_sold", fields[i_units], _quantity)
        if day is None:
            yield line, None, None, None, store, units  # a bad field is staged as NULL
            continue
        actual_id = None if store is None else actual_ids(season.forecast_id, store, day[1])
        yield line, actual_id, day[0], day[1], store, units


def _other_week(season: _Season, found: int, week: int, chosen_by: tuple[int, str] | None) -> str:
    if chosen_by is None:
        return f"in {season.describe(found)}, not in --week {week}: {season.describe(week)}"
    line, day = chosen_by
    return (
        f"in {season.describe(found)}, but line {line} ({day}) is in {season.describe(week)}: "
        "an actuals file holds one week"
    )


# --- Set-based checks ---------------------------------------------------------------------


def _check(
    connection: Connection,
    log: ProblemLog,
    staging: str,
    key: tuple[str, ...],
    what: str,
    *,
    unique: bool = False,
    stores: set[str] | None = None,
) -> None:
    """Unknown stores and repeated keys. ``unique``: repeated keys are refused elsewhere
    (the staging file, the table's unique index), so they are looked for only if the
    file is refused anyway (the row-by-row route names both). ``stores``: the distinct
    staged stores, if gathered while staging."""
    checks.unknown_references(
        connection, log, staging, "store_id", "stores", "store_id", "store", values=stores
    )
    if not unique or log:
        _check_repeats(connection, log, staging, key, what)


def _check_repeats(
    connection: Connection, log: ProblemLog, staging: str, key: tuple[str, ...], what: str
) -> None:
    if checks.has_duplicates(connection, staging, key):
        shown = " || ' ' || ".join(f"CAST({column} AS TEXT)" for column in key)
        checks.duplicate_keys(connection, log, staging, key, shown, what)


def _refuse_repeated_keys(connection: Connection, log: ProblemLog) -> None:
    """Refuse the file for its repeated keys alone, if it has any: what the row-by-row
    route reports for such a file, which it stops at before any later check."""
    repeats = ProblemLog(log.path, log.limit)
    _check_repeats(connection, repeats, WEEKLY_STAGE, WEEKLY_KEY, "store and week")
    repeats.raise_if_any()


def _listing(items: list[str], total: int) -> str:
    more = total - len(items)
    return ", ".join(items) + (f" and {more} more" if more > 0 else "")


def _check_days(connection: Connection, log: ProblemLog, season: _Season) -> None:
    """Every store of a daily file has all 7 days of the week: else one problem naming
    the first stores that lack days, their missing days, and how many stores in all."""
    incomplete = connection.execute(
        text(
            f"SELECT store_id, MIN(line), MIN(week_number), COUNT(*) OVER () "  # noqa: S608
            f"FROM {DAILY_STAGE} GROUP BY store_id HAVING COUNT(*) < 7 "
            "ORDER BY store_id LIMIT :shown"
        ),
        {"shown": SHOWN},
    ).all()
    if not incomplete:
        return
    week = int(incomplete[0][2])
    first, _last = season_week_days(week, season.start)
    all_days = {(first + timedelta(days=offset)).isoformat() for offset in range(7)}
    stores = [str(row[0]) for row in incomplete]
    present: dict[str, set[str]] = {store: set() for store in stores}
    daily = table(DAILY_STAGE, column("store_id"), column("day"))
    for store, day in connection.execute(
        select(daily.c.store_id, daily.c.day).where(daily.c.store_id.in_(stores))
    ):
        present[str(store)].add(str(day))
    named = [f"{store} (no {', '.join(sorted(all_days - present[store]))})" for store in stores]
    total = int(incomplete[0][3])
    log.add(
        min(int(row[1]) for row in incomplete),
        "date",
        f"{season.describe(week)} is incomplete: {total} store(s) lack days: "
        f"{_listing(named, total)}; {PARTIAL_HINT}",
    )


def _check_stores(connection: Connection, log: ProblemLog, season: _Season) -> None:
    """Every store of the forecast's latest allocation has a row for each week of the
    file: else one problem per week naming the first missing stores and how many."""
    if season.allocation_id is None:
        return
    staged = table(WEEKLY_STAGE, column("store_id"), column("week_number"), column("line"))
    weeks = connection.execute(
        select(staged.c.week_number, func.min(staged.c.line))
        .where(staged.c.week_number.is_not(None))
        .group_by(staged.c.week_number)
        .order_by(staged.c.week_number)
    ).all()
    allocated = allocated_stores_query(connection.dialect.name).subquery("allocated")
    for week, line in weeks:
        missing = (
            select(allocated.c.store_id)
            .where(
                ~exists().where(
                    staged.c.store_id == allocated.c.store_id, staged.c.week_number == week
                )
            )
            .order_by(allocated.c.store_id)
        )
        rows = connection.execute(
            select(missing.subquery().c.store_id, func.count().over()).limit(SHOWN),
            {"allocation_id": season.allocation_id},
        ).all()
        if rows:
            total = int(rows[0][1])
            log.add(
                int(line),
                "store_id",
                f"{season.describe(int(week))}: {total} store(s) of allocation "
                f"{season.allocation_id} have no row: "
                f"{_listing([str(row[0]) for row in rows], total)}; {PARTIAL_HINT}",
            )


def _check_changes(connection: Connection, log: ProblemLog, forecast_id: str) -> None:
    """Rows already loaded with another value: changing them needs ``--replace``."""
    # A forecast's first actuals: nothing loaded to compare (saves a lookup per row).
    if not actuals_stored(connection, forecast_id):
        return
    rows = connection.execute(
        text(
            "SELECT s.line, s.store_id, s.week_number, a.units_sold, s.units_sold, "  # noqa: S608
            f"COUNT(*) OVER () FROM {WEEKLY_STAGE} s JOIN actual_sales a "
            "ON a.forecast_id = s.forecast_id AND a.store_id = s.store_id "
            "AND a.week_number = s.week_number WHERE a.units_sold <> s.units_sold "
            "ORDER BY s.line LIMIT :limit"
        ),
        {"limit": log.limit},
    ).all()
    if not rows:
        return
    found = [
        Problem(
            int(line),
            "units_sold",
            f"store {store} week {week} is loaded with {stored} units, this file has "
            f"{units}: give --replace to change loaded values",
        )
        for line, store, week, stored, units, _total in rows
    ]
    log.add_counted(found, int(rows[0][5]))


def _sum_days(connection: Connection, forecast_id: str) -> int:
    """One weekly row per store; the days of a store share its id."""
    create_staging(connection, WEEKLY_STAGE, WEEKLY_COLUMNS)
    return connection.execute(
        text(
            f"INSERT INTO {WEEKLY_STAGE} (line, actual_id, forecast_id, store_id, "  # noqa: S608
            "week_number, units_sold) SELECT MIN(line), MIN(actual_id), :forecast_id, "
            f"store_id, MIN(week_number), SUM(units_sold) FROM {DAILY_STAGE} GROUP BY store_id"
        ),
        {"forecast_id": forecast_id},
    ).rowcount


def _move(
    connection: Connection,
    forecast_id: str,
    result: ImportResult,
    staged: int,
    *,
    replace: bool,
    checked: frozenset[str],
    none_stored: bool,
) -> None:
    if replace:
        scope = (
            "actual_sales.forecast_id = :forecast_id AND actual_sales.week_number IN "  # noqa: S608
            f"(SELECT DISTINCT week_number FROM {WEEKLY_STAGE})"
        )
        result.deleted = delete_uncovered(
            connection, WEEKLY_STAGE, ACTUAL_SALES_MOVE, scope, {"forecast_id": forecast_id}
        )
    # Duplicates were checked before: actuals files are small, checks come first. So
    # were the parents: ``_check`` found every staged store, ``_season`` the forecast
    # (the one value staged as forecast_id).
    result.count(
        upsert(
            connection,
            WEEKLY_STAGE,
            ACTUAL_SALES_MOVE,
            staged,
            checked=checked,
            parents_found=ACTUALS_PARENTS_FOUND,
            # Replacing deletes only rows of the file's weeks, none of a forecast's first.
            none_stored=none_stored,
        )
    )
