"""Contacts gain ``language``: the language a contact reads ("" when not known).

Revision ID: b7d2e9f4c1a6
Revises: a3f19c6d2e47
Create Date: 2026-12-02 18:00:00

Documents and e-mails to a customer's contact go out in that contact's language, not the sender's.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7d2e9f4c1a6"
down_revision: str | Sequence[str] | None = "a3f19c6d2e47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("language", sa.String(length=10), nullable=False,
                                   server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("language")
