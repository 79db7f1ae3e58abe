"""approvals: approvals_request, approvals_step, approvals_deal_discount.

Revision ID: approvals_0001
Revises:
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "approvals_0001"
down_revision = None
branch_labels = None
depends_on = None

OPEN = "status IN ('pending', 'changes_requested')"


def upgrade() -> None:
    op.create_table(
        "approvals_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource", sa.String(length=60), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=10), nullable=False),
        sa.Column("approver_role", sa.String(length=40), nullable=True),
        sa.Column("approver_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], ondelete="CASCADE",
                                name="fk_approvals_request_deal_id_deals"),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"],
                                name="fk_approvals_request_requested_by_id_users"),
        sa.ForeignKeyConstraint(["approver_id"], ["users.id"],
                                name="fk_approvals_request_approver_id_users"),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"],
                                name="fk_approvals_request_decided_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_approvals_request"),
    )
    op.create_index("ix_approvals_request_queue_role", "approvals_request",
                    ["status", "rule", "approver_role", "id"])
    op.create_index("ix_approvals_request_queue_user", "approvals_request",
                    ["approver_id", "status", "id"])
    op.create_index("ix_approvals_request_requester", "approvals_request",
                    ["requested_by_id", "id"])
    op.create_index("ix_approvals_request_deal", "approvals_request",
                    ["deal_id", "resource", "id"])
    op.create_index("ix_approvals_request_decider", "approvals_request",
                    ["decided_by_id", "status", "decided_at"])
    op.create_index("ix_approvals_request_record", "approvals_request",
                    ["resource", "record_id", "id"])
    op.create_index("uq_approvals_request_open", "approvals_request", ["resource", "record_id"],
                    unique=True, sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))

    op.create_table(
        "approvals_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.String(length=128), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["approvals_request.id"], ondelete="CASCADE",
                                name="fk_approvals_step_request_id_approvals_request"),
        sa.ForeignKeyConstraint(["by_id"], ["users.id"], name="fk_approvals_step_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_approvals_step"),
    )
    op.create_index("ix_approvals_step_request", "approvals_step", ["request_id", "id"])

    op.create_table(
        "approvals_deal_discount",
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("percent", sa.Numeric(5, 2), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], ondelete="CASCADE",
                                name="fk_approvals_deal_discount_deal_id_deals"),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"],
                                name="fk_approvals_deal_discount_updated_by_id_users"),
        sa.PrimaryKeyConstraint("deal_id", name="pk_approvals_deal_discount"),
    )


def downgrade() -> None:
    op.drop_table("approvals_deal_discount")
    op.drop_index("ix_approvals_step_request", table_name="approvals_step")
    op.drop_table("approvals_step")
    for name in ("uq_approvals_request_open", "ix_approvals_request_record",
                 "ix_approvals_request_decider", "ix_approvals_request_deal",
                 "ix_approvals_request_requester", "ix_approvals_request_queue_user",
                 "ix_approvals_request_queue_role"):
        op.drop_index(name, table_name="approvals_request")
    op.drop_table("approvals_request")
