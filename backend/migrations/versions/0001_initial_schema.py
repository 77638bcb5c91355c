"""Initial schema: the story's 11 tables, their keys, CHECKs and indexes.

Reviewed by hand: every table, foreign key, CHECK (enum CHECKs come from
sa.Enum(create_constraint=True), named by the metadata naming convention), index and
server default. Enum columns are unbounded VARCHAR (length=None) so an unknown value
fails the named CHECK on PostgreSQL too, not a nameless length error. SQLite's
foreign-key guard triggers are not created here: env.py rebuilds them from the
declared foreign keys after every migration run.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 14:55:38.674667

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Frozen here rather than imported from the models: a migration must keep meaning
# what it meant when it was written.
JSON_DOCUMENT = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "categories",
        sa.Column("category_id", sa.String(), nullable=False),
        sa.Column("category_name", sa.String(), nullable=False),
        sa.Column("season_start_date", sa.Date(), nullable=False),
        sa.Column("season_end_date", sa.Date(), nullable=False),
        sa.Column("season_length_weeks", sa.Integer(), nullable=False),
        sa.Column(
            "archetype",
            sa.Enum(
                "FASHION_RETAIL",
                "STABLE_CATALOG",
                "CONTINUOUS",
                name="archetype",
                native_enum=False,
                create_constraint=True,
                length=None,
            ),
            server_default="FASHION_RETAIL",
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True
        ),
        sa.CheckConstraint(
            "season_end_date > season_start_date", name=op.f("ck_categories_season_dates")
        ),
        sa.CheckConstraint(
            "season_length_weeks >= 1", name=op.f("ck_categories_season_length_weeks")
        ),
        sa.PrimaryKeyConstraint("category_id", name=op.f("pk_categories")),
    )
    op.create_table(
        "store_clusters",
        sa.Column("cluster_id", sa.String(), nullable=False),
        sa.Column("cluster_name", sa.String(), nullable=False),
        sa.Column(
            "fashion_tier",
            sa.Enum(
                "PREMIUM",
                "MAINSTREAM",
                "VALUE",
                name="fashion_tier",
                native_enum=False,
                create_constraint=True,
                length=None,
            ),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True
        ),
        sa.PrimaryKeyConstraint("cluster_id", name=op.f("pk_store_clusters")),
    )
    op.create_table(
        "workflow_logs",
        sa.Column("log_id", sa.String(), nullable=False),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("agent_name", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("input_data", JSON_DOCUMENT, nullable=True),
        sa.Column("output_data", JSON_DOCUMENT, nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "started",
                "completed",
                "failed",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=None,
            ),
            nullable=False,
        ),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True
        ),
        sa.CheckConstraint(
            "duration_seconds IS NULL OR duration_seconds >= 0",
            name=op.f("ck_workflow_logs_duration_seconds"),
        ),
        sa.PrimaryKeyConstraint("log_id", name=op.f("pk_workflow_logs")),
    )
    op.create_index("idx_workflow_logs_workflow", "workflow_logs", ["workflow_id"])

    op.create_table(
        "forecasts",
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
    )
    op.create_index(op.f("ix_forecasts_category_id"), "forecasts", ["category_id"])

    op.create_table(
        "season_parameters",
        sa.Column("parameter_id", sa.String(), nullable=False),
        sa.Column("category_id", sa.String(), nullable=True),
        sa.Column("forecast_horizon_weeks", sa.Integer(), nullable=False),
        sa.Column("season_start_date", sa.Date(), nullable=False),
        sa.Column("season_end_date", sa.Date(), nullable=False),
        sa.Column(
            "replenishment_strategy",
            sa.Enum(
                "none",
                "weekly",
                "bi-weekly",
                name="replenishment_strategy",
                native_enum=False,
                create_constraint=True,
                length=None,
            ),
            nullable=False,
        ),
        sa.Column("dc_holdback_percentage", sa.Float(), nullable=False),
        sa.Column("markdown_checkpoint_week", sa.Integer(), nullable=True),
        sa.Column("markdown_threshold", sa.Float(), nullable=True),
        sa.Column(
            "extraction_confidence",
            sa.Enum(
                "low",
                "medium",
                "high",
                name="extraction_confidence",
                native_enum=False,
                create_constraint=True,
                length=None,
            ),
            server_default="medium",
            nullable=False,
        ),
        sa.Column("extraction_reasoning", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True
        ),
        sa.CheckConstraint(
            "dc_holdback_percentage >= 0 AND dc_holdback_percentage <= 1",
            name=op.f("ck_season_parameters_dc_holdback_percentage"),
        ),
        sa.CheckConstraint(
            "forecast_horizon_weeks >= 1 AND forecast_horizon_weeks <= 52",
            name=op.f("ck_season_parameters_forecast_horizon_weeks"),
        ),
        sa.CheckConstraint(
            "markdown_checkpoint_week IS NULL OR "
            "(markdown_checkpoint_week >= 1 AND markdown_checkpoint_week <= 12)",
            name=op.f("ck_season_parameters_markdown_checkpoint_week"),
        ),
        sa.CheckConstraint(
            "markdown_threshold IS NULL OR (markdown_threshold >= 0 AND markdown_threshold <= 1)",
            name=op.f("ck_season_parameters_markdown_threshold"),
        ),
        sa.CheckConstraint(
            "season_end_date > season_start_date", name=op.f("ck_season_parameters_season_dates")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.category_id"],
            name=op.f("fk_season_parameters_category_id_categories"),
        ),
        sa.PrimaryKeyConstraint("parameter_id", name=op.f("pk_season_parameters")),
    )
    op.create_index(op.f("ix_season_parameters_category_id"), "season_parameters", ["category_id"])

    op.create_table(
        "stores",
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("store_name", sa.String(), nullable=False),
        sa.Column("cluster_id", sa.String(), nullable=False),
        sa.Column("store_size_sqft", sa.Integer(), nullable=False),
        sa.Column(
            "location_tier",
            sa.Enum(
                "A",
                "B",
                "C",
                name="location_tier",
                native_enum=False,
                create_constraint=True,
                length=None,
            ),
            nullable=False,
        ),
        sa.Column("median_income", sa.Integer(), nullable=False),
        sa.Column(
            "store_format",
            sa.Enum(
                "MALL",
                "STANDALONE",
                "SHOPPING_CENTER",
                "OUTLET",
                name="store_format",
                native_enum=False,
                create_constraint=True,
                length=None,
            ),
            nullable=False,
        ),
        sa.Column(
            "region",
            sa.Enum(
                "NORTHEAST",
                "SOUTHEAST",
                "MIDWEST",
                "WEST",
                name="region",
                native_enum=False,
                create_constraint=True,
                length=None,
            ),
            nullable=False,
        ),
        sa.Column("avg_weekly_sales_12mo", sa.Float(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True
        ),
        sa.CheckConstraint("avg_weekly_sales_12mo >= 0", name=op.f("ck_stores_avg_weekly_sales")),
        sa.CheckConstraint("median_income >= 0", name=op.f("ck_stores_median_income")),
        sa.CheckConstraint("store_size_sqft > 0", name=op.f("ck_stores_store_size_sqft")),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["store_clusters.cluster_id"],
            name=op.f("fk_stores_cluster_id_store_clusters"),
        ),
        sa.PrimaryKeyConstraint("store_id", name=op.f("pk_stores")),
    )
    op.create_index(op.f("ix_stores_cluster_id"), "stores", ["cluster_id"])

    op.create_table(
        "actual_sales",
        sa.Column("actual_id", sa.String(), nullable=False),
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("forecast_id", sa.String(), nullable=False),
        sa.Column("week_number", sa.Integer(), nullable=False),
        sa.Column("units_sold", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True
        ),
        sa.CheckConstraint("units_sold >= 0", name=op.f("ck_actual_sales_units_sold")),
        sa.CheckConstraint(
            "week_number >= 1 AND week_number <= 12", name=op.f("ck_actual_sales_week_number")
        ),
        sa.ForeignKeyConstraint(
            ["forecast_id"],
            ["forecasts.forecast_id"],
            name=op.f("fk_actual_sales_forecast_id_forecasts"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.store_id"], name=op.f("fk_actual_sales_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("actual_id", name=op.f("pk_actual_sales")),
        sa.UniqueConstraint(
            "forecast_id",
            "store_id",
            "week_number",
            name=op.f("uq_actual_sales_forecast_id_store_id_week_number"),
        ),
    )
    op.create_index(
        "idx_actual_sales_forecast_week", "actual_sales", ["forecast_id", "week_number"]
    )
    op.create_index(op.f("ix_actual_sales_store_id"), "actual_sales", ["store_id"])

    op.create_table(
        "allocations",
        sa.Column("allocation_id", sa.String(), nullable=False),
        sa.Column("forecast_id", sa.String(), nullable=False),
        sa.Column("manufacturing_qty", sa.Integer(), nullable=False),
        sa.Column("safety_stock_percentage", sa.Float(), server_default="0.2", nullable=False),
        sa.Column("initial_allocation_total", sa.Integer(), nullable=False),
        sa.Column("holdback_total", sa.Integer(), nullable=False),
        sa.Column("store_allocations", JSON_DOCUMENT, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True
        ),
        sa.CheckConstraint("holdback_total >= 0", name=op.f("ck_allocations_holdback")),
        sa.CheckConstraint(
            "initial_allocation_total >= 0", name=op.f("ck_allocations_initial_allocation")
        ),
        sa.CheckConstraint("manufacturing_qty >= 0", name=op.f("ck_allocations_manufacturing_qty")),
        sa.CheckConstraint(
            "safety_stock_percentage >= 0 AND safety_stock_percentage <= 1",
            name=op.f("ck_allocations_safety_stock_percentage"),
        ),
        sa.ForeignKeyConstraint(
            ["forecast_id"],
            ["forecasts.forecast_id"],
            name=op.f("fk_allocations_forecast_id_forecasts"),
        ),
        sa.PrimaryKeyConstraint("allocation_id", name=op.f("pk_allocations")),
    )
    op.create_index(op.f("ix_allocations_forecast_id"), "allocations", ["forecast_id"])

    op.create_table(
        "forecast_cluster_distribution",
        sa.Column("distribution_id", sa.String(), nullable=False),
        sa.Column("forecast_id", sa.String(), nullable=False),
        sa.Column("cluster_id", sa.String(), nullable=False),
        sa.Column("allocation_percentage", sa.Float(), nullable=False),
        sa.Column("total_units", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True
        ),
        sa.CheckConstraint(
            "allocation_percentage >= 0 AND allocation_percentage <= 1",
            name=op.f("ck_forecast_cluster_distribution_allocation_pct"),
        ),
        sa.CheckConstraint(
            "total_units >= 0", name=op.f("ck_forecast_cluster_distribution_total_units")
        ),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["store_clusters.cluster_id"],
            name=op.f("fk_forecast_cluster_distribution_cluster_id_store_clusters"),
        ),
        sa.ForeignKeyConstraint(
            ["forecast_id"],
            ["forecasts.forecast_id"],
            name=op.f("fk_forecast_cluster_distribution_forecast_id_forecasts"),
        ),
        sa.PrimaryKeyConstraint("distribution_id", name=op.f("pk_forecast_cluster_distribution")),
        sa.UniqueConstraint(
            "forecast_id",
            "cluster_id",
            name=op.f("uq_forecast_cluster_distribution_forecast_id_cluster_id"),
        ),
    )
    op.create_index(
        op.f("ix_forecast_cluster_distribution_cluster_id"),
        "forecast_cluster_distribution",
        ["cluster_id"],
    )

    op.create_table(
        "historical_sales",
        sa.Column("sale_id", sa.String(), nullable=False),
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("category_id", sa.String(), nullable=False),
        sa.Column("week_start_date", sa.Date(), nullable=False),
        sa.Column("units_sold", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True
        ),
        sa.CheckConstraint("units_sold >= 0", name=op.f("ck_historical_sales_units_sold")),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.category_id"],
            name=op.f("fk_historical_sales_category_id_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.store_id"], name=op.f("fk_historical_sales_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("sale_id", name=op.f("pk_historical_sales")),
        sa.UniqueConstraint(
            "store_id",
            "category_id",
            "week_start_date",
            name=op.f("uq_historical_sales_store_id_category_id_week_start_date"),
        ),
    )
    op.create_index("idx_historical_sales_date", "historical_sales", ["week_start_date"])
    op.create_index(
        "idx_historical_sales_store_category", "historical_sales", ["store_id", "category_id"]
    )
    op.create_index(op.f("ix_historical_sales_category_id"), "historical_sales", ["category_id"])

    op.create_table(
        "markdowns",
        sa.Column("markdown_id", sa.String(), nullable=False),
        sa.Column("forecast_id", sa.String(), nullable=False),
        sa.Column("week_number", sa.Integer(), nullable=False),
        sa.Column("sell_through_pct", sa.Float(), nullable=False),
        sa.Column("target_sell_through_pct", sa.Float(), server_default="0.6", nullable=False),
        sa.Column("gap_pct", sa.Float(), nullable=False),
        sa.Column("recommended_markdown_pct", sa.Float(), nullable=False),
        sa.Column("elasticity_coefficient", sa.Float(), server_default="2.0", nullable=False),
        sa.Column("expected_demand_lift_pct", sa.Float(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "applied",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=None,
            ),
            server_default="pending",
            nullable=False,
        ),
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
        sa.ForeignKeyConstraint(
            ["forecast_id"],
            ["forecasts.forecast_id"],
            name=op.f("fk_markdowns_forecast_id_forecasts"),
        ),
        sa.PrimaryKeyConstraint("markdown_id", name=op.f("pk_markdowns")),
    )
    op.create_index(op.f("ix_markdowns_forecast_id"), "markdowns", ["forecast_id"])


def downgrade() -> None:
    # Children before parents; dropping a table drops its indexes and constraints.
    op.drop_table("markdowns")
    op.drop_table("historical_sales")
    op.drop_table("forecast_cluster_distribution")
    op.drop_table("allocations")
    op.drop_table("actual_sales")
    op.drop_table("stores")
    op.drop_table("season_parameters")
    op.drop_table("forecasts")
    op.drop_table("workflow_logs")
    op.drop_table("store_clusters")
    op.drop_table("categories")
