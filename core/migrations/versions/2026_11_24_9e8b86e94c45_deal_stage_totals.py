"""Deal totals per (stage, owner, currency), and a covering index for the board's GROUP BY.

Revision ID: 9e8b86e94c45
Revises: 27efd4750770
Create Date: 2026-11-24 01:32:21

``deal_stage_totals`` lets the pipeline board and the pipeline summary read their counts and sums
from a few hundred rows instead of grouping every visible deal (1–2 s at 1M deals); conveyor.crm
keeps it current from here on. The upgrade fills it from the existing deals with one
INSERT … SELECT (frozen SQL: no Conveyor import). ``owner_id`` 0 stands for "no owner".
The index (stage_id, owner_id, currency, amount) serves the GROUP BY that remains when a plugin
narrows which deals a user sees: it is answered from the index alone.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9e8b86e94c45"
down_revision: str | Sequence[str] | None = "27efd4750770"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deal_stage_totals",
        sa.Column("stage_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.ForeignKeyConstraint(["stage_id"], ["stages.id"],
                                name=op.f("fk_deal_stage_totals_stage_id_stages"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("stage_id", "owner_id", "currency",
                                name=op.f("pk_deal_stage_totals")),
    )
    op.create_index("ix_deals_stage_owner_currency_amount", "deals",
                    ["stage_id", "owner_id", "currency", "amount"])
    op.execute(
        "INSERT INTO deal_stage_totals (stage_id, owner_id, currency, count, amount) "
        "SELECT stage_id, COALESCE(owner_id, 0), currency, COUNT(*), COALESCE(SUM(amount), 0) "
        "FROM deals GROUP BY stage_id, COALESCE(owner_id, 0), currency"
    )


def downgrade() -> None:
    op.drop_index("ix_deals_stage_owner_currency_amount", table_name="deals")
    op.drop_table("deal_stage_totals")
