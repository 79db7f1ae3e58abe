"""relationships: customers per owner and relationship type, kept for the reports.

Revision ID: relationships_0004
Revises: relationships_0003

``relationships_counted`` holds each customer as counted (owner, type; never typed = cold),
``relationships_type_count`` the counts the reports read (see the plugin's ``type_counts``).
Filled here; ``relationships rebuild-counts`` does the same at any time.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "relationships_0004"
down_revision = "relationships_0003"
branch_labels = None
depends_on = None

FILL_COUNTED = """
INSERT INTO relationships_counted (customer_id, owner_id, type)
SELECT c.id, COALESCE(c.owner_id, 0), COALESCE(s.type, 'cold')
FROM customers c LEFT JOIN relationships_state s ON s.customer_id = c.id
"""
FILL_COUNTS = """
INSERT INTO relationships_type_count (owner_id, type, count)
SELECT owner_id, type, COUNT(*) FROM relationships_counted GROUP BY owner_id, type
"""


def upgrade() -> None:
    op.create_table(
        "relationships_counted",
        sa.Column("customer_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name="pk_relationships_counted"),
    )
    op.create_table(
        "relationships_type_count",
        sa.Column("owner_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("type", sa.String(length=12), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("owner_id", "type", name="pk_relationships_type_count"),
    )
    op.execute(FILL_COUNTED)
    op.execute(FILL_COUNTS)


def downgrade() -> None:
    op.drop_table("relationships_type_count")
    op.drop_table("relationships_counted")
