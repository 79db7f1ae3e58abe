"""Exchange rates per currency and day, in units of the company currency.

Revision ID: f3c8a1d6e2b4
Revises: e5a1c7f3b920
Create Date: 2026-12-02 15:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f3c8a1d6e2b4"
down_revision: str | Sequence[str] | None = "e5a1c7f3b920"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rate", sa.Numeric(precision=20, scale=10), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_exchange_rates_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_rates")),
        sa.UniqueConstraint("currency", "day", name=op.f("uq_exchange_rates_currency")),
    )


def downgrade() -> None:
    op.drop_table("exchange_rates")
