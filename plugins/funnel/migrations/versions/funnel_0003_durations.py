"""funnel: histograms of stays in a stage and sales cycles (whole hours), kept with every change

Revision ID: funnel_0003
Revises: funnel_0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "funnel_0003"
down_revision = "funnel_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "funnel_durations",
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("stage_id", sa.Integer(), sa.ForeignKey("stages.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("owner_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "grain", "stage_id", "bucket", "owner_id", "month",
                                "value"),
        sqlite_with_rowid=False,
    )
    from conveyor.plugins.funnel.durations import rebuild

    rebuild(op.get_bind())  # existing deals and history


def downgrade() -> None:
    op.drop_table("funnel_durations")
