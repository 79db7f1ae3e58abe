"""relationships: the state of each customer and the append-only transition log.

Revision ID: relationships_0001
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "relationships_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "relationships_state",
        sa.Column("customer_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("type", sa.String(length=12), nullable=False),
        sa.Column("computed_type", sa.String(length=12), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("cause", sa.String(length=60), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("override", sa.Boolean(), nullable=False),
        sa.Column("override_reason", sa.String(length=500), nullable=False),
        sa.Column("override_by_id", sa.Integer(), nullable=True),
        sa.Column("override_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name="fk_relationships_state_customer_id_customers"),
        sa.ForeignKeyConstraint(["by_id"], ["users.id"], ondelete="SET NULL",
                                name="fk_relationships_state_by_id_users"),
        sa.ForeignKeyConstraint(["override_by_id"], ["users.id"], ondelete="SET NULL",
                                name="fk_relationships_state_override_by_id_users"),
        sa.PrimaryKeyConstraint("customer_id", name="pk_relationships_state"),
    )
    op.create_index("ix_relationships_state_type_customer", "relationships_state",
                    ["type", "customer_id"])
    op.create_table(
        "relationships_transition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("from_type", sa.String(length=12), nullable=True),
        sa.Column("to_type", sa.String(length=12), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("cause", sa.String(length=60), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name="fk_relationships_transition_customer_id_customers"),
        sa.ForeignKeyConstraint(["by_id"], ["users.id"], ondelete="SET NULL",
                                name="fk_relationships_transition_by_id_users"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="SET NULL",
                                name="fk_relationships_transition_owner_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_relationships_transition"),
    )
    op.create_index("ix_relationships_transition_customer_at", "relationships_transition",
                    ["customer_id", "at"])
    op.create_index("ix_relationships_transition_at_owner", "relationships_transition",
                    ["at", "owner_id"])


def downgrade() -> None:
    op.drop_table("relationships_transition")
    op.drop_table("relationships_state")
