"""Shapes of the JSON columns, checked before a payload reaches the database.

Integers are strict: ``True``, ``1.5`` and ``"3"`` are refused rather than coerced,
so what is read back is exactly what was stored. The shapes themselves are pydantic
models (``payload_shapes``), loaded on the first check: the models import this module,
and a command that never writes a JSON column (a sales import, a read) should not pay
for loading pydantic.
"""

from __future__ import annotations

import functools
import math
from typing import Any


class PayloadError(ValueError):
    """A JSON payload of the wrong shape; the message names the column and the problem."""


MAX_SHOWN_VALUE = 80


def shown(value: Any) -> str:
    """A value as an error message shows it: whole when short, else its beginning."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_VALUE else text[: MAX_SHOWN_VALUE - 3] + "..."


def _refuse_repeats(column: str, field: str, keys: list[Any]) -> None:
    """Each ``field`` value once per payload; the error names both places."""
    first_at: dict[Any, int] = {}
    for index, key in enumerate(keys):
        if key in first_at:
            raise PayloadError(
                f"{column}[{index}].{field}: {key!r} appears more than once "
                f"(first at {column}[{first_at[key]}])"
            )
        first_at[key] = index


def validate_weekly_demand_curve(value: Any) -> None:
    from backend.app.schemas import payload_shapes as shapes

    points = shapes.validated(shapes.CURVE, "weekly_demand_curve", value)
    _refuse_repeats("weekly_demand_curve", "week_number", [p.week_number for p in points])
    refuse_unportable(value, "weekly_demand_curve")


_INT64_LIMIT = 2**63


@functools.cache
def _allocation_fields() -> tuple[frozenset[str], tuple[str, ...]]:
    """The item's fields and its unit fields, from the model (loaded on first use)."""
    from backend.app.schemas.payload_shapes import StoreAllocationItem

    fields = frozenset(StoreAllocationItem.model_fields)
    return fields, tuple(sorted(fields - {"store_id"}))


def plain_store_allocations(value: Any) -> list[str] | None:
    """The store ids, in order, of a store_allocations payload in its plainest form,
    which ``validate_store_allocations`` accepts without asking the model: a list of
    dicts of exactly the item's fields, each store id a non-empty ASCII ``str`` without
    NUL and given once, the units ``int`` (not ``bool``) in 0..2**63-1. None for
    anything else (which may still be valid: the model decides). A split of a thousand
    stores is checked in one quick pass instead of a model object per item."""
    # Subclasses too: the column binds its own tracked list of tracked dicts.
    if not isinstance(value, list):
        return None
    fields, unit_fields = _allocation_fields()
    store_ids: list[str] = []
    for item in value:
        if not isinstance(item, dict) or item.keys() != fields:
            return None
        store = item["store_id"]
        if type(store) is not str or not store:
            return None
        for name in unit_fields:
            units = item[name]
            if type(units) is not int or not 0 <= units < _INT64_LIMIT:
                return None
        store_ids.append(store)
    joined = "".join(store_ids)
    if not joined.isascii() or "\x00" in joined or len(set(store_ids)) != len(store_ids):
        return None
    return store_ids


def validate_store_allocations(value: Any) -> None:
    if plain_store_allocations(value) is not None:
        return
    from backend.app.schemas import payload_shapes as shapes

    items = shapes.validated(shapes.ALLOCATIONS, "store_allocations", value)
    _refuse_repeats("store_allocations", "store_id", [item.store_id for item in items])
    refuse_unportable(value, "store_allocations")


def validate_models_used(value: Any) -> None:
    from backend.app.schemas import payload_shapes as shapes

    shapes.validated(shapes.MODELS_USED, "models_used", value)
    refuse_unportable(value, "models_used")


# Python refuses to turn longer integers into text (sys.get_int_max_str_digits()).
MAX_INTEGER_DIGITS = 4000
_TOO_BIG_INTEGER = 10**MAX_INTEGER_DIGITS
# From 1e16 on Python writes a float as "1e+23", which jsonb keeps as the exact integer
# 10**23 and hands back as an int: not the float that was stored.
_FLOAT_EXACT_LIMIT = 1e16
_SMALL_INTEGER = 10**18


def _json_problem(value: Any, path: str) -> str | None:
    """Why ``value`` would not survive a JSON round trip on both backends, if it would not."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        if abs(value) >= _TOO_BIG_INTEGER:
            return f"{path}: integer with more than {MAX_INTEGER_DIGITS} digits"
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"{path}: {value!r} is not a finite number"
        if abs(value) >= _FLOAT_EXACT_LIMIT:
            return (
                f"{path}: float {value!r} cannot be stored exactly "
                "(PostgreSQL reads it back as an integer); store an int or a string"
            )
        return None
    if isinstance(value, str):
        # PostgreSQL's jsonb cannot hold U+0000 nor half of a surrogate pair; refuse
        # them on SQLite too so both backends agree.
        if "\x00" in value:
            return f"{path}: text contains a NUL character"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            bad = value[error.start]
            return f"{path}: text contains a lone surrogate U+{ord(bad):04X} (not valid Unicode)"
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            problem = _json_problem(item, f"{path}[{index}]")
            if problem:
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path}: key {key!r} is not a string"
            problem = _json_problem(key, f"{path} key") or _json_problem(item, f"{path}.{key}")
            if problem:
                return problem
        return None
    return f"{path}: {type(value).__name__} {value!r} is not a JSON value"


def _portable(value: Any) -> bool:
    """``_json_problem(value) is None``, without building a path for every value: a
    payload of thousands of items (a large chain's store allocations) is checked in one
    quick pass, and only a refused one is walked again to name the offending place."""
    if type(value) is str:
        return (value.isascii() and "\x00" not in value) or _json_problem(value, "") is None
    if type(value) is int:
        return bool(abs(value) < _TOO_BIG_INTEGER)
    if isinstance(value, dict):
        for key, item in value.items():
            if type(key) is not str:
                return False
            if not (key.isascii() and "\x00" not in key) and not _portable(key):
                return False
            # Small ints and ASCII text inline: no call per value.
            if type(item) is int and -_SMALL_INTEGER < item < _SMALL_INTEGER:
                continue
            if type(item) is str and item.isascii() and "\x00" not in item:
                continue
            if not _portable(item):
                return False
        return True
    if isinstance(value, list):
        return all(_portable(item) for item in value)
    return _json_problem(value, "") is None


def refuse_unportable(value: Any, column: str) -> None:
    """Refuse what one backend would store differently or not at all (NUL, huge numbers)."""
    if _portable(value):
        return
    problem = _json_problem(value, column)
    if problem:
        raise PayloadError(problem)


def validate_json_object(value: Any, column: str = "payload") -> None:
    """A JSON object (dict with string keys) of JSON values only."""
    if not isinstance(value, dict):
        raise PayloadError(f"{column}: expected a JSON object, got {type(value).__name__}")
    refuse_unportable(value, column)
