"""The pydantic shapes of the JSON columns, loaded by ``payloads`` on its first check."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from backend.app.schemas.payloads import PayloadError, shown

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


CURVE = TypeAdapter(list[WeeklyDemandPoint])
ALLOCATIONS = TypeAdapter(list[StoreAllocationItem])
MODELS_USED = TypeAdapter(list[Annotated[str, Field(strict=True, min_length=1)]])


def validated(shape: TypeAdapter[Any], column: str, value: Any) -> Any:
    """``value`` parsed as ``shape``; else a ``PayloadError`` naming the first problems."""
    try:
        return shape.validate_python(value)
    except ValidationError as error:
        raise _first_errors(column, error) from None


def _first_errors(column: str, error: ValidationError, limit: int = 5) -> PayloadError:
    parts = []
    for item in error.errors()[:limit]:
        location = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in item["loc"])
        parts.append(f"{column}{location}: {item['msg']} (got {shown(item.get('input'))})")
    more = len(error.errors()) - limit
    suffix = f"; and {more} more" if more > 0 else ""
    return PayloadError("; ".join(parts) + suffix)
