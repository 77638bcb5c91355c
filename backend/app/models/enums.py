"""Enum columns: the vocabularies of ``backend.app.schemas.enums`` as portable columns.

The value classes are re-exported here, so ``from backend.app.models.enums import
MarkdownStatus`` keeps working.
"""

from __future__ import annotations

import enum

from sqlalchemy import Enum

from backend.app.schemas.enums import (
    Archetype,
    ExtractionConfidence,
    FashionTier,
    LocationTier,
    MarkdownStatus,
    Region,
    ReplenishmentStrategy,
    StoreFormat,
    WorkflowRunStatus,
    WorkflowStatus,
)

__all__ = [
    "Archetype",
    "ExtractionConfidence",
    "FashionTier",
    "LocationTier",
    "MarkdownStatus",
    "Region",
    "ReplenishmentStrategy",
    "StoreFormat",
    "WorkflowRunStatus",
    "WorkflowStatus",
    "enum_type",
]


def enum_type(enum_class: type[enum.StrEnum], name: str) -> Enum:
    """A portable enum column: VARCHAR plus a named CHECK on every backend.

    Non-native on purpose: a PostgreSQL ENUM type outlives ``drop_table`` and two
    columns whose enums share a name would silently share one type. Unbounded VARCHAR
    on purpose too: with the default VARCHAR(longest value) PostgreSQL refuses a long
    unknown value as "value too long for type character varying(6)", naming nothing,
    where SQLite names the CHECK; without a length both name the CHECK.
    """
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        length=None,
        values_callable=lambda members: [member.value for member in members],
    )
