"""markdown_status_changes: the approval trail of a markdown, one row per status move.

Written by ``backend.app.domain.approvals`` only for the moves
``lifecycles.MARKDOWN_TRANSITIONS`` allows; who (``actor``) and when (``changed_at``,
UTC) are required, so an applied markdown can show the approval it went through.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from backend.app.database.base import Base
from backend.app.models.enums import MarkdownStatus, enum_type
from backend.app.models.keys import key_length_check
from backend.app.models.types import UtcDateTime


class MarkdownStatusChange(Base):
    __tablename__ = "markdown_status_changes"

    change_id: Mapped[str] = mapped_column(String, primary_key=True)
    # Indexed by the leading column of (markdown_id, changed_at).
    markdown_id: Mapped[str] = mapped_column(
        String, ForeignKey("markdowns.markdown_id"), nullable=False
    )
    from_status: Mapped[MarkdownStatus] = mapped_column(
        enum_type(MarkdownStatus, "from_status"), nullable=False
    )
    to_status: Mapped[MarkdownStatus] = mapped_column(
        enum_type(MarkdownStatus, "to_status"), nullable=False
    )
    actor: Mapped[str] = mapped_column(String, nullable=False)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, server_default=func.now())

    __table_args__ = (
        CheckConstraint("from_status <> to_status", name="moves"),
        key_length_check("change_id"),
        key_length_check("markdown_id"),
        key_length_check("actor"),
        Index("idx_markdown_status_changes_markdown", "markdown_id", "changed_at"),
    )
