"""``ffdb import stores``: the retailer's store-attributes export.

A store file has one row per store, so it is parsed into memory and written with
plain upserts (no staging needed). Per row: the id (and ``store_name``, or ``Store
{id}`` for a new store when the file has no such column), the numbers the
``stores`` CHECKs allow, enum spellings normalized (``ShoppingCenter`` ->
``SHOPPING_CENTER``), and the fashion tier, which picks the store's cluster:

- a store already in a cluster of that tier stays there;
- else the tier's cluster ``CL-<TIER>`` (``CL-PREMIUM``: the id the demo uses too,
  ``definitions.cluster_id_for_tier``), else the first existing cluster of that tier,
  else ``CL-<TIER>`` is created (name ``Premium``).

Columns ``stores`` has no place for (foot_traffic, competitor_density,
online_penetration, population_density, mall_location, and any other) go to
``store_extra_attributes`` as one JSON object per store: known ones typed, others as
the text given. A re-import merges into the stored object; ``--replace`` replaces it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert, select, update

from backend.app.ingest.fields import (
    boolean,
    exact_text,
    identifier,
    parsed,
    real_number,
    whole_number,
)
from backend.app.ingest.formats import STORE_EXTRA_COLUMNS, FileKind, Layout
from backend.app.ingest.normalize import EnumSpellings, display_name, unneutralize
from backend.app.ingest.options import DEFAULT_OPTIONS, ImportOptions
from backend.app.ingest.outcome import ImportResult
from backend.app.ingest.problems import ProblemLog
from backend.app.ingest.reader import CsvFile
from backend.app.ingest.source import (
    Readable,
    import_source,
    open_export,
    require_rows,
    width_problem,
)
from backend.app.ingest.transaction import import_transaction
from backend.app.maintenance.definitions import cluster_id_for_tier
from backend.app.models.enums import FashionTier, LocationTier, Region, StoreFormat
from backend.app.models.store import Store
from backend.app.models.store_cluster import StoreCluster
from backend.app.models.store_extra_attributes import StoreExtraAttributes

ENUMS = {
    "location_tier": EnumSpellings(LocationTier),
    "fashion_tier": EnumSpellings(FashionTier),
    "store_format": EnumSpellings(StoreFormat),
    "region": EnumSpellings(Region),
}
STORE_FIELDS = (
    "store_name",
    "cluster_id",
    "store_size_sqft",
    "location_tier",
    "median_income",
    "store_format",
    "region",
    "avg_weekly_sales_12mo",
)


REQUIRED_VALUES = ("store_id", "avg_weekly_sales_12mo", "store_size_sqft", "median_income", *ENUMS)


def _count(text: str) -> int:
    return whole_number(text, what="value")


def _ratio(text: str) -> float:
    return real_number(text)


EXTRA_PARSERS = {
    "foot_traffic": _count,
    "competitor_density": _ratio,
    "online_penetration": _ratio,
    "population_density": _count,
    "mall_location": boolean,
}
assert set(EXTRA_PARSERS) == set(STORE_EXTRA_COLUMNS)
COLUMN_PARSERS: dict[str, Callable[[str], Any]] = {
    "store_id": identifier,
    "store_name": exact_text,
    "avg_weekly_sales_12mo": real_number,
    "store_size_sqft": lambda text: whole_number(text, minimum=1, what="size"),
    "median_income": lambda text: whole_number(text, what="income"),
}


@dataclass
class StoreRow:
    line: int
    store_id: str
    store_name: str | None
    avg_weekly_sales_12mo: float
    store_size_sqft: int
    median_income: int
    location_tier: str
    fashion_tier: str
    store_format: str
    region: str
    extras: dict[str, Any]


def import_stores(
    engine: Engine,
    file: Readable,
    options: ImportOptions = DEFAULT_OPTIONS,
    *,
    name: str | None = None,
) -> ImportResult:
    """Stores from a store-attributes export: a path, or a binary stream named ``name``."""
    source = import_source(file, name)
    log = options.problem_log(source)
    with open_export(source, (FileKind.STORES,), log, options.progress) as (csv_file, layout):
        rows = _parse(csv_file, layout, log)
        require_rows(csv_file, log)
        log.raise_if_any()
        result = ImportResult(source.name, layout.kind, "stores", dry_run=options.dry_run)
        result.rows_read = csv_file.rows_read
    with import_transaction(engine, dry_run=options.dry_run) as connection:
        clusters = _ClusterChooser(connection, result)
        _write(connection, rows, clusters, result, source.file_name, replace=options.replace)
    return result


def _parse(csv_file: CsvFile, layout: Layout, log: ProblemLog) -> list[StoreRow]:
    at = layout.positions
    extra_columns = [
        (name, index) for name, index in at.items() if name in EXTRA_PARSERS
    ] + layout.extra_columns()
    seen: dict[str, int] = {}
    rows: list[StoreRow] = []
    for line, fields in csv_file.rows():
        if width_problem(line, fields, layout.width, log):
            continue
        values: dict[str, Any] = {}
        for column, parse in COLUMN_PARSERS.items():
            # An empty store_name cell gives no name (an empty name is written ');
            # the stored name, or Store {id}, stays.
            if column in at and (column != "store_name" or fields[at[column]]):
                value = parsed(log, line, column, fields[at[column]], parse)
                if value is not None:
                    values[column] = value
        for column, spellings in ENUMS.items():
            raw = fields[at[column]]
            value = spellings(raw)
            if value is None:
                log.add(
                    line, column, f"unknown {column}, expected one of {spellings.expected()}", raw
                )
            else:
                values[column] = value
        extras: dict[str, Any] = {}
        for column, index in extra_columns:
            raw = fields[index]
            parse_extra = EXTRA_PARSERS.get(column)
            if parse_extra is None:
                if raw:  # an empty cell: the store has no such attribute
                    extras[column] = unneutralize(raw)
            elif raw.strip():
                value = parsed(log, line, column, raw, parse_extra)
                if value is not None:
                    extras[column] = value
        store_id = values.get("store_id")
        if store_id is not None:
            if store_id in seen:
                log.add(
                    line, "store_id", f"duplicate store, first on line {seen[store_id]}", store_id
                )
                continue
            seen[store_id] = line
        if all(name in values for name in REQUIRED_VALUES):
            rows.append(
                StoreRow(
                    line=line, store_name=values.pop("store_name", None), extras=extras, **values
                )
            )
    return rows


class _ClusterChooser:
    """The cluster of each fashion tier, created when the database has none."""

    def __init__(self, connection: Connection, result: ImportResult) -> None:
        self.connection = connection
        self.result = result
        table = cast(Table, StoreCluster.__table__)
        rows = connection.execute(
            select(table.c.cluster_id, table.c.fashion_tier).order_by(table.c.cluster_id)
        ).all()
        self.tier_of = {str(row[0]): str(FashionTier(row[1]).value) for row in rows}
        self.by_tier: dict[str, str] = {}
        for cluster_id, tier in self.tier_of.items():
            self.by_tier.setdefault(tier, cluster_id)
        for tier in FashionTier:
            canonical = cluster_id_for_tier(tier)
            if self.tier_of.get(canonical) == tier.value:
                self.by_tier[tier.value] = canonical

    def for_store(self, tier: str, current: str | None) -> str:
        if current is not None and self.tier_of.get(current) == tier:
            return current
        cluster_id = self.by_tier.get(tier)
        if cluster_id is None:
            cluster_id = cluster_id_for_tier(tier)
            self.connection.execute(
                insert(cast(Table, StoreCluster.__table__)).values(
                    cluster_id=cluster_id,
                    cluster_name=display_name(tier),
                    fashion_tier=FashionTier(tier),
                    description=f"Stores of fashion tier {tier} (created by ffdb import stores)",
                )
            )
            self.tier_of[cluster_id] = tier
            self.by_tier[tier] = cluster_id
            self.result.created.append(f"cluster {cluster_id}")
        return cluster_id


def _write(
    connection: Connection,
    rows: list[StoreRow],
    clusters: _ClusterChooser,
    result: ImportResult,
    source_file: str,
    *,
    replace: bool,
) -> None:
    stores = cast(Table, Store.__table__)
    extras_table = cast(Table, StoreExtraAttributes.__table__)
    existing = {
        row.store_id: row
        for row in connection.execute(
            select(*(stores.c[name] for name in ("store_id", *STORE_FIELDS)))
        )
    }
    stored_extras = {
        str(row[0]): dict(row[1])
        for row in connection.execute(select(extras_table.c.store_id, extras_table.c.attributes))
    }
    for row in rows:
        old = existing.get(row.store_id)
        values: dict[str, Any] = {
            "store_name": row.store_name
            if row.store_name is not None
            else (old.store_name if old else f"Store {row.store_id}"),
            "cluster_id": clusters.for_store(row.fashion_tier, old.cluster_id if old else None),
            "store_size_sqft": row.store_size_sqft,
            "location_tier": LocationTier(row.location_tier),
            "median_income": row.median_income,
            "store_format": StoreFormat(row.store_format),
            "region": Region(row.region),
            "avg_weekly_sales_12mo": row.avg_weekly_sales_12mo,
        }
        changed = False
        if old is None:
            connection.execute(insert(stores).values(store_id=row.store_id, **values))
            result.inserted += 1
        else:
            differs = {k: v for k, v in values.items() if _plain(getattr(old, k)) != _plain(v)}
            if differs:
                connection.execute(
                    update(stores).where(stores.c.store_id == row.store_id).values(**differs)
                )
                changed = True
        before = stored_extras.get(row.store_id)
        after = dict(row.extras) if replace or before is None else {**before, **row.extras}
        if before is None and after:
            connection.execute(
                insert(extras_table).values(
                    store_id=row.store_id, attributes=after, source_file=source_file
                )
            )
        elif before is not None and after != before:
            connection.execute(
                update(extras_table)
                .where(extras_table.c.store_id == row.store_id)
                .values(attributes=after, source_file=source_file)
            )
            changed = True
        if old is not None:
            if changed:
                result.updated += 1
            else:
                result.unchanged += 1


def _plain(value: Any) -> Any:
    """Enum members and their stored strings compare equal."""
    return getattr(value, "value", value)
