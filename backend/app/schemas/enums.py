"""The schema's vocabularies: each value list lives here once, exactly as the story's
CHECKs spell it. Plain enums with no SQLAlchemy, so read models and payloads (this
layer) and the models (``backend.app.models.enums`` maps them to columns) share them."""

from __future__ import annotations

import enum


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
    # Beyond the story's three: a planner's "no" (``lifecycles.MARKDOWN_TRANSITIONS``).
    REJECTED = "rejected"


class WorkflowStatus(enum.StrEnum):
    """The status of one agent step (a workflow_logs row)."""

    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"


class WorkflowRunStatus(enum.StrEnum):
    """The status of a whole workflow run (a workflows row); moves are in
    ``lifecycles.WORKFLOW_TRANSITIONS``."""

    PENDING = "pending"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ReplenishmentStrategy(enum.StrEnum):
    NONE = "none"
    WEEKLY = "weekly"
    BI_WEEKLY = "bi-weekly"


class ExtractionConfidence(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
