"""The business definitions every path shares: one function each.

- **Season week**: week N of a season is the 7 days from ``season_start_date +
  7*(N-1)``; seasons start on any weekday (``season_week``, ``season_week_days``).
- **History week calendar**: a weekly history row's ``week_start_date`` may fall on any
  weekday; daily sales are summed into weeks that start on a chosen ``Weekday``
  (``week_start``); the default is the weekday the stored history uses
  (``history_weekday``), else Monday.
- **Ids from natural keys**: a row written by any path (import, write API, demo) gets
  the same id from its natural key (``actual_sales_id``, ``historical_sale_id``,
  ``distribution_id``, ``cluster_id_for_tier``); ids made from names
  (``category_id_from_name``) are stable and collision-free for any Unicode name.
  No id is longer than ``KEY_MAX_LENGTH`` characters, and none begins or ends with
  whitespace (ids from natural keys start with their kind and end with the last part
  or a hash): each follows the schema's key rule (``models.keys``).
- **Sell-through**: units sold to date / units shipped to the stores, ``gap = target -
  sell-through`` (``sell_through``, ``sell_through_ratio``, ``sell_through_gap``).
  Units shipped are the ``initial`` units of the forecast's latest allocation
  (``latest_allocation_id``: newest ``created_at``, ties to the greater id;
  ``allocated_stores_query``); the holdback stays in the DC, and the schema records no
  replenishment from it, so none is added.

Why this module sits in ``maintenance``: the importers (``ingest``), the reads
(``queries``), the write API and doctor's rules (``domain``) are sibling layers that
may not import each other, and the demo sits above them all; sell-through needs the
database, so the definitions live in the lowest layer that can read the tables. The
calendar and id functions are pure (no I/O), so a different loader (Arrow, COPY)
can call them row by row or per distinct value.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Connection,
    Integer,
    Select,
    String,
    bindparam,
    cast,
    func,
    literal,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from backend.app.maintenance.json_rows import json_array_rows
from backend.app.models import ActualSales, Allocation, HistoricalSales
from backend.app.models.keys import KEY_MAX_LENGTH
from backend.app.models.markdown import DEFAULT_TARGET_SELL_THROUGH
from backend.app.schemas.enums import FashionTier

# --- season weeks and week calendars ------------------------------------------------------


class Weekday(enum.IntEnum):
    """A day of the week, numbered like ``date.weekday()`` (Monday 0)."""

    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6

    @property
    def label(self) -> str:
        return self.name.capitalize()

    @classmethod
    def parse(cls, text: str) -> Weekday:
        """``monday``..``sunday`` in any case; a ValueError names the choices."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(
                f"{text!r} is not a weekday: expected one of {', '.join(WEEKDAY_NAMES)}"
            ) from None


WEEKDAY_NAMES = tuple(day.name.lower() for day in Weekday)
DEFAULT_WEEKDAY = Weekday.MONDAY


def weekday_of(day: date) -> Weekday:
    return Weekday(day.weekday())


def week_start(day: date, weekday: Weekday) -> date:
    """The first day of the 7-day week holding ``day`` in a calendar of ``weekday`` weeks."""
    return day - timedelta(days=(day.weekday() - weekday) % 7)


def season_week(day: date, season_start: date) -> int:
    """The season week ``day`` falls in: 1 from ``season_start``; 0 or less before it."""
    return (day - season_start).days // 7 + 1


def season_week_days(week: int, season_start: date) -> tuple[date, date]:
    """The first and last day of season week ``week``."""
    first = season_start + timedelta(days=7 * (week - 1))
    return first, first + timedelta(days=6)


def season_end(season_start: date, weeks: int) -> date:
    """The last day of a season of ``weeks`` weeks."""
    return season_start + timedelta(days=7 * weeks - 1)


def describe_week(week: int, season_start: date) -> str:
    """``season week 3 (2025-03-03..2025-03-09)``: how messages name a season week."""
    first, last = season_week_days(week, season_start)
    return f"season week {week} ({first}..{last})"


def weekday_sql(dialect: str, expression: str) -> str:
    """SQL for the ``Weekday`` number (Monday 0) of a date expression of ``dialect``."""
    if dialect == "postgresql":
        return f"(CAST(EXTRACT(ISODOW FROM {expression}) AS INTEGER) - 1)"
    return f"((CAST(strftime('%w', {expression}) AS INTEGER) + 6) % 7)"


def other_weekday_series_sql(
    dialect: str, pairs: str, weekday: Weekday, *, including_new_rows: bool = False
) -> str:
    """The one question "which of these (store, category) series already hold weeks that
    start on a day other than ``weekday``?" (a series keeps one weekday).

    ``pairs`` is SQL naming a table or subquery with ``store_id`` and ``category_id``
    columns (and any others, kept). The query returns those rows with ``first_week``,
    the first stored week of the series that starts on another weekday, for the series
    that have one.

    Before the new rows are stored, the series' first week answers for all of them (they
    share one weekday): one index lookup per pair. ``including_new_rows``: the file's
    rows (all on ``weekday``) are already in and may be the first, so every stored week
    of the pair is read (one range of the unique (store, category, week) index)."""
    day = weekday_sql(dialect, "h.week_start_date")
    of_pair = "h.store_id = p.store_id AND h.category_id = p.category_id"
    if including_new_rows:
        first = (
            f"(SELECT MIN(h.week_start_date) FROM historical_sales h WHERE {of_pair} "  # noqa: S608
            f"AND {day} <> {int(weekday)})"
        )
        condition = "first_week IS NOT NULL"
    else:
        first = f"(SELECT MIN(h.week_start_date) FROM historical_sales h WHERE {of_pair})"  # noqa: S608
        condition = (
            f"first_week IS NOT NULL AND {weekday_sql(dialect, 'first_week')} <> {int(weekday)}"
        )
    return f"SELECT * FROM (SELECT p.*, {first} AS first_week FROM {pairs} p) o WHERE {condition}"  # noqa: S608


def only_weekday_stored(connection: Connection, weekday: Weekday) -> bool:
    """Whether every stored history week starts on ``weekday``: then no series starts
    on another day, and ``other_weekday_series_sql`` can only answer "none". It walks
    the distinct stored weeks through the date index (one seek each, a few hundred at
    most) instead of asking per (store, category) pair."""
    day = weekday_sql(connection.dialect.name, "w.week")
    return bool(
        connection.exec_driver_sql(
            "WITH RECURSIVE weeks (week) AS (SELECT MIN(week_start_date) FROM historical_sales "  # noqa: S608
            "UNION ALL SELECT (SELECT MIN(h.week_start_date) FROM historical_sales h "
            "WHERE h.week_start_date > w.week) FROM weeks w WHERE w.week IS NOT NULL) "
            "SELECT NOT EXISTS (SELECT 1 FROM weeks w WHERE w.week IS NOT NULL "
            f"AND {day} <> {int(weekday)})"
        ).scalar()
    )


def history_weekday(connection: Connection | Session) -> Weekday | None:
    """The weekday the stored weekly history starts its weeks on (that of its latest
    week: one index lookup), or None when there is no history."""
    latest = connection.execute(select(func.max(HistoricalSales.week_start_date))).scalar()
    if latest is None:
        return None
    return weekday_of(latest if isinstance(latest, date) else date.fromisoformat(str(latest)))


# --- ids from natural keys and names ------------------------------------------------------

_HASH_CHARS = 24  # hex digits of SHA-256 kept when an id is shortened (96 bits)
# A key part's own ':' would make two keys read alike; '~' marks a shortened id.
_ESCAPES = str.maketrans({"%": "%25", ":": "%3A", "~": "%7E"})


def _part(value: object) -> str:
    text = value.isoformat() if isinstance(value, date) else str(value)
    if "%" in text or ":" in text or "~" in text:
        return text.translate(_ESCAPES)
    return text


def _bounded(text: str, separator: str) -> str:
    """``text`` if short enough, else its start, ``separator`` and a hash of all of it."""
    if len(text) <= KEY_MAX_LENGTH:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    return f"{text[: KEY_MAX_LENGTH - _HASH_CHARS - 1]}{separator}{digest}"


def natural_id(kind: str, *parts: object) -> str:
    """``KIND:part:part...`` with ``%``, ``:`` and ``~`` in the parts escaped, so two
    different keys never give the same id; longer than ``KEY_MAX_LENGTH`` it is cut and
    ends in ``~`` and a hash of the whole key (a shape no unshortened id has)."""
    return _bounded(":".join((kind, *map(_part, parts))), "~")


class NaturalIds:
    """``natural_id(kind, first, second, last)`` for many rows: the same ids, made faster
    because rows share parts (a store and category over many weeks): the escaped start
    of each (first, second) and the escaped text of each last part are made once (up
    to ``_KEPT`` of each)."""

    _KEPT = 100_000

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._starts: dict[tuple[object, object], str] = {}
        self._lasts: dict[object, str] = {}

    def __call__(self, first: object, second: object, last: object) -> str:
        start = self._starts.get((first, second))
        if start is None:
            start = f"{self._kind}:{_part(first)}:{_part(second)}:"
            if len(self._starts) < self._KEPT:
                self._starts[first, second] = start
        end = self._lasts.get(last)
        if end is None:
            end = _part(last)
            if len(self._lasts) < self._KEPT:
                self._lasts[last] = end
        text = start + end
        return text if len(text) <= KEY_MAX_LENGTH else _bounded(text, "~")


def natural_id_column(kind: str, *parts: Any) -> Any:
    """``natural_id`` for whole Arrow columns (string arrays of equal length, no nulls):
    the same ids, made by Arrow compute kernels instead of a Python loop. A key longer
    than ``KEY_MAX_LENGTH`` (rare) is shortened by the scalar code, row by row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    escaped = []
    for part in parts:
        # Asked of the distinct values: a key column repeats few of them.
        if pc.any(pc.match_substring_regex(pc.unique(part), "[%:~]")).as_py():
            for character, escape in (("%", "%25"), (":", "%3A"), ("~", "%7E")):
                part = pc.replace_substring(part, character, escape)
        escaped.append(part)
    escaped[0] = pc.utf8_replace_slice(escaped[0], start=0, stop=0, replacement=f"{kind}:")
    ids = pc.binary_join_element_wise(*escaped, text_column(":", escaped[0]))
    if pc.max(pc.utf8_length(ids)).as_py() > KEY_MAX_LENGTH:
        too_long = pc.greater(pc.utf8_length(ids), KEY_MAX_LENGTH)
        shortened = [_bounded(text.as_py(), "~") for text in ids.filter(too_long)]
        ids = pc.replace_with_mask(ids, too_long, pa.array(shortened, type=ids.type))
    return ids


def text_column(value: str, like: Any) -> Any:
    """An Arrow string column of ``value`` as long as ``like``, made by compute kernels:
    any Python value turned into an Arrow one makes pyarrow import pandas (~40 MB
    resident), which the bounded-memory import paths cannot afford."""
    import pyarrow.compute as pc

    empty = pc.utf8_slice_codeunits(pc.cast(like, "string"), start=0, stop=0)
    return pc.utf8_replace_slice(empty, start=0, stop=0, replacement=value)


ACTUAL_SALES_KIND = "AS"
HISTORICAL_SALES_KIND = "HS"
DISTRIBUTION_KIND = "FD"


def actual_sales_id(forecast_id: str, store_id: str, week_number: int) -> str:
    """``AS:F_WD_2025:S001:3``: actual_sales' id from (forecast, store, week)."""
    return natural_id(ACTUAL_SALES_KIND, forecast_id, store_id, week_number)


def actual_sales_ids() -> NaturalIds:
    """``actual_sales_id`` for a whole file's rows."""
    return NaturalIds(ACTUAL_SALES_KIND)


def historical_sale_id(store_id: str, category_id: str, week_start_date: date | str) -> str:
    """``HS:S001:womens_dresses:2025-02-17``: historical_sales' id from its natural key
    (the week as a date or its ISO text)."""
    return natural_id(HISTORICAL_SALES_KIND, store_id, category_id, week_start_date)


def historical_sale_ids() -> NaturalIds:
    """``historical_sale_id`` for a whole file's rows."""
    return NaturalIds(HISTORICAL_SALES_KIND)


def distribution_id(forecast_id: str, cluster_id: str) -> str:
    """``FD:F_WD_2025:CL-PREMIUM``: a forecast cluster distribution row's id."""
    return natural_id(DISTRIBUTION_KIND, forecast_id, cluster_id)


def cluster_id_for_tier(tier: FashionTier | str) -> str:
    """``CL-PREMIUM``: the id of the cluster the importer and the demo make for a tier."""
    return f"CL-{FashionTier(tier).value}"


# Word characters other than '_' (letters and digits of any script) form an id's words.
_WORD = re.compile(r"[^\W_]+")
# Dropped between words: they separate words but do not tell names apart.
_SEPARATORS = re.compile(r"[\s_\-]+")
_APOSTROPHES = str.maketrans("", "", "'\u2019\u2018\u02bc")
_NAME_HASH_CHARS = 10


def category_id_from_name(name: str) -> str:
    """A stable id for a category name: its words in lower case joined by ``_``.

    ``Women's Dresses`` -> ``womens_dresses``; ``Ä-Wear`` -> ``ä_wear``, ``Ü-Wear`` ->
    ``ü_wear``. Names are compared after Unicode compatibility folding (NFKC), case
    folding and dropping apostrophes; spaces, ``-`` and ``_`` only separate words. Two
    names that differ in anything else get different ids: a name with other characters
    (``Tops & Tees``, ``Tops + Tees``) keeps its words and ends in ``-`` and a short hash of
    the whole folded name (``tops_tees-3f0c...``), as does a name cut to
    ``KEY_MAX_LENGTH``. A name with no letter or digit at all is ``_`` and the hash.
    """
    folded = unicodedata.normalize("NFKC", name).casefold().translate(_APOSTROPHES).strip()
    tokens = [token for token in _SEPARATORS.split(folded) if token]
    words = [word for token in tokens for word in _WORD.findall(token)]
    slug = "_".join(words)
    plain = all(_WORD.fullmatch(token) for token in tokens)
    if plain and slug and len(slug) <= KEY_MAX_LENGTH:
        return slug
    digest = hashlib.sha256("\x1f".join(tokens).encode("utf-8")).hexdigest()[:_NAME_HASH_CHARS]
    if not slug:
        return f"_{digest}"
    return f"{slug[: KEY_MAX_LENGTH - _NAME_HASH_CHARS - 1]}-{digest}"


# --- sell-through -------------------------------------------------------------------------


def sell_through_ratio(units_sold: int, units_shipped: int | None) -> float | None:
    """Units sold / units shipped to the stores; None when nothing was shipped."""
    if not units_shipped:
        return None
    return units_sold / units_shipped


def sell_through_gap(target_sell_through_pct: float, sell_through_pct: float) -> float:
    """How far sell-through is below its target (positive: behind), as a markdown records."""
    return target_sell_through_pct - sell_through_pct


def latest_allocation_id_query(forecast_id: str | BindParameter[str]) -> Select[str]:
    """The forecast's allocation ids, newest first (by created_at, then the greater id):
    the first is the allocation a forecast's stores are measured against."""
    return (
        select(Allocation.allocation_id)
        .where(Allocation.forecast_id == forecast_id)
        .order_by(Allocation.created_at.desc().nulls_last(), Allocation.allocation_id.desc())
    )


def latest_allocation_id(connection: Connection | Session, forecast_id: str) -> str | None:
    return connection.execute(latest_allocation_id_query(forecast_id).limit(1)).scalar()


FORECAST_ID = bindparam("forecast_id", type_=String)
ALLOCATION_ID = bindparam("allocation_id", type_=String)
WEEK = bindparam("week", type_=Integer)


def allocated_stores_query(dialect: str) -> Select[str, int]:
    """(store_id, initial) of each entry of allocation ``:allocation_id``'s split: the
    stores a forecast ships to and the units each received at the start of the season."""
    split = json_array_rows(Allocation.store_allocations, dialect, "split")
    return (
        select(
            split.text("store_id").label("store_id"),
            split.integer("initial").label("initial"),
        )
        .select_from(Allocation)
        .join(split.rows, true())
        .where(Allocation.allocation_id == ALLOCATION_ID)
    )


@functools.cache
def store_flows_statement(dialect: str, with_allocation: bool) -> Select[Any]:
    """Per store of forecast ``:forecast_id``: units sold in weeks 1..``:week`` and units
    shipped to it (its ``initial`` units in allocation ``:allocation_id``).

    Sales and shipments are stacked (UNION ALL) and grouped by store, so a store on
    either side appears once; a store that sold without a shipment has NULL shipped.
    """
    # Summed per store first: the (forecast_id, store_id, week_number) index hands the
    # rows over in store order, so this groups without a sort.
    sales = (
        select(
            ActualSales.store_id.label("store_id"),
            cast(func.sum(ActualSales.units_sold), BigInteger).label("sold"),
            cast(null(), BigInteger).label("shipped"),
        )
        .where(ActualSales.forecast_id == FORECAST_ID, ActualSales.week_number <= WEEK)
        .group_by(ActualSales.store_id)
    )
    parts = [sales]
    if with_allocation:
        allocated = allocated_stores_query(dialect).subquery("allocated")
        parts.append(
            select(
                allocated.c.store_id,
                literal(0, BigInteger).label("sold"),
                allocated.c.initial.label("shipped"),
            )
        )
    flows = union_all(*parts).subquery("flows")
    return (
        select(
            flows.c.store_id,
            func.coalesce(cast(func.sum(flows.c.sold), BigInteger), 0).label("sold"),
            cast(func.sum(flows.c.shipped), BigInteger).label("shipped"),
        )
        .group_by(flows.c.store_id)
        .order_by(flows.c.store_id)
    )


@dataclass(frozen=True)
class StoreFlow:
    store_id: str
    units_sold: int
    units_shipped: int | None  # None: the store sold without a shipment recorded

    @property
    def sell_through_pct(self) -> float | None:
        return sell_through_ratio(self.units_sold, self.units_shipped)


@dataclass(frozen=True)
class SellThrough:
    """Sell-through of a forecast through ``week``, in total and per store."""

    forecast_id: str
    week: int
    allocation_id: str | None
    stores: Sequence[StoreFlow]
    target_sell_through_pct: float = DEFAULT_TARGET_SELL_THROUGH

    @property
    def units_sold(self) -> int:
        return sum(store.units_sold for store in self.stores)

    @property
    def units_shipped(self) -> int:
        return sum(store.units_shipped or 0 for store in self.stores)

    @property
    def sell_through_pct(self) -> float | None:
        return sell_through_ratio(self.units_sold, self.units_shipped)

    @property
    def gap_pct(self) -> float | None:
        pct = self.sell_through_pct
        return None if pct is None else sell_through_gap(self.target_sell_through_pct, pct)


def dialect_name(connection: Connection | Session) -> str:
    if isinstance(connection, Session):
        return connection.get_bind().dialect.name
    return connection.dialect.name


def sell_through(
    connection: Connection | Session,
    forecast_id: str,
    week: int,
    target_sell_through_pct: float = DEFAULT_TARGET_SELL_THROUGH,
    *,
    allocation_id: str | None = None,
) -> SellThrough:
    """Units sold in weeks 1..``week`` / units shipped to the stores, per store and in total.

    Measured against the forecast's latest allocation (or ``allocation_id`` when the
    caller has looked it up already); without one nothing was shipped and the ratio is
    None. One statement, reading actual_sales through its (forecast, store, week) index.
    """
    if allocation_id is None:
        allocation_id = latest_allocation_id(connection, forecast_id)
    statement = store_flows_statement(dialect_name(connection), allocation_id is not None)
    rows = connection.execute(
        statement, {"forecast_id": forecast_id, "week": week, "allocation_id": allocation_id}
    ).all()
    return SellThrough(
        forecast_id=forecast_id,
        week=week,
        allocation_id=allocation_id,
        stores=[StoreFlow(str(store), int(sold), shipped) for store, sold, shipped in rows],
        target_sell_through_pct=target_sell_through_pct,
    )
