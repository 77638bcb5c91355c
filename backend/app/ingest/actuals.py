"""``ffdb import actuals``: a season week's sales against a forecast.

Accepts a daily file (``date,store_id,quantity_sold``: one week, days summed per
store) or weekly rows (``store_id,week_number,units_sold``, any weeks). The week of a
daily file is ``--week`` if given, else counted from the season start of the
forecast's category: week = (date - season_start_date).days // 7 + 1. Either way all
dates of a daily file must fall in one season week.

Rows go to ``actual_sales`` keyed by (forecast, store, week) with the deterministic id
``AS:{forecast_id}:{store_id}:{week_number}``. ``--replace``: rows of that forecast in
the file's week(s) whose store the file does not contain are deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from backend.app.ingest import checks
from backend.app.ingest.fields import FieldError, identifier, iso_date, whole_number
from backend.app.ingest.formats import FileKind, Layout
from backend.app.ingest.outcome import ImportResult
from backend.app.ingest.problems import DEFAULT_PROBLEM_LIMIT, Problem, ProblemLog
from backend.app.ingest.reader import CsvFile, ProgressCallback
from backend.app.ingest.source import DATE_CACHE_LIMIT, open_export, require_rows, width_problem
from backend.app.ingest.staging import StagedRow, create_staging, drop_staging, load_staging
from backend.app.ingest.transaction import import_transaction
from backend.app.ingest.upsert import Move, delete_uncovered, upsert

FIRST_WEEK, LAST_WEEK = 1, 12  # actual_sales' CHECK on week_number
WEEKLY_STAGE = "ffdb_stage_actuals"
DAILY_STAGE = "ffdb_stage_daily_actuals"
WEEKLY_COLUMNS = (
    ("line", "int"),
    ("forecast_id", "text"),
    ("store_id", "text"),
    ("week_number", "int"),
    ("units_sold", "int"),
)
DAILY_COLUMNS = (
    ("line", "int"),
    ("day", "text"),
    ("week_number", "int"),
    ("store_id", "text"),
    ("units_sold", "int"),
)


class UnknownForecast(LookupError):
    """``--forecast-id`` names no forecast."""


def import_actuals(
    engine: Engine,
    path: Path,
    forecast_id: str,
    *,
    week: int | None = None,
    dry_run: bool = False,
    replace: bool = False,
    progress: ProgressCallback | None = None,
    limit: int = DEFAULT_PROBLEM_LIMIT,
) -> ImportResult:
    log = ProblemLog(str(path), limit)
    accepted = (FileKind.DAILY_ACTUALS, FileKind.WEEKLY_ACTUALS)
    if week is not None and not FIRST_WEEK <= week <= LAST_WEEK:
        raise ValueError(f"--week {week}: a season week is {FIRST_WEEK}..{LAST_WEEK}")
    with (
        open_export(path, accepted, log, progress) as (csv_file, layout),
        import_transaction(engine, dry_run=dry_run) as connection,
    ):
        season_start = _season_start(connection, forecast_id)
        result = ImportResult(str(path), layout.kind, "actual_sales", dry_run=dry_run)
        if layout.kind is FileKind.WEEKLY_ACTUALS:
            create_staging(connection, WEEKLY_STAGE, WEEKLY_COLUMNS)
            rows = _weekly_rows(csv_file, layout, log, forecast_id)
            load_staging(connection, WEEKLY_STAGE, WEEKLY_COLUMNS, rows)
            require_rows(csv_file, log)
            _check(connection, log, WEEKLY_STAGE, ("store_id", "week_number"), "store and week")
            staged = csv_file.rows_read
        else:
            create_staging(connection, DAILY_STAGE, DAILY_COLUMNS)
            daily = _daily_rows(csv_file, layout, log, season_start, week)
            load_staging(connection, DAILY_STAGE, DAILY_COLUMNS, daily)
            require_rows(csv_file, log)
            _check(connection, log, DAILY_STAGE, ("store_id", "day"), "store and date")
            _check_one_week(connection, log)
            log.raise_if_any()
            staged = _sum_days(connection, forecast_id, week)
        result.rows_read = csv_file.rows_read
        log.raise_if_any()
        _move(connection, forecast_id, result, staged, replace=replace)
        drop_staging(connection, WEEKLY_STAGE)
        drop_staging(connection, DAILY_STAGE)
    return result


def _season_start(connection: Connection, forecast_id: str) -> date:
    row = connection.execute(
        text(
            "SELECT c.season_start_date FROM forecasts f JOIN categories c "
            "ON c.category_id = f.category_id WHERE f.forecast_id = :forecast_id"
        ),
        {"forecast_id": forecast_id},
    ).one_or_none()
    if row is None:
        raise UnknownForecast(f"--forecast-id {forecast_id!r}: no such forecast")
    start = row[0]
    return start if isinstance(start, date) else date.fromisoformat(str(start))


def _weekly_rows(
    csv_file: CsvFile, layout: Layout, log: ProblemLog, forecast_id: str
) -> Iterator[StagedRow]:
    at = layout.positions
    i_store, i_week, i_units = at["store_id"], at["week_number"], at["units_sold"]
    for line, fields in csv_file.rows():
        if width_problem(line, fields, layout.width, log):
            continue
        try:
            store = identifier(fields[i_store])
        except FieldError as error:
            log.add(line, "store_id", str(error), fields[i_store])
            store = None
        try:
            week = whole_number(fields[i_week], minimum=None)
            if not FIRST_WEEK <= week <= LAST_WEEK:
                raise FieldError(f"outside the season's weeks {FIRST_WEEK}..{LAST_WEEK}")
        except FieldError as error:
            log.add(line, "week_number", str(error), fields[i_week])
            week = None
        try:
            units = whole_number(fields[i_units], what="units")
        except FieldError as error:
            log.add(line, "units_sold", str(error), fields[i_units])
            units = None
        yield line, forecast_id, store, week, units  # a bad field is staged as NULL


def _daily_rows(
    csv_file: CsvFile, layout: Layout, log: ProblemLog, season_start: date, week: int | None
) -> Iterator[StagedRow]:
    at = layout.positions
    i_day, i_store, i_units = at["date"], at["store_id"], at["quantity_sold"]
    days: dict[str, tuple[str, int]] = {}
    for line, fields in csv_file.rows():
        if width_problem(line, fields, layout.width, log):
            continue
        day_text = fields[i_day]
        day = days.get(day_text)
        if day is None:
            try:
                parsed = iso_date(day_text)
                if parsed < season_start:
                    raise FieldError(f"before the forecast's season, which starts {season_start}")
                number = (parsed - season_start).days // 7 + 1
                if week is None and number > LAST_WEEK:
                    raise FieldError(
                        f"season week {number}, after the season's last week {LAST_WEEK} "
                        f"(season starts {season_start})"
                    )
                day = (parsed.isoformat(), number)
                if len(days) < DATE_CACHE_LIMIT:
                    days[day_text] = day
            except FieldError as error:
                log.add(line, "date", str(error), day_text)
                day = None
        try:
            store = identifier(fields[i_store])
        except FieldError as error:
            log.add(line, "store_id", str(error), fields[i_store])
            store = None
        try:
            units = whole_number(fields[i_units], what="quantity")
        except FieldError as error:
            log.add(line, "quantity_sold", str(error), fields[i_units])
            units = None
        if day is None:
            yield line, None, None, store, units  # a bad field is staged as NULL
        else:
            yield line, day[0], day[1], store, units


def _check(
    connection: Connection, log: ProblemLog, staging: str, key: tuple[str, ...], what: str
) -> None:
    checks.unknown_references(connection, log, staging, "store_id", "stores", "store_id", "store")
    if checks.has_duplicates(connection, staging, key):
        shown = " || ' ' || ".join(f"CAST({column} AS TEXT)" for column in key)
        checks.duplicate_keys(connection, log, staging, key, shown, what)


def _check_one_week(connection: Connection, log: ProblemLog) -> None:
    """A daily actuals file holds one season week: lines outside the first line's week."""
    first = connection.execute(
        text(
            f"SELECT line, day, week_number FROM {DAILY_STAGE} "  # noqa: S608
            "WHERE week_number IS NOT NULL ORDER BY line LIMIT 1"
        )
    ).one_or_none()
    if first is None:
        return
    first_line, first_day, first_week = first
    rows = connection.execute(
        text(
            f"SELECT line, day, week_number, COUNT(*) OVER () FROM {DAILY_STAGE} "  # noqa: S608
            "WHERE week_number <> :week ORDER BY line LIMIT :limit"
        ),
        {"week": first_week, "limit": log.limit},
    ).all()
    if not rows:
        return
    found = [
        Problem(
            int(line),
            "date",
            f"season week {other}, but line {first_line} ({first_day}) is in week {first_week}: "
            "an actuals file holds one week",
            str(day),
        )
        for line, day, other, _total in rows
    ]
    log.add_counted(found, int(rows[0][3]))


def _sum_days(connection: Connection, forecast_id: str, week: int | None) -> int:
    """One weekly row per store; ``--week`` overrides the week the dates give."""
    create_staging(connection, WEEKLY_STAGE, WEEKLY_COLUMNS)
    week_sql = ":week" if week is not None else "MIN(week_number)"
    return connection.execute(
        text(
            f"INSERT INTO {WEEKLY_STAGE} (line, forecast_id, store_id, week_number, "  # noqa: S608
            f"units_sold) SELECT MIN(line), :forecast_id, store_id, {week_sql}, "
            f"SUM(units_sold) FROM {DAILY_STAGE} GROUP BY store_id"
        ),
        {"forecast_id": forecast_id, "week": week},
    ).rowcount


ACTUALS_MOVE = Move(
    table="actual_sales",
    id_column="actual_id",
    id_expression=(
        "'AS:' || s.forecast_id || ':' || s.store_id || ':' || CAST(s.week_number AS TEXT)"
    ),
    key=("forecast_id", "store_id", "week_number"),
    value="units_sold",
)


def _move(
    connection: Connection, forecast_id: str, result: ImportResult, staged: int, *, replace: bool
) -> None:
    if replace:
        scope = (
            "actual_sales.forecast_id = :forecast_id AND actual_sales.week_number IN "  # noqa: S608
            f"(SELECT DISTINCT week_number FROM {WEEKLY_STAGE})"
        )
        result.deleted = delete_uncovered(
            connection, WEEKLY_STAGE, ACTUALS_MOVE, scope, {"forecast_id": forecast_id}
        )
    # Duplicates were checked before: actuals files are small, checks come first.
    upsert(connection, WEEKLY_STAGE, ACTUALS_MOVE, result, staged)
