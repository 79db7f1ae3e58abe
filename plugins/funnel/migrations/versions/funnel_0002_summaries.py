"""funnel: summaries kept with every deal change (closed totals, reached, stage moves)

Revision ID: funnel_0002
Revises: funnel_0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "funnel_0002"
down_revision = "funnel_0001"
branch_labels = None
depends_on = None

TOTAL = sa.Numeric(20, 2)


def upgrade() -> None:
    op.create_table(
        "funnel_closed_totals",
        sa.Column("owner_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("stage_id", sa.Integer(), sa.ForeignKey("stages.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("lost_reason", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("amount", TOTAL, nullable=False),
        sa.Column("margin", TOTAL, nullable=False),
        sa.PrimaryKeyConstraint("owner_id", "day", "stage_id", "currency", "lost_reason"),
    )
    op.create_index("ix_funnel_closed_totals_day", "funnel_closed_totals", ["day", "stage_id"])
    op.create_table(
        "funnel_reached",
        sa.Column("owner_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("stage_id", sa.Integer(), sa.ForeignKey("stages.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("prev_month", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("owner_id", "month", "stage_id", "prev_month"),
    )
    op.create_table(
        "funnel_stage_moves",
        sa.Column("owner_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("stage_id", sa.Integer(), sa.ForeignKey("stages.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("amount", TOTAL, nullable=False),
        sa.PrimaryKeyConstraint("owner_id", "grain", "day", "stage_id", "currency"),
    )
    op.create_index("ix_funnel_stage_moves_day", "funnel_stage_moves",
                    ["grain", "day", "owner_id"])
    from conveyor.plugins.funnel.summaries import rebuild

    rebuild(op.get_bind(), with_durations=False)  # existing deals and history


def downgrade() -> None:
    op.drop_index("ix_funnel_stage_moves_day", table_name="funnel_stage_moves")
    op.drop_table("funnel_stage_moves")
    op.drop_table("funnel_reached")
    op.drop_index("ix_funnel_closed_totals_day", table_name="funnel_closed_totals")
    op.drop_table("funnel_closed_totals")
