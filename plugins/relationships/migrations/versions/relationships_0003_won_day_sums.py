"""relationships: won amounts per owner, day, customer type and currency, kept for the reports.

Revision ID: relationships_0003
Revises: relationships_0002

``relationships_won_deal`` holds each won deal as it is counted, ``relationships_won_day`` the
sums the reports read (see the plugin's ``won_ledger``). Both are filled here from the deals and
the types already recorded; ``relationships rebuild-won`` does the same at any time.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "relationships_0003"
down_revision = "relationships_0002"
branch_labels = None
depends_on = None

FILL_DEALS = """
INSERT INTO relationships_won_deal (deal_id, customer_id, owner_id, day, type, currency, cents)
SELECT d.id, d.customer_id, COALESCE(d.owner_id, 0), date(d.stage_entered_at),
       COALESCE(s.type, 'cold'), d.currency, CAST(ROUND(d.amount * 100) AS BIGINT)
FROM deals d LEFT JOIN relationships_state s ON s.customer_id = d.customer_id
WHERE d.stage_id IN (SELECT id FROM stages WHERE is_won)
"""
FILL_DAYS = """
INSERT INTO relationships_won_day (owner_id, day, type, currency, count, cents)
SELECT owner_id, day, type, currency, COUNT(*), SUM(cents) FROM relationships_won_deal
GROUP BY owner_id, day, type, currency
"""


def upgrade() -> None:
    op.create_table(
        "relationships_won_deal",
        sa.Column("deal_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("type", sa.String(length=12), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("deal_id", name="pk_relationships_won_deal"),
    )
    op.create_index("ix_relationships_won_deal_customer", "relationships_won_deal",
                    ["customer_id"])
    op.create_index("ix_relationships_won_deal_type_customer", "relationships_won_deal",
                    ["type", "customer_id"])
    op.create_table(
        "relationships_won_day",
        sa.Column("owner_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("type", sa.String(length=12), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("owner_id", "day", "type", "currency",
                                name="pk_relationships_won_day"),
    )
    op.create_index("ix_relationships_won_day_day", "relationships_won_day",
                    ["day", "owner_id", "type", "currency", "count", "cents"])
    op.execute(FILL_DEALS)
    op.execute(FILL_DAYS)


def downgrade() -> None:
    op.drop_table("relationships_won_day")
    op.drop_table("relationships_won_deal")
