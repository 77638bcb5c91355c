"""store_extra_attributes: retailer store columns that ``stores`` has no place for.

The story fixes ``stores`` at its ten columns, but retailer exports carry more
(foot_traffic, competitor_density, online_penetration, population_density,
mall_location, ...). They are kept here, one JSON object per store, instead of being
thrown away, so ``ffdb export stores`` gives the retailer's file back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from backend.app.database.base import Base
from backend.app.models.types import UtcDateTime, json_object
from backend.app.schemas.payloads import validate_json_object


def _validate_attributes(value: Any) -> None:
    validate_json_object(value, "attributes")


class StoreExtraAttributes(Base):
    __tablename__ = "store_extra_attributes"

    store_id: Mapped[str] = mapped_column(String, ForeignKey("stores.store_id"), primary_key=True)
    # {"foot_traffic": 2800, "competitor_density": 6.2, "mall_location": true, ...}
    attributes: Mapped[dict[str, Any]] = mapped_column(
        json_object(_validate_attributes), nullable=False
    )
    source_file: Mapped[str | None] = mapped_column(String, nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, server_default=func.now())
