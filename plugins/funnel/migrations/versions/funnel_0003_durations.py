"""funnel: histograms of stays in a stage and sales cycles (whole hours), kept with every change;
closed totals also summed over all owners (owner_id -1), read by their primary key

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
    # Everyone's closed totals are rows of their own now (owner_id -1, by the primary key); a
    # seller's are read by the primary key too, and the day index only offered PostgreSQL a
    # plan that reads other sellers' rows.
    op.drop_index("ix_funnel_closed_totals_day", table_name="funnel_closed_totals")
    op.execute("DELETE FROM funnel_closed_totals WHERE owner_id = -1")  # funnel_0002 may have
    op.execute("INSERT INTO funnel_closed_totals (owner_id, day, stage_id, currency, lost_reason,"
               " count, amount, margin) SELECT -1, day, stage_id, currency, lost_reason,"
               " sum(count), sum(amount), sum(margin) FROM funnel_closed_totals"
               " WHERE owner_id <> -1 GROUP BY day, stage_id, currency, lost_reason")


def downgrade() -> None:
    op.execute("DELETE FROM funnel_closed_totals WHERE owner_id = -1")
    op.create_index("ix_funnel_closed_totals_day", "funnel_closed_totals", ["day", "stage_id"])
    op.drop_table("funnel_durations")
