"""Workflows, markdown approvals and re-forecasts: the orchestrator's records.

- ``workflows``: one row per orchestrator run (its steps are the workflow_logs rows
  with its workflow_id), status, current agent, progress and what it produced.
- ``markdown_status_changes``: the approval trail of each markdown (who, when).
- ``markdowns.status`` may also be ``rejected``.
- ``forecasts.revises_forecast_id`` / ``from_week``: a re-forecast from week k revises
  another forecast; existing forecasts are originals (from_week 1).

Every new string key is 1..128 characters by a named CHECK on both backends. Reviewed
by hand. Existing rows are kept on upgrade and on downgrade; a downgrade refuses while
a markdown is ``rejected`` (revision 0002 cannot hold that status) rather than
changing a planner's decision. Downgrading drops the two new tables with their rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 09:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here rather than imported from the models: a migration keeps meaning what it
# meant when it was written.
KEY_MAX_LENGTH = 128
MARKDOWN_STATUSES_0002 = ("pending", "approved", "applied")
MARKDOWN_STATUSES_0003 = (*MARKDOWN_STATUSES_0002, "rejected")
RUN_STATUSES = ("pending", "running", "awaiting_approval", "completed", "failed", "cancelled")


JSON_DOCUMENT = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)


def _forecasts_0002() -> sa.Table:
    """forecasts as revision 0002 left it: batch mode copies from this, not from a
    reflection (``--sql`` has no database to reflect)."""
    return sa.Table(
        "forecasts",
        sa.MetaData(),
        sa.Column("forecast_id", sa.String(), nullable=False),
        sa.Column("category_id", sa.String(), nullable=False),
        sa.Column("season", sa.String(), nullable=False),
        sa.Column("forecast_horizon_weeks", sa.Integer(), nullable=False),
        sa.Column("total_season_demand", sa.Integer(), nullable=False),
        sa.Column("weekly_demand_curve", JSON_DOCUMENT, nullable=False),
        sa.Column("peak_week", sa.Integer(), nullable=False),
        sa.Column(
            "forecasting_method",
            sa.String(),
            server_default="ensemble_prophet_arima",
            nullable=False,
        ),
        sa.Column("models_used", JSON_DOCUMENT, nullable=False),
        sa.Column("prophet_forecast", sa.Integer(), nullable=True),
        sa.Column("arima_forecast", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True
        ),
        sa.CheckConstraint(
            "forecast_horizon_weeks >= 1", name=op.f("ck_forecasts_forecast_horizon_weeks")
        ),
        sa.CheckConstraint(
            "peak_week >= 1 AND peak_week <= forecast_horizon_weeks",
            name=op.f("ck_forecasts_peak_week"),
        ),
        sa.CheckConstraint("total_season_demand >= 0", name=op.f("ck_forecasts_total_demand")),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.category_id"],
            name=op.f("fk_forecasts_category_id_categories"),
        ),
        sa.PrimaryKeyConstraint("forecast_id", name=op.f("pk_forecasts")),
        sa.Index(op.f("ix_forecasts_category_id"), "category_id"),
    )


def _forecasts_0003() -> sa.Table:
    """forecasts as this revision leaves it (what a downgrade copies from)."""
    table = _forecasts_0002()
    table.append_column(sa.Column("revises_forecast_id", sa.String(), nullable=True))
    table.append_column(sa.Column("from_week", sa.Integer(), server_default="1", nullable=False))
    for constraint in _forecast_revision_constraints():
        table.append_constraint(constraint)
    sa.Index(op.f("ix_forecasts_revises_forecast_id"), table.c.revises_forecast_id)
    return table


def _forecast_revision_constraints() -> list[sa.Constraint]:
    return [
        sa.ForeignKeyConstraint(
            ["revises_forecast_id"],
            ["forecasts.forecast_id"],
            name=op.f("fk_forecasts_revises_forecast_id_forecasts"),
        ),
        sa.CheckConstraint(
            "from_week >= 1 AND from_week <= forecast_horizon_weeks",
            name=op.f("ck_forecasts_from_week"),
        ),
        sa.CheckConstraint(
            "(revises_forecast_id IS NULL) = (from_week = 1)",
            name=op.f("ck_forecasts_revision_from_week"),
        ),
        sa.CheckConstraint(
            "revises_forecast_id IS NULL OR revises_forecast_id <> forecast_id",
            name=op.f("ck_forecasts_revises_another"),
        ),
        _key_length("forecasts", "revises_forecast_id", nullable=True),
    ]


def _markdowns(statuses: Sequence[str]) -> sa.Table:
    """markdowns with its status CHECK listing ``statuses`` (0002's or this revision's)."""
    return sa.Table(
        "markdowns",
        sa.MetaData(),
        sa.Column("markdown_id", sa.String(), nullable=False),
        sa.Column("forecast_id", sa.String(), nullable=False),
        sa.Column("week_number", sa.Integer(), nullable=False),
        sa.Column("sell_through_pct", sa.Float(), nullable=False),
        sa.Column("target_sell_through_pct", sa.Float(), server_default="0.6", nullable=False),
        sa.Column("gap_pct", sa.Float(), nullable=False),
        sa.Column("recommended_markdown_pct", sa.Float(), nullable=False),
        sa.Column("elasticity_coefficient", sa.Float(), server_default="2.0", nullable=False),
        sa.Column("expected_demand_lift_pct", sa.Float(), nullable=True),
        sa.Column("status", sa.String(), server_default="pending", nullable=False),
        sa.Column("reasoning", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True
        ),
        sa.CheckConstraint(
            "recommended_markdown_pct >= 0 AND recommended_markdown_pct <= 0.4",
            name=op.f("ck_markdowns_markdown_pct"),
        ),
        sa.CheckConstraint(
            "sell_through_pct >= 0 AND sell_through_pct <= 1",
            name=op.f("ck_markdowns_sell_through"),
        ),
        sa.CheckConstraint(
            "target_sell_through_pct >= 0 AND target_sell_through_pct <= 1",
            name=op.f("ck_markdowns_target_sell_through"),
        ),
        sa.CheckConstraint(
            "week_number >= 1 AND week_number <= 12", name=op.f("ck_markdowns_week_number")
        ),
        _status_check(statuses),
        sa.ForeignKeyConstraint(
            ["forecast_id"],
            ["forecasts.forecast_id"],
            name=op.f("fk_markdowns_forecast_id_forecasts"),
        ),
        sa.PrimaryKeyConstraint("markdown_id", name=op.f("pk_markdowns")),
        sa.Index(op.f("ix_markdowns_forecast_id"), "forecast_id"),
    )


def _status_check(statuses: Sequence[str]) -> sa.CheckConstraint:
    listed = ", ".join(f"'{status}'" for status in statuses)
    return sa.CheckConstraint(f"status IN ({listed})", name=op.f("ck_markdowns_status"))


def _key_length(table: str, column: str, *, nullable: bool = False) -> sa.CheckConstraint:
    bounded = f"length({column}) >= 1 AND length({column}) <= {KEY_MAX_LENGTH}"
    text = f"{column} IS NULL OR ({bounded})" if nullable else bounded
    return sa.CheckConstraint(text, name=op.f(f"ck_{table}_{column}_length"))


def _status_enum(name: str, values: Sequence[str]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=None)


def _timestamp(name: str, *, now: bool) -> sa.Column[object]:
    default = {"server_default": sa.func.now()} if now else {}
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True, **default)  # type: ignore[arg-type]


def upgrade() -> None:
    with op.batch_alter_table("forecasts", copy_from=_forecasts_0002()) as batch:
        batch.add_column(sa.Column("revises_forecast_id", sa.String(), nullable=True))
        batch.add_column(sa.Column("from_week", sa.Integer(), server_default="1", nullable=False))
        batch.create_index(
            batch.f("ix_forecasts_revises_forecast_id"), ["revises_forecast_id"], unique=False
        )
        batch.create_foreign_key(
            batch.f("fk_forecasts_revises_forecast_id_forecasts"),
            "forecasts",
            ["revises_forecast_id"],
            ["forecast_id"],
        )
        for check in _forecast_revision_constraints():
            if isinstance(check, sa.CheckConstraint):
                batch.create_check_constraint(check.name, check.sqltext)

    _markdown_statuses(MARKDOWN_STATUSES_0002, MARKDOWN_STATUSES_0003)

    op.create_table(
        "workflows",
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("category_id", sa.String(), nullable=False),
        sa.Column("season", sa.String(), nullable=False),
        sa.Column("parameter_id", sa.String(), nullable=True),
        sa.Column("forecast_id", sa.String(), nullable=True),
        sa.Column("allocation_id", sa.String(), nullable=True),
        sa.Column("produces_forecast", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column(
            "status", _status_enum("status", RUN_STATUSES), server_default="pending", nullable=False
        ),
        sa.Column("current_agent", sa.String(), nullable=True),
        sa.Column("progress", sa.Float(), server_default="0", nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        _timestamp("created_at", now=True),
        _timestamp("updated_at", now=True),
        _timestamp("finished_at", now=False),
        sa.CheckConstraint("progress >= 0 AND progress <= 1", name=op.f("ck_workflows_progress")),
        sa.CheckConstraint(
            "(finished_at IS NOT NULL) = (status IN ('completed', 'failed', 'cancelled'))",
            name=op.f("ck_workflows_finished_at"),
        ),
        sa.CheckConstraint(
            "status <> 'failed' OR error_message IS NOT NULL",
            name=op.f("ck_workflows_failed_has_error"),
        ),
        sa.CheckConstraint(
            "status <> 'completed' OR progress = 1", name=op.f("ck_workflows_completed_progress")
        ),
        sa.CheckConstraint(
            "status <> 'completed' OR NOT produces_forecast OR forecast_id IS NOT NULL",
            name=op.f("ck_workflows_completed_forecast"),
        ),
        _key_length("workflows", "workflow_id"),
        _key_length("workflows", "category_id"),
        _key_length("workflows", "season"),
        _key_length("workflows", "parameter_id", nullable=True),
        _key_length("workflows", "forecast_id", nullable=True),
        _key_length("workflows", "allocation_id", nullable=True),
        _key_length("workflows", "current_agent", nullable=True),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.category_id"],
            name=op.f("fk_workflows_category_id_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["parameter_id"],
            ["season_parameters.parameter_id"],
            name=op.f("fk_workflows_parameter_id_season_parameters"),
        ),
        sa.ForeignKeyConstraint(
            ["forecast_id"],
            ["forecasts.forecast_id"],
            name=op.f("fk_workflows_forecast_id_forecasts"),
        ),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocations.allocation_id"],
            name=op.f("fk_workflows_allocation_id_allocations"),
        ),
        sa.PrimaryKeyConstraint("workflow_id", name=op.f("pk_workflows")),
    )
    for column in ("category_id", "parameter_id", "forecast_id", "allocation_id"):
        op.create_index(op.f(f"ix_workflows_{column}"), "workflows", [column], unique=False)

    op.create_table(
        "markdown_status_changes",
        sa.Column("change_id", sa.String(), nullable=False),
        sa.Column("markdown_id", sa.String(), nullable=False),
        sa.Column(
            "from_status", _status_enum("from_status", MARKDOWN_STATUSES_0003), nullable=False
        ),
        sa.Column("to_status", _status_enum("to_status", MARKDOWN_STATUSES_0003), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        _timestamp("created_at", now=True),
        sa.CheckConstraint(
            "from_status <> to_status", name=op.f("ck_markdown_status_changes_moves")
        ),
        _key_length("markdown_status_changes", "change_id"),
        _key_length("markdown_status_changes", "markdown_id"),
        _key_length("markdown_status_changes", "actor"),
        sa.ForeignKeyConstraint(
            ["markdown_id"],
            ["markdowns.markdown_id"],
            name=op.f("fk_markdown_status_changes_markdown_id_markdowns"),
        ),
        sa.PrimaryKeyConstraint("change_id", name=op.f("pk_markdown_status_changes")),
    )
    op.create_index(
        "idx_markdown_status_changes_markdown",
        "markdown_status_changes",
        ["markdown_id", "changed_at"],
        unique=False,
    )


def _markdown_statuses(old: Sequence[str], new: Sequence[str]) -> None:
    """Replace the CHECK on markdowns.status (SQLite rebuilds the table, rows kept)."""
    with op.batch_alter_table("markdowns", copy_from=_markdowns(old)) as batch:
        batch.drop_constraint(batch.f("ck_markdowns_status"), type_="check")
        check = _status_check(new)
        batch.create_check_constraint(check.name, check.sqltext)


class RejectedMarkdownsBlockDowngrade(RuntimeError):
    """Revision 0002 has no ``rejected`` markdown status; nothing was changed."""


def _rejected_markdowns() -> list[str]:
    """Markdown ids a downgrade would have to misstate; none known without a database
    (``--sql``: the script's reader runs it against their own data)."""
    if context.is_offline_mode():
        return []
    markdowns = sa.table("markdowns", sa.column("markdown_id", sa.String), sa.column("status"))
    return list(
        op.get_bind()
        .execute(
            sa.select(markdowns.c.markdown_id)
            .where(markdowns.c.status == "rejected")
            .order_by(markdowns.c.markdown_id)
        )
        .scalars()
        .all()
    )


def downgrade() -> None:
    rejected = _rejected_markdowns()
    if rejected:
        shown = ", ".join(rejected[:10]) + (" and more" if len(rejected) > 10 else "")
        raise RejectedMarkdownsBlockDowngrade(
            f"cannot downgrade below 0003: {len(rejected)} markdown(s) are rejected ({shown}), "
            "a status revision 0002 cannot hold; delete or re-record them first"
        )
    op.drop_index("idx_markdown_status_changes_markdown", table_name="markdown_status_changes")
    op.drop_table("markdown_status_changes")
    for column in ("category_id", "parameter_id", "forecast_id", "allocation_id"):
        op.drop_index(op.f(f"ix_workflows_{column}"), table_name="workflows")
    op.drop_table("workflows")
    _markdown_statuses(MARKDOWN_STATUSES_0003, MARKDOWN_STATUSES_0002)
    with op.batch_alter_table("forecasts", copy_from=_forecasts_0003()) as batch:
        batch.drop_constraint(batch.f("ck_forecasts_revises_forecast_id_length"), type_="check")
        batch.drop_constraint(batch.f("ck_forecasts_revises_another"), type_="check")
        batch.drop_constraint(batch.f("ck_forecasts_revision_from_week"), type_="check")
        batch.drop_constraint(batch.f("ck_forecasts_from_week"), type_="check")
        batch.drop_constraint(
            batch.f("fk_forecasts_revises_forecast_id_forecasts"), type_="foreignkey"
        )
        batch.drop_index(batch.f("ix_forecasts_revises_forecast_id"))
        batch.drop_column("from_week")
        batch.drop_column("revises_forecast_id")
