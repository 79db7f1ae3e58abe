"""activities: activities_deal_steps (each open deal's planned activities: deals without a next step)

Revision ID: activities_0002
Revises: activities_0001
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "activities_0002"
down_revision = "activities_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activities_deal_steps",
        sa.Column("deal_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("planned", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], ondelete="CASCADE",
                                name="fk_activities_deal_steps_deal_id_deals"),
        sa.PrimaryKeyConstraint("deal_id", name="pk_activities_deal_steps"),
    )
    op.create_index("ix_activities_deal_steps_lacking", "activities_deal_steps",
                    ["owner_id", "deal_id"], sqlite_where=sa.text("planned = 0"),
                    postgresql_where=sa.text("planned = 0"))
    from conveyor.plugins.activities.next_steps import rebuild

    rebuild(op.get_bind())  # the open deals there are, with their planned activities


def downgrade() -> None:
    op.drop_index("ix_activities_deal_steps_lacking", table_name="activities_deal_steps")
    op.drop_table("activities_deal_steps")
