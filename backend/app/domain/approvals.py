"""The write API of a markdown decision: approve, reject, apply; each move on the trail.

Markdowns move only as ``lifecycles.MARKDOWN_TRANSITIONS`` allows (pending ->
approved -> applied, pending -> rejected), only forward. Each move is a
compare-and-set on ``markdowns.status`` and writes a ``markdown_status_changes`` row
with who (``actor``) and when (``changed_at``, UTC); its id is made from the natural
key (markdown, status reached), since a markdown reaches each status at most once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from backend.app.domain import status_moves
from backend.app.maintenance.definitions import natural_id
from backend.app.models import Markdown, MarkdownStatusChange
from backend.app.models.keys import key_problem
from backend.app.schemas.enums import MarkdownStatus
from backend.app.schemas.lifecycles import MARKDOWN_LIFECYCLE

__all__ = [
    "MARKDOWN_CHANGE_KIND",
    "ApprovalError",
    "ConcurrentDecision",
    "IllegalDecision",
    "apply_markdown",
    "approve_markdown",
    "change_id",
    "decide_markdown",
    "reject_markdown",
]

MARKDOWN_CHANGE_KIND = "MS"


class ApprovalError(ValueError):
    """A markdown decision that cannot be recorded; nothing was written."""


class IllegalDecision(ApprovalError):
    """A move the markdown lifecycle does not allow (backwards, or from a final status)."""


class ConcurrentDecision(ApprovalError):
    """Another writer decided on the markdown since the caller saw its status."""


def change_id(markdown_id: str, to_status: MarkdownStatus) -> str:
    """The trail row's id: the markdown and the status it reached."""
    return natural_id(MARKDOWN_CHANGE_KIND, markdown_id, MarkdownStatus(to_status).value)


def decide_markdown(
    session: Session,
    markdown_id: str,
    target: MarkdownStatus,
    *,
    actor: str,
    at: datetime | None = None,
    note: str | None = None,
    expected: MarkdownStatus | None = None,
) -> MarkdownStatusChange:
    """Move markdown ``markdown_id`` to ``target`` on behalf of ``actor``; returns the
    trail row. ``expected`` is the status the caller saw (default: the status now)."""
    target = MarkdownStatus(target)
    problem = key_problem(actor)
    if problem is not None:
        raise ApprovalError(
            f"markdown {markdown_id}: actor must name who decides, got {actor[:80]!r}: {problem}"
        )
    moment = at if at is not None else datetime.now(UTC)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ApprovalError(
            f"markdown {markdown_id}: decision time {moment.isoformat()} has no timezone"
        )
    markdown = session.get(Markdown, markdown_id, populate_existing=True)
    if markdown is None:
        raise ApprovalError(f"markdown {markdown_id} does not exist")
    seen = MarkdownStatus(expected) if expected is not None else markdown.status
    what, by = f"markdown {markdown_id}", "decided on it"
    move = status_moves.check_move(
        MARKDOWN_LIFECYCLE,
        what,
        markdown.status,
        seen,
        target,
        by=by,
        stale=ConcurrentDecision,
        illegal=IllegalDecision,
    )
    status_moves.set_status(
        session,
        markdown,
        seen,
        {"status": target},
        what=what,
        by=by,
        attempted=f"{move} was not made",
        stale=ConcurrentDecision,
    )
    change = MarkdownStatusChange(
        change_id=change_id(markdown_id, target),
        markdown_id=markdown_id,
        from_status=seen,
        to_status=target,
        actor=actor,
        changed_at=moment,
        note=note,
    )
    session.add(change)
    session.flush()
    session.refresh(markdown)
    return change


def approve_markdown(
    session: Session,
    markdown_id: str,
    *,
    actor: str,
    at: datetime | None = None,
    note: str | None = None,
) -> MarkdownStatusChange:
    """pending -> approved."""
    return decide_markdown(
        session,
        markdown_id,
        MarkdownStatus.APPROVED,
        actor=actor,
        at=at,
        note=note,
    )


def reject_markdown(
    session: Session,
    markdown_id: str,
    *,
    actor: str,
    at: datetime | None = None,
    note: str | None = None,
) -> MarkdownStatusChange:
    """pending -> rejected."""
    return decide_markdown(
        session,
        markdown_id,
        MarkdownStatus.REJECTED,
        actor=actor,
        at=at,
        note=note,
    )


def apply_markdown(
    session: Session,
    markdown_id: str,
    *,
    actor: str,
    at: datetime | None = None,
    note: str | None = None,
) -> MarkdownStatusChange:
    """approved -> applied (the price change is live)."""
    return decide_markdown(
        session,
        markdown_id,
        MarkdownStatus.APPLIED,
        actor=actor,
        at=at,
        note=note,
    )
