"""Users: a session stamp, renewed to end every session of a user.

Revision ID: e5a1c0b7d3f4
Revises: f3c8a1d6e2b4
Create Date: 2026-12-02 14:30:00

Every session cookie carries the user's stamp (``User.get_id``); logout, a password change,
deactivation and an admin's "sign out everywhere" renew it. Existing users get a fresh random
stamp each, so sessions made before the upgrade (which carry none) end once.
"""
from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5a1c0b7d3f4"
down_revision: str | Sequence[str] | None = "f3c8a1d6e2b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_stamp", sa.String(length=32), nullable=True))
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("session_stamp", sa.String))
    bind = op.get_bind()
    for (user_id,) in bind.execute(sa.select(users.c.id)).all():
        bind.execute(users.update().where(users.c.id == user_id)
                     .values(session_stamp=secrets.token_hex(16)))
    with op.batch_alter_table("users") as batch:
        batch.alter_column("session_stamp", existing_type=sa.String(length=32), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_stamp")
