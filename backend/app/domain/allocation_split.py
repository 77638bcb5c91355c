"""An allocation's per-store split, checked as a set: the fast path of ``record_allocation``.

A split of a thousand stores is checked by one pass over plain values and one query,
instead of a model object per item and a bound parameter per store:

- ``plain_store_ids``: the items are exactly what the payload's schema accepts in its
  simplest form (each a dict of exactly ``StoreAllocationItem``'s fields, a non-empty
  ASCII store id without NUL, whole numbers >= 0 below 2**63, each store once), so the
  schema's validation (``validate_store_allocations``, which the column runs again as
  it binds) would accept them; anything else returns None and the caller validates
  item by item, naming the offending item as before.
- ``found_stores``: which of the split's stores exist, by one anti-join over the split
  as one JSON array bound once (``json_each`` / ``jsonb_array_elements_text``), however
  many stores it names.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, String, bindparam, cast, exists, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from backend.app.maintenance.definitions import dialect_name
from backend.app.models import Store
from backend.app.schemas.payloads import StoreAllocationItem

_FIELDS = frozenset(StoreAllocationItem.model_fields)
_STORE, _INTEGERS = "store_id", tuple(sorted(_FIELDS - {"store_id"}))
_INT64_LIMIT = 2**63


def plain_store_ids(items: Sequence[Mapping[str, Any]]) -> list[str] | None:
    """The split's store ids, in order, when every item is plain (see the module);
    None when the schema's own validation must look at it."""
    store_ids: list[str] = []
    for item in items:
        if type(item) is not dict or item.keys() != _FIELDS:
            return None
        store = item[_STORE]
        if type(store) is not str or not store:
            return None
        for name in _INTEGERS:
            value = item[name]
            if type(value) is not int or not 0 <= value < _INT64_LIMIT:
                return None
        store_ids.append(store)
    joined = "".join(store_ids)
    if not joined.isascii() or "\x00" in joined or len(set(store_ids)) != len(store_ids):
        return None
    return store_ids


@functools.cache
def _unknown_stores_statement(dialect: str) -> Select[Any]:
    """The values of the JSON array of text ``:store_ids`` that name no store."""
    payload = bindparam("store_ids", type_=String)
    if dialect == "postgresql":
        values = func.jsonb_array_elements_text(cast(payload, JSONB))
    else:
        values = func.json_each(payload)  # ``value``: each element as SQL text
    split = values.table_valued("value", name="split")
    store = split.c.value
    return select(store).select_from(split).where(~exists().where(Store.store_id == store))


def found_stores(session: Session, store_ids: list[str]) -> set[str]:
    """The ``store_ids`` that name a stored store."""
    statement = _unknown_stores_statement(dialect_name(session))
    unknown = session.scalars(statement, {"store_ids": json.dumps(store_ids)}).all()
    return set(store_ids).difference(unknown)
