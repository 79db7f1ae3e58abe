"""relationships: moves per owner credited, UTC day, from and to type, kept for the reports.

Revision ID: relationships_0005
Revises: relationships_0004

The append-only log summed (see the plugin's ``type_counts``); filled here from the log,
``relationships rebuild-counts`` does the same at any time.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "relationships_0005"
down_revision = "relationships_0004"
branch_labels = None
depends_on = None

FILL = """
INSERT INTO relationships_move_day (owner_id, day, from_type, to_type, count)
SELECT COALESCE(owner_id, 0), date(at), from_type, to_type, COUNT(*)
FROM relationships_transition WHERE from_type IS NOT NULL
GROUP BY COALESCE(owner_id, 0), date(at), from_type, to_type
"""


def upgrade() -> None:
    op.create_table(
        "relationships_move_day",
        sa.Column("owner_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("from_type", sa.String(length=12), nullable=False),
        sa.Column("to_type", sa.String(length=12), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("owner_id", "day", "from_type", "to_type",
                                name="pk_relationships_move_day"),
    )
    op.create_index("ix_relationships_move_day_day", "relationships_move_day",
                    ["day", "owner_id", "from_type", "to_type", "count"])
    op.execute(FILL)


def downgrade() -> None:
    op.drop_table("relationships_move_day")
