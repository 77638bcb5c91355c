"""Markdown approvals on both backends: only forward (pending -> approved -> applied,
pending -> rejected), each move on the trail with who and when; re-recording a pending
markdown updates it, a decided one is refused clearly; doctor finds an applied markdown
that was never approved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from backend.app.domain import approvals, records
from backend.app.domain.doctor import domain_rules
from backend.app.models import Markdown, MarkdownStatusChange
from backend.app.schemas.enums import MarkdownStatus
from backend.tests.support.cli import run_ffdb

M = MarkdownStatus
# The lifecycle, written out here: pending -> approved -> applied, or
# pending -> rejected; only forward.
ALLOWED = {(M.PENDING, M.APPROVED), (M.APPROVED, M.APPLIED), (M.PENDING, M.REJECTED)}
PATHS = {
    M.PENDING: [],
    M.APPROVED: [M.APPROVED],
    M.APPLIED: [M.APPROVED, M.APPLIED],
    M.REJECTED: [M.REJECTED],
}
T0 = datetime(2025, 3, 17, 9, 0, tzinfo=UTC)


def _trail(engine: Engine, markdown_id: str = "M1") -> list[tuple[str, str, str, datetime]]:
    with Session(engine) as session:
        return [
            (change.from_status.value, change.to_status.value, change.actor, change.changed_at)
            for change in session.scalars(
                select(MarkdownStatusChange)
                .where(MarkdownStatusChange.markdown_id == markdown_id)
                .order_by(MarkdownStatusChange.changed_at)
            )
        ]


def _status(engine: Engine, markdown_id: str = "M1") -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(
                text("SELECT status FROM markdowns WHERE markdown_id = :id"), {"id": markdown_id}
            ).scalar_one()
        )


@pytest.mark.parametrize("target", list(M), ids=str)
@pytest.mark.parametrize("current", list(M), ids=str)
def test_every_decision_is_allowed_exactly_as_the_lifecycle_says(
    season: Engine, current: MarkdownStatus, target: MarkdownStatus
) -> None:
    with Session(season) as session:
        for step, status in enumerate(PATHS[current], 1):
            approvals.decide_markdown(
                session, "M1", status, actor="planner", at=T0 + timedelta(hours=step)
            )
        session.commit()
    before = _trail(season)
    at = T0 + timedelta(days=1)
    with Session(season) as session:
        if (current, target) in ALLOWED:
            approvals.decide_markdown(session, "M1", target, actor="ana@example.com", at=at)
            session.commit()
        else:
            with pytest.raises(approvals.IllegalDecision) as refused:
                approvals.decide_markdown(session, "M1", target, actor="ana@example.com", at=at)
            assert f"markdown M1: {current} -> {target} is not allowed" in str(refused.value)
            session.rollback()
    if (current, target) in ALLOWED:
        assert _status(season) == target.value
        assert _trail(season) == [*before, (current.value, target.value, "ana@example.com", at)]
    else:
        assert _status(season) == current.value
        assert _trail(season) == before


def test_approve_then_apply_records_who_and_when(season: Engine) -> None:
    with Session(season) as session:
        change = approvals.approve_markdown(session, "M1", actor="ana@example.com", at=T0)
        assert change.change_id == "MS:M1:approved"
        approvals.apply_markdown(session, "M1", actor="pricing_agent", at=T0 + timedelta(hours=3))
        session.commit()
    assert _status(season) == "applied"
    assert _trail(season) == [
        ("pending", "approved", "ana@example.com", T0),
        ("approved", "applied", "pricing_agent", T0 + timedelta(hours=3)),
    ]


def test_a_decision_needs_someone_and_a_timezone(season: Engine) -> None:
    with Session(season) as session:
        with pytest.raises(approvals.ApprovalError, match="actor must name who decides"):
            approvals.approve_markdown(session, "M1", actor="  ")
        with pytest.raises(
            approvals.ApprovalError,
            match="actor must name who decides, got 'ana ': begins or ends with whitespace",
        ):
            approvals.approve_markdown(session, "M1", actor="ana ")
        with pytest.raises(approvals.ApprovalError, match="has no timezone"):
            approvals.approve_markdown(session, "M1", actor="ana", at=datetime(2025, 3, 17))
        with pytest.raises(approvals.ApprovalError, match="markdown NOPE does not exist"):
            approvals.approve_markdown(session, "NOPE", actor="ana")
    assert _status(season) == "pending"
    assert _trail(season) == []


def test_two_planners_cannot_both_decide(season: Engine) -> None:
    with Session(season) as first:
        approvals.reject_markdown(first, "M1", actor="bob", at=T0)
        first.commit()
    with Session(season) as second, pytest.raises(approvals.ConcurrentDecision) as refused:
        approvals.decide_markdown(second, "M1", M.APPROVED, actor="ana", expected=M.PENDING, at=T0)
    assert str(refused.value) == (
        "markdown M1 is rejected, not pending: another writer decided on it; "
        "pending -> approved was not made"
    )
    assert _status(season) == "rejected"


def test_re_recording_a_pending_markdown_updates_it(season: Engine) -> None:
    with Session(season) as session:
        again = records.record_markdown(
            session,
            markdown_id="M1",
            forecast_id="F1",
            week_number=4,
            recommended_markdown_pct=0.25,
            reasoning="re-run with fresher actuals",
        )
        assert again.recommended_markdown_pct == 0.25
        session.commit()
    with Session(season) as session:
        rows = session.scalars(select(Markdown)).all()
        assert [(m.markdown_id, m.recommended_markdown_pct, m.reasoning) for m in rows] == [
            ("M1", 0.25, "re-run with fresher actuals")
        ]


def test_re_recording_a_decided_markdown_is_refused_clearly(season: Engine) -> None:
    with Session(season) as session:
        approvals.approve_markdown(session, "M1", actor="ana", at=T0)
        session.commit()
    with Session(season) as session, pytest.raises(ValueError) as refused:
        records.record_markdown(
            session,
            markdown_id="M1",
            forecast_id="F1",
            week_number=4,
            recommended_markdown_pct=0.25,
        )
    assert str(refused.value) == (
        "markdown M1 is already approved: a decided markdown cannot be recorded again; "
        "record a new markdown id for a new recommendation"
    )
    with (
        Session(season) as session,
        pytest.raises(ValueError, match="recorded as approved, but a markdown is recorded"),
    ):
        records.record_markdown(
            session,
            markdown_id="M2",
            forecast_id="F1",
            week_number=4,
            recommended_markdown_pct=0.1,
            status=M.APPROVED,
        )
    with Session(season) as session:
        markdown = session.get(Markdown, "M1")
        assert markdown is not None and markdown.recommended_markdown_pct == 0.1


def test_a_refused_decision_names_what_the_lifecycle_allows(season: Engine) -> None:
    with Session(season) as session:
        approvals.approve_markdown(session, "M1", actor="ana", at=T0)
        with pytest.raises(approvals.IllegalDecision) as backwards:
            approvals.reject_markdown(session, "M1", actor="ana", at=T0)
        approvals.apply_markdown(session, "M1", actor="ana", at=T0)
        with pytest.raises(approvals.IllegalDecision) as final:
            approvals.approve_markdown(session, "M1", actor="ana", at=T0)
    assert str(backwards.value) == (
        "markdown M1: approved -> rejected is not allowed (from approved only applied)"
    )
    assert str(final.value) == (
        "markdown M1: applied -> approved is not allowed (applied is final)"
    )


def test_re_recording_is_compare_and_set_too(season: Engine) -> None:
    """A writer that still holds M1 as pending while another approves it: the re-record's
    UPDATE ... WHERE status = 'pending' matches nothing, and the decision stays."""
    with Session(season, expire_on_commit=False) as writer:
        seen = writer.get(Markdown, "M1")
        assert seen is not None and seen.status is M.PENDING
        writer.commit()  # ends the read (SQLite would serialize the two otherwise)
        with Session(season) as other:
            approvals.approve_markdown(other, "M1", actor="ana", at=T0)
            other.commit()
        with pytest.raises(ValueError) as refused:
            records.record_markdown(
                writer,
                markdown_id="M1",
                forecast_id="F1",
                week_number=4,
                recommended_markdown_pct=0.25,
            )
        assert seen.status is M.APPROVED  # refreshed: the writer sees the status that won
        writer.rollback()
    assert str(refused.value) == (
        "markdown M1 was decided by another writer meanwhile: "
        "a decided markdown cannot be recorded again"
    )
    assert _status(season) == "approved"
    with Session(season) as session:
        markdown = session.get(Markdown, "M1")
        assert markdown is not None and markdown.recommended_markdown_pct == 0.1


def test_doctor_reports_an_applied_markdown_never_approved(
    season: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    with Session(season) as session:
        records.record_markdown(
            session, markdown_id="M2", forecast_id="F1", week_number=4, recommended_markdown_pct=0
        )
        approvals.approve_markdown(session, "M1", actor="ana", at=T0)
        approvals.apply_markdown(session, "M1", actor="ana", at=T0)
        session.commit()
    with season.connect() as connection:
        assert domain_rules(connection) == []
    # Another client applies M2 around the API: no approval on its trail.
    with season.begin() as connection:
        connection.execute(text("UPDATE markdowns SET status = 'applied' WHERE markdown_id = 'M2'"))
    with season.connect() as connection:
        found = [(p.check, p.table, p.key) for p in domain_rules(connection)]
    assert found == [("markdown_applied_unapproved", "markdowns", "M2")]
    result = run_ffdb(capsys, "doctor", "--database-url", season.url)
    assert result.exit_code != 0
    assert "markdown_applied_unapproved" in result.stdout
    assert "M2" in result.stdout
