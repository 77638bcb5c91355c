"""Column types shared by the models.

- ``UtcDateTime``: timezone-aware UTC on every backend. SQLite hands back naive
  datetimes (and ``CURRENT_TIMESTAMP`` is UTC); naive values are refused on write
  because their zone is a guess.
- ``json_list`` / ``json_object``: JSON on SQLite, JSONB on PostgreSQL, validated
  before they are bound, with in-place edits tracked at every depth, so
  ``forecast.weekly_demand_curve[0]["demand_units"] = 600`` is saved on commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from itertools import repeat
from typing import Any, SupportsIndex

from sqlalchemy import JSON, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.mutable import Mutable
from sqlalchemy.types import TypeDecorator, TypeEngine

from backend.app.schemas.payloads import PayloadError

Validator = Callable[[Any], None]


class UtcDateTime(TypeDecorator[datetime]):
    """``timestamptz`` on PostgreSQL, UTC text on SQLite; always aware UTC in Python."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__} {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: give it a timezone")
        utc = value.astimezone(UTC)
        # SQLite stores text without an offset: store the UTC wall time.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# --- JSON with validation ---------------------------------------------------------------


class ValidatedJSON(TypeDecorator[Any]):
    """JSON/JSONB whose payload is checked by ``validator`` before it is bound."""

    impl = JSON(none_as_null=True)
    cache_ok = True

    def __init__(self, validator: Validator) -> None:
        super().__init__()
        self.validator = validator

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            # Imported here: loading the PostgreSQL dialect costs every SQLite command.
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(JSON(none_as_null=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is not None:
            self.validator(value)
        return value


# --- Mutation tracking at every depth ---------------------------------------------------

Notify = Callable[[], None]


def _track(value: Any, notify: Notify) -> Any:
    """Wrap nested containers so that an edit anywhere below calls ``notify``.

    A container already tracked for another document is copied, not re-pointed: two
    rows must never share one nested object, or an edit through one row would change
    the other's data in memory while only one of them is marked dirty.
    """
    if isinstance(value, _TrackedDict | _TrackedList) and value._notify == notify:
        return value
    if isinstance(value, dict):
        return _TrackedDict(value, notify)
    if isinstance(value, list):
        return _TrackedList(value, notify)
    return value


class _TrackedList(list[Any]):
    # No per-instance __dict__: one object per container, not two, for the collector to
    # walk (a thousand-store allocation split is a thousand of them).
    __slots__ = ("_notify",)
    _notify: Notify

    def __init__(self, items: Iterable[Any] = (), notify: Notify | None = None) -> None:
        self._notify = notify or self._changed_root
        super().__init__(map(_track, items, repeat(self._notify)))

    def _changed_root(self) -> None:
        """Overridden by the root container, which is the one SQLAlchemy watches."""

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        # Copies and pickles of nested containers are plain, detached data: a copy
        # must never report its edits to the row the original belongs to.
        return (list, (list(self),))

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice):
            value = [_track(item, self._notify) for item in value]
        else:
            value = _track(value, self._notify)
        super().__setitem__(index, value)
        self._notify()

    def __delitem__(self, index: SupportsIndex | slice) -> None:
        super().__delitem__(index)
        self._notify()

    def __iadd__(self, other: Iterable[Any]) -> _TrackedList:  # type: ignore[misc]
        self.extend(other)
        return self

    def __imul__(self, count: SupportsIndex) -> _TrackedList:
        super().__imul__(count)
        self._notify()
        return self

    def append(self, value: Any) -> None:
        super().append(_track(value, self._notify))
        self._notify()

    def extend(self, values: Iterable[Any]) -> None:
        super().extend(_track(item, self._notify) for item in values)
        self._notify()

    def insert(self, index: SupportsIndex, value: Any) -> None:
        super().insert(index, _track(value, self._notify))
        self._notify()

    def pop(self, index: SupportsIndex = -1) -> Any:
        value = super().pop(index)
        self._notify()
        return value

    def remove(self, value: Any) -> None:
        super().remove(value)
        self._notify()

    def clear(self) -> None:
        super().clear()
        self._notify()

    def sort(self, *args: Any, **kwargs: Any) -> None:
        super().sort(*args, **kwargs)
        self._notify()

    def reverse(self) -> None:
        super().reverse()
        self._notify()


class _TrackedDict(dict[str, Any]):
    __slots__ = ("_notify",)
    _notify: Notify

    def __init__(self, items: Any = (), notify: Notify | None = None) -> None:
        self._notify = notify or self._changed_root
        super().__init__(items)
        # Copied in C, then only the nested containers wrapped: an allocation's thousand
        # flat items cost a third of wrapping every value.
        for key, value in self.items():
            if isinstance(value, dict | list):
                super().__setitem__(key, _track(value, self._notify))  # same size: iteration holds

    def _changed_root(self) -> None:
        """Overridden by the root container, which is the one SQLAlchemy watches."""

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        return (dict, (dict(self),))

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, _track(value, self._notify))
        self._notify()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._notify()

    def __ior__(self, other: Any) -> _TrackedDict:  # type: ignore[misc,override]
        self.update(other)
        return self

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            super().__setitem__(key, _track(value, self._notify))
        self._notify()

    def pop(self, key: str, *default: Any) -> Any:
        value = super().pop(key, *default)
        self._notify()
        return value

    def popitem(self) -> tuple[str, Any]:
        item = super().popitem()
        self._notify()
        return item

    def clear(self) -> None:
        super().clear()
        self._notify()


class MutableJSONList(Mutable, _TrackedList):
    """A JSON array column whose edits, nested ones included, mark the row dirty."""

    def _changed_root(self) -> None:
        self.changed()

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        # A pickled ORM object must unpickle to a tracked root (SQLAlchemy re-attaches
        # it to its row); its nested containers come back plain and are re-tracked.
        return (self.__class__, (list(self),))

    @classmethod
    def coerce(cls, key: str, value: Any) -> Any:
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, list | tuple):
            return cls(value)
        raise PayloadError(f"{key}: expected a JSON array, got {type(value).__name__}")


class MutableJSONDict(Mutable, _TrackedDict):
    """A JSON object column whose edits, nested ones included, mark the row dirty."""

    def _changed_root(self) -> None:
        self.changed()

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        return (self.__class__, (dict(self),))

    @classmethod
    def coerce(cls, key: str, value: Any) -> Any:
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, dict):
            return cls(value)
        raise PayloadError(f"{key}: expected a JSON object, got {type(value).__name__}")


def json_list(validator: Validator) -> TypeEngine[Any]:
    """A tracked, validated JSON array column type."""
    return MutableJSONList.as_mutable(ValidatedJSON(validator))


def json_object(validator: Validator) -> TypeEngine[Any]:
    """A tracked, validated JSON object column type."""
    return MutableJSONDict.as_mutable(ValidatedJSON(validator))
