"""Which export a file is, decided from its header, and where each column sits.

Column names are matched without regard to case or surrounding spaces, in any order.
A header that matches another command's format is named as such ("this is a
store-attributes file: use `ffdb import stores`"), so a file given to the wrong
command is refused with a useful message rather than a list of missing columns.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from backend.app.ingest.problems import ProblemLog
from backend.app.ingest.reader import wrong_delimiter


class FileKind(enum.Enum):
    STORES = "store-attributes"
    WEEKLY_SALES = "weekly historical-sales"
    DAILY_SALES = "daily historical-sales"
    DAILY_ACTUALS = "daily actuals"
    WEEKLY_ACTUALS = "weekly actuals"


@dataclass(frozen=True)
class Format:
    kind: FileKind
    command: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    # Whether columns beyond required + optional are kept rather than refused.
    open_ended: bool = False

    @property
    def known(self) -> tuple[str, ...]:
        return self.required + self.optional


STORE_COLUMNS = (
    "store_id",
    "avg_weekly_sales_12mo",
    "store_size_sqft",
    "median_income",
    "location_tier",
    "fashion_tier",
    "store_format",
    "region",
)
# Columns of the retailer's store export that `stores` has no place for, with their types.
STORE_EXTRA_COLUMNS = (
    "foot_traffic",
    "competitor_density",
    "online_penetration",
    "population_density",
    "mall_location",
)

FORMATS = {
    FileKind.STORES: Format(
        FileKind.STORES,
        "stores",
        STORE_COLUMNS,
        (*STORE_EXTRA_COLUMNS, "store_name"),
        open_ended=True,
    ),
    FileKind.WEEKLY_SALES: Format(
        FileKind.WEEKLY_SALES,
        "historical-sales",
        ("week_start_date", "store_id", "category_id", "units_sold"),
    ),
    FileKind.DAILY_SALES: Format(
        FileKind.DAILY_SALES,
        "historical-sales",
        ("date", "store_id", "category", "quantity_sold"),
        ("revenue",),
    ),
    FileKind.DAILY_ACTUALS: Format(
        FileKind.DAILY_ACTUALS, "actuals", ("date", "store_id", "quantity_sold")
    ),
    FileKind.WEEKLY_ACTUALS: Format(
        FileKind.WEEKLY_ACTUALS, "actuals", ("store_id", "week_number", "units_sold")
    ),
}


@dataclass(frozen=True)
class Layout:
    """A recognised header: its format and the position of each column."""

    format: Format
    positions: dict[str, int]
    width: int

    @property
    def kind(self) -> FileKind:
        return self.format.kind

    def extra_columns(self) -> list[tuple[str, int]]:
        """Columns beyond the format's known ones (kept by open-ended formats)."""
        known = set(self.format.known)
        return [(name, index) for name, index in self.positions.items() if name not in known]


def _matches(fmt: Format, names: set[str]) -> bool:
    if not set(fmt.required) <= names:
        return False
    return fmt.open_ended or names <= set(fmt.known)


def detect(header: list[str], accepted: tuple[FileKind, ...], log: ProblemLog) -> Layout | None:
    """The layout of ``header`` among ``accepted`` formats; else problems in ``log``."""
    if not header or header == [""]:
        log.add(1, "header", "empty file: no header line")
        return None
    delimiter = wrong_delimiter(header)
    if delimiter is not None:
        log.add(1, "header", f"wrong delimiter {delimiter!r}, expected ','", header[0][:80])
        return None
    names = [name.strip().lower() for name in header]
    positions: dict[str, int] = {}
    for index, name in enumerate(names):
        if not name:
            log.add(1, f"column {index + 1}", "empty column name")
        elif name in positions:
            log.add(1, name, "column appears twice in the header")
        else:
            positions[name] = index
    if log:
        return None
    present = set(positions)
    for kind in accepted:
        if _matches(FORMATS[kind], present):
            return Layout(FORMATS[kind], positions, len(header))
    for kind, fmt in FORMATS.items():
        if kind not in accepted and _matches(fmt, present):
            log.add(
                1,
                "header",
                f"this is a {kind.value} file: import it with `ffdb import {fmt.command}`",
                ",".join(header),
            )
            return None
    closest = max(
        (FORMATS[kind] for kind in accepted),
        key=lambda fmt: len(present & set(fmt.known)) - len(set(fmt.required) - present),
    )
    for name in closest.required:
        if name not in present:
            log.add(1, name, f"missing column (a {closest.kind.value} file has {_list(closest)})")
    if not closest.open_ended:
        for name in positions:
            if name not in closest.known:
                log.add(
                    1, name, f"unexpected column (a {closest.kind.value} file has {_list(closest)})"
                )
    return None


def _list(fmt: Format) -> str:
    optional = "".join(f"[,{name}]" for name in fmt.optional)
    return ",".join(fmt.required) + optional
