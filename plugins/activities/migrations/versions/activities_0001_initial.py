"""activities: activities_series, activities_activity, activities_feed_token.

Revision ID: activities_0001
Revises:
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "activities_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activities_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.String(length=10), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("local_time", sa.Time(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("deal_id", sa.Integer(), nullable=True),
        sa.Column("visit_kind", sa.String(length=3), nullable=True),
        sa.Column("reminder_minutes", sa.Integer(), nullable=True),
        sa.Column("generated_until", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"],
                                name="fk_activities_series_assignee_id_users"),
        sa.ForeignKeyConstraint(["creator_id"], ["users.id"], ondelete="SET NULL",
                                name="fk_activities_series_creator_id_users"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="SET NULL",
                                name="fk_activities_series_customer_id_customers"),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], ondelete="SET NULL",
                                name="fk_activities_series_deal_id_deals"),
        sa.PrimaryKeyConstraint("id", name="pk_activities_series"),
    )
    op.create_table(
        "activities_activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("deal_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("visit_kind", sa.String(length=3), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=True),
        sa.Column("reminder_minutes", sa.Integer(), nullable=True),
        sa.Column("remind_at", sa.DateTime(), nullable=True),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"],
                                name="fk_activities_activity_assignee_id_users"),
        sa.ForeignKeyConstraint(["creator_id"], ["users.id"], ondelete="SET NULL",
                                name="fk_activities_activity_creator_id_users"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="SET NULL",
                                name="fk_activities_activity_customer_id_customers"),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], ondelete="SET NULL",
                                name="fk_activities_activity_deal_id_deals"),
        sa.ForeignKeyConstraint(["series_id"], ["activities_series.id"], ondelete="SET NULL",
                                name="fk_activities_activity_series_id_activities_series"),
        sa.PrimaryKeyConstraint("id", name="pk_activities_activity"),
    )
    op.create_index("ix_activities_activity_assignee_status_due", "activities_activity",
                    ["assignee_id", "status", "due_at"])
    op.create_index("ix_activities_activity_assignee_due", "activities_activity",
                    ["assignee_id", "due_at"])
    op.create_index("ix_activities_activity_deal_status_due", "activities_activity",
                    ["deal_id", "status", "due_at"])
    op.create_index("ix_activities_activity_customer_due", "activities_activity",
                    ["customer_id", "due_at"])
    op.create_index("ix_activities_activity_remind_at", "activities_activity", ["remind_at"])
    op.create_index("ix_activities_activity_status_due_kind", "activities_activity",
                    ["status", "due_at", "kind"])
    op.create_index("ix_activities_activity_series", "activities_activity",
                    ["series_id", "status", "due_at"])
    op.create_table(
        "activities_feed_token",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name="fk_activities_feed_token_user_id_users"),
        sa.PrimaryKeyConstraint("user_id", name="pk_activities_feed_token"),
        sa.UniqueConstraint("token_hash", name="uq_activities_feed_token_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("activities_feed_token")
    op.drop_table("activities_activity")
    op.drop_table("activities_series")
