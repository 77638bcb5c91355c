"""A status move of a record with a lifecycle, written once for every such record.

A move is refused when the record is no longer in the status the caller saw (another
writer moved it) or when its lifecycle (``schemas/lifecycles.py``) does not allow it,
and is then made by compare-and-set (``UPDATE ... WHERE status = :seen``): of two
writers that saw the same status only the first moves the record. Workflow runs
(``workflows``), markdown decisions (``approvals``) and re-recording a pending
markdown (``records``) all go through here. Nothing is committed here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from sqlalchemy import inspect, update
from sqlalchemy.orm import Session

from backend.app.schemas.lifecycles import Lifecycle, transition_name

__all__ = ["WithStatus", "check_move", "compare_and_set", "set_status", "stale_message"]

State = TypeVar("State", bound=enum.StrEnum)


class WithStatus(Protocol):
    """A mapped row with a ``status`` column."""

    @property
    def status(self) -> Any: ...


def stale_message(what: str, found: object, seen: object, by: str, attempted: str) -> str:
    """``workflow W1 is cancelled, not running: another writer moved it; running ->
    completed was not made``: ``what`` names the record, ``by`` what the other writer did."""
    return f"{what} is {found}, not {seen}: another writer {by}; {attempted}"


def check_move(
    lifecycle: Lifecycle[State],
    what: str,
    found: State,
    seen: State,
    target: State,
    *,
    by: str,
    stale: type[Exception],
    illegal: type[Exception],
) -> str:
    """The move's name (``completed -> running``) once it may be made: ``stale`` if the
    record is ``found`` in another status than the ``seen`` one, ``illegal`` if the
    lifecycle does not allow the move."""
    move = transition_name(seen, target)
    if found is not seen:
        raise stale(stale_message(what, found, seen, by, f"{move} was not made"))
    reason = lifecycle.refusal(seen, target)
    if reason is not None:
        raise illegal(f"{what}: {move} is not allowed ({reason})")
    return move


def compare_and_set(
    session: Session, row: WithStatus, seen: enum.StrEnum, values: Mapping[str, Any]
) -> bool:
    """Write ``values`` to ``row``'s database row only if its status is still ``seen``;
    False (nothing written) if another writer changed it first. ``row`` is refreshed
    from the database either way, so it shows the status that won."""
    state = inspect(row)
    model: Any = state.mapper.class_
    same_row = [
        column == value
        for column, value in zip(state.mapper.primary_key, state.identity or (), strict=True)
    ]
    result: Any = session.execute(
        update(model)
        .where(*same_row, model.status == seen)
        .values(dict(values))
        .execution_options(synchronize_session=False)
    )
    session.refresh(row)
    return int(result.rowcount) == 1


def set_status(
    session: Session,
    row: WithStatus,
    seen: enum.StrEnum,
    values: Mapping[str, Any],
    *,
    what: str,
    by: str,
    attempted: str,
    stale: type[Exception],
) -> None:
    """``compare_and_set``, refusing with ``stale`` (naming the status that won) when
    another writer changed the status first."""
    if not compare_and_set(session, row, seen, values):
        raise stale(stale_message(what, row.status, seen, by, attempted))
