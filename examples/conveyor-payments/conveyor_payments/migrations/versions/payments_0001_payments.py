"""payments: the payments table.

Revision ID: payments_0001
Revises:
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "payments_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payments_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], ondelete="CASCADE",
                                name=op.f("fk_payments_payments_deal_id_deals")),
        sa.ForeignKeyConstraint(["by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_payments_payments_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_payments")),
    )
    op.create_index(op.f("ix_payments_payments_deal_id"), "payments_payments", ["deal_id"])
    op.create_index("ix_payments_payments_paid_on", "payments_payments", ["paid_on"])


def downgrade() -> None:
    op.drop_index("ix_payments_payments_paid_on", table_name="payments_payments")
    op.drop_index(op.f("ix_payments_payments_deal_id"), table_name="payments_payments")
    op.drop_table("payments_payments")
