"""An allocation's per-store split, its stores looked up as one set.

``found_stores``: which of a split's stores exist, by one anti-join over the store ids
bound as one JSON array (``json_each`` / ``jsonb_array_elements_text``), instead of a
bound parameter per store: a split of a thousand stores is one short query. The split's
shape is the schema's (``payloads.plain_store_allocations``).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from sqlalchemy import Select, String, bindparam, cast, exists, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from backend.app.maintenance.definitions import dialect_name
from backend.app.models import Store


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
