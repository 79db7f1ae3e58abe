"""calls: calls_call and calls_queue_item.

Revision ID: calls_0001
Revises:
Create Date: 2026-11-24
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "calls_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("call_back_at", sa.DateTime(), nullable=True),
        sa.Column("interested", sa.Boolean(), nullable=False),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="SET NULL",
                                name="fk_calls_call_customer_id_customers"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="SET NULL",
                                name="fk_calls_call_contact_id_contacts"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name="fk_calls_call_owner_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_calls_call"),
    )
    op.create_index("ix_calls_call_owner_created", "calls_call", ["owner_id", "created_at"])
    op.create_index("ix_calls_call_customer_id", "calls_call", ["customer_id"])
    op.create_index("ix_calls_call_lead_id", "calls_call", ["lead_id"])

    op.create_table(
        "calls_queue_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"],
                                name="fk_calls_queue_item_owner_id_users"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name="fk_calls_queue_item_customer_id_customers"),
        sa.ForeignKeyConstraint(["call_id"], ["calls_call.id"], ondelete="SET NULL",
                                name="fk_calls_queue_item_call_id_calls_call"),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name="fk_calls_queue_item_created_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_calls_queue_item"),
    )
    op.create_index("ix_calls_queue_item_owner_open", "calls_queue_item",
                    ["owner_id", "done_at", "due_at"])
    op.create_index("ix_calls_queue_item_customer_id", "calls_queue_item", ["customer_id"])


def downgrade() -> None:
    op.drop_table("calls_queue_item")
    op.drop_table("calls_call")
