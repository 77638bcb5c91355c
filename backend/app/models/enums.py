"""Enumerations: each value list lives here once, exactly as the story's CHECKs spell it."""

from __future__ import annotations

import enum

from sqlalchemy import Enum


class Archetype(enum.StrEnum):
    FASHION_RETAIL = "FASHION_RETAIL"
    STABLE_CATALOG = "STABLE_CATALOG"
    CONTINUOUS = "CONTINUOUS"


class FashionTier(enum.StrEnum):
    PREMIUM = "PREMIUM"
    MAINSTREAM = "MAINSTREAM"
    VALUE = "VALUE"


class LocationTier(enum.StrEnum):
    A = "A"
    B = "B"
    C = "C"


class StoreFormat(enum.StrEnum):
    MALL = "MALL"
    STANDALONE = "STANDALONE"
    SHOPPING_CENTER = "SHOPPING_CENTER"
    OUTLET = "OUTLET"


class Region(enum.StrEnum):
    NORTHEAST = "NORTHEAST"
    SOUTHEAST = "SOUTHEAST"
    MIDWEST = "MIDWEST"
    WEST = "WEST"


class MarkdownStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    APPLIED = "applied"


class WorkflowStatus(enum.StrEnum):
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"


class ReplenishmentStrategy(enum.StrEnum):
    NONE = "none"
    WEEKLY = "weekly"
    BI_WEEKLY = "bi-weekly"


class ExtractionConfidence(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


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
