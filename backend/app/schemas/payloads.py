"""Shapes of the JSON columns, checked before a payload reaches the database.

Integers are strict: ``True``, ``1.5`` and ``"3"`` are refused rather than coerced,
so what is read back is exactly what was stored.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

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


class _WeeklyDemandCurve(BaseModel):
    points: list[WeeklyDemandPoint]

    @field_validator("points")
    @classmethod
    def _unique_weeks(cls, points: list[WeeklyDemandPoint]) -> list[WeeklyDemandPoint]:
        seen: set[int] = set()
        for point in points:
            if point.week_number in seen:
                raise ValueError(f"week_number {point.week_number} appears more than once")
            seen.add(point.week_number)
        return points


class PayloadError(ValueError):
    """A JSON payload of the wrong shape; the message names the column and the problem."""


def _first_errors(column: str, error: ValidationError, limit: int = 5) -> PayloadError:
    parts = []
    for item in error.errors()[:limit]:
        location = "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in item["loc"] if p != "points"
        )
        parts.append(f"{column}{location}: {item['msg']} (got {item.get('input')!r})")
    more = len(error.errors()) - limit
    suffix = f"; and {more} more" if more > 0 else ""
    return PayloadError("; ".join(parts) + suffix)


_curve = TypeAdapter(_WeeklyDemandCurve)
_allocations = TypeAdapter(list[StoreAllocationItem])
_models_used = TypeAdapter(list[Annotated[str, Field(strict=True, min_length=1)]])


def validate_weekly_demand_curve(value: Any) -> None:
    try:
        _curve.validate_python({"points": value})
    except ValidationError as error:
        raise _first_errors("weekly_demand_curve", error) from None


def validate_store_allocations(value: Any) -> None:
    try:
        _allocations.validate_python(value)
    except ValidationError as error:
        raise _first_errors("store_allocations", error) from None


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
