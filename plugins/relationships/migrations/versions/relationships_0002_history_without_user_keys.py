"""relationships: the transition log keeps who and whose as they were (no keys to users).

Revision ID: relationships_0002
Revises: relationships_0001

The log is append-only, but its ``by_id`` and ``owner_id`` keys said ``ON DELETE SET NULL``:
deleting a user would have rewritten history. They are snapshots of who acted and whose customer
it was, so they keep their value and need no key; the key to customers stays (a deleted customer
takes its history along). It also spares a recompute two key checks per moved customer.
"""
from __future__ import annotations

from alembic import op

revision = "relationships_0002"
down_revision = "relationships_0001"
branch_labels = None
depends_on = None

KEYS = (("fk_relationships_transition_by_id_users", "by_id"),
        ("fk_relationships_transition_owner_id_users", "owner_id"))


def upgrade() -> None:
    with op.batch_alter_table("relationships_transition") as batch:
        for name, _column in KEYS:
            batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("relationships_transition") as batch:
        for name, column in KEYS:
            batch.create_foreign_key(name, "users", [column], ["id"], ondelete="SET NULL")
