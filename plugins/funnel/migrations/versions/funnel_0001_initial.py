"""funnel: sales targets

Revision ID: funnel_0001
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "funnel_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "funnel_target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("period_kind", sa.String(length=10), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("volume", sa.Numeric(14, 2), nullable=False),
        sa.Column("margin", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("(user_id IS NULL) <> (team_id IS NULL)",
                           name=op.f("ck_funnel_target_one_subject")),
        sa.CheckConstraint("period_kind IN ('month', 'quarter', 'year')",
                           name=op.f("ck_funnel_target_period_kind")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_funnel_target_user_id_users")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE",
                                name=op.f("fk_funnel_target_team_id_teams")),
        sa.ForeignKeyConstraint(["parent_id"], ["funnel_target.id"], ondelete="CASCADE",
                                name=op.f("fk_funnel_target_parent_id_funnel_target")),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_funnel_target_updated_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funnel_target")),
    )
    op.create_index("ix_funnel_target_parent_id", "funnel_target", ["parent_id"])
    op.create_index("ix_funnel_target_user_period", "funnel_target", ["user_id", "period_start"])
    op.create_index("ix_funnel_target_team_period", "funnel_target", ["team_id", "period_start"])


def downgrade() -> None:
    op.drop_table("funnel_target")
