"""Categories: the product categories the API lists, page by page in category_id order."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.app.models import Category
from backend.app.queries.paging import check_limit, page_of
from backend.app.schemas.read_models import CategoryRead, Page

DEFAULT_PAGE_SIZE = 100


def categories(
    session: Session, *, after: str | None = None, limit: int = DEFAULT_PAGE_SIZE
) -> Page[CategoryRead]:
    """Categories with category_id greater than ``after`` (None: from the first), at
    most ``limit`` of them, in category_id order."""
    check_limit(limit)
    query = select(Category).order_by(Category.category_id).limit(limit + 1)
    if after is not None:
        query = query.where(Category.category_id > after)
    rows = session.scalars(query).all()
    return page_of(
        [CategoryRead.model_validate(row) for row in rows],
        limit,
        key=lambda category: category.category_id,
    )
