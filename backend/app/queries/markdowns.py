"""Markdowns of a forecast, each with its approval trail (who moved it, when)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.app.models import Forecast, Markdown, MarkdownStatusChange
from backend.app.queries.errors import NotFound
from backend.app.schemas.read_models import MarkdownStatusMove, MarkdownWithTrail


def markdowns_of_forecast(session: Session, forecast_id: str) -> list[MarkdownWithTrail]:
    """The forecast's markdowns by week_number then markdown_id; each trail in the order
    the moves were made (changed_at, then change_id). Two statements, both indexed."""
    if session.get(Forecast, forecast_id) is None:
        raise NotFound(f"forecast {forecast_id!r} does not exist")
    markdowns = session.scalars(
        select(Markdown)
        .where(Markdown.forecast_id == forecast_id)
        .order_by(Markdown.week_number, Markdown.markdown_id)
    ).all()
    moves: dict[str, list[MarkdownStatusMove]] = {row.markdown_id: [] for row in markdowns}
    changes = session.scalars(
        select(MarkdownStatusChange)
        .join(Markdown, Markdown.markdown_id == MarkdownStatusChange.markdown_id)
        .where(Markdown.forecast_id == forecast_id)
        .order_by(
            MarkdownStatusChange.markdown_id,
            MarkdownStatusChange.changed_at,
            MarkdownStatusChange.change_id,
        )
    ).all()
    for change in changes:
        moves[change.markdown_id].append(MarkdownStatusMove.model_validate(change))
    return [MarkdownWithTrail.from_source(row, trail=moves[row.markdown_id]) for row in markdowns]
