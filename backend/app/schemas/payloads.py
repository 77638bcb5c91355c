"""Shapes of the JSON columns, checked before a payload reaches the database.

Integers are strict: ``True``, ``1.5`` and ``"3"`` are refused rather than coerced,
so what is read back is exactly what was stored.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

NonNegativeInt = Annotated[int, Field(strict=True, ge=0)]
PositiveInt = Annotated[int, Field(strict=True, ge=1)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WeeklyDemandPoint(_Payload):
    week_number: PositiveInt
    demand_units: NonNegativeInt


class StoreAllocationItem(_Payload):
    store_id: Annotated[str, Field(strict=True, min_length=1)]
    initial: NonNegativeInt
    holdback: NonNegativeInt


class PayloadError(ValueError):
    """A JSON payload of the wrong shape; the message names the column and the problem."""


MAX_SHOWN_VALUE = 80


def _shown(value: Any) -> str:
    """A value as an error message shows it: whole when short, else its beginning."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_VALUE else text[: MAX_SHOWN_VALUE - 3] + "..."


def _first_errors(column: str, error: ValidationError, limit: int = 5) -> PayloadError:
    parts = []
    for item in error.errors()[:limit]:
        location = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in item["loc"])
        parts.append(f"{column}{location}: {item['msg']} (got {_shown(item.get('input'))})")
    more = len(error.errors()) - limit
    suffix = f"; and {more} more" if more > 0 else ""
    return PayloadError("; ".join(parts) + suffix)


_curve = TypeAdapter(list[WeeklyDemandPoint])
_allocations = TypeAdapter(list[StoreAllocationItem])
_models_used = TypeAdapter(list[Annotated[str, Field(strict=True, min_length=1)]])


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
    try:
        points = _curve.validate_python(value)
    except ValidationError as error:
        raise _first_errors("weekly_demand_curve", error) from None
    _refuse_repeats("weekly_demand_curve", "week_number", [p.week_number for p in points])


def validate_store_allocations(value: Any) -> None:
    try:
        items = _allocations.validate_python(value)
    except ValidationError as error:
        raise _first_errors("store_allocations", error) from None
    _refuse_repeats("store_allocations", "store_id", [item.store_id for item in items])


def validate_models_used(value: Any) -> None:
    try:
        _models_used.validate_python(value)
    except ValidationError as error:
        raise _first_errors("models_used", error) from None


def _json_problem(value: Any, path: str) -> str | None:
    """Why ``value`` would not survive a JSON round trip on both backends, if it would not."""
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path}: {value!r} is not a finite number"
    if isinstance(value, str):
        # PostgreSQL's jsonb cannot hold U+0000; refuse it on SQLite too so both agree.
        return f"{path}: text contains a NUL character" if "\x00" in value else None
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


def validate_json_object(value: Any, column: str = "payload") -> None:
    """A JSON object (dict with string keys) of JSON values only."""
    if not isinstance(value, dict):
        raise PayloadError(f"{column}: expected a JSON object, got {type(value).__name__}")
    problem = _json_problem(value, column)
    if problem:
        raise PayloadError(problem)
