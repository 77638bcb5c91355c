"""Store extra attributes: the retailer export's columns that ``stores`` has no place for.

One JSON object per store (JSONB on PostgreSQL), keyed by the store. Reviewed by
hand; SQLite's foreign-key guard triggers for the new key are rebuilt by env.py.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 15:05:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Frozen here rather than imported from the models (see 0001).
JSON_DOCUMENT = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "store_extra_attributes",
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("attributes", JSON_DOCUMENT, nullable=False),
        sa.Column("source_file", sa.String(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.store_id"],
            name=op.f("fk_store_extra_attributes_store_id_stores"),
        ),
        sa.PrimaryKeyConstraint("store_id", name=op.f("pk_store_extra_attributes")),
    )


def downgrade() -> None:
    op.drop_table("store_extra_attributes")
