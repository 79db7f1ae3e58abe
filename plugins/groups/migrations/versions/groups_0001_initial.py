"""groups: groups_group, groups_member, groups_unsubscribe, groups_push.

Revision ID: groups_0001
Revises:
Create Date: 2026-11-24
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "groups_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "groups_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("webhook_url", sa.String(length=500), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name="fk_groups_group_created_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_groups_group"),
    )
    op.create_index("ix_groups_group_created_by_id", "groups_group", ["created_by_id"])

    op.create_table(
        "groups_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["groups_group.id"], ondelete="CASCADE",
                                name="fk_groups_member_group_id_groups_group"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name="fk_groups_member_customer_id_customers"),
        sa.ForeignKeyConstraint(["added_by_id"], ["users.id"],
                                name="fk_groups_member_added_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_groups_member"),
        sa.UniqueConstraint("group_id", "customer_id", name="uq_groups_member_group_customer"),
        sa.UniqueConstraint("group_id", "lead_id", name="uq_groups_member_group_lead"),
    )
    op.create_index("ix_groups_member_customer_id", "groups_member", ["customer_id"])
    op.create_index("ix_groups_member_lead_id", "groups_member", ["lead_id"])

    op.create_table(
        "groups_unsubscribe",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["by_id"], ["users.id"], name="fk_groups_unsubscribe_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_groups_unsubscribe"),
        sa.UniqueConstraint("email", name="uq_groups_unsubscribe_email"),
        sa.UniqueConstraint("phone", name="uq_groups_unsubscribe_phone"),
    )

    op.create_table(
        "groups_push",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["group_id"], ["groups_group.id"], ondelete="CASCADE",
                                name="fk_groups_push_group_id_groups_group"),
        sa.ForeignKeyConstraint(["by_id"], ["users.id"], name="fk_groups_push_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_groups_push"),
    )
    op.create_index("ix_groups_push_group_requested", "groups_push", ["group_id", "requested_at"])


def downgrade() -> None:
    op.drop_table("groups_push")
    op.drop_table("groups_unsubscribe")
    op.drop_table("groups_member")
    op.drop_table("groups_group")
